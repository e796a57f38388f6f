"""The parser process's prepared records against a straightforward reading of the same files.

`prepared_batches` reads PubMed XML by walking children, checks text through byte tables and
skips COPY's escaping when a row needs none, all for speed (issue 13 point 5). Here every
fixture PubMed XML file is read the plain way instead, each field by the `find` path that
pubmed_xml's docstring gives, made into a row with `copy_field` and `json.dumps` per column and
a title key made with the regular expression, and the two must agree item for item.
"""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring

import pytest

from reviewapp.literature import matching
from reviewapp.literature.bulk import copy_field
from reviewapp.literature.copyrows import _json_text
from reviewapp.literature.parseproc import (
    TITLE_KEY_LENGTH,
    PreparedRecord,
    prepare_record,
    prepared_batches,
)
from reviewapp.literature.parsers import FileUnreadable, ParsedRecord, pubmed_xml
from reviewapp.literature.parsers.normalise import (
    flatten_abstract,
    format_author,
    normalise_doi,
    normalise_pmcid,
    normalise_pmid,
    plain_text,
    printable,
    strip_accents,
    surname_of,
)
from reviewapp.literature.parsers.records import (
    check_characters,
    check_lengths,
    no_title,
    pick_year,
)
from reviewapp.literature.parsers.xmltext import inline_text, iter_records
from tests.literature.helpers import FIXTURES

PUBMED_FILES = [
    "entrez/pubmed1.xml",
    "entrez/pubmed2.xml",
    "entrez/pubmed5.xml",
    "malformed/pubmed_mathml.xml",
    "malformed/pubmed_truncated.xml",
]
# Texts where a shortcut could part from the plain way: controls, quotes, backslashes, non-ASCII
# letters and spaces, markup, long and short.
TRICKY = [
    "",
    "Plain title.",
    "Tab\there",
    "Line\nbreak",
    'A "quoted" word',
    "back\\slash",
    "Gro\u0161elj and the \u00c5land \u2028 separator",
    "Stra\u00dfe",
    "\u00a0non-breaking\u00a0spaces\u00a0",
    "Control \x07 bell",
    "Lost \ufffd character",
    "DEL \x7f and C1 \x85",
    "<i>Italic</i> &amp; entity",
    "Double  space",
    "lone surrogate \ud800",
    "\U0001f600 emoji",
]


def _text(element, path: str) -> str:
    return inline_text(element.find(path)) if element is not None else ""


def _texts(element, path: str) -> list[str]:
    if element is None:
        return []
    return [t for t in (inline_text(e) for e in element.findall(path)) if t]


def _reference_article(position: int, element):
    """A PubmedArticle read field by field with `find`, as pubmed_xml's docstring maps them."""
    line = element.sourceline
    citation = element.find("MedlineCitation")
    article = citation.find("Article") if citation is not None else None
    journal = article.find("Journal") if article is not None else None
    title_fields = [
        ("ArticleTitle", _text(article, "ArticleTitle")),
        ("VernacularTitle", _text(article, "VernacularTitle")),
    ]
    abstract = article.find("Abstract") if article is not None else None
    sections = []
    for part in abstract.findall("AbstractText") if abstract is not None else []:
        text, label = inline_text(part), plain_text(part.get("Label", ""))
        if text or label:
            sections.append(pubmed_xml.AbstractSection(label=label, text=text))
    authors = []
    author_list = article.find("AuthorList") if article is not None else None
    for author in author_list.findall("Author") if author_list is not None else []:
        if author.get("ValidYN", "Y") == "N":
            continue
        last = _text(author, "LastName")
        if last:
            given = _text(author, "Initials") or _text(author, "ForeName")
            authors.append(format_author(f"{last}, {given}" if given else last))
        elif _text(author, "CollectiveName"):
            authors.append(_text(author, "CollectiveName"))
    journal_title = _text(journal, "Title") or _text(journal, "ISOAbbreviation")
    problem = check_characters(
        position,
        line,
        [
            *title_fields,
            ("AbstractText", [s.text for s in sections]),
            ("AuthorList", authors),
            ("Journal", journal_title),
        ],
    )
    if problem:
        return problem
    title = title_fields[0][1] or title_fields[1][1]
    if not title:
        return no_title(position, line, [name for name, _text in title_fields])
    pubmed_day_years = [
        inline_text(day.find("Year"))
        for day in element.findall("PubmedData/History/PubMedPubDate[@PubStatus='pubmed']")
    ]
    year = pick_year(
        position,
        line,
        [
            ("PubDate/Year", _text(journal, "JournalIssue/PubDate/Year")),
            ("PubDate/MedlineDate", _text(journal, "JournalIssue/PubDate/MedlineDate")),
            ("ArticleDate/Year", _text(article, "ArticleDate/Year")),
            ("PubMedPubDate/Year", next((y for y in pubmed_day_years if y), "")),
        ],
    )
    if not isinstance(year, int | None):
        return year
    ids: dict[str, str] = {}
    for article_id in element.findall("PubmedData/ArticleIdList/ArticleId"):
        kind, value = article_id.get("IdType", ""), (article_id.text or "").strip()
        if kind and value and kind not in ids:
            ids[kind] = value
    pagination = article.find("Pagination")
    start, end = _text(pagination, "StartPage"), _text(pagination, "EndPage")
    pages = _text(pagination, "MedlinePgn") or (f"{start}-{end}" if start and end else start)
    mesh = citation.find("MeshHeadingList")
    publication_types = article.find("PublicationTypeList")
    parsed = ParsedRecord(
        position=position,
        line=line,
        title=title,
        pmid=normalise_pmid(_text(citation, "PMID") or ids.get("pubmed", "")),
        doi=normalise_doi(ids.get("doi", "") or _text(article, "ELocationID[@EIdType='doi']")),
        pmcid=normalise_pmcid(ids.get("pmc", "")),
        abstract=flatten_abstract(sections),
        abstract_sections=sections,
        authors=authors,
        journal=journal_title,
        year=year,
        volume=_text(journal, "JournalIssue/Volume"),
        issue=_text(journal, "JournalIssue/Issue"),
        pages=pages,
        keywords=_texts(citation, "KeywordList/Keyword"),
        mesh_terms=_texts(mesh, "MeshHeading/DescriptorName"),
        publication_types=_texts(publication_types, "PublicationType"),
        language=_text(article, "Language"),
        raw={"article_ids": ids},
    )
    return check_lengths(parsed, ids)


