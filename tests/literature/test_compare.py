"""Which fields of a candidate duplicate pair differ (reviewapp.literature.compare): pure."""

from reviewapp.literature.compare import (
    BOTH_MISSING,
    DIFFERENT,
    FIELDS,
    ONE_MISSING,
    SAME,
    Citation,
    authors_key,
    differences,
    pages_key,
    text_key,
)

KEPT = Citation(
    title="Natalizumab discontinuation and disease activity: a <i>cohort</i> study.",
    authors=("Prosperini, L", "de Hoon, MJ", "Grošelj, J"),
    journal="Multiple Sclerosis Journal",
    year=2019,
    volume="25",
    issue="3",
    pages="1201-9",
    doi="10.1177/1352458518812345",
    pmid="30012345",
    source="PubMed search",
)


def test_the_same_citation_from_two_sources_differs_only_in_its_source():
    copy = Citation(
        title="NATALIZUMAB DISCONTINUATION AND DISEASE ACTIVITY - A COHORT STUDY",
        authors=("Prosperini, L.", "De Hoon, M. J.", "Groselj, J"),
        journal="multiple sclerosis journal.",
        year=2019,
        volume="25",
        issue="3",
        pages="pp. 1201–1209",
        doi="https://doi.org/10.1177/1352458518812345",
        pmid="PMID: 030012345",
        source="embase.ris (Embase)",
    )
    result = differences(KEPT, copy)
    assert result == {name: SAME for name in FIELDS} | {"source": DIFFERENT}


def test_a_different_year_doi_and_author_order_are_marked():
    copy = Citation(
        title=KEPT.title,
        authors=("de Hoon, MJ", "Prosperini, L", "Grošelj, J"),
        journal=KEPT.journal,
        year=2020,
        doi="10.1177/1352458519999999",
        pmid=KEPT.pmid,
        source=KEPT.source,
    )
    result = differences(KEPT, copy)
    assert result["year"] == result["doi"] == result["authors"] == DIFFERENT
    assert result["title"] == result["journal"] == result["pmid"] == SAME
    # Missing on the copy only: a gap, not a contradiction.
    assert result["volume"] == result["issue"] == result["pages"] == ONE_MISSING


def test_fields_empty_on_both_sides_are_neither_same_nor_different():
    result = differences(Citation(title="A"), Citation(title="a."))
    assert result["title"] == SAME
    assert result["doi"] == result["authors"] == result["year"] == BOTH_MISSING


def test_an_unreadable_doi_counts_as_missing():
    result = differences(Citation(doi="see full text"), Citation(doi="10.1000/xyz123"))
    assert result["doi"] == ONE_MISSING


def test_page_ranges_are_compared_with_the_end_page_written_out():
    assert pages_key("123-9") == pages_key("123–129") == "123-129"
    assert pages_key("p. 45") == "45"
    assert pages_key("e12-15") == "e12-e15"
    assert pages_key("45-45") == "45"
    assert pages_key("e0212345") == "e0212345"
    assert pages_key("") == ""


def test_authors_compare_by_surname_in_order():
    assert authors_key(["Beane Freeman, LE", "Adler, D. G."]) == ("beanefreeman", "adler")
    assert authors_key(["", "Smith, J"]) == ("smith",)


def test_text_ignores_markup_case_accents_and_punctuation():
    assert text_key("The <i>Lancet</i>  Neurology.") == "the lancet neurology"
    assert text_key("Revue Neurologique (Paris)") == text_key("revue neurologique paris")
    assert text_key(None) == ""
