"""The asreview/citation-file-formatting corpus (tests/fixtures/cff/, tests/fixtures/README.md):
real exports of a few small sets of records from databases, reference managers and screening
tools, each imported through the import service with its format detected from the content.

Three sets of records, as the files show (Datasets/README.md only says how the first was made):
the 100 systematic reviews of a Lens.org collection (2021: Lens RIS and CSV, the same as TSV, and
Citavi, EndNote and RefWorks (tab-delimited) exports of them); the 10 records of an Embase search "dinosaur:ti"
(2024: Embase RIS and CSV, the CSV saved again by Excel, and the records as EndNote, Mendeley,
RefWorks, Zotero, Rayyan, EPPI-Reviewer and abstrackr export them; Covidence's 10 share 8 of them);
and each search engine's own "dinosaur" search (CINAHL through EBSCOhost, ERIC and PsycINFO through
Ovid, Google Scholar, MDPI, OpenAlex, PubMed, Scopus, Web of Science, Cochrane Library).

Every expectation is read from the file itself by `export_fields`, never from the app's parsers:
the records a file holds (its ER lines, PMID lines or table rows), each record's title, and its
DOI from the export's DOI field only. No record in the corpus lacks a title, so none may be
rejected. Exports without a DOI field (Google Scholar, abstrackr) are only checked for titles.
"""

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from reviewapp.literature.constants import JobStatus
from reviewapp.literature.matching import title_key
from reviewapp.literature.models import Record
from reviewapp.literature.services import import_create, import_run
from tests.conftest import membership_of
from tests.literature.export_fields import medline_records, table_rows, tagged_records

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@dataclass(frozen=True)
class Export:
    path: str
    format: str
    records: int  # as counted in the file: its ER lines, PMID lines or table rows
    title: str  # the export's own name for the title field
    doi: str = ""  # the export's own DOI field; "" when it has none
    delimiter: str = ","

    def read(self) -> list[tuple[str, str]]:
        """(title, DOI) of each record as the file writes them, the DOI from the DOI field only."""
        path = FIXTURES / self.path
        if self.format == "medline":
            return [
                (fields[self.title][0], _medline_doi(fields)) for fields in medline_records(path)
            ]
        if self.format == "ris":
            return [
                (fields[self.title][0], _doi_field(fields.get(self.doi, [])))
                for fields in tagged_records(path)
            ]
        return [
            (row[self.title], _doi_field([row[self.doi]] if self.doi else []))
            for row in table_rows(path, self.title, self.delimiter)
        ]


_DOI_LINK = re.compile(r"^https?://(?:dx\.)?doi\.org/", re.IGNORECASE)


def _doi_field(values: list[str]) -> str:
    """The DOI a DOI field holds, lower-cased (DOIs are case-insensitive), without a doi.org link
    around it. Rayyan's RIS runs the next tag into the DO line ("DO  - 10.1038/x     LK  - ..."),
    so only the first word counts. ERIC through Ovid has no DO tag: its L1 holds doi.org links."""
    for value in values:
        words = value.split()
        if words and (words[0].startswith("10.") or _DOI_LINK.match(words[0])):
            return _DOI_LINK.sub("", words[0]).lower()
    return ""


def _medline_doi(fields: dict[str, list[str]]) -> str:
    for value in fields.get("LID", []) + fields.get("AID", []):
        if value.endswith(" [doi]"):
            return value.removesuffix(" [doi]").lower()
    return ""