def _reference_key(title: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", strip_accents(plain_text(title)).casefold()).strip()


def _reference_prepared(parsed: ParsedRecord) -> PreparedRecord:
    """The row as `copy_field` makes each column of it, JSON columns by `json.dumps`."""
    key = _reference_key(parsed.title)
    sections = [{"label": s.label, "text": s.text} for s in parsed.abstract_sections]
    columns = [
        parsed.position,
        parsed.pmid,
        parsed.doi,
        parsed.pmcid,
        parsed.title,
        key[:TITLE_KEY_LENGTH],
        parsed.abstract,
        json.dumps(sections, ensure_ascii=False),
        json.dumps(parsed.authors, ensure_ascii=False),
        parsed.journal[:500],
        parsed.year,
        parsed.volume[:50],
        parsed.issue[:50],
        parsed.pages[:100],
        json.dumps(parsed.keywords, ensure_ascii=False),
        json.dumps(parsed.mesh_terms, ensure_ascii=False),
        json.dumps(parsed.publication_types, ensure_ascii=False),
        parsed.language[:50],
        json.dumps(parsed.raw, ensure_ascii=False),
    ]
    first = surname_of(parsed.authors[0]) if parsed.authors else ""
    return PreparedRecord(
        position=parsed.position,
        content="\t".join(copy_field(column) for column in columns),
        match=matching.MatchRecord(
            0, parsed.pmid, parsed.doi, parsed.title, parsed.year, first, key
        ),
    )


def _reference_items(path) -> tuple[list, str]:
    items, error = [], ""
    with open(path, "rb") as fileobj:
        try:
            for position, element in iter_records(
                fileobj,
                record_tags=pubmed_xml.RECORD_TAGS,
                root_tags=pubmed_xml.ROOT_TAGS,
                label=pubmed_xml.LABEL,
            ):
                if element.tag == "PubmedArticle":
                    item = _reference_article(position, element)
                else:
                    item = pubmed_xml._build(position, element, 0)  # books: read with find already
                if isinstance(item, ParsedRecord):
                    item = _reference_prepared(item)
                items.append(item)
        except FileUnreadable as exc:
            error = str(exc)
    return items, error


def _prepared_items(path) -> tuple[list, str]:
    items, error = [], ""
    try:
        for batch in prepared_batches(
            str(path), format="pubmed-xml", filename=path.name, batch_size=1
        ):
            items += batch
    except FileUnreadable as exc:
        error = str(exc)
    return items, error


@pytest.mark.parametrize("relative", PUBMED_FILES)
def test_prepared_records_equal_a_straightforward_reading_of_the_file(relative):
    path = FIXTURES / relative
    prepared, prepared_error = _prepared_items(path)
    reference, reference_error = _reference_items(path)
    assert prepared, "the fixture yields items"
    assert prepared == reference
    assert prepared_error == reference_error


def test_the_fixtures_cover_records_rejections_and_a_break():
    kinds = set()
    for relative in PUBMED_FILES:
        items, error = _prepared_items(FIXTURES / relative)
        kinds |= {type(item).__name__ for item in items}
        kinds |= {"break"} if error else set()
    assert kinds >= {"PreparedRecord", "Rejection", "break"}


@pytest.mark.parametrize("text", TRICKY)
def test_the_shortcuts_give_what_the_plain_functions_give(text):
    for length in (1, 3, 40):
        long = (text + " ") * length
        assert printable(long) is long.isprintable()
        assert _json_text(long) == encode_basestring(long)
        assert matching.title_key(long) == _reference_key(long)


def test_a_row_with_characters_copy_escapes_is_escaped_column_by_column():
    parsed = ParsedRecord(
        position=4,
        title="Tab\tin the title",
        authors=["Back\\slash, A"],
        abstract="First.\n\nSecond\r.",
        abstract_sections=[pubmed_xml.AbstractSection(label="", text='A "quote"')],
        journal="J\nLine",
        raw={"article_ids": {"doi": "10.1/x\ty"}},
    )
    assert prepare_record(parsed).content == _reference_prepared(parsed).content


def test_the_reference_reads_what_the_parser_tests_expect():
    # The reference is itself right: pubmed1's first record as its parser test reads it.
    items, _error = _reference_items(FIXTURES / "entrez/pubmed1.xml")
    assert items[0].match.pmid == "12091962"
    assert items[0].match.year == 1990
    assert items[0].match.first_author_surname == "Olivero"
