"""Tagged text exports other than RIS and MEDLINE: Web of Science, Ovid, Cochrane CENTRAL.

Each is a sequence of "TAG value" lines with continuation lines, and each marks where a record
begins in its own way; they differ only in the line grammar and in which tag means what, so one
reader (`read_records`) walks the lines and a `Dialect` per format says how. Lines are read one
at a time, so a large export is never held in memory.

Text outside a record (the export's banner and header, a "Link to the Ovid Full Text" line or a
blank line after each record, the "EF" end-of-file line) carries no data and is ignored: it never
becomes a rejected record. A record that cannot be read is rejected naming its number and line.

| dialect  | a record starts at | tag line | continuation | a record ends at |
|----------|--------------------|----------|--------------|------------------|
| wos      | "PT J" (any PT) | "TI Title" (two-character tag, one space) | three spaces | "ER" |
| ovid     | "<12. >" or "<12>" | "TI  - Title" | spaces | the next "<n>" or the end |
| cochrane | "Record #12 of 40" | "TI: Title" | (none) | the next "Record #" or the end |
| refworks | "RT Journal Article" | "T1 Title" (two-character tag, one space) | (none) | the next "RT" or the end |
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from .base import FileUnreadable, ParsedRecord, ParseWarning, Rejection
from .normalise import (
    flatten_abstract,
    format_authors,
    normalise_doi,
    normalise_pmid,
    plain_text,
    split_structured_abstract,
)
from .records import check_characters, check_lengths, guarded, no_title, pick_year
from .stream import HEAD_SIZE, text_stream

Fields = dict[str, list[str]]


@dataclass(frozen=True)
class Dialect:
    """How one tagged format writes its lines, and which tags give which field."""

    name: str
    start: re.Pattern[str]  # a line that begins a record (its tag, if any, is kept)
    tag_line: re.Pattern[str]  # groups: tag, value
    continuation: re.Pattern[str] | None  # group 1: the text continuing the previous field
    end_tag: str  # a tag that closes the record ("" when only the next start does)
    list_tags: frozenset[str]  # tags whose continuation lines are separate items (authors)
    title: list[str]
    abstract: list[str]
    authors: list[str]
    journal: list[str]
    year: list[str]
    doi: list[str]  # DOI fields: a DOI, "doi:10...", or a DOI URL
    pmid: list[str]
    volume: list[str]
    issue: list[str]
    pages: list[str]
    page_start: list[str]
    page_end: list[str]
    keywords: list[str]
    mesh: list[str]
    types: list[str]
    language: list[str]
    # Link fields: a DOI is taken from them only when the link is a DOI URL (doi.org), never from
    # a publisher's or a PDF link that happens to contain one.
    doi_urls: list[str] = field(default_factory=list)
    # Reads the PMID when it depends on more than one tag (Ovid: UI is a PMID only in MEDLINE).
    pmid_rule: Callable[[Fields], str] | None = None
    # Reads journal, volume, issue, pages, year from a one-line citation (Ovid and Cochrane SO).
    source_rule: Callable[[Fields], dict[str, str]] | None = None
    # Cleans one author line before it is split into names (Ovid adds roles and footnote marks).
    author_rule: Callable[[str], str] | None = None
    # Cleans the title read from `title` (Journals@Ovid appends the article type).
    title_rule: Callable[[Fields, str], str] | None = None


def read_records(text, dialect: Dialect) -> Iterator[tuple[int, Fields]]:
    """Yield (start line, {tag: [values]}) per record, in file order; text outside is skipped."""
    record: Fields | None = None
    start = 0
    last_tag = ""
    for number, raw in enumerate(text, start=1):
        line = raw.rstrip("\r\n").lstrip("\ufeff")
        begins = dialect.start.match(line)
        if begins:
            if record is not None:
                yield start, record
            record, start, last_tag = {}, number, ""
            tag = begins.groupdict().get("tag")
            if tag:
                record[tag] = [(begins.group("value") or "").strip()]
                last_tag = tag
            continue
        if record is None:
            continue  # text outside a record: banners, headers, trailing links, "EF"
        if dialect.continuation is not None and last_tag:
            more = dialect.continuation.match(line)
            if more and more.group(1).strip():
                values = record[last_tag]
                if last_tag in dialect.list_tags:
                    values.append(more.group(1).strip())
                else:
                    values[-1] = f"{values[-1]} {more.group(1).strip()}".strip()
                continue
        match = dialect.tag_line.match(line)
        if match:
            tag, value = match.group(1), (match.group(2) or "").strip()
            if tag == dialect.end_tag:
                yield start, record
                record, last_tag = None, ""
                continue
            record.setdefault(tag, []).append(value)
            last_tag = tag
            continue
        # Anything else (a blank line, "Link to the Ovid Full Text or citation: ...") ends the
        # field before it; it is not part of any field.
        last_tag = ""
    if record is not None:
        yield start, record


_DOI_URL = re.compile(r"^\s*https?://(?:dx\.)?doi\.org/", re.IGNORECASE)


def doi_from_url(value: str) -> str:
    """The DOI of a DOI URL ("https://doi.org/10.1/x"), or "" for any other link."""
    return normalise_doi(value) if _DOI_URL.match(value) else ""


def _first(record: Fields, tags: list[str]) -> str:
    for tag in tags:
        for value in record.get(tag, []):
            text = plain_text(value)
            if text:
                return text
    return ""


def _all(record: Fields, tags: list[str], split: str = ";") -> list[str]:
    items: list[str] = []
    for tag in tags:
        for value in record.get(tag, []):
            for part in value.split(split) if split else [value]:
                text = plain_text(part).lstrip("*")
                if text and text not in items:
                    items.append(text)
    return items


def _names(record: Fields, tags: list[str], clean: Callable[[str], str] | None = None) -> list[str]:
    """The authors under the first of `tags` that has any; one line may list several by ";"."""
    for tag in tags:
        values = [clean(value) for value in record.get(tag, [])] if clean else record.get(tag, [])
        names = [part for value in values for part in value.split(";")]
        names = [name.strip() for name in names if name.strip()]
        if names:
            return names
    return []


def build(position: int, line: int, record: Fields, dialect: Dialect):
    """The ParsedRecord of one record, or the Rejection saying why it cannot be read."""
    problem = check_characters(position, line, record.items())
    if problem:
        return problem
    title = _first(record, dialect.title)
    if title and dialect.title_rule:
        title = dialect.title_rule(record, title)
    if not title:
        return no_title(position, line, dialect.title)
    source = dialect.source_rule(record) if dialect.source_rule else {}
    year = pick_year(
        position,
        line,
        [(tag, " ".join(record.get(tag, []))) for tag in dialect.year]
        + ([("SO", source["year"])] if source.get("year") else []),
    )
    if isinstance(year, Rejection):
        return year
    doi = next(
        (d for tag in dialect.doi for v in record.get(tag, []) if (d := normalise_doi(v))), ""
    ) or next(
        (d for tag in dialect.doi_urls for v in record.get(tag, []) if (d := doi_from_url(v))), ""
    )
    pmid = dialect.pmid_rule(record) if dialect.pmid_rule else ""
    for tag in dialect.pmid:
        for value in record.get(tag, []):
            pmid = pmid or normalise_pmid(value)
    pages = _first(record, dialect.pages)
    if not pages:
        first, last = _first(record, dialect.page_start), _first(record, dialect.page_end)
        pages = f"{first}-{last}" if first and last else first
    sections = split_structured_abstract(
        " ".join(v for tag in dialect.abstract for v in record.get(tag, []))
    )
    parsed = ParsedRecord(
        position=position,
        line=line,
        title=title,
        pmid=pmid,
        doi=doi,
        abstract=flatten_abstract(sections),
        abstract_sections=sections,
        authors=format_authors(_names(record, dialect.authors, dialect.author_rule)),
        journal=_first(record, dialect.journal) or source.get("journal", ""),
        year=year,
        volume=_first(record, dialect.volume) or source.get("volume", ""),
        issue=_first(record, dialect.issue) or source.get("issue", ""),
        pages=pages or source.get("pages", ""),
        keywords=_all(record, dialect.keywords),
        mesh_terms=_all(record, dialect.mesh),
        publication_types=_all(record, dialect.types),
        language=_first(record, dialect.language),
        raw=record,
    )
    return check_lengths(parsed, record)


def parse_tagged(
    fileobj: BinaryIO, dialect: Dialect, *, label: str, looks_like: re.Pattern[str]
) -> Iterator[ParsedRecord | Rejection | ParseWarning]:
    """Yield the records of a tagged export in order; FileUnreadable when it is not one."""
    with text_stream(fileobj, newline=None) as (text, warnings):
        start = text.tell()
        head = text.read(HEAD_SIZE)
        if not looks_like.search(head):
            first = head.strip().splitlines()[0][:80] if head.strip() else ""
            raise FileUnreadable(
                f"this is not a {label} export: no record start in its first {HEAD_SIZE} "
                f"characters (it starts with {first!r})"
            )
        yield from warnings
        text.seek(start)
        for position, (line, record) in enumerate(read_records(text, dialect), start=1):
            yield build(position, line, record, dialect)


# --- the dialects ------------------------------------------------------------------------------

WOS = Dialect(
    name="wos",
    start=re.compile(r"^(?P<tag>PT) (?P<value>.*)$"),
    tag_line=re.compile(r"^([A-Z][A-Z0-9])(?: (.*))?$"),
    continuation=re.compile(r"^ {2,3}(\S.*)$"),
    end_tag="ER",
    list_tags=frozenset({"AU", "AF", "BA", "BF", "CR", "C1", "C3", "ED", "EM", "RI", "OI"}),
    title=["TI"],
    abstract=["AB"],
    authors=["AU", "AF", "BA"],
    journal=["SO", "SE", "J9", "JI"],
    year=["PY", "EA", "PD"],
    doi=["DI", "D2"],
    pmid=["PM"],
    volume=["VL"],
    issue=["IS"],
    pages=[],
    page_start=["BP"],
    page_end=["EP"],
    keywords=["DE", "ID"],
    mesh=[],
    types=["DT"],
    language=["LA"],
)

_OVID_SOURCE = re.compile(
    r"^(?P<journal>[^.]+(?:\.[^.0-9][^.]*)*?)\.\s*(?P<volume>[\w-]+)?\s*(?:\((?P<issue>[^)]*)\))?"
    r"\s*(?::\s*(?P<pages>[\w-]+))?"
)


def _ovid_pmid(record: Fields) -> str:
    databases = " ".join(record.get("DB", [])).lower()
    # In Ovid MEDLINE the unique identifier is the PMID; in Embase it is Embase's own number.
    if "medline" in databases or "pubmed" in databases:
        for value in record.get("UI", []):
            if normalise_pmid(value):
                return normalise_pmid(value)
    for tag in ("PM", "PMID"):
        for value in record.get(tag, []):
            if normalise_pmid(value):
                return normalise_pmid(value)
    return ""


# Journals@Ovid writes "Journal Month Year;Volume(Issue):Pages" ("Acta Biochimica et Biophysica
# Sinica August 2011;43(8):647-653") and gives the year nowhere else.
_OVID_JOURNALS_SOURCE = re.compile(
    r"^(?P<journal>.+?)\s+(?:[A-Z][a-z]+(?:/[A-Z][a-z]+)?\s+)?(?:\d{1,2},?\s+)?(?P<year>\d{4});"
    r"\s*(?P<volume>[\w-]+)?\s*(?:\((?P<issue>[^)]*)\))?\s*(?::\s*(?P<pages>[\w-]+))?"
)
# BIOSIS names a book chapter's editors before the book: "Kamp, Roza Maria [Editor, Reprint
# Author], Calvete, Juan J. [Editor]. Methods in proteome and protein analysis.:371-397, 2004."
_OVID_EDITORS = re.compile(r"^.*\[Editor[^\]]*\]\.\s*")


def _ovid_source(record: Fields) -> dict[str, str]:
    source = _OVID_EDITORS.sub("", _first(record, ["SO"]))
    match = (_OVID_JOURNALS_SOURCE.match(source) or _OVID_SOURCE.match(source)) if source else None
    if not match:
        return {}
    parts = {k: (v or "").strip() for k, v in match.groupdict().items()}
    # Embase puts a conference after the journal ("BMC Proceedings. Conference: 2nd ..."): a
    # volume without a digit is a word of that text, and what follows it is no issue or pages.
    if parts["volume"] and not re.search(r"\d", parts["volume"]):
        parts.update(volume="", issue="", pages="")
    return parts


# Journals@Ovid ends a title with the article's type, "Take Ten: ... Breast Cancer.  [Miscellaneous]",
# which would keep it from matching the same title from another database. Only there: in Ovid
# MEDLINE a title wholly in brackets is a translated one and stays as it is.
_JOURNALS_TYPE_SUFFIX = re.compile(r"(?<=\S)\s+\[[^\[\]]+\]\.?$")


def _ovid_title(record: Fields, title: str) -> str:
    if not any(db.strip().endswith("Journals@Ovid") for db in record.get("DB", [])):
        return title
    return _JOURNALS_TYPE_SUFFIX.sub("", title) or title


# BIOSIS follows a name with its roles, which may hold a ";" ("Werner, S. M. [Author, Reprint
# Author; E-mail: ...]"); Journals@Ovid with degrees and affiliation marks ("Zhang, Weijia 1,2,+",
# "Gazic, Barbara MD, PhD *", "Peterson, James A. Ph.D., FACSM"). None of it is part of the name.
_OVID_ROLES = re.compile(r"\s*\[[^\]]*\]?\s*$")
_OVID_MARKS = re.compile(r"(?:\s+[\d,+*\u2020\u2021\u00a7]+)+\s*$")
_DEGREES = frozenset(
    [
        "MD",
        "PHD",
        "MPH",
        "MS",
        "MSC",
        "MSN",
        "BSC",
        "BSN",
        "RN",
        "DRPH",
        "MBBS",
        "MBCHB",
        "DDS",
        "DMD",
        "PHARMD",
        "DVM",
        "FACSM",
        "FACS",
        "FACP",
        "FRCP",
        "FRCS",
        "FRCPC",
        "FAAP",
        "FACC",
        "CNM",
        "NP",
        "PA-C",
        "OTR",
        "PT",
        "DPT",
        "ATC",
        "CSCS",
        "EDD",
        "PSYD",
    ]
)


def _ovid_author(value: str) -> str:
    name = _OVID_MARKS.sub("", _OVID_ROLES.sub("", value))
    surname, comma, given = name.partition(",")
    if not comma:
        return name
    words = given.replace(",", " ").split()
    # The first given name stays even if it looks like a degree ("Smith, MD" may be initials).
    kept = words[:1] + [w for w in words[1:] if w.replace(".", "").upper() not in _DEGREES]
    return f"{surname}, {' '.join(kept)}" if kept else surname


OVID = Dialect(
    name="ovid",
    start=re.compile(r"^<\s*\d+\s*\.?\s*>\s*$"),
    tag_line=re.compile(r"^([A-Z][A-Z0-9]{1,3}) {1,2}- ?(.*)$"),
    continuation=re.compile(r"^\s{2,}(\S.*)$"),
    end_tag="",
    list_tags=frozenset({"AU", "AI", "IN", "MH", "OD", "KW", "PT", "RN"}),
    title=["TI", "T1"],
    abstract=["AB"],
    authors=["AU", "AI"],
    journal=["JN", "JT", "JA", "TA"],
    year=["YR", "YE", "DP", "EP"],
    doi=["DO", "DI"],
    pmid=[],
    volume=["VO", "VI"],
    issue=["IP", "IS_"],
    pages=["PG"],
    page_start=[],
    page_end=[],
    keywords=["KW", "KF", "OT"],
    mesh=["MH"],
    types=["PT"],
    language=["LG", "LA"],
    pmid_rule=_ovid_pmid,
    source_rule=_ovid_source,
    author_rule=_ovid_author,
    title_rule=_ovid_title,
)


def _cochrane_pmid(record: Fields) -> str:
    for value in record.get("PM", []):
        pmid = normalise_pmid(re.sub(r"(?i)^\s*pubmed\s*", "", value))
        if pmid:
            return pmid
    return ""


COCHRANE = Dialect(
    name="cochrane",
    start=re.compile(r"^Record #\d+ of \d+\s*$"),
    tag_line=re.compile(r"^([A-Z][A-Z0-9]{1,3}): ?(.*)$"),
    continuation=None,
    end_tag="",
    list_tags=frozenset(),
    title=["TI"],
    abstract=["AB"],
    authors=["AU"],
    journal=["SO"],
    year=["YR"],
    doi=["DOI"],
    pmid=[],
    volume=["VL"],
    issue=["NO"],
    pages=["PG"],
    page_start=[],
    page_end=[],
    keywords=["KY"],
    mesh=["MH"],
    types=["PT"],
    language=["LA"],
    pmid_rule=_cochrane_pmid,
)


REFWORKS = Dialect(
    name="refworks",
    start=re.compile(r"^(?P<tag>RT) (?P<value>.*)$"),
    tag_line=re.compile(r"^([A-Z][A-Z0-9])(?: (.*))?$"),
    continuation=None,
    end_tag="",
    list_tags=frozenset(),
    title=["T1", "T2"],
    abstract=["AB"],
    authors=["A1", "A2"],
    journal=["JF", "JO", "T2"],
    year=["YR", "FD"],
    doi=["DO"],
    doi_urls=["UL", "LK"],
    pmid=[],
    volume=["VO"],
    issue=["IS"],
    pages=[],
    page_start=["SP"],
    page_end=["OP"],
    keywords=["K1"],
    mesh=[],
    types=["RT"],
    language=["LA"],
)

_WOS_START = re.compile(r"^\ufeff?PT [A-Z]\s*$", re.MULTILINE)
_OVID_START = re.compile(r"^\ufeff?<\s*\d+\s*\.?\s*>\s*$", re.MULTILINE)
_COCHRANE_START = re.compile(r"^\ufeff?Record #\d+ of \d+\s*$", re.MULTILINE)


@guarded("Web of Science")
def parse_wos(fileobj: BinaryIO) -> Iterator[ParsedRecord | Rejection | ParseWarning]:
    """Yield the records of a Web of Science plain-text export ("FN Clarivate ... PT J ... ER")."""
    yield from parse_tagged(fileobj, WOS, label="Web of Science plain-text", looks_like=_WOS_START)


@guarded("Ovid")
def parse_ovid(fileobj: BinaryIO) -> Iterator[ParsedRecord | Rejection | ParseWarning]:
    """Yield the records of an Ovid tagged export (records numbered "<1. >", "TI  - " lines)."""
    yield from parse_tagged(fileobj, OVID, label="Ovid tagged", looks_like=_OVID_START)


@guarded("Cochrane")
def parse_cochrane(fileobj: BinaryIO) -> Iterator[ParsedRecord | Rejection | ParseWarning]:
    """Yield the records of a Cochrane Library plain-text export ("Record #1 of 40", "TI: ")."""
    yield from parse_tagged(
        fileobj, COCHRANE, label="Cochrane Library plain-text", looks_like=_COCHRANE_START
    )


_REFWORKS_START = re.compile(r"^\ufeff?RT [A-Z][a-z]", re.MULTILINE)


@guarded("RefWorks")
def parse_refworks(fileobj: BinaryIO) -> Iterator[ParsedRecord | Rejection | ParseWarning]:
    """Yield the records of a RefWorks tagged export ("RT Journal Article", "T1 Title")."""
    yield from parse_tagged(fileobj, REFWORKS, label="RefWorks tagged", looks_like=_REFWORKS_START)


def looks_like(head: str) -> str:
    """The tagged dialect `head` (decoded first bytes) is written in, or ""."""
    if _WOS_START.search(head) and re.search(r"^(?:TI|AU|SO) ", head, re.MULTILINE):
        return "wos"
    if _COCHRANE_START.search(head) and re.search(r"^(?:ID|TI|AU): ", head, re.MULTILINE):
        return "cochrane"
    if _REFWORKS_START.search(head) and re.search(r"^(?:T1|A1) ", head, re.MULTILINE):
        return "refworks"
    if _OVID_START.search(head) and re.search(r"^[A-Z][A-Z0-9]{1,3} {1,2}- ", head, re.MULTILINE):
        return "ovid"
    return ""
