"""PubMed XML parser against recorded efetch replies and hand-made variants."""

import io

import pytest

from reviewapp.literature.parsers import FileUnreadable, Rejection, parse_pubmed_xml
from tests.literature.helpers import fixture_bytes, parse_fixture


def test_pubmed1_reads_two_articles_with_season_dates_and_keywords():
    records, rejections = parse_fixture(parse_pubmed_xml, "entrez/pubmed1.xml")
    assert rejections == []
    first, second = records
    assert first.pmid == "12091962"
    assert first.title == "The treatment of AIDS behind the walls of correctional facilities."
    assert first.year == 1990  # PubDate has Year 1990 and Season Spring
    assert first.authors == ["Olivero, JM"]
    assert first.doi == ""
    assert first.keywords == ["Health Care and Public Health", "Legal Approach"]
    assert "Prisoners" in first.mesh_terms
    assert first.publication_types == ["Journal Article", "Review"]
    assert second.pmid == "9997"
    assert second.doi == "10.1016/0005-2795(76)90109-4"
    assert second.year == 1976


def test_pubmed2_reads_entities_and_multi_part_surnames():
    records, _ = parse_fixture(parse_pubmed_xml, "entrez/pubmed2.xml")
    assert [r.pmid for r in records] == ["11748933", "11700088"]
    assert records[1].title == "Proton MRI of (13)C distribution by J and chemical shift editing."
    assert records[1].authors[-1] == "De Luca, F"
    assert "(P < 0.001)" in records[0].abstract
    assert records[0].journal == "Cryobiology"


def test_pubmed5_structured_abstract_becomes_sections_without_markup():
    records, _ = parse_fixture(parse_pubmed_xml, "entrez/pubmed5.xml")
    (record,) = records
    assert record.pmcid == "PMC5771820"
    assert record.doi == "10.1136/oemed-2017-104431"
    assert record.year == 2018
    assert [s.label for s in record.abstract_sections] == [
        "OBJECTIVES",
        "METHODS",
        "RESULTS",
        "CONCLUSIONS",
    ]
    assert "<" not in record.abstract.replace("<4.5", "").replace("<0.01", "")
    assert "<sub>" not in record.abstract and "<u>" not in record.abstract
    assert "ORQ3=4.15" in record.abstract
    assert "(0.4-<4.5 mIU/L)" in record.abstract
    assert record.abstract.startswith("OBJECTIVES: Animal studies suggest")
    assert "\n\nMETHODS: Self-reported lifetime pesticide use" in record.abstract
    assert record.authors[1] == "Beane Freeman, LE"
    assert len(record.authors) == 12


def test_mathml_and_inline_markup_become_plain_text():
    records, rejections = parse_fixture(parse_pubmed_xml, "malformed/pubmed_mathml.xml")
    article, book = records
    assert article.title == (
        "Measurement of the top quark mass at √s=13 TeV with in vivo CO₂ and m² data."
    )
    assert article.abstract == "Values of x² were fitted (e²)."
    assert article.year == 1998  # MedlineDate "1998 Dec-1999 Jan"
    assert article.authors == ["Müller, HP", "CMS Collaboration"]
    # The DOI is the article's own, not the one in its reference list.
    assert article.doi == "10.1140/epjc/s10052-019-6788-4"
    assert [(r.position, r.field) for r in rejections] == [
        (2, "ArticleTitle"),
        (3, "PubDate/MedlineDate"),
    ]


def test_book_articles_read_from_book_document():
    records, _ = parse_fixture(parse_pubmed_xml, "malformed/pubmed_mathml.xml")
    book = records[1]
    assert book.pmid == "20301295"
    assert book.title == "BRCA1- and BRCA2-Associated Hereditary Breast and Ovarian Cancer"
    assert book.journal == "GeneReviews®"
    assert book.year == 1993
    assert book.authors == ["Petrucelli, N"]  # the editors' list is not the authors'
    assert [s.label for s in book.abstract_sections] == ["CLINICAL CHARACTERISTICS", "DIAGNOSIS"]


def test_truncated_xml_yields_what_parsed_then_names_where_it_broke():
    parsed = []
    with pytest.raises(FileUnreadable, match=r"breaks off in record 2 \(line 4\)"):
        for item in parse_pubmed_xml(io.BytesIO(fixture_bytes("malformed/pubmed_truncated.xml"))):
            parsed.append(item)
    assert [r.pmid for r in parsed] == ["11748933"]


