"""Reading and validating study data for pooling from CSV, without Django.

The CSV has a ``study`` column and, by measure:
``ai,bi,ci,di`` (OR, RR, RD); ``m1i,sd1i,n1i,m2i,sd2i,n2i`` (MD, SMD); ``xi,ni`` (PR, PLO, PFT);
``ri,ni`` (COR, ZCOR);
``yi,sei`` or ``yi,vi`` or ``estimate,lower,upper`` (GEN). Errors name the file, the row
(spreadsheet numbering: the header is row 1) and the column.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reviewapp.synthesis.stats.effect_sizes import (
    BINARY_MEASURES,
    CORRELATION_MEASURES,
    MEAN_MEASURES,
    PROPORTION_MEASURES,
    EffectSizes,
    StudyDataError,
    escalc_binary,
    escalc_correlation,
    escalc_generic,
    escalc_means,
    escalc_proportion,
)

__all__ = [
    "MEASURES",
    "PoolingInputError",
    "effects_from_rows",
    "read_effects_csv",
    "read_study_columns",
]

MEASURES = (*BINARY_MEASURES, *MEAN_MEASURES, *PROPORTION_MEASURES, *CORRELATION_MEASURES, "GEN")

COLUMNS = {
    **{m: ("ai", "bi", "ci", "di") for m in BINARY_MEASURES},
    **{m: ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i") for m in MEAN_MEASURES},
    **{m: ("xi", "ni") for m in PROPORTION_MEASURES},
    **{m: ("ri", "ni") for m in CORRELATION_MEASURES},
}
GEN_LAYOUTS = (("yi", "sei"), ("yi", "vi"), ("estimate", "lower", "upper"))


class PoolingInputError(ValueError):
    """Unusable input; ``source``, ``row`` and ``column`` say where, when known."""

    def __init__(
        self, message: str, *, source: str, row: int | None = None, column: str | None = None
    ):
        self.source = source
        self.row = row
        self.column = column
        where = source
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class _Row:
    number: int
    cells: dict[str, str]


def _required_columns(measure: str, header: Iterable[str], source: str) -> tuple[str, ...]:
    header = set(header)
    if measure != "GEN":
        return COLUMNS[measure]
    for layout in GEN_LAYOUTS:
        if set(layout) <= header:
            return layout
    raise PoolingInputError(
        "measure GEN needs columns yi and sei, yi and vi, or estimate, lower and upper "
        f"(found: {', '.join(sorted(header)) or 'none'}).",
        source=source,
    )


def effects_from_rows(
    rows: Iterable[dict[str, str]],
    measure: str,
    *,
    ratio: bool = False,
    source: str = "<data>",
    row_numbers: Iterable[int] | None = None,
) -> EffectSizes:
    """Validate string cells (as from ``csv.DictReader``) and compute effect sizes.

    ``ratio`` applies to GEN only: estimates and CI limits are ratios on their natural scale.
    ``row_numbers`` are the file rows of the records (default: 2, 3, ... after a header).
    Raises :class:`PoolingInputError` naming the row and column of the first problem.
    """
    measure = measure.upper()
    if measure not in MEASURES:
        raise PoolingInputError(
            f"unknown measure {measure!r}; use one of {', '.join(MEASURES)}.", source=source
        )
    if ratio and measure != "GEN":
        raise PoolingInputError("ratio applies to measure GEN only.", source=source)
    rows = list(rows)
    numbers = list(row_numbers) if row_numbers is not None else list(range(2, len(rows) + 2))
    records = [_Row(n, r) for n, r in zip(numbers, rows, strict=True)]
    if not records:
        raise PoolingInputError("no studies (the file has no data rows).", source=source)
    header = [name for name in records[0].cells if name is not None]
    if "study" not in header:
        raise PoolingInputError("missing column 'study'.", source=source)
    needed = _required_columns(measure, header, source)
    missing = [c for c in needed if c not in header]
    if missing:
        raise PoolingInputError(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(measure {measure} needs study, {', '.join(needed)}).",
            source=source,
        )

    labels: list[str] = []
    values: dict[str, list[float]] = {c: [] for c in needed}
    row_of: dict[str, int] = {}
    for row in records:
        if None in row.cells:
            raise PoolingInputError(
                "more cells than header columns.", source=source, row=row.number
            )
        label = (row.cells.get("study") or "").strip()
        if not label:
            raise PoolingInputError(
                "study label is empty.", source=source, row=row.number, column="study"
            )
        # Two studies may share a label ("Smith 2001" twice; metafor accepts it): rows, not
        # labels, identify them. An error names the first row with the label unless narrowed.
        row_of.setdefault(label, row.number)
        labels.append(label)
        for column in needed:
            raw = row.cells.get(column)
            text = (raw or "").strip()
            if not text:
                raise PoolingInputError(
                    "cell is empty.", source=source, row=row.number, column=column
                )
            try:
                number = float(text)
            except ValueError:
                raise PoolingInputError(
                    f"{text!r} is not a number.", source=source, row=row.number, column=column
                ) from None
            if not math.isfinite(number):
                raise PoolingInputError(
                    f"{text!r} is not a finite number.",
                    source=source,
                    row=row.number,
                    column=column,
                )
            values[column].append(number)

    try:
        return _compute(measure, labels, values, ratio)
    except StudyDataError as exc:
        bad_column = exc.field if exc.field in needed else None
        row_number = row_of.get(exc.study)
        if labels.count(exc.study) > 1:
            # Several rows share the label: find the one at fault by computing each alone.
            for index, label in enumerate(labels):
                if label != exc.study:
                    continue
                try:
                    _compute(measure, [label], {c: [v[index]] for c, v in values.items()}, ratio)
                except StudyDataError:
                    row_number = records[index].number
                    break
        raise PoolingInputError(
            f"study {exc.study!r}: {exc.field} {exc.problem}",
            source=source,
            row=row_number,
            column=bad_column,
        ) from exc


def _compute(
    measure: str, labels: list[str], values: dict[str, list[float]], ratio: bool
) -> EffectSizes:
    """The measure's effect sizes from validated numbers (``values`` in the measure's column order)."""
    columns = list(values.values())
    if measure in BINARY_MEASURES:
        return escalc_binary(measure, labels, *columns)
    if measure in MEAN_MEASURES:
        return escalc_means(measure, labels, *columns)
    if measure in PROPORTION_MEASURES:
        return escalc_proportion(measure, labels, values["xi"], values["ni"])
    if measure in CORRELATION_MEASURES:
        return escalc_correlation(measure, labels, values["ri"], values["ni"])
    # Only the layout's columns are in values; the others stay None, as if not passed.
    return escalc_generic(
        labels,
        yi=values.get("yi"),
        sei=values.get("sei"),
        vi=values.get("vi"),
        estimate=values.get("estimate"),
        lower=values.get("lower"),
        upper=values.get("upper"),
        ratio=ratio,
    )


def read_effects_csv(
    path: str | Path | None = None,
    measure: str = "GEN",
    *,
    text: str | None = None,
    ratio: bool = False,
    source: str | None = None,
) -> EffectSizes:
    """Read a pooling CSV file (or its ``text``) and return validated effect sizes."""
    if (path is None) == (text is None):
        raise ValueError("Give exactly one of path or text.")
    if path is not None:
        source = source or str(path)
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise PoolingInputError("file not found.", source=source) from None
        except UnicodeDecodeError:
            raise PoolingInputError("file is not UTF-8 text.", source=source) from None
        except OSError as exc:
            raise PoolingInputError(f"cannot read file ({exc.strerror}).", source=source) from None
    source = source or "<text>"
    if text is None:
        # Ruled out above: text was given, or read from path.
        raise AssertionError("no text to read")
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows, numbers = [], []
    try:
        header = reader.fieldnames
        for record in reader:
            rows.append(record)
            # the reader's line count, so blank lines and quoted newlines keep numbers right
            numbers.append(reader.line_num)
    except csv.Error as exc:
        raise PoolingInputError(f"not a valid CSV file ({exc}).", source=source) from None
    if not header:
        raise PoolingInputError("the file is empty.", source=source)
    header = [h.strip() for h in header]
    rows = [{key.strip() if key else key: value for key, value in r.items()} for r in rows]
    if "study" not in header:
        raise PoolingInputError("missing column 'study'.", source=source)
    if not rows:
        raise PoolingInputError("no studies (the file has no data rows).", source=source)
    return effects_from_rows(rows, measure, ratio=ratio, source=source, row_numbers=numbers)


def read_study_columns(
    path: str | Path | None = None,
    names: Iterable[str] = (),
    *,
    text: str | None = None,
    source: str | None = None,
) -> dict[str, list[tuple[int, str]]]:
    """Other columns of a pooling CSV (a subgroup, a moderator, a year), as (row, cell) pairs
    in file order, the row numbered as in error messages. Raises PoolingInputError naming a
    missing column."""
    if path is not None:
        source = source or str(path)
        text = Path(path).read_text(encoding="utf-8-sig")
    source = source or "<text>"
    if text is None:
        raise ValueError("Give path or text.")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    wanted = list(names)
    for name in wanted:
        if name not in header:
            raise PoolingInputError(
                f"missing column {name!r} (the file has: {', '.join(header)}).", source=source
            )
    out: dict[str, list[tuple[int, str]]] = {name: [] for name in wanted}
    for record in reader:
        cells = {(k.strip() if k else k): v for k, v in record.items()}
        for name in wanted:
            out[name].append((reader.line_num, (cells.get(name) or "").strip()))
    return out
