"""CSV parser against Embase's CSV export, the Cohen labelled sets and hand-made variants."""

import io

import pytest

from reviewapp.literature.parsers import FileUnreadable, parse_csv
from tests.literature.helpers import parse_fixture, split


def test_embase_csv_reads_source_authors_and_doi_from_the_link():
    records, rejections = parse_fixture(parse_csv, "csv/embase.csv")
    assert len(records) == 6 and rejections == []
    first = records[0]
    assert (
        first.title
        == "Duplication cysts: Diagnosis, management, and the role of endoscopic ultrasound"
    )
    assert first.authors == ["Liu, R", "Adler, DG"]
    assert first.journal == "Endoscopic Ultrasound"
    assert first.year == 2014
    assert (first.volume, first.issue, first.pages) == ("3", "3", "152-160")
    assert first.doi == "10.4103/2303-9027.138783"
    assert "colonoscopy" in first.keywords
    assert [r.line for r in records][:2] == [2, 3]


def test_embase_csv_matches_the_embase_ris_export_of_the_same_records():
    csv_records, _ = parse_fixture(parse_csv, "csv/embase.csv")
    from reviewapp.literature.parsers import parse_ris

    ris_records, _ = parse_fixture(parse_ris, "ris/embase.ris")
    assert [r.doi for r in csv_records] == [r.doi for r in ris_records]
    assert [r.year for r in csv_records] == [r.year for r in ris_records]


def test_cohen_labelled_set_reads_pubmed_ids_and_semicolon_authors():
    records, rejections = parse_fixture(parse_csv, "labelled/Cohen_2006_NSAIDS.csv")
    assert len(records) == 393 and rejections == []
    first = records[0]
    assert first.pmid == "10203431"
    assert (
        first.title
        == "Quality of life in arthritis patients using nonsteroidal anti-inflammatory drugs."
    )
    assert first.authors == ["Wiklund, I"]
    assert records[1].authors == [
        "Kellstein, DE",
        "Waksman, JA",
        "Furey, SA",
        "Binstok, G",
        "Cooper, SA",
    ]
    assert first.year is None  # the set has no year column


def test_a_row_with_an_extra_cell_and_a_row_with_a_bad_year_are_rejected():
    records, rejections = parse_fixture(parse_csv, "malformed/shifted.csv")
    assert [r.title for r in records] == ["A good row"]
    assert [(r.position, r.line, r.field) for r in rejections] == [(2, 3, ""), (3, 4, "Year")]
    assert "5 values but the header has 4 columns" in rejections[0].reason


def test_semicolon_separated_files_with_other_header_names_are_read():
    data = "ARTICLE TITLE;publication_year;PubMed ID;DI\nA title;2001;PMID: 123;https://doi.org/10.1000/X\n"
    records = list(parse_csv(io.BytesIO(data.encode("utf-8"))))
    assert (records[0].title, records[0].year, records[0].pmid, records[0].doi) == (
        "A title",
        2001,
        "123",
        "10.1000/x",
    )


def test_a_header_without_title_column_is_unreadable_and_lists_accepted_names():
    with pytest.raises(FileUnreadable, match="Article Title"):
        list(parse_csv(io.BytesIO(b"name,when\nx,2001\n")))


def test_a_cochrane_library_csv_takes_its_source_column_for_the_journal():
    # Cochrane Library's CSV has no journal column; its Source is the journal's name alone and
    # was dropped because it is not Embase's "Journal (2014) 3:3 (152-160)" citation.
    records, rejections = parse_fixture(parse_csv, "csv/asreview_cff_cochrane.csv")
    assert rejections == []
    assert [r.journal for r in records] == [
        "Trials",
        "Developmental psychology",
        "Psychosocial intervention = intervencion psicosocial",
    ]
    assert [r.raw["CENTRAL ID"] for r in records] == ["CN-00778158", "CN-02677909", "CN-02575572"]
    assert [r.pmid for r in records] == ["21314913", "38407106", "37362617"]


def test_a_source_column_naming_a_database_is_not_taken_for_the_journal():
    text = b"Title,Year,Source\nA trial,2020,Scopus\n"
    records, _ = split(parse_csv(io.BytesIO(text)))
    assert (records[0].journal, records[0].year) == ("", 2020)
