"""CSV (or semicolon/tab separated) tables of records: Embase, Scopus, Web of Science, Zotero,
PubMed's CSV, RefWorks' tab-delimited export, and hand-made spreadsheets.

The first row is the header. Headers are matched case-insensitively, ignoring spaces and
punctuation ("Author Names", "author_names" and "AUTHORNAMES" are the same), against these
aliases; when several columns map to one field the first alias listed wins (keywords collect all):

| field      | accepted headers |
|------------|------------------|
| title      | Title, Article Title, TI, Primary Title, Document Title, Original Title (Embase), Title Primary (RefWorks) |
| abstract   | Abstract, AB, Abstract Note (Zotero), Original Abstract (Embase) |
| authors    | Authors, Author, Author Names (Embase), AU, Author Full Names, AF, Creators, Authors, Primary (RefWorks) |
| year       | Year, Publication Year, PY, Pub Year, Year Published, Date, Publication Date, PD, Date of Publication, Published Year (Covidence); else the year in Embase's Source |
| journal    | Journal, Journal Title, Source Title (Scopus), Publication Title (Zotero), SO, Secondary Title, T2, Periodical Full, Periodical Abbrev (RefWorks); else Embase's Source |
| source     | Source (Embase: "Endoscopic Ultrasound (2014) 3:3 (152-160). Date of Publication: 2014" gives journal, year, volume, issue, pages; Cochrane Library, whose header has "CENTRAL ID": the journal's name alone) |
| doi        | DOI, DI; else a DOI in a URL column |
| pmid       | PMID, PubMed ID (Scopus), PubmedID, Medline PMID (Embase), PM; else a PubMed URL |
| pmcid      | PMCID, PMC ID, PMC |
| volume     | Volume, VL, Vol |
| issue      | Issue, Number, IS, No |
| pages      | Pages, Page Range, PG, PP; else Page Start/BP/SP + Page End/EP/Other Pages (RefWorks) |
| keywords   | Keywords, Author Keywords, Index Keywords, Manual Tags, KW, DE, Emtree Medical Index Terms, Emtree Drug Index Terms (with or without "(Major Focus)") |
| mesh_terms | MeSH Terms, MeSH, MH, MeSH Headings |
| language   | Language, Language of Original Document, Language of Article, LA |
| publication types | Publication Type, Document Type, PT, DT, Item Type, Reference Type |
| urls (only searched for identifiers) | URL, Link, Open URL Link (Embase), Full Text Link, Links |

Lists inside one cell (authors, keywords, MeSH) are split on ";" (Embase writes
"Liu R., Adler D.G." and keywords with ", " — both are recognised). Columns not listed are kept
in `raw`. A row with more cells than the header (a value with an unquoted comma) is rejected;
a shorter row is padded. Empty rows are skipped and do not count as records. A row that
repeats the header (files joined together) and a row with a cell longer than `limits` allows
are rejected; a header with no row under it makes the file unreadable.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import BinaryIO

from .base import FileUnreadable, ParsedRecord, ParseWarning, Rejection
from .normalise import (
    find_doi,
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
)
from .stream import text_stream

ALIASES: dict[str, list[str]] = {
    "title": [
        "Title",
        "Article Title",
        "TI",
        "Primary Title",
        "Document Title",
        "Original Title",
        "Title Primary",
    ],
    "abstract": ["Abstract", "AB", "Abstract Note", "Original Abstract"],
    "authors": [
        "Authors",
        "Author",
        "Author Names",
        "AU",
        "Author Full Names",
        "AF",
        "Creators",
        "Authors, Primary",
    ],
    "year": [
        "Year",
        "Publication Year",
        "PY",
        "Pub Year",
        "Year Published",
        "Date",
        "Publication Date",
        "PD",
        "Date of Publication",
        "Published Year",
    ],
    "journal": [
        "Journal",
        "Journal Title",
        "Source Title",
        "Publication Title",
        "SO",
        "Secondary Title",
        "T2",
        "Periodical Full",
        "Periodical Abbrev",
    ],
    "source": ["Source"],
    "doi": ["DOI", "DI"],
    "pmid": ["PMID", "PubMed ID", "PubmedID", "Medline PMID", "PM"],
    "pmcid": ["PMCID", "PMC ID", "PMC"],
    "volume": ["Volume", "VL", "Vol"],
    "issue": ["Issue", "Number", "IS", "No"],
    "pages": ["Pages", "Page Range", "PG", "PP"],
    "page_start": ["Page Start", "Start Page", "BP", "SP"],
    "page_end": ["Page End", "End Page", "EP", "Other Pages"],
    "keywords": [
        "Keywords",
        "Author Keywords",
        "Index Keywords",
        "Manual Tags",
        "KW",
        "DE",
        "Emtree Medical Index Terms",
        "Emtree Medical Index Terms (Major Focus)",
        "Emtree Drug Index Terms",
        "Emtree Drug Index Terms (Major Focus)",
    ],
    "mesh_terms": ["MeSH Terms", "MeSH", "MH", "MeSH Headings"],
    "language": ["Language", "Language of Original Document", "Language of Article", "LA"],
    "publication_types": [
        "Publication Type",
        "Document Type",
        # Web of Science tab-delimited: DT is the document type ("Article", "Review"), as in its
        # plain-text export; PT is only a one-letter code (J, C, B, S) and is read when DT is absent.
        "DT",
        "PT",
        "Item Type",
        "Reference Type",
    ],
    "urls": ["URL", "Link", "Open URL Link", "Full Text Link", "Links"],
}

# csv's default cap on one cell (131,072 characters) would fail the whole file on one long
# cell; the cells are held to `limits` per record instead, which rejects only that record.
# The cap is process-wide, and only ever raised here.
csv.field_size_limit(max(csv.field_size_limit(), 512 * 1024 * 1024))

# Scopus fills an empty cell with "[No abstract available]", "[No author name available]": a
# placeholder, not an abstract or an author.
_PLACEHOLDER = re.compile(r"^\[No [a-z ]+ available\]$", re.IGNORECASE)
_EMBASE_SOURCE = re.compile(
    r"^(?P<journal>.+?)\s+\((?P<year>\d{4})\)\s*"
    r"(?:(?P<volume>[^\s:(]+)(?::(?P<issue>[^\s(]+))?)?\s*"
    r"(?:\((?P<pages>[^)]*)\))?"
)


def _key(header: str) -> str:
    return re.sub(r"[^0-9a-z]", "", header.casefold())


_CENTRAL_ID = "centralid"  # the `_key` of Cochrane Library CSV's "CENTRAL ID" header


_ALIAS_INDEX = {
    _key(alias): (field, rank)
    for field, aliases in ALIASES.items()
    for rank, alias in enumerate(aliases)
}


def _column_map(header: list[str]) -> dict[str, list[int]]:
    """field -> column indexes, best alias first."""
    found: dict[str, list[tuple[int, int]]] = {}
    for index, name in enumerate(header):
        hit = _ALIAS_INDEX.get(_key(name))
        if hit:
            field, rank = hit
            found.setdefault(field, []).append((rank, index))
    return {field: [index for _rank, index in sorted(hits)] for field, hits in found.items()}


def _first_row(first_line: str, delimiter: str) -> list[str]:
    """The cells of the header line, read leniently: detection must not fail on a bad line."""
    # csv refuses a lone CR or a quote left open inside one line given on its own; the line is
    # only looked at here, the real reading (and its errors) comes later.
    line = first_line.rstrip("\r\n").replace("\r", " ").replace("\n", " ")
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return line.split(delimiter)


def _choose_delimiter(first_line: str) -> str:
    best, best_hits = ",", -1
    for delimiter in (",", ";", "\t", "|"):
        hits = len(_column_map(_first_row(first_line, delimiter)))
        if hits > best_hits:
            best, best_hits = delimiter, hits
    return best


# Embase writes its search above the header ("SEARCH QUERY","dinosaur:ti", a line of dashes, a
# blank line), and keeps it when the file is saved again from Excel. A few lines are enough.
_PREAMBLE_LINES = 10


def _header_index(lines: list[str]) -> int | None:
    """Which of the first `lines` is the header: the first with a title column, provided every
    line above it is a banner (at most two filled cells). None when there is no such line."""
    for index, line in enumerate(lines[:_PREAMBLE_LINES]):
        cells = _first_row(line, _choose_delimiter(line))
        if "title" in _column_map(cells):
            return index
        if sum(1 for cell in cells if cell.strip()) > 2:
            # A table row, not a banner: a header further down would be a guess.
            return None
    return None


def _split_list(value: str) -> list[str]:
    separator = ";" if ";" in value else ","
    return [plain_text(part) for part in value.split(separator) if plain_text(part)]


def _build(
    position: int, line: int, header: list[str], row: list[str], columns: dict[str, list[int]]
):
    if len(row) > len(header):
        return reject(
            position,
            line,
            f"the row has {len(row)} values but the header has {len(header)} columns; a value "
            "probably contains an unquoted comma or quote, so fields are in the wrong columns",
        )
    row = row + [""] * (len(header) - len(row))
    raw = dict(zip(header, row, strict=True))
    problem = check_characters(position, line, zip(header, row, strict=True))
    if problem:
        return problem

    def first(field: str) -> str:
        for index in columns.get(field, []):
            text = plain_text(row[index])
            if text and not _PLACEHOLDER.match(text):
                return text
        return ""

    source = {}
    for index in columns.get("source", []):
        match = _EMBASE_SOURCE.match(row[index].strip())
        if match:
            source = {k: (v or "").strip() for k, v in match.groupdict().items()}
            break
    if not source and columns.get("source") and _CENTRAL_ID in map(_key, header):
        # Cochrane Library's CSV has no journal column: its Source is the journal's name alone
        # ("Trials"), with year, volume and pages in their own columns. Elsewhere a Source
        # that is not Embase's citation may name a database ("Scopus"), so only here is it
        # taken for the journal.
        source = {"journal": first("source")}
    title = first("title")
    if not title:
        return no_title(position, line, [header[i] for i in columns.get("title", [])])
    year_candidates = [(header[i], row[i]) for i in columns.get("year", [])]
    if source.get("year"):
        year_candidates.append((header[columns["source"][0]], source["year"]))
    year = pick_year(position, line, year_candidates)
    if isinstance(year, Rejection):
        return year
    urls = [row[i] for i in columns.get("urls", []) if row[i].strip()]
    doi = normalise_doi(first("doi")) or next((d for d in map(find_doi, urls) if d), "")
    pmid = normalise_pmid(first("pmid")) or next((p for p in map(find_pmid_in_url, urls) if p), "")
    pages = first("pages")
    if not pages:
        start, end = first("page_start"), first("page_end")
        # RefWorks' "Other Pages" holds the end page, or the only page when Start Page is empty.
        pages = f"{start}-{end}" if start and end else start or end
    keywords: list[str] = []
    for index in columns.get("keywords", []):
        for keyword in _split_list(row[index]):
            if keyword not in keywords:
                keywords.append(keyword)
    sections = split_structured_abstract(first("abstract"))
    parsed = ParsedRecord(
        position=position,
        line=line,
        title=title,
        pmid=pmid,
        doi=doi,
        pmcid=normalise_pmcid(first("pmcid")),
        abstract=flatten_abstract(sections),
        abstract_sections=sections,
        authors=format_authors(split_author_list(first("authors"))),
        journal=first("journal") or source.get("journal", ""),
        year=year,
        volume=number_or_blank(first("volume"), "volume") or source.get("volume", ""),
        issue=number_or_blank(first("issue"), "issue") or source.get("issue", ""),
        pages=pages or source.get("pages", ""),
        keywords=keywords,
        mesh_terms=_split_list(first("mesh_terms")),
        publication_types=_split_list(first("publication_types")),
        language=first("language"),
        raw=raw,
    )
    return check_lengths(parsed, raw)


@guarded("CSV")
def parse_csv(fileobj: BinaryIO) -> Iterator[ParsedRecord | Rejection | ParseWarning]:
    """Yield the rows of a CSV export as records in order, rejecting the unreadable ones.

    Warnings (`ParseWarning`) about the file as a whole come first (see
    `stream.structure_warnings`). Raises FileUnreadable (when iterated) if the file is empty,
    binary, its header has no title column (the message lists the accepted names), it has no
    row under the header, or the CSV breaks (a quote never closed).
    """
    with text_stream(fileobj, newline="", line_ends=False) as (text, warnings):
        start = text.tell()
        head = [text.readline() for _ in range(_PREAMBLE_LINES)]
        skipped = _header_index(head) or 0
        text.seek(start)
        for _ in range(skipped):
            text.readline()
        delimiter = _choose_delimiter(head[skipped])
        reader = csv.reader(text, delimiter=delimiter)
        position = 0
        try:
            try:
                header = [name.strip().lstrip("\ufeff") for name in next(reader)]
            except StopIteration:
                raise FileUnreadable("the file is empty") from None
            columns = _column_map(header)
            if "title" not in columns:
                shown = ", ".join(repr(h[:60]) for h in header[:12])
                raise FileUnreadable(
                    f"the CSV header has no title column (found {shown}); name the title column "
                    f"one of: {', '.join(ALIASES['title'])}"
                )
            yield from warnings
            last_line = reader.line_num
            for row in reader:
                line = skipped + last_line + 1
                last_line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) == 1 < len(header) and columns["title"][0] != 0:
                    # A line with no delimiter at all between rows: a heading, such as
                    # abstrackr's "citations that are not yet labeled by anyone" above its
                    # unscreened records, not a record without a title.
                    yield ParseWarning(
                        reason=f"line {line} holds only {row[0].strip()[:80]!r} and no "
                        f"columns, so it was read as a heading between rows, not as a record",
                        line=line,
                    )
                    continue
                position += 1
                if row[0].strip().lstrip("\ufeff") == header[0] and _repeats(row, header):
                    yield reject(
                        position,
                        line,
                        "the row repeats the header: several CSV files were probably joined "
                        "into one; remove the extra header rows",
                    )
                    continue
                yield _build(position, line, header, row, columns)
        except csv.Error as error:
            raise FileUnreadable(
                f"the CSV file breaks at line {skipped + reader.line_num} (after record "
                f"{position}): {error}",
                position=position + 1,
                line=skipped + reader.line_num,
            ) from error
        if position == 0:
            raise FileUnreadable(
                "the CSV file has a header row but no records under it; export the records "
                "again, with the rows"
            )


def _repeats(row: list[str], header: list[str]) -> bool:
    return [cell.strip().lstrip("\ufeff") for cell in row] == header


def looks_like_csv(text: str) -> bool:
    """True when the first line of `text`, or the first below a banner such as Embase's search,
    reads as a header with a title column."""
    # The lines as parse_csv reads them: a lone CR ends one too.
    stream = io.StringIO(text, newline="")
    return _header_index([stream.readline() for _ in range(_PREAMBLE_LINES)]) is not None
