"""Every export format of issue 16 imported through the import service into PostgreSQL, from its
real export file (tests/fixtures/README.md): detected, counted, and text outside records never
turned into rejected records. A PMID/DOI list is fetched through Entrez from the fake E-utilities.
"""

from datetime import date
from io import BytesIO
from pathlib import Path

import pytest

from reviewapp.literature.constants import JobStatus
from reviewapp.literature.models import Import, Record
from reviewapp.literature.parsers.idlist import query_terms, read_idlist
from reviewapp.literature.parsers.pubmed_xml import parse_pubmed_xml
from reviewapp.literature.services import import_create, import_run
from tests.conftest import membership_of
from tests.fake_eutils import EFETCH_HEAD, PMID_PLACEHOLDER, spread
from tests.literature.export_fields import (
    cochrane_records,
    csv_rows,
    ovid_expected,
    ovid_tagged_records,
    refworks_records,
    tab_rows,
    tagged_records,
    without_scopus_markup,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _import(review, user, path: Path, **options) -> Import:
    with path.open("rb") as fileobj:
        imp = import_create(
            membership=membership_of(user, review), fileobj=fileobj, file_name=path.name, **options
        )
    return import_run(import_id=imp.pk)


@pytest.mark.parametrize(
    ("name", "fmt", "imported", "rejected"),
    [
        ("bibtex/synthesisr_Scopus_bib_example.bib", "bibtex", 3, 0),
        ("bibtex/pybibx_scopus_m.bib", "bibtex", 24, 0),
        ("bibtex/pybibx_wos_m.bib", "bibtex", 29, 0),
        ("wos/synthesisr_WoS_txt_example.txt", "wos", 4, 0),
        ("wos/metaknowledge_savedrecs.txt", "wos", 32, 0),
        ("malformed/wos_tab_delimited.txt", "csv", 3, 0),
        ("wos/scientopy_wos_tab_delimited.txt", "csv", 12, 0),
        ("scopus/metaknowledge_scopus_testing.csv", "csv", 17, 0),
        ("ovid/zotero_ovid_biosis.txt", "ovid", 4, 0),
        ("ovid/zotero_ovid_journals.txt", "ovid", 4, 0),
        ("ris/synthesisr_Ovid_ris_example.ris", "ris", 4, 0),
        ("malformed/ovid_trailing_text.ris", "ris", 2, 0),
        ("ris/asreview_ovid_zotero.ris", "ris", 6, 0),
        ("ris/asreview_proquest.ris", "ris", 6, 0),
        ("malformed/ebsco_ris.ris", "ris", 2, 0),
        ("ris/synthesisr_ASP_ris_example.ris", "ris", 4, 0),
        ("ris/citesource_ovid_medline_central.ris", "ris", 6, 0),
        ("ris/rispy_example_extraneous_data.ris", "ris", 2, 0),
        ("malformed/refworks_tagged.txt", "refworks", 2, 0),
        ("refworks/citationjs_refworks_tagged.txt", "refworks", 6, 0),
        ("malformed/cochrane_central.txt", "cochrane", 2, 1),
        ("cochrane/bibliometrix_python_central.txt", "cochrane", 12, 0),
        ("ris/asreview_cff_cochrane_endnote.ris", "ris", 3, 0),
        ("ris/asreview_cff_cochrane_refman.ris", "ris", 3, 0),
        ("csv/asreview_cff_cochrane.csv", "csv", 3, 0),
    ],
)
def test_each_format_imports_through_the_service_with_the_right_counts(
    review, owner, name, fmt, imported, rejected
):
    imp = _import(review, owner, FIXTURES / name)
    assert imp.status == JobStatus.DONE, imp.error
    assert imp.format == fmt  # detected, not given
    assert (imp.count_read, imp.count_rejected) == (imported + rejected, rejected)
    # Duplicates inside one file (Scopus and WoS BibTeX repeat no record) are still imported.
    assert imp.count_imported == imported
    assert Record.objects.filter(source_import=imp).count() == imported
    for rejection in imp.rejections:
        assert rejection["reason"].startswith(f"record {rejection['position']} (line ")


def test_an_ovid_export_with_text_after_each_record_imports_each_record_once(review, owner):
    imp = _import(review, owner, FIXTURES / "malformed" / "ovid_trailing_text.ris")
    assert (imp.count_imported, imp.count_rejected, imp.rejections) == (2, 0, [])
    titles = list(Record.objects.filter(source_import=imp).values_list("title", flat=True))
    assert len(titles) == len(set(titles)) == 2


def test_a_pmid_list_is_fetched_from_pubmed_and_unknown_lines_rejected(
    review, owner, fake_eutils, settings, tmp_path
):
    settings.ENTREZ_BASE_URL = fake_eutils.base_url
    path = tmp_path / "pmids.txt"
    # The fake server numbers the first scripted search's records from 31,000,000.
    path.write_text("31000000\n31000001\nPMID: 31000002\n\n99999999\nnot-an-id\n")
    with path.open() as text:
        (term,) = query_terms(read_idlist(text))
    fake_eutils.script_search(term, spread(3, date(2020, 1, 1), date(2020, 1, 3)))

    imp = _import(review, owner, path)

    assert imp.status == JobStatus.DONE, imp.error
    assert imp.format == "idlist"
    assert (imp.count_imported, imp.count_rejected) == (3, 2)
    assert sorted(Record.objects.filter(source_import=imp).values_list("pmid", flat=True)) == [
        "31000000",
        "31000001",
        "31000002",
    ]
    reasons = [r["reason"] for r in imp.rejections]
    assert reasons == [
        "record 4 (line 5): PMID 99999999 was not found in PubMed",
        "record 5 (line 6): 'not-an-id' is neither a PMID (digits) nor a DOI (10.xxxx/...)",
    ]
    assert [r.utility for r in fake_eutils.requests][:2] == ["esearch", "efetch"]


def test_a_doi_list_is_fetched_from_pubmed_by_doi_and_unknown_dois_rejected(
    review, owner, fake_eutils, settings, tmp_path
):
    settings.ENTREZ_BASE_URL = fake_eutils.base_url
    # The fake serves its recorded articles in turn; the second and third carry these DOIs
    # (read from the recordings, not typed here), the first has none.
    served = [
        record.doi
        for template in fake_eutils._templates[:3]
        for record in parse_pubmed_xml(
            BytesIO(
                EFETCH_HEAD
                + b"<PubmedArticleSet>"
                + template.replace(PMID_PLACEHOLDER, b"1")
                + b"</PubmedArticleSet>"
            )
        )
    ]
    assert served[0] == "" and served[1] and served[2]
    path = tmp_path / "dois.txt"
    # The forms a reference list really holds: a bare DOI, "doi:" and a doi.org link (upper case).
    path.write_text(
        f"{served[1]}\ndoi: {served[2].upper()}\nhttps://doi.org/10.9999/not.in.pubmed\n"
    )
    with path.open() as text:
        (term,) = query_terms(read_idlist(text))
    assert f'"{served[1]}"[doi]' in term
    fake_eutils.script_search(term, spread(3, date(2020, 1, 1), date(2020, 1, 3)))

    imp = _import(review, owner, path)

    assert imp.status == JobStatus.DONE, imp.error
    assert imp.format == "idlist"
    # The record without a DOI matched the query loosely and was not asked for: not imported.
    assert (imp.count_imported, imp.count_rejected) == (2, 1)
    assert sorted(Record.objects.filter(source_import=imp).values_list("doi", flat=True)) == sorted(
        served[1:3]
    )
    assert [r["reason"] for r in imp.rejections] == [
        "record 3 (line 3): DOI 10.9999/not.in.pubmed was not found in PubMed"
    ]


def test_a_pmid_list_when_pubmed_fails_imports_nothing_and_says_why(
    review, owner, fake_eutils, settings, tmp_path
):
    settings.ENTREZ_BASE_URL = fake_eutils.base_url
    path = tmp_path / "pmids.txt"
    path.write_text("31000000\n")  # no search scripted: the fake answers HTTP 400
    imp = _import(review, owner, path)
    assert imp.status == JobStatus.FAILED
    assert "PubMed could not be asked for the listed records" in imp.error
    assert not Record.objects.exists()


def test_a_real_ebscohost_ris_export_is_stored_with_the_fields_the_file_holds(review, owner):
    path = FIXTURES / "ris/synthesisr_ASP_ris_example.ris"
    imp = _import(review, owner, path)
    assert imp.status == JobStatus.DONE, imp.error
    assert imp.count_rejected == 0, imp.rejections
    stored = list(Record.objects.filter(source_import=imp).order_by("number"))
    expected = tagged_records(path)
    assert len(stored) == len(expected) == 4
    for record, fields in zip(stored, expected, strict=True):
        assert record.title == fields["T1"][0]
        assert len(record.authors) == len(fields["AU"])
        assert record.year == int(fields["Y1"][0][:4])
        assert record.doi == fields.get("L3", [""])[0]
        assert record.abstract == fields["AB"][0]
        assert record.pmid == ""


def test_a_real_scopus_csv_export_is_stored_with_the_fields_the_file_holds(review, owner):
    path = FIXTURES / "scopus/metaknowledge_scopus_testing.csv"
    imp = _import(review, owner, path)
    assert imp.status == JobStatus.DONE, imp.error
    assert imp.count_rejected == 0, imp.rejections
    stored = list(Record.objects.filter(source_import=imp).order_by("number"))
    rows = csv_rows(path)
    assert len(stored) == len(rows) == 17
    for record, row in zip(stored, rows, strict=True):
        assert record.title == without_scopus_markup(row["Title"])
        assert record.year == int(row["Year"])
        assert record.doi == row["DOI"].lower()
        assert record.pmid == row["PubMed ID"]
        assert " ".join(record.abstract.split()) == without_scopus_markup(row["Abstract"])
        assert len(record.authors) == len(row["Authors"].split(", "))


def test_a_real_ovid_ris_export_is_stored_with_pmids_dois_and_every_record(review, owner):
    path = FIXTURES / "ris/citesource_ovid_medline_central.ris"
    imp = _import(review, owner, path)
    assert imp.status == JobStatus.DONE, imp.error
    assert imp.count_rejected == 0, imp.rejections
    stored = list(Record.objects.filter(source_import=imp).order_by("number"))
    expected = [ovid_expected(fields) for fields in tagged_records(path)]
    assert len(stored) == len(expected) == 6
    for record, want in zip(stored, expected, strict=True):
        assert (record.title, record.year) == (want["title"], want["year"])
        assert (record.pmid, record.doi) == (want["pmid"], want["doi"])
        assert len(record.authors) == len(want["surnames"])
        assert " ".join(record.abstract.split()) == want["abstract"]


def test_a_real_web_of_science_tab_delimited_export_is_stored_column_by_column(review, owner):
    path = FIXTURES / "wos/scientopy_wos_tab_delimited.txt"
    imp = _import(review, owner, path)
    assert imp.status == JobStatus.DONE, imp.error
    assert (imp.format, imp.count_rejected) == ("csv", 0)
    stored = list(Record.objects.filter(source_import=imp).order_by("number"))
    rows = tab_rows(path)
    assert len(stored) == len(rows) == 12
    for record, row in zip(stored, rows, strict=True):
        assert record.title == row["TI"]
        assert record.year == int(row["PY"])
        assert record.doi == row["DI"].lower()  # "10.1109/ICRERA52334..." stored lower-case
        assert record.pmid == row["PM"]
        assert record.abstract == row["AB"]
        assert len(record.authors) == len(row["AU"].split("; "))
    assert stored[4].doi == "10.1109/icrera52334.2021.9598622"


def test_real_ovid_tagged_exports_are_stored_with_years_dois_and_clean_author_names(review, owner):
    stored = []
    for name in ("ovid/zotero_ovid_journals.txt", "ovid/zotero_ovid_biosis.txt"):
        imp = _import(review, owner, FIXTURES / name)
        assert imp.status == JobStatus.DONE, imp.error
        assert (imp.format, imp.count_rejected) == ("ovid", 0)
        records = list(Record.objects.filter(source_import=imp).order_by("number"))
        expected = ovid_tagged_records(FIXTURES / name)
        # Journals@Ovid's appended article type ("  [Article]") is dropped from the title.
        assert [r.title for r in records] == [f["TI"][0].split("  [")[0] for f in expected]
        stored += records
    assert [r.year for r in stored] == [2010, 2011, 2010, 2011, 2004, 2004, 2004, 2004]
    assert [r.doi for r in stored[:4]] == [
        "10.1249/fit.0b013e3181c6723d",
        "10.1093/abbs/gmr050",
        "",
        "10.1097/dad.0b013e31820d9c0e",
    ]
    assert stored[1].authors[:2] == ["Zhang, W", "Ding, W"]
    assert stored[5].authors == ["Werner, SM", "Nordheim, EV", "Raffa, KF"]


def test_real_refworks_tagged_records_are_stored_without_a_doi_from_a_link(review, owner):
    path = FIXTURES / "refworks/citationjs_refworks_tagged.txt"
    imp = _import(review, owner, path)
    assert imp.status == JobStatus.DONE, imp.error
    assert (imp.format, imp.count_rejected) == ("refworks", 0)
    stored = list(Record.objects.filter(source_import=imp).order_by("number"))
    expected = refworks_records(path)
    assert [r.title for r in stored] == [f["T1"][0] for f in expected]
    assert [r.year for r in stored] == [2002, 2000, 2002, 2001, 2002, None]
    assert {r.doi for r in stored} == {""}
    assert stored[0].journal == "Personality & Individual Differences"
    assert stored[0].authors == ["Allan, S", "Gilbert, P"]


@pytest.mark.parametrize(
    ("name", "author_tag", "title_tag", "abstract_tag"),
    [
        ("ris/asreview_cff_cochrane_endnote.ris", "AU", "TI", "AB"),
        ("ris/asreview_cff_cochrane_refman.ris", "A1", "T1", "N2"),
    ],
)
def test_a_real_cochrane_library_ris_export_is_stored_with_its_pmids_dois_and_cn_numbers(
    review, owner, name, author_tag, title_tag, abstract_tag
):
    # Cochrane Library, "Export selected citation(s)", RIS (EndNote) and RIS (Reference Manager):
    # each record behind a "Record #3 of 18 / Provider: John Wiley & Sons" banner.
    path = FIXTURES / name
    imp = _import(review, owner, path)
    assert imp.status == JobStatus.DONE, imp.error
    assert (imp.format, imp.count_rejected, imp.warnings) == ("ris", 0, [])
    stored = list(Record.objects.filter(source_import=imp).order_by("number"))
    expected = tagged_records(path)
    assert len(stored) == len(expected) == 3
    for record, fields in zip(stored, expected, strict=True):
        assert record.title == fields[title_tag][0]
        assert record.authors == fields[author_tag]
        assert record.year == int(fields["PY"][0])
        assert record.journal == fields["JA"][0]
        assert record.doi == fields["DO"][0].lower()
        # A structured abstract (BACKGROUND: ... METHODS/DESIGN: ...) is stored in paragraphs.
        assert " ".join(record.abstract.split()) == fields[abstract_tag][0]
        # "PUBMED 38407106,EMBASE 643589775": the PubMed entry is the PMID, the rest is not.
        assert record.pmid == fields["C3"][0].split(",")[0].removeprefix("PUBMED ")
        assert record.raw["AN"] == fields["AN"]
    assert [r.raw["AN"][0] for r in stored] == ["CN-00778158", "CN-02677909", "CN-02575572"]
    assert stored[2].authors == ["Arruabarrena, I", "Rivas, GR", "Cañas, M", "Paúl, J"]


def _surname_initials(name: str) -> str:
    surname, initials = name.rsplit(" ", 1)
    return f"{surname}, {initials.replace('-', '')}"


def test_a_real_cochrane_library_plain_text_export_is_stored_with_its_pmids_dois_and_cn_numbers(
    review, owner
):
    # Cochrane Library CENTRAL, plain text: "Record #1 of 151" then "ID: CN-...", "AU: Levin G",
    # "PM: PUBMED 36631152", "XR: EMBASE ...", "DOI: ...", "US: <the record's link>". Records
    # 1-12 of a real export of 151, so the banners promise more records than the file holds.
    path = FIXTURES / "cochrane/bibliometrix_python_central.txt"
    imp = _import(review, owner, path)
    assert imp.status == JobStatus.DONE, imp.error
    assert (imp.format, imp.count_rejected, imp.warnings) == ("cochrane", 0, [])
    stored = list(Record.objects.filter(source_import=imp).order_by("number"))
    expected = cochrane_records(path)
    assert len(stored) == len(expected) == 12
    for record, fields in zip(stored, expected, strict=True):
        assert record.title == fields["TI"][0]
        assert record.year == int(fields["YR"][0])
        assert record.journal == fields["SO"][0]
        # "AU: Zhao T-M" is stored the project's way, "Zhao, TM": surname, initials run together.
        assert record.authors == [_surname_initials(name) for name in fields["AU"]]
        assert record.doi == fields.get("DOI", [""])[0].lower()
        # PM holds the PubMed entry ("PUBMED 36631152"); XR's Embase number is no PMID.
        assert record.pmid == fields.get("PM", [""])[0].removeprefix("PUBMED ")
        assert " ".join(record.abstract.split()) == fields.get("AB", [""])[0]
        assert record.raw["ID"] == fields["ID"]
    # The shapes the excerpt holds, checked against its own lines: no PM and no DOI (record 2,
    # EMBASE only; record 11, neither), a DOI without PM (record 10), no abstract (record 4).
    assert [(r.pmid, r.doi) for r in (stored[1], stored[9], stored[10])] == [
        ("", ""),
        ("", "10.1016/j.ygyno.2020.05.546"),
        ("", ""),
    ]
    assert (stored[0].pmid, stored[0].doi) == ("36631152", "10.1136/ijgc-2022-004114")
    assert stored[0].authors == ["Levin, G", "Harrison, R", "Meyer, R", "Ramirez, PT"]
    assert stored[1].authors == ["Cai, Y", "Zhao, TM", "Wang, R"]
    assert stored[3].abstract == ""
    assert (stored[6].volume, stored[6].issue, stored[6].pages) == ("188", "3", "913\u2010919")
    assert [r.raw["ID"][0] for r in stored[:3]] == ["CN-02521950", "CN-01724674", "CN-02390172"]


def test_a_real_cochrane_library_csv_export_is_stored_like_its_ris_export(review, owner):
    path = FIXTURES / "csv/asreview_cff_cochrane.csv"
    imp = _import(review, owner, path)
    assert imp.status == JobStatus.DONE, imp.error
    assert (imp.format, imp.count_rejected) == ("csv", 0)
    stored = list(Record.objects.filter(source_import=imp).order_by("number"))
    rows = csv_rows(path)
    assert len(stored) == len(rows) == 3
    for record, row in zip(stored, rows, strict=True):
        assert record.title == row["Title"]
        assert record.authors == row["Author(s)"].split("; ")
        assert record.year == int(row["Year"])
        assert record.journal == row["Source"]
        assert record.doi == row["DOI"].lower()
        assert record.pmid == row["PubMed ID"].removeprefix("PUBMED ")
        assert record.raw["CENTRAL ID"] == row["CENTRAL ID"]
    ris = _import(review, owner, FIXTURES / "ris/asreview_cff_cochrane_endnote.ris")
    from_ris = Record.objects.filter(source_import=ris).order_by("number")
    assert [(r.title, r.pmid, r.doi, r.journal, r.year) for r in from_ris] == [
        (r.title, r.pmid, r.doi, r.journal, r.year) for r in stored
    ]
