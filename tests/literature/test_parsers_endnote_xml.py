"""EndNote XML parser against a hand-made export with style-wrapped text."""

import pytest

from reviewapp.literature.parsers import FileUnreadable, parse_endnote_xml
from tests.literature.helpers import parse_fixture


def test_style_wrapped_fields_become_plain_text_and_identifiers_are_found():
    records, rejections = parse_fixture(parse_endnote_xml, "malformed/endnote.xml")
    (record,) = records
    assert record.title == (
        "Occupational pesticide exposure and subclinical hypothyroidism among male "
        "pesticide applicators"
    )
    assert record.authors == ["Lerro, CC", "Beane Freeman, LE"]
    assert record.journal == "Occupational and Environmental Medicine"
    assert record.year == 2018
    assert record.doi == "10.1136/oemed-2017-104431"
    assert record.pmid == "28775130"
    assert record.pmcid == "PMC5771820"
    assert (record.volume, record.issue, record.pages) == ("75", "2", "79-89")
    assert [s.label for s in record.abstract_sections] == [
        "OBJECTIVES",
        "METHODS",
        "RESULTS",
        "CONCLUSIONS",
    ]
    assert record.publication_types == ["Journal Article"]


def test_a_record_with_a_blank_title_is_rejected():
    _, rejections = parse_fixture(parse_endnote_xml, "malformed/endnote.xml")
    assert [(r.position, r.line, r.field) for r in rejections] == [(2, 14, "titles/title")]
    assert "no title" in rejections[0].reason


def test_pubmed_xml_given_to_the_endnote_parser_is_unreadable():
    with pytest.raises(FileUnreadable, match="PubmedArticleSet"):
        parse_fixture(parse_endnote_xml, "entrez/pubmed1.xml")
