"""Property-based tests: whatever a parser is given, it yields records, rejections and warnings, or
raises FileUnreadable, never another exception and never a ParserFault (the wrapper that turns a
fault in our code into FileUnreadable, so the import still fails cleanly: it must never fire).

Random bytes rarely get past a parser's first check, so each format also has a strategy built
from its grammar (tags, separators, continuation lines, quotes, elements), producing files that
are nearly valid: that is where parsers break. Runs are derandomized and use no example database,
so CI sees the same examples every time; FUZZ_EXAMPLES raises the count for a longer local hunt
(`FUZZ_EXAMPLES=5000 pytest tests/literature/test_parsers_fuzz.py`).
"""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from reviewapp.literature.parsers import (
    FileUnreadable,
    ParsedRecord,
    ParserFault,
    ParseWarning,
    Rejection,
    detect_format,
    parse,
    parse_csv,
    parse_endnote_xml,
    parse_medline,
    parse_pubmed_xml,
    parse_ris,
)
from reviewapp.literature.parsers.limits import LIST_MAX, TEXT_MAX

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PARSERS = {
    "pubmed-xml": parse_pubmed_xml,
    "medline": parse_medline,
    "ris": parse_ris,
    "csv": parse_csv,
    "endnote-xml": parse_endnote_xml,
}


def _read(parser, data: bytes) -> list:
    """Run `parser` over `data`, failing on anything but items or a plain FileUnreadable."""
    try:
        items = list(parser(io.BytesIO(data), filename="fuzz.txt"))
    except ParserFault as fault:
        raise AssertionError(f"the parser itself failed: {fault}") from fault.__cause__
    except FileUnreadable as error:
        assert str(error), "FileUnreadable without a message"
        return []
    last = 0
    for item in items:
        assert isinstance(item, ParsedRecord | Rejection | ParseWarning), item
        if isinstance(item, ParseWarning):
            assert item.reason
            continue
        assert item.position >= last, "records out of file order"
        last = item.position
        if isinstance(item, Rejection):
            assert item.reason.startswith(f"record {item.position}")
        else:
            assert item.title
            for name, limit in TEXT_MAX.items():
                assert len(getattr(item, name)) <= limit, name
            for name, (most, longest) in LIST_MAX.items():
                values = getattr(item, name)
                assert len(values) <= most and all(len(v) <= longest for v in values), name
    return items


def _auto(data: bytes) -> list:
    try:
        detect_format(data[:8192], "fuzz.txt")
    except ParserFault as fault:
        raise AssertionError(f"format detection failed: {fault}") from fault.__cause__
    except FileUnreadable:
        pass
    return _read(lambda fileobj, filename: parse(fileobj, filename=filename), data)


# --- shared pieces -------------------------------------------------------------------------------

# Text that exercises decoding, markup stripping and the character checks: letters, accents,
# markup, entities, control characters, U+FFFD, a BOM, line ends inside values.
TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
        # No NUL: one anywhere in the first 8 KB makes the whole file "binary" (a test of its
        # own below), which would hide everything else.
        st.sampled_from(list("<>&;:,.- \t\r\n\ufeff\ufffd\x01\x0b\x85\u2028\"'|[]()*/")),
    ),
    max_size=60,
)
WORDS = st.one_of(
    TEXT,
    st.sampled_from(
        [
            "",
            "A trial of aspirin",
            "2019",
            "n.d.",
            "Spring 2019",
            "10.1000/XYZ123",
            "https://doi.org/10.1000/abc",
            "PMID: 123",
            "PMC12345",
            "https://pubmed.ncbi.nlm.nih.gov/31234567/",
            "Smith, J; Doe, A",
            "BACKGROUND: x. RESULTS: y.",
            "<i>italic</i> &amp; &#x3b1;",
            "x" * 5000,
        ]
    ),
)
ENDINGS = st.sampled_from(["\n", "\r\n", "\r", "\n", "\r\n"])


def _encode(text: str, how: str) -> bytes:
    if how == "utf-8-bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    if how == "utf-16":
        return text.encode("utf-16", "surrogatepass")
    if how == "cp1252":
        return text.encode("cp1252", "replace")
    return text.encode("utf-8", "surrogatepass")


ENCODINGS = st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-bom", "utf-16", "cp1252"])


