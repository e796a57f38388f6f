"""RIS files from Embase, Scopus, Web of Science, Ovid, ProQuest, EBSCO, Zotero, EndNote, Lens.

Lines are read one at a time, so a 100,000-record file is never held in memory. Each line is
split into tag and value by a `rispy.RisParser` subclass that also accepts the dialects seen in
the wild; the tag vocabulary (which tag means what, reference-type names) is rispy's. rispy's own
`load()` is not used because it returns the whole file as a list, has no line numbers, and skips
the first record when a UTF-8 BOM was not stripped.

Dialects accepted:

- UTF-8 BOM, CRLF line ends, Windows-1252 files (see `stream` for the encoding rule);
- numbered lines ("1. TY  - JOUR"), one or two spaces before the dash, "TAG  -" with no value;
- continuation lines (a line without a tag continues the previous field; Web of Science writes
  "Total Times Cited: 56" this way);
- a record without "ER" (the next "TY" or the end of the file closes it), with a warning
  naming the record: the file may have been cut short or records lost their end.

Field mapping (the first non-empty tag wins):

| field          | tags |
|----------------|------|
| title          | TI, T1, CT, BT, ST, TT |
| abstract       | AB, N2 |
| authors        | AU, else A1 (several names in one line split on ";", or on "," between initialled names as Ovid's CENTRAL writes them) |
| journal        | JF, T2, JO, JA, J2 |
| year           | PY, Y1, DA (first plausible year; see `normalise.parse_year`) |
| doi            | DO, DI; then a DOI inside M3, N1, AN, or a bare DOI in L3 (EBSCOhost); then a doi.org link in UR, L1-L4, LK (never a PDF's or publisher's link) |
| pmid           | AN when it says PMID/MEDLINE or DB/DP names MEDLINE or PubMed; the AN of an Ovid link into a MEDLINE database (D=medp, medl, prem...); C5 in Embase exports; C2 in Scopus exports; "PUBMED n" in C3 (Cochrane Library); "PMID: n" in N1; PubMed or Europe PMC URLs |
| pmcid          | "PMCn" in N1, C2, C6 or a URL |
| volume / issue | VL / IS (one longer than a volume or issue can be, holding words, is left in `raw`: Ovid's CENTRAL puts conference names in VL) |
| pages          | SP and EP ("152-160") |
| keywords       | KW (split on ";") |
| language       | LA |
| publication types | the TY name (rispy's mapping), then M3 when it is not a DOI or URL |

Tagged lines between one record's ER and the next TY (Ovid's and EBSCOhost's trailing links and
notes) are text outside the records and are ignored, unless they hold a title: then they are a
record whose TY line was lost, and rejected as such.

Rejected records: a record whose first line is not TY (a field in the wrong place), a field with
U+FFFD or a control character, no title, a year field with no plausible year, a field longer
than `limits` allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import parse_qs, urlsplit

from rispy import TYPE_OF_REFERENCE_MAPPING, RisParser

from .base import FileUnreadable, ParsedRecord, ParseWarning, Rejection
from .normalise import (
    doi_from_url,
    find_doi,
    find_pmcid,
    find_pmid_in_url,
    flatten_abstract,
    format_authors,
    normalise_doi,
    normalise_pmcid,
    normalise_pmid,
    plain_text,
    split_author_list,
    split_structured_abstract,
)
from .records import (
    check_characters,
    check_lengths,
    guarded,
    no_title,
    number_or_blank,
    pick_year,
    reject,
    where,
)
from .stream import HEAD_SIZE, text_stream

TITLE_TAGS = ["TI", "T1", "CT", "BT", "ST", "TT"]
ABSTRACT_TAGS = ["AB", "N2"]
JOURNAL_TAGS = ["JF", "T2", "JO", "JA", "J2"]
YEAR_TAGS = ["PY", "Y1", "DA"]
URL_TAGS = ["UR", "L1", "L2", "L3", "L4", "LK"]

_TAG_LINE = re.compile(r"^\ufeff?(?:\d+\.\s*)?([A-Z][A-Z0-9]) {1,2}-(?: (.*)|\s*)$")
_PMID_NOTE = re.compile(r"\bPMID\s*:?\s*(\d{1,9})\b", re.IGNORECASE)
_PMCID_NOTE = re.compile(r"\bPMCID\b", re.IGNORECASE)
# Cochrane Library's RIS names the record's entries in other databases in C3, each prefixed by
# the database: "PUBMED 38407106,EMBASE 643589775". Only the PUBMED one is a PMID.
_CENTRAL_PUBMED = re.compile(r"(?:^|[,;\s])PUBMED\s+(\d{1,9})\b", re.IGNORECASE)


class DialectRisParser(RisParser):
    """rispy's line splitter, widened to the dialects listed in the module docstring."""

    def parse_line(self, line: str) -> tuple[str, str] | tuple[None, str]:
        """Return (tag, value) for a tag line, (None, text) for a continuation line."""
        match = _TAG_LINE.match(line.rstrip("\r\n"))
        if match:
            return match.group(1), (match.group(2) or "").strip()
        return None, line.strip()