EXPORTS = [
    # The Lens.org collection of 100 systematic reviews.
    Export("cff/_baseline.ris", "ris", 100, "TI", "DO"),
    Export("cff/_baseline.csv", "csv", 100, "Title", "DOI"),
    Export("cff/_baseline.tsv", "csv", 100, "Title", "DOI", "\t"),
    Export("cff/_baseline_citavi.ris", "ris", 100, "T1", "DO"),
    Export("cff/_baseline_endnote.txt", "ris", 100, "TI", "DO"),
    Export("cff/_baseline_refworks.tsv", "csv", 100, "Title Primary", "DOI", "\t"),
    # Embase "dinosaur:ti", 10 records, and the tools they went through.
    Export("cff/_baseline_embase.ris", "ris", 10, "T1", "DO"),
    Export("cff/_baseline_embase.csv", "csv", 10, "Title", "DOI"),
    Export("cff/_baseline_excel.csv", "csv", 10, "Title", "DOI", ";"),
    Export("cff/_baseline_endnote.ris", "ris", 10, "TI", "DO"),
    Export("cff/_baseline_mendeley.ris", "ris", 10, "TI", "DO"),
    Export("cff/_baseline_refworks.ris", "ris", 10, "T1", "DO"),
    Export("cff/_baseline_zotero.ris", "ris", 10, "TI", "DO"),
    Export("cff/_baseline_zotero.csv", "csv", 10, "Title", "DOI"),
    Export("cff/_baseline_rayyan.ris", "ris", 10, "TI", "DO"),
    Export("cff/_baseline_rayyan.csv", "csv", 10, "title", "doi"),
    Export("cff/_baseline_eppireviewer.ris", "ris", 10, "T1", "DO"),
    # abstrackr's export has no DOI column (only "pubmed id", 0 for each of these).
    Export("cff/_baseline_abstrackr.csv", "csv", 10, "title"),
    Export("cff/_baseline_covidence.csv", "csv", 10, "Title", "DOI"),
    Export("cff/_baseline_covidence_endnote.ris", "ris", 10, "TI", "DO"),
    Export("cff/_baseline_covidence_mendeley.ris", "ris", 10, "T1", "DO"),
    Export("cff/_baseline_covidence_refworks.ris", "ris", 10, "T1", "DO"),
    Export("cff/_baseline_covidence_zotero.ris", "ris", 10, "TI", "DO"),
    # Each search engine's own search.
    Export("cff/_baseline_cinahl.ris", "ris", 9, "T1", "L3"),  # EBSCOhost: the DOI in L3
    Export("cff/_baseline_cinahl.csv", "csv", 10, "Article Title", "DOI"),
    Export("cff/_baseline_eric_ovid.ris", "ris", 10, "T1", "L1"),  # doi.org links in L1
    Export("cff/_baseline_psychInfo_ovid.ris", "ris", 10, "T1", "DO"),
    # Google Scholar exports no DOI.
    Export("cff/_baseline_googlescholar.ris", "ris", 10, "T1"),
    Export("cff/_baseline_googlescholar.csv", "csv", 10, "Title"),
    Export("cff/_baseline_mdpi.ris", "ris", 11, "TI", "DO"),
    Export("cff/_baseline_openalex.ris", "ris", 9, "TI", "DO"),
    Export("cff/_baseline_openalex.csv", "csv", 9, "title", "doi"),
    Export("cff/_baseline_pubmed.ris", "medline", 50, "TI"),  # "PubMed format" despite .ris
    Export("cff/_baseline_pubmed.csv", "csv", 10, "Title", "DOI"),
    Export("cff/_baseline_scopus.ris", "ris", 10, "TI", "DO"),
    Export("cff/_baseline_scopus.csv", "csv", 10, "Title", "DOI"),
    Export("cff/_baseline_webofscience.ris", "ris", 10, "TI", "DO"),
    Export("ris/asreview_cff_cochrane_endnote.ris", "ris", 3, "TI", "DO"),
    Export("ris/asreview_cff_cochrane_refman.ris", "ris", 3, "T1", "DO"),
    Export("csv/asreview_cff_cochrane.csv", "csv", 3, "Title", "DOI"),
]

