"""RIS parser against real exports (Embase, Scopus, WoS, Zotero, Lens) and hand-made variants."""

import io

import pytest

from reviewapp.literature.parsers import FileUnreadable, ParsedRecord, parse_ris
from tests.literature.export_fields import tagged_records
from tests.literature.helpers import FIXTURES, parse_fixture, split


def test_baseline_with_bom_and_crlf_reads_all_100_records():
    records, rejections = parse_fixture(parse_ris, "ris/_baseline.ris")
    assert len(records) == 100
    assert rejections == []
    first = records[0]
    assert first.title.startswith("The Value of Radiologic Interventions and 18 F-DOPA PET")
    assert first.line == 1
    assert first.position == 1


def test_baseline_second_record_has_lens_identifiers_and_accented_authors():
    records, _ = parse_fixture(parse_ris, "ris/_baseline.ris")
    record = next(r for r in records if r.doi == "10.3390/cancers13061254")
    assert (
        record.title
        == "Electrochemotherapy in Mucosal Cancer of the Head and Neck: A Systematic Review."
    )
    assert record.pmcid == "PMC7999968"
    assert record.pmid == "33809141"
    assert record.year == 2021
    assert record.authors[:2] == ["Strojan, P", "Grošelj, A"]
    assert record.journal == "Cancers"


def test_records_are_numbered_in_file_order_with_their_start_lines():
    records, _ = parse_fixture(parse_ris, "ris/embase.ris")
    assert [r.position for r in records] == [1, 2, 3, 4, 5, 6]
    assert [r.line for r in records] == [1, 51, 114, 197, 267, 317]


def test_embase_uses_t1_a1_y1_jf_and_c5_for_the_pmid():
    records, rejections = parse_fixture(parse_ris, "ris/embase.ris")
    assert len(records) == 6 and rejections == []
    first = records[0]
    assert (
        first.title
        == "Duplication cysts: Diagnosis, management, and the role of endoscopic ultrasound"
    )
    assert first.authors == ["Liu, R", "Adler, DG"]
    assert first.year == 2014
    assert first.journal == "Endoscopic Ultrasound"
    assert first.doi == "10.4103/2303-9027.138783"
    assert (first.volume, first.issue, first.pages) == ("3", "3", "152-160")
    assert first.pmid == ""
    assert records[1].pmid == "15368318"
    assert records[1].abstract


def test_scopus_takes_the_pmid_from_c2_and_journal_from_t2():
    records, rejections = parse_fixture(parse_ris, "ris/scopus.ris")
    assert len(records) == 6 and rejections == []
    assert records[0].title.startswith("Stress and the brain-gut axis in functional")
    assert records[0].journal == "Psychoneuroendocrinology"
    assert records[0].doi == "10.1016/j.psyneuen.2019.104501"
    assert records[0].authors[:2] == ["Labanski, A", "Langhorst, J"]
    assert sorted(r.pmid for r in records if r.pmid) == [
        "30704343",
        "31175206",
        "31421429",
        "31574429",
        "31627144",
    ]


def test_web_of_science_reads_continuation_lines_and_ignores_a_month_only_da():
    records, rejections = parse_fixture(parse_ris, "ris/web_of_science.txt")
    assert len(records) == 10 and rejections == []
    second = records[1]
    assert second.title.startswith("When Self-Report Trumps Science")
    assert second.year == 2016  # DA is "MAY", PY is 2016
    assert second.doi == "10.1037/law0000080"
    assert second.authors == ["Appleby, SC", "Kassin, SM"]
    assert "Total Times Cited:  56" in second.raw["N1"][0]
    assert second.pmid == ""  # AN is a WOS accession number, not a PMID


def test_zotero_export_reads_da_dates_like_2019_slashes():
    records, rejections = parse_fixture(parse_ris, "ris/pubmed_zotero.ris")
    assert len(records) == 6 and rejections == []
    assert all(r.year == 2019 for r in records)
    assert records[0].authors[2] == "Basinska, MA"
    assert records[0].journal == "Przeglad gastroenterologiczny"


def test_records_without_title_are_rejected_and_the_rest_parse():
    records, rejections = parse_fixture(parse_ris, "ris/baseline_empty_values.ris")
    assert [r.position for r in records] == [1, 3]
    assert [(r.position, r.line, r.field) for r in rejections] == [(2, 7, "TI"), (4, 18, "TI")]
    assert rejections[0].reason.startswith("record 2 (line 7): no title (TI/T1/")


def test_faulty_year_is_rejected_naming_the_field_and_value():
    records, rejections = parse_fixture(parse_ris, "ris/faulty_year.ris")
    assert records == []
    assert rejections[0].field == "PY"
    assert "'10 15'" in rejections[0].reason


def test_ovid_numbered_lines_and_hidden_identifiers():
    records, rejections = parse_fixture(parse_ris, "malformed/ovid_numbered.ris")
    first, second = records
    assert first.title == (
        "Occupational pesticide exposure and subclinical hypothyroidism among male "
        "pesticide applicators"
    )
    assert first.pmid == "28775130"  # AN with DB naming MEDLINE
    assert first.doi == "10.1136/oemed-2017-104431"  # only in M3, behind a resolver
    assert first.journal == "Occupational and environmental medicine"
    assert second.pmid == "31234567"  # Embase AN is not a PMID; the PubMed URL is
    assert second.doi == "10.1000/xyz123"  # from N1, trailing full stop dropped
    assert second.year == 2019
    assert [(r.position, r.field) for r in rejections] == [(3, "TY"), (4, "PY")]
    assert "starts with 'AU'" in rejections[0].reason


