"""The analyst's files: extracted data and records as CSV, XLSX, JSON and RIS. Pure: no Django.

Selectors gather plain values from the database; this module lays them out and writes them.

Spreadsheet formula injection (OWASP "CSV Injection"): every text cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is written with a leading single quote, by the one
function ``neutralise`` that the CSV and XLSX writers both call. Numbers are written as numbers and
are never touched, so a negative mean difference stays ``-0.5``. JSON and RIS are not opened by
spreadsheets and carry the text exactly as entered.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import rispy
from openpyxl import Workbook

from reviewapp.core.spreadsheet import neutralise
from reviewapp.extraction.schema import (
    ESTIMATE_META_PARTS,
    META_COLUMNS,
    RATIO_MEASURES,
    Column,
    definition_columns,
    items_of,
)


def cell(value: Any) -> Any:
    """A stored value as one spreadsheet cell: yes/no for booleans, lists joined by '; '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


# --- extracted data -------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One extraction as the exports see it."""

    study_id: int
    study_label: str
    kind: str
    extractor: str
    decided_by: str
    form_version: int
    revision: int
    submitted_at: str
    definition: Mapping[str, Any]
    data: Mapping[str, Any]


def _meta(entry: Entry) -> dict[str, Any]:
    return {
        "study_id": entry.study_id,
        "study_label": entry.study_label,
        "kind": entry.kind,
        "extractor": entry.extractor,
        "decided_by": entry.decided_by,
        "form_version": entry.form_version,
        "revision": entry.revision,
        "submitted_at": entry.submitted_at,
    }


def _outcome_cells(entry: Entry, own_keys: set[str]) -> Iterator[tuple[str, int, dict]]:
    """(group, row number from 1, column -> value) for each outcome row of an entry."""
    groups = {item["key"]: item for _s, item in items_of(entry.definition)}
    numbers: dict[str, int] = {}
    for row in entry.data.get("outcomes") or []:
        group = row["group"]
        numbers[group] = numbers.get(group, 0) + 1
        values = {f"{group}__{part}": v for part, v in row.items() if part != "group"}
        item = groups.get(group, {})
        if item.get("type") == "estimate":
            measure = item.get("measure", "")
            values[f"{group}__{ESTIMATE_META_PARTS[0][0]}"] = measure
            values[f"{group}__{ESTIMATE_META_PARTS[1][0]}"] = measure in RATIO_MEASURES
        yield group, numbers[group], {k: v for k, v in values.items() if k in own_keys}


def extraction_rows(columns: Sequence[Column], entries: Iterable[Entry]) -> Iterator[dict]:
    """One row per study and outcome (one row for a study with no outcome rows).

    Study-level values repeat on each outcome row; each outcome row fills only its own group's
    columns. An entry fills only the columns of its own form version.
    """
    field_keys = [c.key for c in columns if c.group is None]
    for entry in entries:
        own_keys = {c.key for c in definition_columns(entry.definition)}
        values = entry.data.get("values") or {}
        base = _meta(entry) | {k: values.get(k) for k in field_keys if k in own_keys}
        outcome_rows = list(_outcome_cells(entry, own_keys))
        if not outcome_rows:
            yield base | {"outcome_group": None, "outcome_row": None}
        for group, number, cells in outcome_rows:
            yield base | {"outcome_group": group, "outcome_row": number} | cells


def extraction_header(columns: Sequence[Column]) -> list[str]:
    return list(META_COLUMNS) + [c.key for c in columns]


@dataclass
class Sheet:
    title: str
    header: list[str]
    # Any iterable: the writers read it once, so a generator keeps a large sheet out of memory.
    rows: Iterable[list[Any]] = field(default_factory=list)