# Where an export's own title differs from every other export of the same DOI, so that no
# parser could make them agree. Web of Science dropped the italics of "<i>Spinosaurus</i> is" and
# the space with them: "Spinosaurusis not an aquatic dinosaur" (PubMed: "Spinosaurus is not ...").
TITLE_DIFFERS_IN_EXPORT = {("cff/_baseline_webofscience.ris", "10.7554/elife.80092")}


def test_every_file_of_the_corpus_is_tested():
    tested = {export.path for export in EXPORTS}
    assert {f"cff/{path.name}" for path in (FIXTURES / "cff").iterdir()} <= tested


@cache
def _corpus() -> dict[str, list[tuple[str, str]]]:
    """Each export's (title key, DOI) per record, from the files alone."""
    corpus = {}
    for export in EXPORTS:
        corpus[export.path] = [(title_key(title), doi) for title, doi in export.read()]
    return corpus


@cache
def _dois_by_title() -> dict[str, set[str]]:
    """The DOIs the exports' DOI fields give each title, leaving out a title two publications
    share within one export (Lens: a conference abstract and the article of the same name)."""
    dois: dict[str, set[str]] = defaultdict(set)
    shared: set[str] = set()
    for records in _corpus().values():
        seen: dict[str, str] = {}
        for key, doi in records:
            if key in seen and doi and seen[key] and seen[key] != doi:
                shared.add(key)
            seen.setdefault(key, doi)
            if doi:
                dois[key].add(doi)
    return {key: found for key, found in dois.items() if key not in shared}


@cache
def _titles_by_doi() -> dict[str, set[str]]:
    titles: dict[str, set[str]] = defaultdict(set)
    for path, records in _corpus().items():
        for key, doi in records:
            if doi and (path, doi) not in TITLE_DIFFERS_IN_EXPORT:
                titles[doi].add(key)
    return titles


def _import(review, owner, export):
    """The export imported through the services as a user's upload, its format detected."""
    path = FIXTURES / export.path
    with path.open("rb") as fileobj:
        imp = import_create(
            membership=membership_of(owner, review), fileobj=fileobj, file_name=path.name
        )
    return import_run(import_id=imp.pk)


@pytest.mark.parametrize("export", EXPORTS, ids=[export.path for export in EXPORTS])
def test_each_export_imports_every_record_with_its_own_title_and_doi(review, owner, export):
    expected = _corpus()[export.path]
    assert len(expected) == export.records  # the count stated above is the file's own
    imp = _import(review, owner, export)

    assert imp.status == JobStatus.DONE, imp.error
    assert imp.format == export.format  # detected, not given
    assert imp.rejections == []
    assert (imp.count_read, imp.count_imported) == (export.records, export.records)
    stored = list(Record.objects.filter(source_import=imp).order_by("source_position"))
    assert len(stored) == export.records
    for record, (key, doi) in zip(stored, expected, strict=True):
        where = f"{export.path} record {record.source_position}"
        assert title_key(record.title) == key, where
        if doi:
            assert record.doi == doi, where


@pytest.mark.parametrize("export", EXPORTS, ids=[export.path for export in EXPORTS])
def test_each_export_gives_a_publication_the_doi_and_title_the_others_give_it(
    review, owner, export
):
    imp = _import(review, owner, export)
    assert imp.status == JobStatus.DONE, imp.error
    dois_by_title, titles_by_doi = _dois_by_title(), _titles_by_doi()
    compared = 0
    for record in Record.objects.filter(source_import=imp).order_by("source_position"):
        where = f"{export.path} record {record.source_position}"
        key = title_key(record.title)
        if export.doi and dois_by_title.get(key):
            # Every export that carries this title in a DOI field gives it one DOI, and so do we.
            assert {record.doi} == dois_by_title[key], where
            compared += 1
        if record.doi and (export.path, record.doi) not in TITLE_DIFFERS_IN_EXPORT:
            assert titles_by_doi.get(record.doi, {key}) == {key}, where
    if export.doi:
        assert compared, f"{export.path}: no record compared"
