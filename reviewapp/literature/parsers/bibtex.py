"""BibTeX (.bib) exports: Scopus, Web of Science, Google Scholar, Zotero, JabRef, Rayyan, Colandr.

The splitting into entries and fields is bibtexparser's (v2, pure Python, tolerant: an entry it
cannot read becomes a failed block and the entries around it are still read). The file is read
whole, as bibtexparser needs; uploads are capped in size (settings.UPLOAD_MAX_BYTES).

Field mapping (names are case-insensitive):

| field          | BibTeX fields |
|----------------|---------------|
| title          | title, booktitle when the entry has no title |
| abstract       | abstract |
| authors        | author ("A and B"), else editor |
| journal        | journal, journaltitle, booktitle, series |
| year           | year, date |
| doi            | doi; else url when it is a DOI URL (doi.org) |
| pmid           | pmid, pubmed; else "PMID: n" in note |
| pmcid          | pmcid |
| volume / issue / pages | volume / number, issue / pages ("152--160" becomes "152-160") |
| keywords       | keywords, author_keywords (split on ";" or ",") |
| publication types | the entry type (article, inproceedings ...), then type / document_type |
| language       | language |

LaTeX in values ("{\\\"u}", "\\&", braces) is turned into plain text. Text between entries
(comments, a "Record #1 of 3" banner) is ignored; @string and @preamble blocks are not records.
A duplicate citation key is not an error here (exports reuse keys such as "Li2020"): the entry is
read like any other. Rejected: an entry bibtexparser cannot read (its line is named), no title, a
year that is not a year, a bad character, a field longer than `limits` allows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import BinaryIO

import bibtexparser
from bibtexparser import model
from pylatexenc.latex2text import LatexNodes2Text

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
from .records import check_characters, check_lengths, guarded, no_title, pick_year, reject
from .stream import text_stream
from .tagged import doi_from_url

# bibtexparser logs every failed block as a warning; the failure becomes a Rejection instead.
logging.getLogger("bibtexparser").setLevel(logging.ERROR)

_ENTRY = re.compile(r"^\s*@\s*([A-Za-z]+)\s*[{(]", re.MULTILINE)
_NOT_RECORDS = {"string", "preamble", "comment"}
_LATEX = LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)
_PMID_NOTE = re.compile(r"\bPMID\s*:?\s*(\d{1,9})\b", re.IGNORECASE)


def looks_like_bibtex(head: str) -> bool:
    """True when `head` (the decoded first bytes) holds an @type{ entry start."""
    return any(m.group(1).lower() not in _NOT_RECORDS for m in _ENTRY.finditer(head))


def _plain(value: str) -> str:
    if "\\" in value or "{" in value or "$" in value:
        try:
            value = _LATEX.latex_to_text(value)
        except Exception:  # noqa: BLE001 - pylatexenc on broken LaTeX: keep the text, unbraced
            value = value.replace("{", "").replace("}", "")
    return plain_text(value)


def _fields(entry: model.Entry) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in entry.fields:
        value = item.value if isinstance(item.value, str) else str(item.value)
        value = value.strip()
        # An entry bibtexparser set aside (a repeated field) keeps its enclosing braces/quotes.
        if len(value) >= 2 and (value[0], value[-1]) in {("{", "}"), ('"', '"')}:
            value = value[1:-1]
        fields.setdefault(item.key.lower(), value)
    return fields


def _first(fields: dict[str, str], names: list[str]) -> str:
    for name in names:
        text = _plain(fields.get(name, ""))
        if text:
            return text
    return ""


def _split(value: str) -> list[str]:
    separator = ";" if ";" in value else ","
    return [part for part in (_plain(p) for p in value.split(separator)) if part]


def _authors(fields: dict[str, str]) -> list[str]:
    for name in ("author", "editor"):
        value = fields.get(name, "")
        if value.strip():
            names = re.split(r"\s+and\s+", value.strip(), flags=re.IGNORECASE)
            return format_authors([_plain(n) for n in names])
    return []


def _build(position: int, line: int, entry: model.Entry):
    fields = _fields(entry)
    problem = check_characters(position, line, fields.items())
    if problem:
        return problem
    title = _first(fields, ["title"]) or (
        _first(fields, ["booktitle"]) if entry.entry_type.lower() in {"book", "proceedings"} else ""
    )
    if not title:
        return no_title(position, line, ["title"])
    year = pick_year(position, line, [(n, fields.get(n, "")) for n in ("year", "date")])
    if isinstance(year, Rejection):
        return year
    # Only a DOI field or a DOI URL gives the DOI: Scopus's url holds "doi=" in a query string
    # of a scopus.com link, and a PDF link may hold a DOI in its path.
    doi = normalise_doi(_plain(fields.get("doi", ""))) or doi_from_url(fields.get("url", ""))
    pmid = normalise_pmid(fields.get("pmid", "") or fields.get("pubmed", ""))
    if not pmid:
        match = _PMID_NOTE.search(fields.get("note", ""))
        pmid = match.group(1).lstrip("0") if match else ""
    keywords: list[str] = []
    for name in ("keywords", "author_keywords", "keyword"):
        for keyword in _split(fields.get(name, "")):
            if keyword not in keywords:
                keywords.append(keyword)
    types = [entry.entry_type.lower()]
    for name in ("type", "document_type"):
        kind = _first(fields, [name])
        if kind and kind not in types:
            types.append(kind)
    sections = split_structured_abstract(_first(fields, ["abstract"]))
    parsed = ParsedRecord(
        position=position,
        line=line,
        title=title,
        pmid=pmid,
        doi=doi,
        pmcid=normalise_pmcid(fields.get("pmcid", "")),
        abstract=flatten_abstract(sections),
        abstract_sections=sections,
        authors=_authors(fields),
        journal=_first(fields, ["journal", "journaltitle", "booktitle", "series"]),
        year=year,
        volume=_first(fields, ["volume"]),
        issue=_first(fields, ["number", "issue"]),
        pages=re.sub(r"\s*-{1,3}\s*", "-", _first(fields, ["pages"])),
        keywords=keywords,
        language=_first(fields, ["language"]),
        publication_types=types,
        raw={"ENTRYTYPE": entry.entry_type, "ID": entry.key, **fields},
    )
    return check_lengths(parsed, parsed.raw)


@guarded("BibTeX")
def parse_bibtex(fileobj: BinaryIO) -> Iterator[ParsedRecord | Rejection | ParseWarning]:
    """Yield the entries of a BibTeX file as records in file order, rejecting unreadable ones.

    Raises FileUnreadable (when iterated) if the file is empty, binary, or holds no @entry.
    """
    with text_stream(fileobj, newline=None) as (text, warnings):
        content = text.read()
    if not looks_like_bibtex(content):
        first = content.strip().splitlines()[0][:80] if content.strip() else ""
        raise FileUnreadable(
            f"this is not a BibTeX file: it has no '@article{{' (or other @type{{) entry "
            f"(it starts with {first!r})"
        )
    yield from warnings
    library = bibtexparser.parse_string(content)
    position = 0
    for block in library.blocks:
        line = (block.start_line or 0) + 1
        # A key used twice, or a field given twice in one entry (Scopus writes funding_details
        # twice), costs nothing: bibtexparser keeps the entry aside and it is read like any other
        # (the first value of a repeated field wins).
        duplicate = getattr(block, "ignore_error_block", None)
        if isinstance(
            block, model.DuplicateBlockKeyBlock | model.DuplicateFieldKeyBlock
        ) and isinstance(duplicate, model.Entry):
            position += 1
            yield _build(position, line, duplicate)
            continue
        if isinstance(block, model.ParsingFailedBlock):
            raw = (block.raw or "").lstrip()
            if not raw.startswith("@") or raw[1:].split("{", 1)[0].strip().lower() in _NOT_RECORDS:
                continue  # a broken @string or @comment is not a record
            position += 1
            yield reject(
                position,
                line,
                "the BibTeX entry cannot be read (a brace or quote left open, or a field "
                f"without '='): {str(block.error)[:200]}",
            )
            continue
        if isinstance(block, model.Entry):
            position += 1
            yield _build(position, line, block)