@st.composite
def _cut(draw, data: bytes) -> bytes:
    """Sometimes cut the file short, sometimes splice a piece of it into itself."""
    roll = draw(st.integers(0, 9))
    if roll == 0 and data:
        return data[: draw(st.integers(0, len(data)))]
    if roll == 1 and data:
        at = draw(st.integers(0, len(data)))
        piece = draw(st.integers(0, len(data)))
        return data[:at] + data[piece : piece + 40] + data[at:]
    return data


# --- RIS -----------------------------------------------------------------------------------------

RIS_TAGS = [
    "TY", "TI", "T1", "AB", "N2", "AU", "A1", "JF", "T2", "PY", "Y1", "DA", "DO", "DI", "M3",
    "N1", "AN", "UR", "L1", "DB", "DP", "C2", "C5", "C6", "VL", "IS", "SP", "EP", "KW", "LA",
    "ER", "ZZ", "A9",
]  # fmt: skip


@st.composite
def ris_files(draw) -> bytes:
    lines = []
    for _ in range(draw(st.integers(1, 30))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append(draw(WORDS))  # continuation or stray text
        elif kind == 1:
            lines.append("")
        else:
            tag = draw(st.sampled_from(RIS_TAGS))
            number = draw(st.sampled_from(["", "", "", "1. ", "12.  "]))
            separator = draw(st.sampled_from(["  - ", "  - ", " - ", "  -", "- ", "  -  "]))
            value = "JOUR" if tag == "TY" and draw(st.booleans()) else draw(WORDS)
            lines.append(f"{number}{tag}{separator}{value}")
    if draw(st.booleans()):
        lines.insert(0, "TY  - JOUR")
    text = "".join(line + draw(ENDINGS) for line in lines)
    return draw(_cut(_encode(text, draw(ENCODINGS))))


# --- MEDLINE -------------------------------------------------------------------------------------

MEDLINE_TAGS = [
    "PMID", "TI", "BTI", "TT", "AB", "AU", "FAU", "CN", "JT", "TA", "DP", "DEP", "LID", "AID",
    "PMC", "VI", "IP", "PG", "OT", "MH", "PT", "LA", "AD", "X", "ZZZZ",
]  # fmt: skip


@st.composite
def medline_files(draw) -> bytes:
    lines = []
    for _ in range(draw(st.integers(1, 30))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append("      " + draw(WORDS))  # continuation
        elif kind == 1:
            lines.append(draw(st.sampled_from(["", "      ", " "])))
        elif kind == 2:
            lines.append(draw(WORDS))  # stray text
        else:
            tag = draw(st.sampled_from(MEDLINE_TAGS))
            layout = draw(st.sampled_from(["{:<4}- ", "{:<4}- ", "{}- ", "{} - ", "{:<4}-"]))
            value = draw(st.sampled_from(["123", "0012", "x"])) if tag == "PMID" else draw(WORDS)
            lines.append(layout.format(tag) + value)
    if draw(st.booleans()):
        lines.insert(0, "PMID- 1")
    text = "".join(line + draw(ENDINGS) for line in lines)
    return draw(_cut(_encode(text, draw(ENCODINGS))))


# --- CSV -----------------------------------------------------------------------------------------

CSV_HEADERS = [
    "Title", "Article Title", "TI", "Abstract", "Authors", "Author Names", "Year", "Date",
    "Journal", "Source", "DOI", "PMID", "PMCID", "Volume", "Issue", "Pages", "Page Start",
    "Page End", "Keywords", "MeSH Terms", "Language", "Document Type", "URL", "Notes", "",
]  # fmt: skip


def _cell(value: str, delimiter: str, quote: bool) -> str:
    if quote:
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def csv_files(draw) -> bytes:
    delimiter = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    header = draw(st.lists(st.sampled_from(CSV_HEADERS), min_size=1, max_size=8))
    if draw(st.integers(0, 4)):
        header.insert(draw(st.integers(0, len(header))), "Title")
    rows = [header]
    for _ in range(draw(st.integers(0, 12))):
        width = len(header) + draw(st.sampled_from([0, 0, 0, -1, 1]))
        rows.append([draw(WORDS) for _ in range(max(0, width))])
    if draw(st.integers(0, 9)) == 0:
        rows.append(list(header))  # a second file's header
    lines = []
    for row in rows:
        cells = [_cell(v, delimiter, draw(st.integers(0, 3)) > 0) for v in row]
        if cells and draw(st.integers(0, 19)) == 0:
            cells[-1] = cells[-1] + '"'  # a quote left open
        lines.append(delimiter.join(cells))
    text = "".join(line + draw(ENDINGS) for line in lines)
    return draw(_cut(_encode(text, draw(ENCODINGS))))


# --- XML -----------------------------------------------------------------------------------------


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_XML_CLEAN = st.one_of(
    st.text(
        alphabet=st.characters(
            codec="utf-8", exclude_categories=["Cs", "Cc"], exclude_characters="\ufffe\uffff"
        ),
        max_size=40,
    ).map(_xml_escape),
    st.sampled_from(
        [
            "A trial of aspirin",
            "2019",
            "1999 Dec-2000 Jan",
            "n.d.",
            "10.1000/XYZ123",
            "https://pubmed.ncbi.nlm.nih.gov/31234567/",
            "PMC123",
            "x" * 5000,
            "<i>x</i> m<sup>2</sup> H<sub>2</sub>O",
            "<mml:math><mml:msup><mml:mi>x</mml:mi><mml:mn>2</mml:mn></mml:msup></mml:math>",
            "&amp;&#945;",
        ]
    ),
)
_XML_BROKEN = st.one_of(
    st.sampled_from(["&undefined;", "<b>unclosed", "]]>", "\x00", "\ufffd\x85"]),
    WORDS.map(_xml_escape),
)


@st.composite
def _xml_text(draw) -> str:
    """Mostly text XML allows (so records get read and their fields reach the builders), now and
    then anything (so the break-off path is taken too). Hypothesis favours the ends of a range,
    so the rare branch is a value from its middle."""
    if draw(st.integers(0, 99)) == 50:
        return draw(_XML_BROKEN)
    return draw(_XML_CLEAN)


XML_TEXT = _xml_text()


@st.composite
def _element(draw, tag: str, children: list[str]) -> str:
    attributes = ""
    if draw(st.integers(0, 5)) == 0:
        name = draw(st.sampled_from(["Label", "IdType", "EIdType", "ValidYN", "PubStatus", "name"]))
        value = draw(st.sampled_from(["doi", "pmc", "pubmed", "N", "BACKGROUND", "Journal", ""]))
        attributes = f' {name}="{value}"'
    inner = draw(XML_TEXT) if not children else "".join(children)
    return f"<{tag}{attributes}>{inner}</{tag}>"


PUBMED_LEAVES = {
    "MedlineCitation": ["PMID", "Article", "KeywordList", "MeshHeadingList"],
    "Article": [
        "ArticleTitle", "VernacularTitle", "Abstract", "AuthorList", "Journal", "Pagination",
        "ELocationID", "Language", "PublicationTypeList", "ArticleDate",
    ],
    "Abstract": ["AbstractText", "AbstractText"],
    "AuthorList": ["Author", "Author"],
    "Author": ["LastName", "Initials", "ForeName", "CollectiveName"],
    "Journal": ["Title", "ISOAbbreviation", "JournalIssue"],
    "JournalIssue": ["Volume", "Issue", "PubDate"],
    "PubDate": ["Year", "MedlineDate"],
    "ArticleDate": ["Year"],
    "Pagination": ["MedlinePgn", "StartPage", "EndPage"],
    "KeywordList": ["Keyword"],
    "MeshHeadingList": ["MeshHeading"],
    "MeshHeading": ["DescriptorName"],
    "PublicationTypeList": ["PublicationType"],
    "PubmedData": ["ArticleIdList", "History"],
    "ArticleIdList": ["ArticleId", "ArticleId"],
    "History": ["PubMedPubDate"],
    "PubMedPubDate": ["Year"],
    "BookDocument": ["PMID", "ArticleTitle", "Book", "Abstract", "AuthorList", "KeywordList",
                     "PublicationType", "Language", "ArticleIdList"],
    "Book": ["BookTitle", "PubDate", "Volume", "AuthorList"],
}  # fmt: skip
ENDNOTE_LEAVES = {
    "record": [
        "titles", "abstract", "contributors", "periodical", "dates", "electronic-resource-num",
        "urls", "accession-num", "remote-database-name", "custom2", "ref-type", "work-type",
        "volume", "number", "pages", "keywords", "language",
    ],
    "titles": ["title", "translated-title", "short-title", "secondary-title"],
    "contributors": ["authors"],
    "authors": ["author", "author"],
    "periodical": ["full-title", "abbr-1"],
    "dates": ["year", "pub-dates"],
    "pub-dates": ["date"],
    "urls": ["related-urls"],
    "related-urls": ["url"],
    "keywords": ["keyword"],
}  # fmt: skip


@st.composite
def _tree(draw, tag: str, grammar: dict, depth: int = 0) -> str:
    children = []
    if tag in grammar and depth < 6:
        for child in grammar[tag]:
            if draw(st.integers(0, 3)):
                children.append(draw(_tree(child, grammar, depth + 1)))
    if tag not in grammar and draw(st.integers(0, 6)) == 0 and "title" in tag.lower():
        children.append(f"<style face='normal'>{draw(XML_TEXT)}</style>")
    return draw(_element(tag, children))


@st.composite
def pubmed_files(draw) -> bytes:
    records = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.integers(0, 4)):
            citation = draw(_tree("MedlineCitation", PUBMED_LEAVES))
            data = draw(_tree("PubmedData", PUBMED_LEAVES))
            records.append(f"<PubmedArticle>{citation}{data}</PubmedArticle>")
        else:
            document = draw(_tree("BookDocument", PUBMED_LEAVES))
            records.append(f"<PubmedBookArticle>{document}</PubmedBookArticle>")
    root = draw(st.sampled_from(["PubmedArticleSet", "PubmedArticleSet", "PubmedBookArticleSet"]))
    text = f'<?xml version="1.0"?>\n<{root}>\n' + "\n".join(records) + f"\n</{root}>\n"
    return draw(_cut(text.encode("utf-8", "surrogatepass")))


@st.composite
def endnote_files(draw) -> bytes:
    records = [draw(_tree("record", ENDNOTE_LEAVES)) for _ in range(draw(st.integers(0, 4)))]
    text = '<?xml version="1.0" encoding="UTF-8"?><xml><records>' + "".join(records)
    text += "</records></xml>"
    return draw(_cut(text.encode("utf-8", "surrogatepass")))


# --- the properties ------------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=2000))
def test_any_bytes_give_records_or_file_unreadable_from_every_parser(data):
    for parser in PARSERS.values():
        _read(parser, data)
    _auto(data)


@FUZZ
@given(data=st.binary(max_size=400).map(lambda b: b"TY  - JOUR\n" + b))
def test_any_bytes_after_a_ris_start_give_records_or_file_unreadable(data):
    _read(parse_ris, data)
    _auto(data)


@FUZZ
@given(data=st.binary(max_size=400).map(lambda b: b"PMID- 1\n" + b))
def test_any_bytes_after_a_medline_start_give_records_or_file_unreadable(data):
    _read(parse_medline, data)
    _auto(data)


@FUZZ
@given(data=st.binary(max_size=400).map(lambda b: b"Title,Year,DOI\n" + b))
def test_any_bytes_after_a_csv_header_give_records_or_file_unreadable(data):
    _read(parse_csv, data)
    _auto(data)


@FUZZ
@given(data=ris_files())
def test_near_valid_ris_gives_records_or_file_unreadable(data):
    _read(parse_ris, data)
    _auto(data)


@FUZZ
@given(data=medline_files())
def test_near_valid_medline_gives_records_or_file_unreadable(data):
    _read(parse_medline, data)
    _auto(data)


@FUZZ
@given(data=csv_files())
def test_near_valid_csv_gives_records_or_file_unreadable(data):
    _read(parse_csv, data)
    _auto(data)


@FUZZ
@given(data=pubmed_files())
def test_near_valid_pubmed_xml_gives_records_or_file_unreadable(data):
    _read(parse_pubmed_xml, data)
    _auto(data)


@FUZZ
@given(data=endnote_files())
def test_near_valid_endnote_xml_gives_records_or_file_unreadable(data):
    _read(parse_endnote_xml, data)
    _auto(data)


STRATEGIES = {
    "ris": (ris_files(), parse_ris),
    "medline": (medline_files(), parse_medline),
    "csv": (csv_files(), parse_csv),
    "pubmed-xml": (pubmed_files(), parse_pubmed_xml),
    "endnote-xml": (endnote_files(), parse_endnote_xml),
}


@pytest.mark.parametrize("fmt", STRATEGIES)
def test_each_strategy_reaches_records_and_rejections_not_only_errors(fmt):
    """Guard against a strategy that only ever produces unreadable files (a vacuous property)."""
    strategy, parser = STRATEGIES[fmt]
    # Generation only: find() would otherwise spend its time shrinking the example it found.
    search = settings(
        max_examples=1000, deadline=None, derandomize=True, database=None, phases=[Phase.generate]
    )
    for kind in (ParsedRecord, Rejection):
        example = find(
            strategy,
            lambda data, kind=kind: any(isinstance(i, kind) for i in _read(parser, data)),
            settings=search,
        )
        assert any(isinstance(i, kind) for i in _read(parser, example))