_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def sheet_title(title: str, used: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = _SHEET_BAD.sub(" ", title).strip().strip("'")[:31] or "Sheet"
    candidate, n = base, 1
    while candidate.lower() in used:
        n += 1
        suffix = f" ({n})"
        candidate = base[: 31 - len(suffix)] + suffix
    used.add(candidate.lower())
    return candidate


STUDY_META = [c for c in META_COLUMNS if c not in ("outcome_group", "outcome_row")]


def extraction_sheets(columns: Sequence[Column], entries: Iterable[Entry]) -> list[Sheet]:
    """One sheet per form section, then a codebook naming each column.

    A section holding effect data has one row per study and outcome of its own groups; other
    sections have one row per study. The rows are generated as the workbook is written, reading
    ``entries`` once per section (give a re-iterable, not an iterator, when there are several).
    """
    sections: dict[str, list[Column]] = {}
    for column in columns:
        sections.setdefault(column.section, []).append(column)
    used: set[str] = set()
    sheets = []
    for title, section_columns in sections.items():
        keys = [c.key for c in section_columns]
        groups = {c.group for c in section_columns if c.group}
        header = STUDY_META + (["outcome_group", "outcome_row"] if groups else []) + keys
        sheets.append(
            Sheet(sheet_title(title, used), header, _section_rows(entries, header, keys, groups))
        )
    codebook = Sheet(sheet_title("Codebook", used), ["column", "label", "section", "type", "group"])
    codebook.rows = [[c.key, c.label, c.section, c.type, c.group or ""] for c in columns]
    sheets.append(codebook)
    return sheets


def _section_rows(
    entries: Iterable[Entry], header: list[str], keys: list[str], groups: set
) -> Iterator[list[Any]]:
    for entry in entries:
        own_keys = {c.key for c in definition_columns(entry.definition)}
        values = entry.data.get("values") or {}
        base = _meta(entry) | {k: values.get(k) for k in keys if k in own_keys}
        rows = []
        if groups:
            for group, number, cells in _outcome_cells(entry, own_keys):
                if group in groups:
                    rows.append(base | {"outcome_group": group, "outcome_row": number} | cells)
        if not rows:
            rows.append(base)
        for row in rows:
            yield [row.get(h) for h in header]


def _columns_json(columns: Sequence[Column]) -> list[dict[str, Any]]:
    return [
        {"key": c.key, "label": c.label, "section": c.section, "type": c.type, "group": c.group}
        for c in columns
    ]


def _entry_json(entry: Entry) -> dict[str, Any]:
    return _meta(entry) | {
        "values": dict(entry.data.get("values") or {}),
        "outcomes": list(entry.data.get("outcomes") or []),
    }


def extraction_json(
    *, form: Mapping[str, Any], columns: Sequence[Column], entries: Iterable[Entry]
) -> dict[str, Any]:
    """Everything as one JSON document: the form and its versions, the columns, the entries."""
    return {
        "form": dict(form),
        "columns": _columns_json(columns),
        "extractions": [_entry_json(e) for e in entries],
    }


def extraction_json_stream(
    *, form: Mapping[str, Any], columns: Sequence[Column], entries: Iterable[Entry]
) -> Iterator[str]:
    """The document of ``extraction_json``, written one extraction at a time."""
    yield '{"form": ' + _dumps(dict(form)) + ', "columns": ' + _dumps(_columns_json(columns))
    yield ', "extractions": ['
    for n, entry in enumerate(entries):
        yield ("," if n else "") + "\n" + _dumps(_entry_json(entry))
    yield "\n]}\n"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# --- writers ----------------------------------------------------------------------------------

Progress = Callable[[int], None] | None


def write_csv(
    out: IO[str],
    header: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    progress: Progress = None,
) -> int:
    """Rows (dicts keyed by header) as CSV, every cell neutralised; returns the row count."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    n = 0
    for n, row in enumerate(rows, start=1):
        writer.writerow([neutralise(cell(row.get(h))) for h in header])
        if progress and n % 500 == 0:
            progress(n)
    return n


def csv_stream(header: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The same CSV as ``write_csv``, one line at a time (for a streaming HTTP response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take(values) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield take([neutralise(h) for h in header])
    for row in rows:
        yield take([neutralise(cell(row.get(h))) for h in header])


def write_xlsx(out: IO[bytes], sheets: Sequence[Sheet], progress: Progress = None) -> int:
    """Sheets as an XLSX workbook (openpyxl, write-only), every text cell neutralised."""
    workbook = Workbook(write_only=True)
    n = 0
    for sheet in sheets:
        worksheet = workbook.create_sheet(title=sheet.title)
        worksheet.append([neutralise(h) for h in sheet.header])
        for row in sheet.rows:
            worksheet.append([neutralise(cell(v)) for v in row])
            n += 1
            if progress and n % 500 == 0:
                progress(n)
    workbook.save(out)
    return n


def write_json(out: IO[str], document: Any) -> None:
    json.dump(document, out, ensure_ascii=False, indent=1, default=str)


# --- records ----------------------------------------------------------------------------------


def ris_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    """One record (a dict of Record fields plus ``study``) as a rispy entry."""
    entry: dict[str, Any] = {"type_of_reference": "JOUR", "title": record.get("title") or ""}
    if record.get("authors"):
        entry["authors"] = list(record["authors"])
    if record.get("year"):
        entry["year"] = str(record["year"])
    if record.get("journal"):
        entry["journal_name"] = record["journal"]
    for source, target in (
        ("volume", "volume"),
        ("issue", "number"),
        ("doi", "doi"),
        ("abstract", "abstract"),
        ("pmid", "accession_number"),
    ):
        if record.get(source):
            entry[target] = str(record[source])
    pages = str(record.get("pages") or "")
    if pages:
        start, _, end = pages.partition("-")
        entry["start_page"] = start.strip()
        if end.strip():
            entry["end_page"] = end.strip()
    if record.get("keywords"):
        entry["keywords"] = list(record["keywords"])
    number = f" (#{record['number']} in its review)" if record.get("number") else ""
    notes = [f"reviewapp record {record['id']}{number}"]
    if record.get("study"):
        notes.append(f"Study: {record['study']}")
    entry["notes"] = notes
    return entry


def write_ris(out: IO[str], records: Iterable[Mapping[str, Any]]) -> int:
    entries = [ris_entry(r) for r in records]
    out.write(rispy.dumps(entries))
    return len(entries)