_LINE_PARSER = DialectRisParser()


def _records(text) -> Iterator[tuple[int, dict[str, list[str]], str, int]]:
    """Yield (start line, {tag: [values]}, first tag, end) per record, in file order.

    end is 0 when an ER line closed the record, else the line of the TY that began the next
    record before this one ended, or -1 when the file ended inside it.
    """
    record: dict[str, list[str]] | None = None
    start = 0
    first_tag = ""
    last_tag = ""
    for number, line in enumerate(text, start=1):
        tag, value = _LINE_PARSER.parse_line(line)
        if tag is None:
            if record is not None and value and last_tag:
                values = record[last_tag]
                values[-1] = f"{values[-1]} {value}".strip() if values[-1] else value
            # Text outside a record (export banners, blank lines) carries no data.
            continue
        if tag == "ER":
            if record is not None:
                yield start, record, first_tag, 0
            record = None
            continue
        if record is None or tag == "TY":
            if record is not None:
                yield start, record, first_tag, number
            record, start, first_tag = {}, number, tag
        record.setdefault(tag, []).append(value)
        last_tag = tag
    if record is not None:
        yield start, record, first_tag, -1


def _records_outside_dropped(text) -> Iterator[tuple[int, dict[str, list[str]], str, int]]:
    """`_records`, without the tagged text between one record's ER and the next TY.

    Ovid, EBSCOhost and Cochrane write lines after each record's end ("L2  - " links, "DB  - "
    notes, "Link to the Ovid Full Text"); read as records they were rejected, one per record.
    Such a block is still a record whose TY line was lost when it has a title, and is rejected
    as one; without a title it is text outside the records and ignored.
    """
    for start, record, first_tag, end in _records(text):
        if first_tag != "TY" and not any(_first(record, [tag]) for tag in TITLE_TAGS):
            continue
        yield start, record, first_tag, end


def _unended(position: int, line: int, end: int) -> ParseWarning:
    """The warning for a record that no ER line closed (see `_records` for `end`)."""
    if end < 0:
        reason = (
            "the last record has no 'ER  - ' line, so the file may have been cut short; it was "
            "imported, check that it is complete"
        )
    else:
        reason = (
            f"the record has no 'ER  - ' line: record {position + 1} begins (TY, line {end}) "
            "before it ended. Both were imported as separate records; check that this one is "
            "complete"
        )
    return ParseWarning(reason=f"{where(position, line)}: {reason}", position=position, line=line)


def _first(record: dict[str, list[str]], tags: list[str]) -> str:
    for tag in tags:
        for value in record.get(tag, []):
            text = plain_text(value)
            if text:
                return text
    return ""


def _databases(record: dict[str, list[str]]) -> str:
    return " ".join(record.get("DB", []) + record.get("DP", [])).lower()


def _doi(record: dict[str, list[str]]) -> str:
    for tag in ("DO", "DI"):
        for value in record.get(tag, []):
            doi = normalise_doi(value)
            if doi:
                return doi
    # In these fields a DOI counts only when the value is the DOI, not a note that cites one
    # (Scopus N1 holds the reference list). EBSCOhost writes the DOI bare in L3, its link field.
    for tag in ("M3", "N1", "AN", "L3"):
        for value in record.get(tag, []):
            stripped = re.sub(
                r"^(?:doi\s*:?\s*|https?://(?:dx\.)?doi\.org/)", "", value.strip(), flags=re.I
            )
            if stripped.startswith("10."):
                doi = normalise_doi(stripped)
                if doi:
                    return doi
    # Links (UR, L1-L4, LK) give a DOI only when they are a doi.org link: a PDF's or a
    # publisher's address holding "10.xxxx/..." is not the DOI (see normalise.doi_from_url).
    for tag in URL_TAGS:
        for value in record.get(tag, []):
            doi = doi_from_url(value)
            if doi:
                return doi
    return ""


def _pmid(record: dict[str, list[str]]) -> str:
    databases = _databases(record)
    for value in record.get("AN", []):
        explicit = re.match(r"^\s*(?:PMID|MEDLINE|PubMed)\s*[:#]?\s*\d", value, re.I)
        if explicit or (
            ("medline" in databases or "pubmed" in databases) and "embase" not in databases
        ):
            pmid = normalise_pmid(value)
            if pmid:
                return pmid
    # Embase marks a record it holds only from MEDLINE "DB  - Medline" alone, without
    # "DB  - Embase"; its embase.com link still says whose export it is, and C5 is the PMID.
    if "embase" in databases or any("embase.com/" in url for url in record.get("UR", [])):
        for value in record.get("C5", []):
            if normalise_pmid(value):
                return normalise_pmid(value)
    if "scopus" in databases:
        for value in record.get("C2", []):
            if normalise_pmid(value):
                return normalise_pmid(value)
    for value in record.get("C3", []):
        match = _CENTRAL_PUBMED.search(value)
        if match and normalise_pmid(match.group(1)):
            return normalise_pmid(match.group(1))
    for value in record.get("N1", []):
        match = _PMID_NOTE.search(value)
        if match:
            return match.group(1).lstrip("0")
    for tag in URL_TAGS:
        for value in record.get(tag, []):
            pmid = find_pmid_in_url(value) or _ovid_medline_accession(value)
            if pmid:
                return pmid
    return ""


