"""MEDLINE (.nbib) parser against Biopython's PubMed-format files and a hand-broken variant."""

import pytest

from reviewapp.literature.parsers import FileUnreadable, parse_medline
from tests.literature.helpers import parse_fixture


def test_single_record_file_reads_title_authors_and_year():
    records, rejections = parse_fixture(parse_medline, "medline/pubmed_result1.txt")
    assert rejections == []
    (record,) = records
    assert record.pmid == "12230038"
    assert record.title == "The Bio* toolkits--a brief overview."
    assert record.authors == ["Mangalam, H"]
    assert record.year == 2002
    assert record.journal == "Briefings in bioinformatics"
    assert (record.volume, record.issue, record.pages) == ("3", "3", "296-302")
    assert "*Software" not in record.mesh_terms and "Software" in record.mesh_terms
    assert record.abstract.startswith("Bioinformatics research is often difficult")


def test_four_records_with_lines_dois_pmcid_and_structured_abstracts():
    records, rejections = parse_fixture(parse_medline, "medline/pubmed_result2.txt")
    assert rejections == []
    assert [r.pmid for r in records] == ["16403221", "16377612", "14871861", "14630660"]
    assert [r.line for r in records] == [2, 67, 127, 192]
    first = records[0]
    assert first.doi == "10.1186/1471-2105-7-10"
    assert first.pmcid == "PMC1373603"
    assert first.authors == ["Casbon, JA", "Crooks, GE", "Saqi, MA"]
    assert [s.label for s in first.abstract_sections] == ["BACKGROUND", "RESULTS", "CONCLUSION"]
    assert first.abstract.startswith("BACKGROUND: Benchmarking algorithms")
    assert "\n\nRESULTS: We have designed" in first.abstract
    assert records[2].authors[0] == "de Hoon, MJ"


def test_a_stray_line_and_a_missing_title_reject_only_their_records():
    records, rejections = parse_fixture(parse_medline, "malformed/medline_broken.txt")
    assert [r.pmid for r in records] == ["12230038"]
    assert [(r.position, r.line, r.field) for r in rejections] == [(2, 6, ""), (3, 11, "TI")]
    assert "line 8 is neither" in rejections[0].reason
    assert rejections[1].reason == "record 3 (line 11): no title (TI/BTI/TT are all empty)"


def test_ris_given_to_the_medline_parser_is_unreadable():
    with pytest.raises(FileUnreadable, match="not a MEDLINE"):
        parse_fixture(parse_medline, "ris/scopus.ris")
