"""PubMed XML: an efetch reply (db=pubmed, retmode=xml) or PubMed's "XML" export.

The root is PubmedArticleSet; records are PubmedArticle (journal articles) and PubmedBookArticle
(books and chapters, e.g. GeneReviews). Records are streamed (see `xmltext.iter_records`); a file
cut short yields what came before the break, then raises FileUnreadable naming the record.

Field mapping for PubmedArticle (paths below MedlineCitation/Article unless noted):

| field      | source |
|------------|--------|
| pmid       | MedlineCitation/PMID |
| title      | ArticleTitle, else VernacularTitle |
| abstract   | Abstract/AbstractText, one section per element, Label as the section label |
| authors    | AuthorList/Author: LastName + Initials ("Lerro, CC"), CollectiveName as given |
| journal    | Journal/Title, else Journal/ISOAbbreviation |
| year       | Journal/JournalIssue/PubDate/Year, else PubDate/MedlineDate, else ArticleDate/Year, else PubmedData/History/PubMedPubDate[pubmed]/Year |
| doi        | PubmedData/ArticleIdList/ArticleId[doi], else ELocationID[doi] |
| pmcid      | PubmedData/ArticleIdList/ArticleId[pmc] |
| volume, issue, pages | JournalIssue/Volume, JournalIssue/Issue, Pagination/MedlinePgn or StartPage-EndPage |
| keywords, mesh_terms | MedlineCitation/KeywordList/Keyword, MedlineCitation/MeshHeadingList/MeshHeading/DescriptorName |
| publication types, language | PublicationTypeList/PublicationType, Language (first) |

PubmedBookArticle reads the same fields from BookDocument (title: ArticleTitle, else
Book/BookTitle; journal: Book/BookTitle for a chapter; year: Book/PubDate).
Only the record's own ArticleIdList is read: the ones inside ReferenceList belong to cited works.
`raw` is {"article_ids": {IdType: value}} from that list (pubmed, doi, pmc, pii, mid, ...): the
record's XML itself stays in the uploaded file, or for a search in the reply kept under MEDIA_ROOT
searches/ (raw["reply"]), not in every row (see base.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from .base import AbstractSection, ParsedRecord, Rejection
from .normalise import (
    YEAR_MAX,
    YEAR_MIN,
    flatten_abstract,
    format_author,
    normalise_doi,
    normalise_pmcid,
    normalise_pmid,
    plain_text,
)
from .records import check_characters, check_lengths, guarded, no_title, pick_year
from .xmltext import inline_text, iter_records

LABEL = "a PubMed XML file (PubmedArticleSet)"
ROOT_TAGS = {"PubmedArticleSet", "PubmedBookArticleSet", "PubmedArticle", "PubmedBookArticle"}
RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle")


def _text(element: etree._Element | None, path: str) -> str:
    if element is None:
        return ""
    return inline_text(element.find(path))


def _all(element: etree._Element | None, path: str) -> list[str]:
    if element is None:
        return []
    return [text for text in (inline_text(e) for e in element.findall(path)) if text]


# Articles are read by walking children rather than with `find(path)`: lxml evaluates each path
# in Python, and a record needs some sixty of them, which made parsing six times slower than
# lxml's own parse of the file. Elements are matched on their tag as in the paths of the module
# docstring; the first element with a tag wins, as `find` would pick it.


def _kids(element: etree._Element | None) -> dict[str, etree._Element]:
    """The first child of `element` with each tag."""
    kids: dict[str, etree._Element] = {}
    if element is not None:
        for child in element:
            kids.setdefault(child.tag, child)
    return kids


def _texts(element: etree._Element | None, tag: str) -> list[str]:
    """Non-empty texts of the children of `element` called `tag`."""
    texts: list[str] = []
    if element is not None:
        for child in element:
            if child.tag == tag:
                text = inline_text(child)
                if text:
                    texts.append(text)
    return texts


def _grandchild_texts(element: etree._Element | None, tag: str, child_tag: str) -> list[str]:
    """Like `_all(element, "tag/child_tag")`: the texts across every `tag` child, in order."""
    if element is None:
        return []
    texts = []
    for child in element:
        if child.tag == tag:
            texts += _texts(child, child_tag)
    return texts


def _abstract(abstract: etree._Element | None) -> list[AbstractSection]:
    if abstract is None:
        return []
    sections = []
    for part in abstract:
        if part.tag != "AbstractText":
            continue
        text = inline_text(part)
        label = plain_text(part.get("Label", ""))
        if text or label:
            sections.append(AbstractSection(label=label, text=text))
    return sections


def _authors(author_list: etree._Element | None) -> list[str]:
    if author_list is None:
        return []
    names = []
    for author in author_list:
        if author.tag != "Author" or author.get("ValidYN", "Y") == "N":
            continue
        parts = _kids(author)
        last = inline_text(parts.get("LastName"))
        if last:
            initials = inline_text(parts.get("Initials"))
            if _plain_initials(initials) and _plain_surname(last):
                # What format_author returns for these, without its regular expressions.
                names.append(f"{last}, {initials}")
                continue
            fore = inline_text(parts.get("ForeName"))
            names.append(format_author(f"{last}, {initials or fore}" if initials or fore else last))
        else:
            collective = inline_text(parts.get("CollectiveName"))
            if collective:
                names.append(collective)
    return names


_SURNAME_SPECIAL = re.compile("[,;&<]")


def _plain_initials(initials: str) -> bool:
    # "LE", not "J-P", "IV" (a suffix to format_author) or anything else it would rewrite.
    return (
        len(initials) <= 4
        and initials.isalpha()
        and initials.isupper()
        and initials not in {"II", "III", "IV"}
    )


def _plain_surname(last: str) -> bool:
    return _SURNAME_SPECIAL.search(last) is None


def _ids(*lists: etree._Element | None) -> dict[str, str]:
    ids: dict[str, str] = {}
    for id_list in lists:
        if id_list is None:
            continue
        for article_id in id_list:
            if article_id.tag != "ArticleId":
                continue
            kind = article_id.get("IdType", "")
            if kind and kind not in ids and (article_id.text or "").strip():
                ids[kind] = article_id.text.strip()
    return ids


def _pages(pagination: etree._Element | None) -> str:
    if pagination is None:
        return ""
    parts = _kids(pagination)
    medline = inline_text(parts.get("MedlinePgn"))
    if medline:
        return medline
    start, end = inline_text(parts.get("StartPage")), inline_text(parts.get("EndPage"))
    return f"{start}-{end}" if start and end else start


def _first_with(element: etree._Element | None, tag: str, attribute: str, value: str):
    """The first child `tag` whose `attribute` is `value` (`find("tag[@attribute='value']")`)."""
    if element is not None:
        for child in element:
            if child.tag == tag and child.get(attribute) == value:
                return child
    return None


def _pubmed_years(
    date: dict[str, etree._Element], article: dict[str, etree._Element], data: dict
) -> Iterator[tuple[str, str]]:
    # A generator: `pick_year` stops at the first plausible year, so the later fields are rarely read.
    yield "PubDate/Year", inline_text(date.get("Year"))
    yield "PubDate/MedlineDate", inline_text(date.get("MedlineDate"))
    yield "ArticleDate/Year", inline_text(_kids(article.get("ArticleDate")).get("Year"))
    history = data.get("History")
    year = ""
    if history is not None:
        for day in history:
            if day.tag == "PubMedPubDate" and day.get("PubStatus") == "pubmed":
                year = inline_text(_kids(day).get("Year"))
                if year:
                    break
    yield "PubMedPubDate/Year", year


# The headings of the first MeshHeadingList, as `_kids` would reach it ("[1]": the first child
# with the tag). The compiled XPath hands over only the DescriptorName elements; walking every
# heading's children in Python also made an element for each QualifierName (about 5% of the
# instructions spent on an article's fields).
_MESH = etree.XPath("MedlineCitation[1]/MeshHeadingList[1]/MeshHeading/DescriptorName")


def _mesh_terms(record: etree._Element) -> list[str]:
    terms = []
    for name in _MESH(record):
        text = inline_text(name)
        if text:
            terms.append(text)
    return terms


def _build_article(position: int, line: int | None, element: etree._Element):
    record = _kids(element)
    citation_element = record.get("MedlineCitation")
    citation = _kids(citation_element)
    article = _kids(citation.get("Article"))
    journal = _kids(article.get("Journal"))
    issue = _kids(journal.get("JournalIssue"))
    data = _kids(record.get("PubmedData"))
    title_fields = [
        ("ArticleTitle", inline_text(article.get("ArticleTitle"))),
        ("VernacularTitle", inline_text(article.get("VernacularTitle"))),
    ]
    sections = _abstract(article.get("Abstract"))
    authors = _authors(article.get("AuthorList"))
    journal_title = inline_text(journal.get("Title")) or inline_text(journal.get("ISOAbbreviation"))
    checked = [
        *title_fields,
        ("AbstractText", [s.text for s in sections]),
        ("AuthorList", authors),
        ("Journal", journal_title),
    ]
    problem = check_characters(position, line, checked)
    if problem:
        return problem
    title = next((text for _name, text in title_fields if text), "")
    if not title:
        return no_title(position, line, [name for name, _text in title_fields])
    date = _kids(issue.get("PubDate"))
    year_text = inline_text(date.get("Year"))
    if (
        len(year_text) == 4
        and year_text.isascii()
        and year_text.isdigit()
        and YEAR_MIN <= int(year_text) <= YEAR_MAX
    ):
        # What pick_year makes of the usual PubDate/Year, without its generator and expression.
        year: int | None = int(year_text)
    else:
        picked = pick_year(position, line, _pubmed_years(date, article, data))
        if isinstance(picked, Rejection):
            return picked
        year = picked
    ids = _ids(data.get("ArticleIdList"))
    pmid = inline_text(citation.get("PMID")) or ids.get("pubmed", "")
    doi = ids.get("doi", "") or inline_text(
        _first_with(citation.get("Article"), "ELocationID", "EIdType", "doi")
    )
    parsed = ParsedRecord(
        position=position,
        line=line,
        title=title,
        pmid=normalise_pmid(pmid),
        doi=normalise_doi(doi),
        pmcid=normalise_pmcid(ids.get("pmc", "")),
        abstract=flatten_abstract(sections),
        abstract_sections=sections,
        authors=authors,
        journal=journal_title,
        year=year,
        volume=inline_text(issue.get("Volume")),
        issue=inline_text(issue.get("Issue")),
        pages=_pages(article.get("Pagination")),
        keywords=_grandchild_texts(citation_element, "KeywordList", "Keyword"),
        mesh_terms=_mesh_terms(element),
        publication_types=_texts(article.get("PublicationTypeList"), "PublicationType"),
        language=inline_text(article.get("Language")),
        raw={"article_ids": ids},
    )
    return check_lengths(parsed, ids)


def _build(position: int, element: etree._Element, lines_before: int) -> ParsedRecord | Rejection:
    line = element.sourceline + lines_before
    if element.tag == "PubmedArticle":
        return _build_article(position, line, element)
    document = element.find("BookDocument")
    book = document.find("Book") if document is not None else None
    article_title = _text(document, "ArticleTitle")
    book_title = _text(book, "BookTitle")
    title_fields = [("ArticleTitle", article_title), ("BookTitle", book_title)]
    ids = _ids(
        document.find("ArticleIdList") if document is not None else None,
        element.find("PubmedBookData/ArticleIdList"),
    )
    pmid = _text(document, "PMID") or ids.get("pubmed", "")
    sections = _abstract(document.find("Abstract") if document is not None else None)
    author_lists = []
    for owner in (document, book):
        if owner is not None:
            author_lists += [a for a in owner.findall("AuthorList") if a.get("Type") != "editors"]
    authors = _authors(author_lists[0]) if author_lists else []
    journal = book_title if article_title else ""
    years = [
        ("Book/PubDate/Year", _text(book, "PubDate/Year")),
        ("Book/PubDate/MedlineDate", _text(book, "PubDate/MedlineDate")),
    ]
    checked = [
        *title_fields,
        ("AbstractText", [s.text for s in sections]),
        ("AuthorList", authors),
        ("Journal", journal),
    ]
    problem = check_characters(position, line, checked)
    if problem:
        return problem
    title = next((text for _name, text in title_fields if text), "")
    if not title:
        return no_title(position, line, [name for name, _text in title_fields])
    year = pick_year(position, line, years)
    if isinstance(year, Rejection):
        return year
    parsed = ParsedRecord(
        position=position,
        line=line,
        title=title,
        pmid=normalise_pmid(pmid),
        doi=normalise_doi(ids.get("doi", "")),
        pmcid=normalise_pmcid(ids.get("pmc", "")),
        abstract=flatten_abstract(sections),
        abstract_sections=sections,
        authors=authors,
        journal=journal,
        year=year,
        volume=_text(book, "Volume"),
        issue="",
        pages="",
        keywords=_all(document, "KeywordList/Keyword"),
        mesh_terms=[],
        publication_types=_all(document, "PublicationType"),
        language=_text(document, "Language"),
        raw={"article_ids": ids},
    )
    return check_lengths(parsed, ids)


@guarded("PubMed XML")
def parse_pubmed_xml(
    fileobj: BinaryIO, *, before: tuple[int, int] = (0, 0)
) -> Iterator[ParsedRecord | Rejection]:
    """Yield the records of a PubMed XML file in order, rejecting the unreadable ones.

    Raises FileUnreadable (when iterated) for a file that is not PubMed XML (an HTML page, an
    NCBI ERROR reply, another XML) and, after yielding what it could, for XML that breaks off.
    `before`: the records and lines a later part of a file starts after (`xmltext.iter_records`).
    """
    for position, element in iter_records(
        fileobj, record_tags=RECORD_TAGS, root_tags=ROOT_TAGS, label=LABEL, before=before
    ):
        yield _build(position, element, before[1])