def test_an_html_reply_is_unreadable():
    with pytest.raises(FileUnreadable, match="web page"):
        parse_fixture(parse_pubmed_xml, "entrez/pubmed3.html")


def test_an_ncbi_error_reply_is_unreadable_with_ncbis_message():
    with pytest.raises(FileUnreadable, match="Invalid db name specified: nothing"):
        parse_fixture(parse_pubmed_xml, "entrez/epost2.xml")


def test_an_esearch_reply_is_not_pubmed_xml():
    with pytest.raises(FileUnreadable, match="eSearchResult"):
        parse_fixture(parse_pubmed_xml, "entrez/esearch1.xml")


def test_invalid_bytes_inside_xml_stop_the_file_after_the_good_records():
    data = fixture_bytes("entrez/pubmed1.xml").replace(
        b"Magnetic studies", b"Magnetic \xff studies"
    )
    parsed = []
    with pytest.raises(FileUnreadable, match="record 2"):
        parsed.extend(parse_pubmed_xml(io.BytesIO(data)))
    assert [r.pmid for r in parsed] == ["12091962"]


def test_an_empty_article_set_yields_nothing():
    items = list(
        parse_pubmed_xml(io.BytesIO(b"<?xml version='1.0'?><PubmedArticleSet></PubmedArticleSet>"))
    )
    assert items == []


def test_mesh_terms_are_every_descriptor_of_the_first_heading_list_in_order():
    records, _ = parse_fixture(parse_pubmed_xml, "entrez/pubmed1.xml")
    assert records[1].mesh_terms == [
        "Binding Sites",
        "Chromatium",
        "Cytochrome c Group",
        "Electron Spin Resonance Spectroscopy",
        "Flavins",
        "Heme",
        "Hydrogen-Ion Concentration",
        "Iron",
        "Magnetics",
        "Oxidation-Reduction",
        "Protein Binding",
        "Protein Conformation",
        "Temperature",
    ]


def test_mesh_terms_skip_qualifiers_later_heading_lists_and_empty_descriptors():
    xml = b"""<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>
    <Article><ArticleTitle>A trial of aspirin in adults</ArticleTitle></Article>
    <MeshHeadingList>
      <MeshHeading><DescriptorName>Aspirin</DescriptorName>
        <QualifierName>therapeutic use</QualifierName></MeshHeading>
      <MeshHeading><QualifierName>adverse effects</QualifierName>
        <DescriptorName>Hemorrhage</DescriptorName><DescriptorName>Stroke</DescriptorName>
      </MeshHeading>
      <MeshHeading><DescriptorName> </DescriptorName></MeshHeading>
      <DescriptorName>Not in a heading</DescriptorName>
      <MeshHeading><DescriptorName>CO<sub>2</sub></DescriptorName></MeshHeading>
    </MeshHeadingList>
    <MeshHeadingList><MeshHeading><DescriptorName>Second list</DescriptorName></MeshHeading>
    </MeshHeadingList>
    </MedlineCitation></PubmedArticle></PubmedArticleSet>"""
    (record,) = list(parse_pubmed_xml(io.BytesIO(xml)))
    assert record.mesh_terms == ["Aspirin", "Hemorrhage", "Stroke", "CO₂"]


@pytest.mark.parametrize(
    ("element", "text", "field"),
    [
        ("ArticleTitle", "Aspirin\x86 in adults", "ArticleTitle"),
        ("LastName", "Sm\ufffdth", "AuthorList"),
        ("Title", "Lancet\x7f", "Journal"),
    ],
)
def test_a_control_or_lost_character_rejects_the_record_naming_its_field(element, text, field):
    author = (
        "<AuthorList><Author><LastName>Smith</LastName><Initials>J</Initials></Author></AuthorList>"
    )
    fields = {
        "ArticleTitle": "Aspirin in adults",
        "LastName": "Smith",
        "Title": "Lancet",
    }
    fields[element] = text
    xml = (
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>"
        f"<Journal><Title>{fields['Title']}</Title></Journal>"
        f"<ArticleTitle>{fields['ArticleTitle']}</ArticleTitle>"
        + author.replace("Smith", fields["LastName"])
        + "</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
    ).encode()
    (item,) = list(parse_pubmed_xml(io.BytesIO(xml)))
    assert isinstance(item, Rejection)
    assert item.field == field