def test_broken_bytes_reject_only_their_record_naming_the_field():
    records, rejections = parse_fixture(parse_ris, "malformed/broken_encoding.ris")
    assert [r.title for r in records] == [
        "Électrochimiothérapie des cancers muqueux",
        "Über die Müdigkeit: eine Übersicht",
    ]
    assert len(rejections) == 1
    assert (rejections[0].position, rejections[0].line, rejections[0].field) == (2, 7, "AB")
    assert "U+FFFD" in rejections[0].reason


def test_a_windows_1252_file_is_decoded_as_a_whole():
    records, rejections = parse_fixture(parse_ris, "malformed/cp1252.ris")
    assert rejections == []
    assert records[0].title == "Café “au lait” and naïve patients"
    assert records[0].authors == ["Benoît, A"]


def test_a_replacement_character_already_in_the_file_rejects_its_record():
    records, rejections = parse_fixture(parse_ris, "malformed/replacement_char.ris")
    assert [r.title for r in records] == ["Fine title"]
    assert rejections[0].field == "TI"


def test_a_control_character_rejects_its_record():
    data = b"TY  - JOUR\nTI  - Bell\x07 title\nER  - \n"
    _, rejections = split(parse_ris(io.BytesIO(data)))
    assert rejections[0].field == "TI"
    assert "U+0007" in rejections[0].reason


def test_xml_given_to_the_ris_parser_is_unreadable():
    with pytest.raises(FileUnreadable, match="not a RIS file"):
        parse_fixture(parse_ris, "entrez/pubmed1.xml")


def test_an_empty_file_is_unreadable():
    with pytest.raises(FileUnreadable, match="empty"):
        list(parse_ris(io.BytesIO(b"")))


def test_the_callers_file_stays_open_after_parsing():
    with (FIXTURES / "ris/faulty_year.ris").open("rb") as handle:
        list(parse_ris(handle))
        assert not handle.closed


def test_a_doi_comes_from_a_doi_org_link_never_from_a_pdf_or_publisher_link():
    # tests/fixtures/ris/doi_links.ris: one record per way a link can look like a DOI.
    path = FIXTURES / "ris" / "doi_links.ris"
    with path.open("rb") as fileobj:
        records = [r for r in parse_ris(fileobj) if isinstance(r, ParsedRecord)]
    assert [r.doi for r in records] == [
        "",  # a Springer PDF link
        "10.1016/j.jns.2019.116500",
        "10.1000/abc123",  # a doi.org link to a PDF: the DOI without ".pdf"
        "10.1000/xyz",  # a DO field holding a file name
        "",  # a publisher's page
        "10.5555/12345678",
    ]
    assert not any(r.doi.endswith(".pdf") for r in records)


def test_a_cochrane_library_ris_export_gives_the_pmid_from_c3_and_keeps_the_cn_accession():
    # Cochrane Library's RIS writes "C3  -  PUBMED 38407106,EMBASE 643589775": the PMID was
    # lost before, so the record could not be matched with its PubMed copy.
    records, rejections = parse_fixture(parse_ris, "ris/asreview_cff_cochrane_endnote.ris")
    assert rejections == []
    assert [r.pmid for r in records] == ["21314913", "38407106", "37362617"]
    assert [r.raw["AN"] for r in records] == [["CN-00778158"], ["CN-02677909"], ["CN-02575572"]]
    # The Cochrane Library link in UR is CENTRAL's own DOI, never taken for the article's.
    assert [r.doi for r in records] == [
        "10.1186/1745-6215-12-39",
        "10.1037/dev0001710",
        "10.5093/pi2022a2",
    ]


def test_an_embase_number_in_c3_is_not_taken_for_a_pmid():
    text = b"TY  -  JOUR\nTI  -  A trial\nC3  -  EMBASE 643589775\nER  -  \n"
    records, _ = split(parse_ris(io.BytesIO(text)))
    assert records[0].pmid == ""


def test_an_embase_record_held_only_from_medline_takes_its_pmid_from_c5():
    # Embase's own RIS of the citation-file-formatting corpus: some records say only
    # "DB  - Medline"; their embase.com link says the export is Embase's, where C5 is the PMID.
    path = FIXTURES / "cff/_baseline_embase.ris"
    records, rejections = parse_fixture(parse_ris, "cff/_baseline_embase.ris")
    assert rejections == []
    expected = [fields.get("C5", [""])[0] for fields in tagged_records(path)]
    assert sum(1 for pmid in expected if pmid) == 10
    assert [r.pmid for r in records] == expected
    # Without an Embase link or database, C5 is not a PMID (other exporters use it otherwise).
    text = b"TY  - JOUR\nTI  - A trial\nC5  - 38351204\nDB  - Medline\nER  - \n"
    assert split(parse_ris(io.BytesIO(text)))[0][0].pmid == ""
