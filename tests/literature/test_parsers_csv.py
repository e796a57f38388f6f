"""CSV parser against Embase's CSV export, the Cohen labelled sets and hand-made variants."""

import io

import pytest

from reviewapp.literature.parsers import FileUnreadable, detect_format, parse_csv
from tests.literature.export_fields import table_rows
from tests.literature.helpers import FIXTURES, fixture_bytes, parse_fixture, split, split3


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


# Embase writes its search, a line of dashes and a blank line above the header; Excel keeps them
# when the file is saved again (then with a BOM and semicolons).
EMBASE_BANNER = (
    '"SEARCH QUERY","dinosaur:ti"\n-------------------------------------\n\n'
    '"Title","Publication Year","DOI"\n"Dinosaur scales",2024,"10.1038/X"\n'
)
EXCEL_BANNER = (
    "\ufeffSEARCH QUERY;dinosaur:ti;;\n-------------------------------------;;;\n;;;\n"
    "Title;Publication Year;DOI;Issue\nDinosaur scales;2024;10.1038/X;1\n"
)


@pytest.mark.parametrize("text", [EMBASE_BANNER, EXCEL_BANNER], ids=["embase", "excel"])
def test_an_embase_csv_with_its_search_above_the_header_is_detected_and_read(text):
    data = text.encode("utf-8")
    assert detect_format(data, "records.csv") == "csv"
    records, rejections, warnings = split3(parse_csv(io.BytesIO(data)))
    assert (rejections, warnings) == ([], [])
    assert [(r.title, r.year, r.doi, r.position, r.line) for r in records] == [
        ("Dinosaur scales", 2024, "10.1038/x", 1, 5)
    ]


def test_a_header_below_a_table_row_is_not_looked_for():
    # Three filled cells is a row of a table without a title column, not a banner.
    with pytest.raises(FileUnreadable, match="no title column"):
        list(parse_csv(io.BytesIO(b"name,when,where\nTitle,Year,DOI\nA,2001,x\n")))


def test_an_affiliation_in_the_issue_column_is_left_in_raw_and_the_record_kept():
    # Embase writes affiliations in RIS M1, which Zotero and Covidence export as the issue.
    affiliation = "(Boisvert C.) Brigham Young University, Provo, UT, United States"
    text = f'Title,Issue,Volume\nA,"{affiliation}",12\nB,1 January,3\n'.encode()
    records, rejections = split(parse_csv(io.BytesIO(text)))
    assert rejections == []
    assert [(r.issue, r.volume) for r in records] == [("", "12"), ("1 January", "3")]
    assert records[0].raw["Issue"] == affiliation


def test_a_line_of_one_cell_between_rows_is_a_heading_not_a_rejected_record():
    # abstrackr puts "citations that are not yet labeled by anyone" above its unscreened
    # records, and writes those rows with fewer columns.
    text = (
        b"(internal) id,title,journal,consensus\n1,First,J,o\n"
        b"citations that are not yet labeled by anyone\n2,Second,J\n"
    )
    records, rejections, warnings = split3(parse_csv(io.BytesIO(text)))
    assert rejections == []
    assert [(r.title, r.position, r.line) for r in records] == [("First", 1, 2), ("Second", 2, 4)]
    assert [(w.line, w.position) for w in warnings] == [(3, None)]
    assert "'citations that are not yet labeled by anyone'" in warnings[0].reason


def test_a_row_of_one_cell_is_a_record_when_the_title_is_the_first_column():
    records, rejections, warnings = split3(parse_csv(io.BytesIO(b"Title,Year\nOnly a title\n")))
    assert ([r.title for r in records], rejections, warnings) == (["Only a title"], [], [])


def test_a_refworks_tab_delimited_export_is_read_by_its_own_column_names():
    # Lens.org's 100 records as RefWorks writes them tab-delimited: "Authors, Primary" as
    # "Surname,Given;..." with Lens's "null" for an unknown given name, the journal in
    # "Periodical Full", the only page in "Other Pages" when "Start Page" is blank (" ").
    path = "cff/_baseline_refworks.tsv"
    assert detect_format(fixture_bytes(path), path) == "csv"
    records, rejections = parse_fixture(parse_csv, path)
    assert (len(records), rejections) == (100, [])
    first = records[0]
    assert first.title.startswith("The effect of intra-arterial angiotensin II on the hepatic")
    assert first.authors[:3] == ["van den Hoven", "Smits, MLJ", "Rosenbaum, CENM"]
    assert (first.journal, first.year, first.volume, first.issue) == (
        "Journal of Vascular and Interventional Radiology",
        2014,
        "25",
        "3",
    )
    assert (first.pages, first.doi, first.publication_types) == (
        "S105",
        "10.1016/j.jvir.2013.12.293",
        ["Journal Article"],
    )
    assert (records[1].pmid, records[1].pages) == ("32240769", "69-79")


def test_covidence_and_rayyan_csv_exports_give_years_and_each_author():
    # The same Embase records: Covidence names its year column "Published Year", Rayyan writes
    # its authors as BibTeX does ("Yang, Z. and Jiang, B. and ...").
    covidence, rejections = parse_fixture(parse_csv, "cff/_baseline_covidence.csv")
    assert rejections == []
    rows = table_rows(FIXTURES / "cff/_baseline_covidence.csv", "Title")
    assert [r.year for r in covidence] == [int(row["Published Year"]) for row in rows]
    rayyan, rejections = parse_fixture(parse_csv, "cff/_baseline_rayyan.csv")
    assert rejections == []
    assert rayyan[0].authors == ["Yang, Z", "Jiang, B", "Xu, J", "McNamara, ME"]
