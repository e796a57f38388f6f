"""EndNote XML (File > Export > XML): xml/records/record, text wrapped in <style> elements.

Records are streamed (see `xmltext.iter_records`). Field mapping, paths below record/:

| field      | source |
|------------|--------|
| title      | titles/title, else titles/translated-title, else titles/short-title |
| abstract   | abstract |
| authors    | contributors/authors/author |
| journal    | periodical/full-title, else titles/secondary-title, else periodical/abbr-1 |
| year       | dates/year, else dates/pub-dates/date |
| doi        | electronic-resource-num, else a DOI in urls//url |
| pmid       | accession-num when remote-database-name/provider names PubMed or MEDLINE or the value says "PMID"; else a PubMed URL |
| pmcid      | "PMCn" in custom2 (where EndNote's PubMed import puts it) or a URL |
| volume, issue, pages | volume, number, pages |
| keywords, language   | keywords/keyword, language |
| publication types    | ref-type's name attribute, then work-type |
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from .base import ParsedRecord, Rejection
from .normalise import (
    find_doi,
    find_pmcid,
    find_pmid_in_url,
    flatten_abstract,
    format_authors,
    normalise_doi,
    normalise_pmid,
    split_structured_abstract,
)
from .records import check_characters, check_lengths, guarded, no_title, pick_year
from .xmltext import inline_text, iter_records

LABEL = "an EndNote XML file (xml/records/record)"
TITLE_PATHS = ["titles/title", "titles/translated-title", "titles/short-title"]


def _text(record: etree._Element, path: str) -> str:
    return inline_text(record.find(path))


def _first(record: etree._Element, paths: list[str]) -> str:
    for path in paths:
        text = _text(record, path)
        if text:
            return text
    return ""


def _pmid(record: etree._Element, urls: list[str]) -> str:
    accession = _text(record, "accession-num")
    database = (
        _text(record, "remote-database-name") + " " + _text(record, "remote-database-provider")
    ).lower()
    if accession and ("pubmed" in database or "medline" in database or "pmid" in accession.lower()):
        pmid = normalise_pmid(accession)
        if pmid:
            return pmid
    for url in urls:
        pmid = find_pmid_in_url(url)
        if pmid:
            return pmid
    return ""


def _build(position: int, record: etree._Element) -> ParsedRecord | Rejection:
    line = record.sourceline
    titles = [(path, _text(record, path)) for path in TITLE_PATHS]
    abstract = _text(record, "abstract")
    authors = [inline_text(a) for a in record.findall("contributors/authors/author")]
    journal = _first(
        record, ["periodical/full-title", "titles/secondary-title", "periodical/abbr-1"]
    )
    problem = check_characters(
        position,
        line,
        [*titles, ("abstract", abstract), ("authors", authors), ("journal", journal)],
    )
    if problem:
        return problem
    title = next((text for _path, text in titles if text), "")
    if not title:
        return no_title(position, line, TITLE_PATHS)
    year = pick_year(
        position,
        line,
        [
            ("dates/year", _text(record, "dates/year")),
            ("dates/pub-dates/date", _text(record, "dates/pub-dates/date")),
        ],
    )
    if isinstance(year, Rejection):
        return year
    urls = [inline_text(u) for u in record.iter("url")]
    doi = normalise_doi(_text(record, "electronic-resource-num"))
    if not doi:
        doi = next((found for found in map(find_doi, urls) if found), "")
    pmcid = find_pmcid(_text(record, "custom2")) or next(
        (found for found in map(find_pmcid, urls) if found), ""
    )
    ref_type = record.find("ref-type")
    types = [ref_type.get("name")] if ref_type is not None and ref_type.get("name") else []
    work_type = _text(record, "work-type")
    if work_type:
        types.append(work_type)
    sections = split_structured_abstract(abstract)
    raw = etree.tostring(record, encoding="unicode")
    parsed = ParsedRecord(
        position=position,
        line=line,
        title=title,
        pmid=_pmid(record, urls),
        doi=doi,
        pmcid=pmcid,
        abstract=flatten_abstract(sections),
        abstract_sections=sections,
        authors=format_authors(authors),
        journal=journal,
        year=year,
        volume=_text(record, "volume"),
        issue=_text(record, "number"),
        pages=_text(record, "pages"),
        keywords=[k for k in (inline_text(k) for k in record.findall("keywords/keyword")) if k],
        language=_text(record, "language"),
        publication_types=types,
        raw=raw,
    )
    return check_lengths(parsed, raw)


@guarded("EndNote XML")
def parse_endnote_xml(fileobj: BinaryIO) -> Iterator[ParsedRecord | Rejection]:
    """Yield the records of an EndNote XML export in order, rejecting the unreadable ones.

    Raises FileUnreadable (when iterated) for a file that is not EndNote XML and, after yielding
    what it could, for XML that breaks off.
    """
    for position, element in iter_records(
        fileobj, record_tags=("record",), root_tags={"xml", "records"}, label=LABEL
    ):
        yield _build(position, element)
