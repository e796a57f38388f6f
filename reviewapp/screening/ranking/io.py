"""Reading a labelled review from CSV for simulations (the format of ASReview's datasets)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reviewapp.screening.ranking.features import record_text

__all__ = ["LABEL_COLUMNS", "LabelledData", "LabelledDataError", "labelled_csv_read"]

# ASReview's names for the final inclusion label, in the order it looks for them.
LABEL_COLUMNS = ("label_included", "included")


class LabelledDataError(ValueError):
    """Input a simulation cannot use; the message names the file, row and column."""


@dataclass(frozen=True)
class LabelledData:
    """Records of a labelled review: ranking texts and 0/1 labels, parallel, row order kept."""

    path: str
    texts: list[str]
    labels: list[int]
    label_column: str

    def prior_rows_check(self, prior_rows: Sequence[int]) -> list[int]:
        """The prior rows as ints, or LabelledDataError unless they are distinct, lie in the
        file and hold at least one include and one exclude (a simulation needs both to learn).
        """
        n = len(self.labels)
        rows = [int(r) for r in prior_rows]
        if not rows:
            raise LabelledDataError(f"{self.path}: give at least one prior row")
        for row in rows:
            if not 0 <= row < n:
                raise LabelledDataError(
                    f"{self.path}: prior row {row} is out of range; rows are 0..{n - 1}"
                )
        if len(set(rows)) != len(rows):
            raise LabelledDataError(f"{self.path}: prior rows repeat: {rows}")
        prior_labels = {self.labels[r] for r in rows}
        for value, word in ((1, "include"), (0, "exclude")):
            if value not in prior_labels:
                raise LabelledDataError(
                    f"{self.path}: prior rows {rows} hold no {word} "
                    f"({self.label_column} = {value}); give at least one include and one exclude"
                )
        return rows


def labelled_csv_read(path: str | Path) -> LabelledData:
    """Read a CSV with ``title``, ``abstract`` and a label column (``label_included`` or
    ``included``, as in ASReview's and SYNERGY's datasets) holding 0 or 1 on every row.

    Rows are numbered from 0 in data order, the numbering of ``--prior-idx``; error messages
    also give the line of the file.
    """
    path = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or []]
            reader.fieldnames = columns
            missing = [c for c in ("title", "abstract") if c not in columns]
            if missing:
                raise LabelledDataError(f"{path}: missing column(s) {', '.join(missing)}")
            label_column = next((c for c in LABEL_COLUMNS if c in columns), None)
            if label_column is None:
                raise LabelledDataError(
                    f"{path}: missing label column; expected one of {', '.join(LABEL_COLUMNS)}"
                )
            texts: list[str] = []
            labels: list[int] = []
            for row_number, row in enumerate(reader):
                value = (row.get(label_column) or "").strip()
                if value not in ("0", "1"):
                    raise LabelledDataError(
                        f"{path}: row {row_number} (line {reader.line_num}), column "
                        f"{label_column}: expected 0 or 1, got {value!r}"
                    )
                texts.append(record_text(row.get("title"), row.get("abstract")))
                labels.append(int(value))
    except OSError as exc:
        raise LabelledDataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LabelledDataError(f"{path}: not a UTF-8 CSV file ({exc})") from exc
    if not labels:
        raise LabelledDataError(f"{path}: no records")
    return LabelledData(path=path, texts=texts, labels=labels, label_column=label_column)
