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

A line that is neither "TAG - value" nor a 6-space continuation after a field rejects its
record; so does a field longer than `limits` allows. Two records run together (no blank line
before the second PMID) are read as two, with a warning naming the second.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from Bio import Medline

from .base import FileUnreadable, ParsedRecord, ParseWarning, Rejection
from .normalise import (
    flatten_abstract,
    format_authors,
    normalise_doi,
    normalise_pmcid,
    normalise_pmid,
    plain_text,
    split_structured_abstract,
)
from .records import check_characters, check_lengths, guarded, no_title, pick_year, reject, where
from .stream import HEAD_SIZE, text_stream

TITLE_TAGS = ["TI", "BTI", "TT"]
# "TAG - value" with the tag padded to four characters, as PubMed writes it, or a looser
# "TAG- value" / "TAG  -value" that is put back into that layout before Bio.Medline reads it
# (it takes the tag from columns 0-3 and the value from column 6 on).
_FIELD_LINE = re.compile(r"^([A-Z][A-Z0-9]{0,3}) {0,3}-(?: ?(.*))?$")
_RECORD_START = re.compile(r"^PMID- ?\d", re.MULTILINE)


class _Chunk:
    """The lines of one record and what was wrong with its layout."""

    __slots__ = ("bad", "joined", "lines", "second_pmid", "start")

    def __init__(self, start: int, joined: bool = False):
        self.start = start
        self.lines: list[str] = []
        # The first line that is neither a field nor a continuation, or a continuation that
        # comes before any field.
        self.bad: int | None = None
        # The line of a second PMID in a record that does not start with its PMID.
        self.second_pmid: int | None = None
        # True when the record followed the previous one without a blank line between them.
        self.joined = joined


def _chunks(text) -> Iterator[_Chunk]:
    """Yield the records of the file: blank-line-separated, and split at a second PMID line."""
    chunk: _Chunk | None = None
    has_pmid = False
    for number, line in enumerate(text, start=1):
        line = line.rstrip("\r\n").lstrip("\ufeff")
        if not line.strip():
            if chunk is not None:
                yield chunk
            chunk = None
            continue
        is_pmid = line.startswith(("PMID-", "PMID "))
        if is_pmid:
            # Two records run together: PubMed starts every record with its PMID, so a second
            # PMID line starts the next record when this one started with its own.
            if chunk is not None and has_pmid:
                if chunk.lines[0].startswith(("PMID-", "PMID ")):
                    yield chunk
                    chunk = _Chunk(number, joined=True)
                elif chunk.second_pmid is None:
                    chunk.second_pmid = number
            has_pmid = True
        if chunk is None:
            chunk = _Chunk(number)
            has_pmid = is_pmid
        if line.startswith("      "):
            if not chunk.lines and chunk.bad is None:
                chunk.bad = number
        elif line[4:6] != "- " or not line[0].isupper():
            match = _FIELD_LINE.match(line)
            if match:
                line = f"{match.group(1):<4}- {match.group(2) or ''}"
            elif chunk.bad is None:
                chunk.bad = number
        chunk.lines.append(line + "\n")
    if chunk is not None:
        yield chunk


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


def _build(position: int, chunk: _Chunk):
    line = chunk.start
    if chunk.bad is not None:
        return reject(
            position,
            line,
            f"line {chunk.bad} is neither a 'TAG - value' field nor a continuation line indented "
            "by 6 spaces after a field; the record was probably edited or cut by hand",
        )
    if chunk.second_pmid is not None:
        return reject(
            position,
            line,
            f"the record holds a second PMID (line {chunk.second_pmid}): two records run together "
            "without the blank line between them, and since this one does not start with its "
            "PMID they cannot be told apart; add the blank line and import the file again",
            field="PMID",
        )
    record = dict(Medline.read(chunk.lines))
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
    parsed = ParsedRecord(
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
    return check_lengths(parsed, record)


@guarded("MEDLINE")
def parse_medline(fileobj: BinaryIO) -> Iterator[ParsedRecord | Rejection | ParseWarning]:
    """Yield the records of a MEDLINE (.nbib) file in order, rejecting the unreadable ones.

    Warnings (`ParseWarning`) come first for the file as a whole (see `stream.structure_warnings`)
    and before a record that followed the previous one without a blank line. Raises
    FileUnreadable (when iterated) if the file is empty, binary, or has no "PMID- " line in its
    first few kilobytes.
    """
    with text_stream(fileobj, newline=None) as (text, warnings):
        start = text.tell()
        head = text.read(HEAD_SIZE)
        if not _RECORD_START.search(head.lstrip("\ufeff")):
            first = head.strip().splitlines()[0][:80] if head.strip() else ""
            raise FileUnreadable(
                "this is not a MEDLINE (.nbib) file: no 'PMID- ' line in its first "
                f"{HEAD_SIZE} characters (it starts with {first!r})"
            )
        yield from warnings
        text.seek(start)
        for position, chunk in enumerate(_chunks(text), start=1):
            if chunk.joined:
                yield ParseWarning(
                    reason=f"{where(position, chunk.start)}: the record follows record "
                    f"{position - 1} without a blank line between them (a second PMID inside one "
                    "record); they were imported as two records, check that both are complete",
                    position=position,
                    line=chunk.start,
                )
            yield _build(position, chunk)
