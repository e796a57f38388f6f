"""Entries checked against their form definition, with one clear message per field.

Pure: no Django here. An entry is stored as::

    {"values": {"<field key>": value, ...},
     "outcomes": [{"group": "<group key>", "outcome": "Relapse", "time_point": "12 months",
                   "units": "", "arm1_events": 12, "arm1_total": 40, ...}, ...]}

Values are typed: whole numbers as int, decimals as float, yes/no as bool, multiple choice as a
list, dates as ISO text. Blank values are left out. Error keys are the names the entry form gives
its inputs: the field key, or ``<group key>__<row>__<part>`` for a group's row (row from 0, in the
order the rows were given), so a view can show each message beside its input.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reviewapp.extraction.schema import (
    COMPLETE_PARTS,
    MEASURES,
    RATIO_MEASURES,
    group_parts,
    items_of,
)

YES = {"yes", "y", "true", "1", "on"}
NO = {"no", "n", "false", "0", "off"}


def row_key(group: str, row: int, part: str) -> str:
    return f"{group}__{row}__{part}"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if isinstance(value, str) else str(value)


def _coerce(value: Any, value_type: str, label: str, item: Mapping[str, Any]) -> tuple[Any, str]:
    """(typed value, error message); the value is None when blank or wrong."""
    if _blank(value):
        return None, ""
    if value_type in ("text", "long_text"):
        text = str(value).strip() if value_type == "text" else str(value).strip("\n\r ")
        return text, ""
    if value_type == "integer":
        if isinstance(value, bool):
            return None, f"{label} must be a whole number (got '{value}')."
        if isinstance(value, int):
            number = value
        else:
            text = str(value).strip().replace(",", "")
            try:
                number = int(text)
            except ValueError:
                try:
                    as_float = float(text)
                except ValueError:
                    return None, f"{label} must be a whole number (got '{_show(value)}')."
                if not as_float.is_integer():
                    return None, f"{label} must be a whole number (got '{_show(value)}')."
                number = int(as_float)
        return _in_range(number, label, item)
    if value_type == "decimal":
        if isinstance(value, bool):
            return None, f"{label} must be a number (got '{value}')."
        text = str(value).strip()
        if "," in text and "." not in text and text.count(",") == 1:
            text = text.replace(",", ".")  # a decimal comma, as typed in much of Europe
        try:
            decimal = float(text)
        except ValueError:
            return None, f"{label} must be a number (got '{_show(value)}')."
        if not math.isfinite(decimal):
            return None, f"{label} must be a finite number (got '{_show(value)}')."
        return _in_range(decimal, label, item)
    if value_type == "yes_no":
        if isinstance(value, bool):
            return value, ""
        text = str(value).strip().lower()
        if text in YES:
            return True, ""
        if text in NO:
            return False, ""
        return None, f"{label} must be yes or no (got '{_show(value)}')."
    if value_type == "single_choice":
        text = str(value).strip()
        if text not in item.get("choices", []):
            return None, f"{label}: '{text}' is not one of the choices."
        return text, ""
    if value_type == "multiple_choice":
        chosen = [value] if isinstance(value, str) else list(value)
        chosen = [str(v).strip() for v in chosen if str(v).strip()]
        wrong = [v for v in chosen if v not in item.get("choices", [])]
        if wrong:
            return None, f"{label}: '{wrong[0]}' is not one of the choices."
        # Stored in the form's order, so two extractors ticking the same boxes agree.
        return [c for c in item["choices"] if c in chosen], ""
    if value_type == "date":
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat(), ""
        except ValueError:
            return None, f"{label} must be a date written YYYY-MM-DD (got '{_show(value)}')."
    raise ValueError(f"unknown value type {value_type}")


def _in_range(number: float, label: str, item: Mapping[str, Any]) -> tuple[Any, str]:
    low, high = item.get("min"), item.get("max")
    if low is not None and number < low:
        return None, f"{label} must be at least {_show(low)} (got {_show(number)})."
    if high is not None and number > high:
        return None, f"{label} must be at most {_show(high)} (got {_show(number)})."
    return number, ""


@dataclass
class Cleaned:
    data: dict
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


def entry_clean(
    definition: Mapping[str, Any], raw: Mapping[str, Any], *, complete: bool
) -> Cleaned:
    """Typed data and per-input error messages for an entry given as text or as stored data.

    ``complete`` (a submitted or consensus entry) also enforces required fields, and complete
    rows in required effect-data groups. Plausibility (events not above totals, SD and SE
    positive, the CI containing the estimate) is checked whether complete or not.
    """
    raw_values = raw.get("values") or {}
    raw_outcomes = raw.get("outcomes") or []
    values: dict[str, Any] = {}
    outcomes: list[dict] = []
    errors: dict[str, str] = {}
    groups: dict[str, Mapping[str, Any]] = {}
    for _section, item in items_of(definition):
        if item["kind"] == "group":
            groups[item["key"]] = item
            continue
        key, label = item["key"], item["label"]
        value, error = _coerce(raw_values.get(key), item["type"], label, item)
        if error:
            errors[key] = error
        elif value is not None:
            values[key] = value
        elif complete and item.get("required"):
            errors[key] = f"{label} is required."
    rows_seen: dict[str, int] = {}
    for raw_row in raw_outcomes:
        group_key = raw_row.get("group")
        group = groups.get(group_key)
        if group is None:
            errors[f"{group_key}__form"] = (
                f"This form has no effect data group '{group_key}' (was the form changed?)."
            )
            continue
        index = rows_seen.get(group_key, 0)
        rows_seen[group_key] = index + 1
        row, row_errors = _row_clean(group, raw_row, index, complete=complete)
        errors.update(row_errors)
        if row is not None:
            outcomes.append(row)
    if complete:
        for group_key, group in groups.items():
            if group.get("required") and not any(r["group"] == group_key for r in outcomes):
                errors[row_key(group_key, 0, "outcome")] = (
                    f"{group['label']}: give the data of at least one outcome."
                )
    return Cleaned({"values": values, "outcomes": outcomes}, errors)


def _row_clean(
    item: Mapping[str, Any], raw_row: Mapping[str, Any], index: int, *, complete: bool
) -> tuple[dict | None, dict[str, str]]:
    group_key = item["key"]
    errors: dict[str, str] = {}
    row: dict[str, Any] = {}
    labels = {}
    for part, part_label, value_type in group_parts(item):
        labels[part] = part_label
        value, error = _coerce(raw_row.get(part), value_type, part_label, {})
        if error:
            errors[row_key(group_key, index, part)] = error
        elif value is not None:
            row[part] = value
    if not errors and not row:
        return None, {}  # an empty row: nothing entered
    if "outcome" not in row:
        row["outcome"] = item["label"]
    if "units" not in row and item.get("units"):
        row["units"] = item["units"]
    checks = _PLAUSIBILITY[item["type"]](row, item)
    for part, message in checks:
        errors.setdefault(row_key(group_key, index, part), message)
    if complete and item.get("required"):
        for part in COMPLETE_PARTS[item["type"]]:
            if row.get(part) is None:
                errors.setdefault(row_key(group_key, index, part), f"{labels[part]} is missing.")
        if item["type"] == "estimate" and row.get("se") is None and row.get("ci_lower") is None:
            errors.setdefault(
                row_key(group_key, index, "se"), "Give the 95% CI or the SE of the estimate."
            )
    return {"group": group_key, **row}, errors


def _counts(row: Mapping[str, Any], events: str, total: str, name: str) -> list[tuple[str, str]]:
    out = []
    e, n = row.get(events), row.get(total)
    if e is not None and e < 0:
        out.append((events, f"{name} events must be 0 or more (got {e})."))
    if n is not None and n < 1:
        out.append((total, f"{name} total must be at least 1 (got {n})."))
    if e is not None and n is not None and e > n:
        out.append((events, f"{name} events ({e}) cannot exceed {name.lower()} total ({n})."))
    return out


def _dichotomous(row, item) -> list[tuple[str, str]]:
    return _counts(row, "arm1_events", "arm1_total", "Arm 1") + _counts(
        row, "arm2_events", "arm2_total", "Arm 2"
    )


def _continuous(row, item) -> list[tuple[str, str]]:
    out = []
    for arm in ("arm1", "arm2"):
        name = f"Arm {arm[-1]}"
        sd, n = row.get(f"{arm}_sd"), row.get(f"{arm}_n")
        if sd is not None and sd <= 0:
            out.append((f"{arm}_sd", f"{name} SD must be positive (got {_show(sd)})."))
        if n is not None and n < 1:
            out.append((f"{arm}_n", f"{name} N must be at least 1 (got {n})."))
    return out


def _proportion(row, item) -> list[tuple[str, str]]:
    out = []
    e, n = row.get("events"), row.get("total")
    if e is not None and e < 0:
        out.append(("events", f"Events must be 0 or more (got {e})."))
    if n is not None and n < 1:
        out.append(("total", f"Total must be at least 1 (got {n})."))
    if e is not None and n is not None and e > n:
        out.append(("events", f"Events ({e}) cannot exceed the total ({n})."))
    return out


def _estimate(row, item) -> list[tuple[str, str]]:
    out = []
    measure = item.get("measure", "")
    est, low, high, se = (row.get(p) for p in ("estimate", "ci_lower", "ci_upper", "se"))
    if se is not None and se <= 0:
        out.append(("se", f"SE must be positive (got {_show(se)})."))
    if (low is None) != (high is None):
        missing = "ci_upper" if high is None else "ci_lower"
        out.append((missing, "Give both limits of the 95% CI, or neither."))
    if measure in RATIO_MEASURES:
        name = MEASURES[measure].lower()
        for part, value in (("estimate", est), ("ci_lower", low), ("ci_upper", high)):
            if value is not None and value <= 0:
                what = "An" if name[0] in "aeiou" else "A"
                out.append((part, f"{what} {name} must be positive (got {_show(value)})."))
    if low is not None and high is not None:
        if low > high:
            out.append(
                (
                    "ci_lower",
                    f"95% CI lower ({_show(low)}) cannot be above the upper limit ({_show(high)}).",
                )
            )
        elif est is not None and not low <= est <= high:
            out.append(
                (
                    "estimate",
                    f"The 95% CI ({_show(low)} to {_show(high)}) does not contain the estimate "
                    f"({_show(est)}).",
                )
            )
    return out


# escalc's Fisher z (ZCOR) has variance 1 / (n - 3), so a correlation from fewer than 4 people
# cannot be pooled on that scale; asking for 4 at extraction keeps both COR and ZCOR open.
CORRELATION_MIN_N = 4


def _correlation(row, item) -> list[tuple[str, str]]:
    out = []
    r, n = row.get("r"), row.get("n")
    if r is not None and not -1 <= r <= 1:
        out.append(("r", f"Correlation (r) must be between -1 and 1 (got {_show(r)})."))
    if n is not None and n < CORRELATION_MIN_N:
        out.append(("n", f"N must be at least {CORRELATION_MIN_N} for a correlation (got {n})."))
    return out


_PLAUSIBILITY = {
    "dichotomous": _dichotomous,
    "continuous": _continuous,
    "proportion": _proportion,
    "estimate": _estimate,
    "correlation": _correlation,
}


def flatten(definition: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """An entry as input name -> value, the shape the entry form and the comparison use."""
    flat = dict(data.get("values") or {})
    rows_seen: dict[str, int] = {}
    for row in data.get("outcomes") or []:
        group = row["group"]
        index = rows_seen.get(group, 0)
        rows_seen[group] = index + 1
        for part, value in row.items():
            if part != "group":
                flat[row_key(group, index, part)] = value
    return flat


@dataclass(frozen=True)
class Compared:
    key: str
    label: str
    section: str
    values: tuple[Any, ...]
    differs: bool


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return a == b


def entries_compare(
    definition: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
) -> list[Compared]:
    """Every input of the form, side by side across entries, marking those that differ.

    Outcome rows are matched by group and position (the first relapse row of one extractor
    against the first of the other); rows only one extractor gave show as differing.
    """
    flats = [flatten(definition, data) for data in entries]
    max_rows: dict[str, int] = {}
    for data in entries:
        counts: dict[str, int] = {}
        for row in data.get("outcomes") or []:
            counts[row["group"]] = counts.get(row["group"], 0) + 1
        for group, n in counts.items():
            max_rows[group] = max(max_rows.get(group, 0), n)
    out: list[Compared] = []
    for section, item in items_of(definition):
        if item["kind"] == "field":
            keys = [(item["key"], item["label"])]
        else:
            keys = [
                (row_key(item["key"], i, part), f"{item['label']} #{i + 1}: {label}")
                for i in range(max_rows.get(item["key"], 0))
                for part, label, _t in group_parts(item)
            ]
        for key, label in keys:
            values = tuple(flat.get(key) for flat in flats)
            differs = any(not _same(values[0], v) for v in values[1:])
            out.append(Compared(key, label, section["title"], values, differs))
    return out