def _ovid_medline_accession(url: str) -> str:
    """The AN of an Ovid link into one of its MEDLINE databases, which is the PMID (Ovid MEDLINE
    RIS has no DB line; its ID and the L2 link's AN are the PMID)."""
    if "ovid" not in url.lower():
        return ""
    query = parse_qs(urlsplit(url.strip()).query)
    database = (query.get("D") or [""])[0].lower()
    if not database.startswith(("med", "prem", "mesz")):
        return ""
    return normalise_pmid((query.get("AN") or [""])[0])


def _pmcid(record: dict[str, list[str]]) -> str:
    for tag in ("C2", "C6"):
        for value in record.get(tag, []):
            if value.strip().upper().startswith("PMC"):
                return normalise_pmcid(value)
    for value in record.get("N1", []):
        if _PMCID_NOTE.search(value):
            pmcid = find_pmcid(value)
            if pmcid:
                return pmcid
    for tag in URL_TAGS:
        for value in record.get(tag, []):
            pmcid = find_pmcid(value)
            if pmcid:
                return pmcid
    return ""


def _volume(record: dict[str, list[str]]) -> str:
    return number_or_blank(_first(record, ["VL"]), "volume")


def _issue(record: dict[str, list[str]]) -> str:
    return number_or_blank(_first(record, ["IS"]), "issue")


def _pages(record: dict[str, list[str]]) -> str:
    start = _first(record, ["SP"])
    end = _first(record, ["EP"])
    if start and end and "-" not in start:
        return f"{start}-{end}"
    return start or end


def _authors(record: dict[str, list[str]]) -> list[str]:
    names = record.get("AU") or record.get("A1") or []
    split = [part for name in names for part in split_author_list(name)]
    return format_authors(split)


def _publication_types(record: dict[str, list[str]]) -> list[str]:
    types = []
    kind = _first(record, ["TY"])
    if kind:
        types.append(TYPE_OF_REFERENCE_MAPPING.get(kind.upper(), kind))
    work = _first(record, ["M3"])
    if work and not find_doi(work) and "://" not in work:
        types.append(work)
    return types


def _build(position: int, line: int, record: dict[str, list[str]], first_tag: str):
    if first_tag != "TY":
        return reject(
            position,
            line,
            f"the record starts with '{first_tag}' instead of 'TY  - '; every RIS record must "
            "begin with a TY line (a line may be missing or the file was edited by hand)",
            field="TY",
        )
    problem = check_characters(position, line, record.items())
    if problem:
        return problem
    title = _first(record, TITLE_TAGS)
    if not title:
        return no_title(position, line, TITLE_TAGS)
    year = pick_year(position, line, [(tag, " ".join(record.get(tag, []))) for tag in YEAR_TAGS])
    if isinstance(year, Rejection):
        return year
    abstract_sections = split_structured_abstract(_first(record, ABSTRACT_TAGS))
    parsed = ParsedRecord(
        position=position,
        line=line,
        title=title,
        pmid=_pmid(record),
        doi=_doi(record),
        pmcid=_pmcid(record),
        abstract=flatten_abstract(abstract_sections),
        abstract_sections=abstract_sections,
        authors=_authors(record),
        journal=_first(record, JOURNAL_TAGS),
        year=year,
        volume=_volume(record),
        issue=_issue(record),
        pages=_pages(record),
        keywords=[
            plain_text(part)
            for value in record.get("KW", [])
            for part in value.split(";")
            if plain_text(part)
        ],
        language=_first(record, ["LA"]),
        publication_types=_publication_types(record),
        raw=record,
    )
    return check_lengths(parsed, record)


@guarded("RIS")
def parse_ris(fileobj: BinaryIO) -> Iterator[ParsedRecord | Rejection | ParseWarning]:
    """Yield the records of a RIS file in order, rejecting the ones that cannot be read.

    Warnings (`ParseWarning`) come first for the file as a whole (see `stream.structure_warnings`)
    and after each record that no ER line closed. Raises FileUnreadable (when iterated) if the
    file is empty, binary, or has no "TY  - " line in its first few kilobytes.
    """
    with text_stream(fileobj, newline=None) as (text, warnings):
        start = text.tell()
        head = text.read(HEAD_SIZE)
        if not any(_LINE_PARSER.parse_line(line)[0] == "TY" for line in head.splitlines()):
            first = head.strip().splitlines()[0][:80] if head.strip() else ""
            raise FileUnreadable(
                f"this is not a RIS file: no 'TY  - ' line in its first {HEAD_SIZE} characters "
                f"(it starts with {first!r})"
            )
        yield from warnings
        text.seek(start)
        records = _records_outside_dropped(text)
        for position, (line, record, first_tag, end) in enumerate(records, start=1):
            yield _build(position, line, record, first_tag)
            # A record that does not start with TY is rejected already, for that reason.
            if end and first_tag == "TY":
                yield _unended(position, line, end)
