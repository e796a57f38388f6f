"""BibTeX, Web of Science, Ovid, Cochrane, RefWorks, Scopus CSV and PMID/DOI lists, read from real
exports (tests/fixtures/README.md names each file's origin; the hand-written files of malformed/
stay to test damage), and text outside records never rejected."""

from pathlib import Path

import pytest

from reviewapp.literature.parsers import (
    FileUnreadable,
    ParsedRecord,
    Rejection,
    detect_format,
    parse,
)
from reviewapp.literature.parsers.idlist import query_terms, read_idlist
from tests.literature.export_fields import (
    csv_rows,
    ovid_expected,
    ovid_tagged_records,
    refworks_records,
    tab_rows,
    tagged_records,
    without_scopus_markup,
    wos_records,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _items(name: str, **options) -> list:
    path = FIXTURES / name
    return list(parse(path.read_bytes(), filename=path.name, **options))


def _records(name: str) -> list[ParsedRecord]:
    return [i for i in _items(name) if isinstance(i, ParsedRecord)]


@pytest.mark.parametrize(
    ("name", "fmt", "count"),
    [
        ("bibtex/synthesisr_Scopus_bib_example.bib", "bibtex", 3),
        ("bibtex/pybibx_scopus_m.bib", "bibtex", 24),
        ("bibtex/pybibx_wos_m.bib", "bibtex", 29),
        ("wos/synthesisr_WoS_txt_example.txt", "wos", 4),
        ("wos/synthesisr_WoS_ciw_example.ciw", "wos", 5),
        ("wos/metaknowledge_savedrecs.txt", "wos", 32),
        ("malformed/wos_tab_delimited.txt", "csv", 3),
        ("wos/scientopy_wos_tab_delimited.txt", "csv", 12),
        ("scopus/metaknowledge_scopus_testing.csv", "csv", 17),
        ("ovid/zotero_ovid_biosis.txt", "ovid", 4),
        ("ovid/zotero_ovid_journals.txt", "ovid", 4),
        ("ris/synthesisr_Ovid_ris_example.ris", "ris", 4),
        ("malformed/ovid_trailing_text.ris", "ris", 2),
        ("malformed/cochrane_central.txt", "cochrane", 2),
        ("cochrane/bibliometrix_python_central.txt", "cochrane", 12),
        ("malformed/refworks_tagged.txt", "refworks", 2),
        ("refworks/citationjs_refworks_tagged.txt", "refworks", 6),
        ("malformed/ebsco_ris.ris", "ris", 2),
        ("ris/synthesisr_ASP_ris_example.ris", "ris", 4),
        ("ris/citesource_ovid_medline_central.ris", "ris", 6),
        ("ris/asreview_ovid_zotero.ris", "ris", 6),
        ("ris/asreview_ovid_psycinfo.ris", "ris", 6),
        ("ris/asreview_proquest.ris", "ris", 6),
        ("ris/rispy_example_extraneous_data.ris", "ris", 2),
    ],
)
def test_each_export_is_detected_and_read_without_rejections_from_text_outside_records(
    name, fmt, count
):
    path = FIXTURES / name
    assert detect_format(path.read_bytes()[:65536], path.name) == fmt
    items = _items(name)
    records = [i for i in items if isinstance(i, ParsedRecord)]
    assert len(records) == count
    assert all(r.title and r.line for r in records)
    rejections = [i for i in items if isinstance(i, Rejection)]
    # Only the hand-written Cochrane file has a bad record (no title), on purpose.
    assert len(rejections) == (1 if name == "malformed/cochrane_central.txt" else 0), rejections


def test_ovid_text_after_each_record_end_is_ignored_not_imported_twice_as_rejections():
    items = _items("malformed/ovid_trailing_text.ris")
    assert [type(i).__name__ for i in items] == ["ParsedRecord", "ParsedRecord"]
    assert [i.line for i in items] == [7, 21]


def test_a_ris_record_that_lost_its_ty_line_is_still_rejected_naming_its_line():
    items = _items("malformed/ovid_numbered.ris")
    lost = [i for i in items if isinstance(i, Rejection) and "instead of 'TY" in i.reason]
    assert lost and lost[0].reason.startswith("record 3 (line 23)")


def test_bibtex_fields_latex_and_repeated_fields():
    first, second, third = _records("bibtex/synthesisr_Scopus_bib_example.bib")
    # The first entry repeats funding_details: read, not rejected; its braces are not kept.
    assert first.title.startswith("Soil fauna diversity")
    assert first.authors[-1] == "Pan, X"
    assert first.doi == "10.1080/20964129.2020.1722034"
    assert (first.journal, first.year, first.volume, first.issue) == (
        "Ecosystem Health and Sustainability",
        2020,
        "6",
        "1",
    )
    assert third.authors == ["Tang, H", "Geng, G", "zhou, M"]
    assert third.publication_types[0] == "article"
    wos = _records("bibtex/pybibx_wos_m.bib")[0]
    assert wos.pages == "2959-2975"


def test_broken_bibtex_entry_is_rejected_naming_record_and_line_and_the_rest_is_read():
    data = (
        b"Exported from a reference manager\n"
        b"@article{a, title={First}, year=2020}\n"
        b"@article{b, title={Broken\n\n"
        b'@misc{c, title = "Third", year = {2021}}\n'
    )
    items = list(parse(data))
    assert [type(i).__name__ for i in items] == ["ParsedRecord", "Rejection", "ParsedRecord"]
    assert items[1].reason.startswith("record 2 (line 3): the BibTeX entry cannot be read")
    assert items[2].title == "Third"


def test_web_of_science_plain_text_fields():
    name = "wos/metaknowledge_savedrecs.txt"
    expected = wos_records(FIXTURES / name)
    records = _records(name)
    assert len(records) == len(expected) == 32
    for record, fields in zip(records, expected, strict=True):
        assert record.title == " ".join(fields["TI"])
        assert len(record.authors) == len(fields["AU"])
        assert record.year == int(fields["PY"][0])
        assert record.doi == fields.get("DI", [""])[0].lower()
        assert record.pmid == fields.get("PM", [""])[0]
        assert record.abstract == " ".join(fields.get("AB", []))
        assert record.journal == " ".join(fields["SO"])
    # Records with and without a DOI, a PMID and an abstract (the older ones have none).
    for field in ("doi", "pmid", "abstract"):
        assert {bool(getattr(r, field)) for r in records} == {True, False}
    first_with_pmid = next(r for r in records if r.pmid)
    assert first_with_pmid.authors[0] == "Pillon, F"
    assert first_with_pmid.publication_types == ["Article"]


def test_scopus_csv_columns_are_mapped():
    second = _records("scopus/metaknowledge_scopus_testing.csv")[1]
    row = csv_rows(FIXTURES / "scopus/metaknowledge_scopus_testing.csv")[1]
    assert (second.volume, second.issue) == (row["Volume"], row["Issue"])
    assert second.pages == f"{row['Page start']}-{row['Page end']}"
    assert second.authors[0] == "Wang, WT"  # "Wang W.T." in the file


def test_a_real_journals_at_ovid_export_takes_year_volume_issue_pages_from_the_citation():
    name = "ovid/zotero_ovid_journals.txt"
    expected = ovid_tagged_records(FIXTURES / name)
    records = _records(name)
    assert len(records) == len(expected) == 4
    for record, fields in zip(records, expected, strict=True):
        assert fields["DB"][0].endswith("Journals@Ovid")
        # The article type Journals@Ovid appends ("  [Article]") is not part of the title.
        title, _, kind = fields["TI"][0].rpartition("  [")
        assert kind.endswith("]") and record.title == title
        # Journals@Ovid has no YR line: the year is in SO, "Journal Month Year;Vol(Issue):Pages".
        journal_and_date, _, citation = fields["SO"][0].partition(";")
        assert record.year == int(journal_and_date[-4:])
        assert record.journal in journal_and_date
        assert citation.endswith(record.pages)
        assert record.doi == fields.get("DI", [""])[0].lower()
        assert record.pmid == ""
        # Names carry affiliation marks and degrees ("Zhang, Weijia 1,2,+", "Gazic, Barbara MD,
        # PhD *"): the surname and given names are kept, the rest dropped.
        assert [a.split(",")[0] for a in record.authors] == [a.split(",")[0] for a in fields["AU"]]
    assert [r.doi for r in records] == [
        "10.1249/fit.0b013e3181c6723d",
        "10.1093/abbs/gmr050",
        "",
        "10.1097/dad.0b013e31820d9c0e",
    ]
    assert records[0].title == "Take Ten: Need-to-Know Facts About Breast Cancer."
    assert records[0].authors == ["Peterson, JA"]  # "Peterson, James A. Ph.D., FACSM"
    assert records[1].authors[0] == "Zhang, W"  # "Zhang, Weijia 1,2,+"
    assert records[3].authors == ["Gazic, B", "Pizem, J"]
    assert (records[1].journal, records[1].volume, records[1].issue, records[1].pages) == (
        "Acta Biochimica et Biophysica Sinica",
        "43",
        "8",
        "647-653",
    )


def test_a_real_biosis_ovid_export_keeps_names_without_roles_and_books_without_editors():
    name = "ovid/zotero_ovid_biosis.txt"
    expected = ovid_tagged_records(FIXTURES / name)
    records = _records(name)
    assert len(records) == len(expected) == 4
    for record, fields in zip(records, expected, strict=True):
        assert record.title == fields["TI"][0]
        assert record.year == int(fields["YR"][0])
        assert record.publication_types == fields["PT"]
        # "Werner, S. M. [Author, Reprint Author; E-mail: ...]": one author, not two.
        assert [a.split(",")[0] for a in record.authors] == [a.split(",")[0] for a in fields["AU"]]
        assert not any("mail" in a or "[" in a for a in record.authors)
        assert (record.doi, record.pmid) == ("", "")
    assert records[1].authors == ["Werner, SM", "Nordheim, EV", "Raffa, KF"]
    assert (records[1].journal, records[1].volume, records[1].issue, records[1].pages) == (
        "Forest Ecology & Management",
        "201",
        "2-3",
        "327-334",
    )
    # A book chapter's SO names the editors first; the book is the source, not "Kamp, Roza".
    assert records[2].journal == records[3].journal == "Methods in proteome and protein analysis"
    assert (records[2].pages, records[3].pages) == ("371-397", "359-370")


def test_an_embase_record_through_ovid_keeps_its_doi_link_and_its_ui_is_not_a_pmid():
    # Hand-written in the shape of Ovid Embase's tagged export (no licensed real one was found).
    data = (
        b"<1. >\r\nVN  - Ovid Technologies\r\nDB  - Embase\r\nUI  - 621381829\r\n"
        b"TI  - Quality of life in primary ciliary dyskinesia\r\n"
        b"SO  - BMC Proceedings. Conference: 2nd BEAT-PCD Conference. Spain. 12 (Supplement 3) "
        b"(no pagination), 2018.\r\nAU  - Behan L.\r\nAU  - Lucas J.S.\r\n"
        b"MH  - *Kartagener syndrome\r\nPT  - Conference Abstract\r\nYR  - 2018\r\n"
        b"DO  - http://dx.doi.org/10.1186/s12919-018-0099-8\r\n"
    )
    (record,) = list(parse(data))
    assert (record.doi, record.pmid, record.year) == ("10.1186/s12919-018-0099-8", "", 2018)
    assert record.authors == ["Behan, L", "Lucas, JS"]
    assert record.mesh_terms == ["Kartagener syndrome"]
    # "Conference: 2nd ..." after the journal is not a volume, an issue or pages.
    assert (record.journal, record.volume, record.issue, record.pages) == (
        "BMC Proceedings",
        "",
        "",
        "",
    )


def test_a_real_web_of_science_tab_delimited_export_is_read_column_by_column():
    name = "wos/scientopy_wos_tab_delimited.txt"
    rows = tab_rows(FIXTURES / name)
    records = _records(name)
    assert len(records) == len(rows) == 12
    for record, row in zip(records, rows, strict=True):
        assert record.title == row["TI"]
        assert record.year == int(row["PY"])
        assert record.journal == row["SO"]
        assert record.doi == row["DI"].lower()
        assert record.pmid == row["PM"]
        assert record.abstract == row["AB"]
        assert len(record.authors) == len(row["AU"].split("; "))
        # The document type, as the plain-text export gives it, not the one-letter PT code.
        assert record.publication_types == [row["DT"]]
    assert records[0].authors[:2] == ["Prakash, KS", "Andersen, E"]
    assert (records[1].volume, records[1].issue, records[1].pmid) == ("4", "2", "27106171")
    assert {bool(r.doi) for r in records} == {bool(r.pmid) for r in records} == {True, False}


def test_real_refworks_tagged_records_are_read_and_a_publisher_link_gives_no_doi():
    name = "refworks/citationjs_refworks_tagged.txt"
    expected = refworks_records(FIXTURES / name)
    records = _records(name)
    assert len(records) == len(expected) == 6
    for record, fields in zip(records, expected, strict=True):
        assert record.title == fields["T1"][0]
        assert record.publication_types == fields["RT"]
        assert len(record.authors) == len(fields.get("A1", []))
        assert record.year == (int(fields["YR"][0]) if "YR" in fields else None)
        assert record.doi == ""  # none has a DO field; LK is a bmj.com page
    article = records[0]
    assert article.authors == ["Allan, S", "Gilbert, P"]
    assert (article.journal, article.volume, article.issue, article.pages) == (
        "Personality & Individual Differences",
        "32",
        "3",
        "551-565",
    )
    assert article.keywords[:2] == ["Anger", "Self Report"]
    assert article.language == "English"
    # A book section's book is its T2; its A2 (the editor) is not an author.
    assert records[4].journal.startswith("Stress and the heart")
    assert records[4].authors == ["Stansfeld, S", "Fuhrer, R"]


def test_cochrane_central_fields():
    record = _records("malformed/cochrane_central.txt")[0]
    assert record.pmid == "29377890"
    assert record.authors == ["Behan, L", "Rubbo, B", "Lucas, JS"]
    assert record.publication_types == ["Journal article", "Randomized controlled trial"]


def test_a_pmid_list_is_read_with_lines_and_queried_by_uid_and_doi():
    ids = read_idlist(["30668574\n", "PMID: 30235242, 10.1371/journal.pntd.0006219\n", "junk\n"])
    assert ids.pmids == {"30668574": 1, "30235242": 2}
    assert ids.dois == {"10.1371/journal.pntd.0006219": 2}
    assert ids.bad == [(3, "junk")]
    assert query_terms(ids) == [
        '30668574[uid] OR 30235242[uid] OR "10.1371/journal.pntd.0006219"[doi]'
    ]
    assert detect_format((FIXTURES / "idlist/ncbi_esearch2_pmids.txt").read_bytes()) == "idlist"


def test_a_pmid_list_without_pubmed_is_unreadable_with_the_reason():
    with pytest.raises(FileUnreadable, match="fetched from PubMed"):
        _items("idlist/ncbi_esearch2_pmids.txt")


def test_zotero_ris_of_an_ovid_record_with_a_reference_in_is_keeps_the_record():
    record = _records("ris/asreview_ovid_zotero.ris")[2]
    assert record.title.startswith("The Pediatric Inflammatory Bowel Disease INTERMED")
    assert record.issue == ""
    assert record.raw["IS"][0].startswith("Achenbach")


def test_ebsco_ris_takes_the_pmid_from_an_medline_accession_number():
    medline, academic = _records("malformed/ebsco_ris.ris")
    assert (medline.pmid, medline.doi) == ("29377890", "")
    assert (academic.pmid, academic.doi) == ("", "10.1371/journal.pntd.0006178")


def test_refworks_doi_from_the_do_field_or_a_doi_url_never_from_a_pdf_link():
    first, second = _records("malformed/refworks_tagged.txt")
    assert first.doi == "10.1186/s12919-018-0099-8"
    assert second.doi == "10.1371/journal.pntd.0006219"
    data = b"RT Journal Article\nT1 Only a PDF link\nUL https://x.org/pdf/10.1007/abc.pdf\n"
    (only,) = list(parse(data))
    assert only.doi == ""


def test_a_real_ebscohost_ris_export_keeps_title_authors_year_abstract_and_the_doi_in_l3():
    name = "ris/synthesisr_ASP_ris_example.ris"
    expected = tagged_records(FIXTURES / name)
    records = _records(name)
    assert len(records) == len(expected) == 4
    for record, fields in zip(records, expected, strict=True):
        assert fields["DP"] == ["EBSCOhost"]
        assert record.title == fields["T1"][0]
        assert [a.split(",")[0] for a in record.authors] == [a.split(",")[0] for a in fields["AU"]]
        assert record.year == int(fields["Y1"][0][:4])
        # EBSCOhost writes the DOI, when it has one, bare in L3.
        assert record.doi == fields.get("L3", [""])[0]
        # The first AB is the abstract; the later ones are a translation or the copyright notice.
        assert record.abstract == fields["AB"][0]
        assert record.pmid == ""
    assert [bool(r.doi) for r in records] == [True, False, False, True]


def test_a_real_scopus_csv_export_keeps_every_column_the_file_fills():
    name = "scopus/metaknowledge_scopus_testing.csv"
    rows = csv_rows(FIXTURES / name)
    records = _records(name)
    assert len(records) == len(rows) == 17
    for record, row in zip(records, rows, strict=True):
        assert record.title == without_scopus_markup(row["Title"])
        assert record.year == int(row["Year"])
        assert record.journal == row["Source title"]
        assert record.doi == row["DOI"].lower()
        assert record.pmid == row["PubMed ID"]
        assert " ".join(record.abstract.split()) == without_scopus_markup(row["Abstract"])
        names = row["Authors"].split(", ")
        assert len(record.authors) == len(names)
        assert record.authors[0].startswith(names[0].split()[0])
    # The file has records with and without a PubMed ID and a DOI.
    assert {bool(r.pmid) for r in records} == {bool(r.doi) for r in records} == {True, False}


def test_a_real_ovid_ris_export_of_medline_and_central_records_reads_every_record_whole():
    name = "ris/citesource_ovid_medline_central.ris"
    expected = [ovid_expected(fields) for fields in tagged_records(FIXTURES / name)]
    items = _items(name)
    assert not [i for i in items if isinstance(i, Rejection)]
    records = [i for i in items if isinstance(i, ParsedRecord)]
    assert len(records) == len(expected) == 6
    for record, want in zip(records, expected, strict=True):
        assert record.title == want["title"]
        assert record.year == want["year"]
        assert [a.split(",")[0] for a in record.authors] == want["surnames"]
        assert record.pmid == want["pmid"]
        assert record.doi == want["doi"]
        assert " ".join(record.abstract.split()) == want["abstract"]
        assert record.volume == want["volume"]
    # The MEDLINE records have PMIDs and DOIs; the CENTRAL ones one comma-separated A1 line and,
    # in the last, a conference name as the volume, kept in raw instead of rejecting the record.
    assert [bool(r.pmid) for r in records] == [True] * 4 + [False] * 2
    assert len(records[4].authors) > 1
    assert records[5].raw["VL"][0].startswith("Conference:")
