"""MEDLINE text: PubMed's "PubMed format" export (.nbib, .txt).

Records are separated by blank lines. The file is read line by line; each record's lines are
handed to `Bio.Medline.read`, so the tag handling (continuation lines, which tags are lists) is
Biopython's, while line numbers and streaming are ours.

Field mapping:

| field       | tags |
|-------------|------|
| title       | TI, else BTI (book title), else TT (transliterated title) |
| abstract    | AB (ALL-CAPS labels such as "BACKGROUND:" become sections) |
| authors     | AU ("Mangalam H" -> "Mangalam, H"), else FAU; CN (group authors) added after |
| journal     | JT, else TA |
| year        | DP, else DEP (electronic publication date) |
| pmid / pmcid| PMID / PMC |
| doi         | LID or AID values ending in "[doi]" |
| volume, issue, pages | VI, IP, PG |
| keywords    | OT |
| mesh_terms  | MH (the "*" that marks a major topic is dropped) |
| publication types, language | PT, LA (first) |

A line that is neither "TAG - value" nor a 6-space continuation rejects its record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from Bio import Medline

from .base import FileUnreadable, ParsedRecord, Rejection
from .normalise import (
    flatten_abstract,
    format_authors,
    normalise_doi,
    normalise_pmcid,
    normalise_pmid,
    plain_text,
    split_structured_abstract,
)
from .records import check_characters, no_title, pick_year, reject
from .stream import HEAD_SIZE, text_stream

TITLE_TAGS = ["TI", "BTI", "TT"]
_FIELD_LINE = re.compile(r"^[A-Z][A-Z0-9]{0,3} {0,3}- ?")
_RECORD_START = re.compile(r"^PMID- ?\d", re.MULTILINE)


def _chunks(text) -> Iterator[tuple[int, list[str], int | None]]:
    """Yield (start line, lines, first bad line number or None) per blank-line-separated record."""
    lines: list[str] = []
    start = 0
    bad: int | None = None
    for number, line in enumerate(text, start=1):
        line = line.rstrip("\r\n").lstrip("\ufeff")
        if not line.strip():
            if lines:
                yield start, lines, bad
            lines, bad = [], None
            continue
        if not lines:
            start = number
        if bad is None and not (line.startswith("      ") or _FIELD_LINE.match(line)):
            bad = number
        lines.append(line + "\n")
    if lines:
        yield start, lines, bad


def _text(record: dict, tag: str) -> str:
    value = record.get(tag, "")
    if isinstance(value, list):
        value = " ".join(value)
    return plain_text(value)


def _list(record: dict, tag: str) -> list[str]:
    value = record.get(tag, [])
    return [value] if isinstance(value, str) else list(value)


def _doi(record: dict) -> str:
    for value in _list(record, "LID") + _list(record, "AID"):
        if value.strip().endswith("[doi]"):
            doi = normalise_doi(value.replace("[doi]", ""))
            if doi:
                return doi
    return ""


def _build(position: int, line: int, lines: list[str], bad: int | None):
    if bad is not None:
        return reject(
            position,
            line,
            f"line {bad} is neither a 'TAG - value' field nor a continuation line indented by "
            "6 spaces; the record was probably edited or cut by hand",
        )
    record = dict(Medline.read(lines))
    problem = check_characters(position, line, record.items())
    if problem:
        return problem
    title = ""
    for tag in TITLE_TAGS:
        title = _text(record, tag)
        if title:
            break
    if not title:
        return no_title(position, line, TITLE_TAGS)
    year = pick_year(position, line, [("DP", _text(record, "DP")), ("DEP", _text(record, "DEP"))])
    if isinstance(year, Rejection):
        return year
    sections = split_structured_abstract(_text(record, "AB"))
    authors = format_authors(_list(record, "AU") or _list(record, "FAU"))
    authors += [plain_text(name) for name in _list(record, "CN") if plain_text(name)]
    languages = _list(record, "LA")
    return ParsedRecord(
        position=position,
        line=line,
        title=title,
        pmid=normalise_pmid(_text(record, "PMID")),
        doi=_doi(record),
        pmcid=normalise_pmcid(_text(record, "PMC")),
        abstract=flatten_abstract(sections),
        abstract_sections=sections,
        authors=authors,
        journal=_text(record, "JT") or _text(record, "TA"),
        year=year,
        volume=_text(record, "VI"),
        issue=_text(record, "IP"),
        pages=_text(record, "PG"),
        keywords=[plain_text(k) for k in _list(record, "OT") if plain_text(k)],
        mesh_terms=[plain_text(m).replace("*", "") for m in _list(record, "MH") if plain_text(m)],
        publication_types=[plain_text(p) for p in _list(record, "PT") if plain_text(p)],
        language=plain_text(languages[0]) if languages else "",
        raw=record,
    )


def parse_medline(fileobj: BinaryIO) -> Iterator[ParsedRecord | Rejection]:
    """Yield the records of a MEDLINE (.nbib) file in order, rejecting the unreadable ones.

    Raises FileUnreadable (when iterated) if the file is empty, binary, or has no "PMID- " line in
    its first few kilobytes.
    """
    with text_stream(fileobj, newline=None) as text:
        start = text.tell()
        head = text.read(HEAD_SIZE)
        if not _RECORD_START.search(head.lstrip("\ufeff")):
            first = head.strip().splitlines()[0][:80] if head.strip() else ""
            raise FileUnreadable(
                "this is not a MEDLINE (.nbib) file: no 'PMID- ' line in its first "
                f"{HEAD_SIZE} characters (it starts with {first!r})"
            )
        text.seek(start)
        for position, (line, lines, bad) in enumerate(_chunks(text), start=1):
            yield _build(position, line, lines, bad)
