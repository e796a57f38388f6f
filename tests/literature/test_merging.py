"""The pure merge rule: which value of each field a cluster keeps, and from which record."""

import pytest

from reviewapp.literature.merging import CHOSEN, FIRST, LONGEST, UNION, Source, merge


def _source(id, number, **values):
    return Source(id=id, number=number, values=values)


PRIMARY = _source(
    10,
    3,
    title="Natalizumab withdrawal",
    authors=["Prosperini L", "Kinkel RP"],
    doi="",
    pmid="31000001",
    abstract="Short.",
    abstract_sections=[],
    keywords=["natalizumab", "Relapse"],
    mesh_terms=["Multiple Sclerosis"],
    sources=["PubMed"],
)
EMBASE = _source(
    11,
    7,
    title="Natalizumab withdrawal in RRMS: a meta-analysis",
    authors=["Prosperini L", "Kinkel RP", "Giovannoni G"],
    doi="10.1000/xyz",
    pmid="",
    abstract="A much longer abstract with background and methods.",
    abstract_sections=[{"label": "BACKGROUND", "text": "A much longer abstract"}],
    keywords=["relapse", "rebound"],
    mesh_terms=["Natalizumab", "multiple  sclerosis"],
    sources=["Embase"],
)
SCOPUS = _source(12, 5, title="", doi="10.1000/other", keywords=["MRI"], sources=["Scopus"])


def test_the_primary_keeps_its_own_citation_fields_and_gains_what_it_lacks():
    result = merge([EMBASE, PRIMARY, SCOPUS], primary_id=10)
    assert result.fields["title"].value == "Natalizumab withdrawal"
    assert result.fields["title"].origins == (10,) and result.fields["title"].rule == FIRST
    # The DOI the primary lacks comes from the first record that has one, by record number:
    # record 5 (Scopus) comes before record 7 (Embase).
    assert result.fields["doi"].value == "10.1000/other"
    assert result.fields["doi"].origins == (12,)
    assert result.fields["pmid"].value == "31000001"


def test_the_longest_abstract_wins_and_brings_its_sections():
    result = merge([PRIMARY, EMBASE], primary_id=10)
    assert result.fields["abstract"].value == EMBASE.values["abstract"]
    assert result.fields["abstract"].rule == LONGEST
    assert result.values()["abstract_sections"] == EMBASE.values["abstract_sections"]
    assert result.fields["authors"].value == EMBASE.values["authors"]


def test_terms_and_sources_are_the_union_each_term_once_primary_first():
    result = merge([SCOPUS, EMBASE, PRIMARY], primary_id=10)
    assert result.fields["keywords"].value == ["natalizumab", "Relapse", "MRI", "rebound"]
    assert result.fields["keywords"].origins == (10, 12, 11)
    assert result.fields["mesh_terms"].value == ["Multiple Sclerosis", "Natalizumab"]
    assert result.fields["sources"].value == ["PubMed", "Scopus", "Embase"]
    assert result.fields["sources"].rule == UNION


def test_ties_go_to_the_primary_then_the_lower_number():
    a = _source(1, 9, abstract="same length")
    b = _source(2, 1, abstract="same_length")
    c = _source(3, 4, abstract="same-length")
    assert merge([a, b, c], primary_id=1).fields["abstract"].origins == (1,)
    assert merge([a, b, c], primary_id=3).fields["abstract"].origins == (3,)
    d = _source(4, 2, abstract="")
    assert merge([a, b, c, d], primary_id=4).fields["abstract"].origins == (2,)


def test_a_reviewer_choice_takes_that_records_value_even_if_poorer():
    result = merge([PRIMARY, EMBASE], primary_id=10, choices={"abstract": 10, "keywords": 11})
    assert result.fields["abstract"].value == "Short."
    assert result.fields["abstract"].rule == CHOSEN
    assert result.values()["abstract_sections"] == []
    assert result.fields["keywords"].value == ["relapse", "rebound"]


def test_a_choice_outside_the_cluster_is_refused_not_ignored():
    with pytest.raises(ValueError, match="Record 99 is not in the cluster"):
        merge([PRIMARY, EMBASE], primary_id=10, choices={"doi": 99})
    with pytest.raises(ValueError, match="primary"):
        merge([EMBASE], primary_id=10)


def test_the_merge_does_not_change_the_records_it_reads():
    before = {k: list(v) if isinstance(v, list) else v for k, v in PRIMARY.values.items()}
    merge([PRIMARY, EMBASE, SCOPUS], primary_id=10)
    assert dict(PRIMARY.values) == before
