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
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from .base import AbstractSection, ParsedRecord, Rejection
from .normalise import (
    flatten_abstract,
    format_author,
    normalise_doi,
    normalise_pmcid,
    normalise_pmid,
    plain_text,
)
from .records import check_characters, no_title, pick_year
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


def _abstract(abstract: etree._Element | None) -> list[AbstractSection]:
    if abstract is None:
        return []
    sections = []
    for part in abstract.findall("AbstractText"):
        text = inline_text(part)
        label = plain_text(part.get("Label", ""))
        if text or label:
            sections.append(AbstractSection(label=label, text=text))
    return sections


def _authors(author_list: etree._Element | None) -> list[str]:
    if author_list is None:
        return []
    names = []
    for author in author_list.findall("Author"):
        if author.get("ValidYN", "Y") == "N":
            continue
        collective = inline_text(author.find("CollectiveName"))
        last = inline_text(author.find("LastName"))
        if last:
            initials = inline_text(author.find("Initials"))
            fore = inline_text(author.find("ForeName"))
            names.append(format_author(f"{last}, {initials or fore}" if initials or fore else last))
        elif collective:
            names.append(collective)
    return names


def _ids(*lists: etree._Element | None) -> dict[str, str]:
    ids: dict[str, str] = {}
    for id_list in lists:
        if id_list is None:
            continue
        for article_id in id_list.findall("ArticleId"):
            kind = article_id.get("IdType", "")
            if kind and kind not in ids and (article_id.text or "").strip():
                ids[kind] = article_id.text.strip()
    return ids


def _pages(pagination: etree._Element | None) -> str:
    if pagination is None:
        return ""
    medline = _text(pagination, "MedlinePgn")
    if medline:
        return medline
    start, end = _text(pagination, "StartPage"), _text(pagination, "EndPage")
    return f"{start}-{end}" if start and end else start


def _build(position: int, element: etree._Element) -> ParsedRecord | Rejection:
    line = element.sourceline
    if element.tag == "PubmedArticle":
        citation = element.find("MedlineCitation")
        article = citation.find("Article") if citation is not None else None
        issue = article.find("Journal/JournalIssue") if article is not None else None
        title_fields = [
            ("ArticleTitle", _text(article, "ArticleTitle")),
            ("VernacularTitle", _text(article, "VernacularTitle")),
        ]
        ids = _ids(element.find("PubmedData/ArticleIdList"))
        pmid = _text(citation, "PMID") or ids.get("pubmed", "")
        sections = _abstract(article.find("Abstract") if article is not None else None)
        authors = _authors(article.find("AuthorList") if article is not None else None)
        journal = _text(article, "Journal/Title") or _text(article, "Journal/ISOAbbreviation")
        years = [
            ("PubDate/Year", _text(issue, "PubDate/Year")),
            ("PubDate/MedlineDate", _text(issue, "PubDate/MedlineDate")),
            ("ArticleDate/Year", _text(article, "ArticleDate/Year")),
            (
                "PubMedPubDate/Year",
                _text(element, "PubmedData/History/PubMedPubDate[@PubStatus='pubmed']/Year"),
            ),
        ]
        doi = ids.get("doi", "")
        if not doi and article is not None:
            doi = _text(article, "ELocationID[@EIdType='doi']")
        volume, issue_number = _text(issue, "Volume"), _text(issue, "Issue")
        pages = _pages(article.find("Pagination") if article is not None else None)
        keywords = _all(citation, "KeywordList/Keyword")
        mesh = _all(citation, "MeshHeadingList/MeshHeading/DescriptorName")
        types = _all(article, "PublicationTypeList/PublicationType")
        language = _text(article, "Language")
    else:
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
                author_lists += [
                    a for a in owner.findall("AuthorList") if a.get("Type") != "editors"
                ]
        authors = _authors(author_lists[0]) if author_lists else []
        journal = book_title if article_title else ""
        years = [
            ("Book/PubDate/Year", _text(book, "PubDate/Year")),
            ("Book/PubDate/MedlineDate", _text(book, "PubDate/MedlineDate")),
        ]
        doi = ids.get("doi", "")
        volume, issue_number, pages = _text(book, "Volume"), "", ""
        keywords = _all(document, "KeywordList/Keyword")
        mesh = []
        types = _all(document, "PublicationType")
        language = _text(document, "Language")

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
    return ParsedRecord(
        position=position,
        line=line,
        title=title,
        pmid=normalise_pmid(pmid),
        doi=normalise_doi(doi),
        pmcid=normalise_pmcid(ids.get("pmc", "")),
        abstract=flatten_abstract(sections),
        abstract_sections=sections,
        authors=authors,
        journal=journal,
        year=year,
        volume=volume,
        issue=issue_number,
        pages=pages,
        keywords=keywords,
        mesh_terms=mesh,
        publication_types=types,
        language=language,
        raw=etree.tostring(element, encoding="unicode"),
    )


def parse_pubmed_xml(fileobj: BinaryIO) -> Iterator[ParsedRecord | Rejection]:
    """Yield the records of a PubMed XML file in order, rejecting the unreadable ones.

    Raises FileUnreadable (when iterated) for a file that is not PubMed XML (an HTML page, an
    NCBI ERROR reply, another XML) and, after yielding what it could, for XML that breaks off.
    """
    for position, element in iter_records(
        fileobj, record_tags=RECORD_TAGS, root_tags=ROOT_TAGS, label=LABEL
    ):
        yield _build(position, element)
