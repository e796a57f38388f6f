"""From extracted effect data to the columns the statistics package reads. Pure: no Django.

An extraction form's effect-data group stores one outcome's numbers per study as named parts
(see reviewapp/extraction/schema.py GROUP_PARTS). Pooling wants metafor's columns
(reviewapp/synthesis/stats/io.py): this module maps one to the other and says which measures a
group can feed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping

from reviewapp.core.spreadsheet import neutralise

# Which measures each kind of effect data can be pooled as.
MEASURES_FOR_GROUP = {
    "dichotomous": ("OR", "RR", "RD"),
    "continuous": ("MD", "SMD"),
    "proportion": ("PR", "PLO", "PFT"),
    "estimate": ("GEN",),
    "correlation": ("COR", "ZCOR"),
}


# metafor's column order; JSON storage (PostgreSQL's jsonb) does not keep a row's key order.
COLUMN_ORDER = (
    "study",
    "ai",
    "bi",
    "ci",
    "di",
    "m1i",
    "sd1i",
    "n1i",
    "m2i",
    "sd2i",
    "n2i",
    "xi",
    "ri",
    "ni",
    "yi",
    "sei",
    "vi",
    "estimate",
    "lower",
    "upper",
)


def columns_of(rows: list[dict[str, str]]) -> list[str]:
    """The columns the rows use, in metafor's order (study first)."""
    present = set().union(*(row.keys() for row in rows)) if rows else set()
    return [c for c in COLUMN_ORDER if c in present]


class InputError(ValueError):
    """A study's extracted numbers cannot feed the analysis; the message names the study."""


def _number(parts: Mapping, name: str, study: str):
    value = parts.get(name)
    if value is None or value == "":
        raise InputError(f"{study}: '{name.replace('_', ' ')}' is missing.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(
            f"{study}: '{name.replace('_', ' ')}' is not a number ({value!r})."
        ) from None


def _text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def stats_row(group_type: str, measure: str, study: str, parts: Mapping) -> dict[str, str]:
    """One study's row for `effects_from_rows`: the `study` column and the measure's columns."""
    if measure not in MEASURES_FOR_GROUP.get(group_type, ()):
        raise InputError(f"{study}: {measure} cannot be computed from {group_type} effect data.")
    row = {"study": study}
    if group_type == "dichotomous":
        e1, n1 = _number(parts, "arm1_events", study), _number(parts, "arm1_total", study)
        e2, n2 = _number(parts, "arm2_events", study), _number(parts, "arm2_total", study)
        row.update(ai=_text(e1), bi=_text(n1 - e1), ci=_text(e2), di=_text(n2 - e2))
    elif group_type == "continuous":
        for arm in ("1", "2"):
            row[f"m{arm}i"] = _text(_number(parts, f"arm{arm}_mean", study))
            row[f"sd{arm}i"] = _text(_number(parts, f"arm{arm}_sd", study))
            row[f"n{arm}i"] = _text(_number(parts, f"arm{arm}_n", study))
    elif group_type == "proportion":
        row.update(
            xi=_text(_number(parts, "events", study)), ni=_text(_number(parts, "total", study))
        )
    elif group_type == "correlation":
        row.update(ri=_text(_number(parts, "r", study)), ni=_text(_number(parts, "n", study)))
    else:
        estimate = _number(parts, "estimate", study)
        if parts.get("se") not in (None, ""):
            row.update(yi=_text(estimate), sei=_text(_number(parts, "se", study)))
        else:
            row.update(
                estimate=_text(estimate),
                lower=_text(_number(parts, "ci_lower", study)),
                upper=_text(_number(parts, "ci_upper", study)),
            )
    return row


def rows_layout(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Generic-inverse-variance rows must share one layout (all SE or all CI) for one CSV."""
    layouts = {tuple(sorted(k for k in row if k != "study")) for row in rows}
    if len(layouts) > 1:
        raise InputError(
            "Some studies give a standard error and others a confidence interval; pooling "
            "needs one kind. Give every study the same kind."
        )
    return rows


# metafor's columns hold numbers stored as text ("-0.51"); R must read them as numbers, and a number
# is no formula, so only other text (the study label) goes through ``neutralise``.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _csv_cell(value):
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return value
    return neutralise(value)


def metafor_csv(rows: list[dict[str, str]]) -> bytes:
    """The analysis rows as the CSV of the metafor bundle: study labels neutralised against
    spreadsheet formulas (OWASP CSV injection), numbers written as they are."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns_of(rows))
    writer.writeheader()
    writer.writerows({key: _csv_cell(value) for key, value in row.items()} for row in rows)
    return out.getvalue().encode("utf-8")
