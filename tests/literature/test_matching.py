"""Duplicate matching: tiers, guards against false matches, primaries, and blocking."""

import random

import pytest

from reviewapp.literature import matching
from reviewapp.literature.matching import (
    DuplicateIndex,
    DuplicateLink,
    MatchRecord,
    author_key,
    find_duplicates,
    title_key,
)
from reviewapp.literature.parsers import parse_csv, parse_pubmed_xml, parse_ris
from reviewapp.literature.parsers.normalise import surname_of
from tests.literature.helpers import parse_fixture

TITLE = "Occupational pesticide exposure and subclinical hypothyroidism among male pesticide applicators"


def as_match(record_id, parsed):
    """The tuple an importer would build from a ParsedRecord."""
    surname = surname_of(parsed.authors[0]) if parsed.authors else ""
    return MatchRecord(record_id, parsed.pmid, parsed.doi, parsed.title, parsed.year, surname)


def test_title_key_drops_case_punctuation_markup_and_diacritics():
    assert title_key("Électro-chimiothérapie: <i>in vivo</i> CO₂ — a REVIEW.") == (
        "electro chimiotherapie in vivo co2 a review"
    )


def test_author_key_ignores_spaces_accents_and_initials():
    assert author_key("Beane Freeman, LE") == "beanefreeman"
    assert author_key("Grošelj") == "groselj"


def test_same_pmid_is_a_duplicate_of_the_lowest_id():
    links = find_duplicates(
        [MatchRecord(1, "PMID: 123", "", "A", 2001, "")], [(7, "123", "", "B", 2003, "")]
    )
    assert links == [DuplicateLink(7, 1, "pmid", 100.0)]


def test_doi_with_other_case_and_resolver_prefix_matches():
    existing = [MatchRecord(1, "", "10.1136/oemed-2017-104431", TITLE, 2018, "Lerro")]
    new = [MatchRecord(2, "", "https://doi.org/10.1136/OEMED-2017-104431", TITLE.upper(), 2017, "")]
    assert find_duplicates(existing, new) == [DuplicateLink(2, 1, "doi", 100.0)]


def test_title_with_other_punctuation_and_case_matches_on_title_year_author():
    existing = [MatchRecord(1, "", "", TITLE + ".", 2018, "Lerro")]
    new = [
        MatchRecord(
            2,
            "",
            "",
            "OCCUPATIONAL pesticide-exposure and subclinical hypothyroidism "
            "among male pesticide applicators",
            2018,
            "LERRO",
        )
    ]
    assert find_duplicates(existing, new) == [DuplicateLink(2, 1, "title_year_author", 100.0)]


def test_a_small_typo_and_a_missing_doi_match_on_fuzzy_title():
    existing = [MatchRecord(1, "", "10.1136/oemed-2017-104431", TITLE, 2018, "Lerro")]
    new = [MatchRecord(2, "", "", TITLE.replace("hypothyroidism", "hypothyroidsm"), 2017, "Lerro")]
    (link,) = find_duplicates(existing, new)
    assert (link.duplicate_id, link.primary_id, link.rule) == (2, 1, "fuzzy_title")
    assert link.score >= matching.FUZZY_THRESHOLD


def test_the_ris_copy_of_a_pubmed_record_is_found_by_pmid_and_without_identifiers():
    (pubmed,), _ = parse_fixture(parse_pubmed_xml, "entrez/pubmed5.xml")
    ris_records, _ = parse_fixture(parse_ris, "malformed/ovid_numbered.ris")
    copy = ris_records[0]
    assert find_duplicates([as_match(1, pubmed)], [as_match(2, copy)]) == [
        DuplicateLink(2, 1, "pmid", 100.0)
    ]
    stripped = as_match(2, copy)._replace(pmid="", doi="")
    assert find_duplicates([as_match(1, pubmed)], [stripped]) == [
        DuplicateLink(2, 1, "title_year_author", 100.0)
    ]


def test_embase_csv_and_ris_exports_of_the_same_search_pair_up_by_doi():
    ris_records, _ = parse_fixture(parse_ris, "ris/embase.ris")
    csv_records, _ = parse_fixture(parse_csv, "csv/embase.csv")
    existing = [as_match(i, r) for i, r in enumerate(ris_records, start=1)]
    new = [as_match(100 + i, r) for i, r in enumerate(csv_records, start=1)]
    links = find_duplicates(existing, new)
    assert [(link.duplicate_id, link.primary_id, link.rule) for link in links] == [
        (100 + i, i, "doi") for i in range(1, 7)
    ]


def test_the_real_fixture_sets_have_no_duplicates_among_themselves():
    records = []
    for parser, name in [
        (parse_ris, "ris/scopus.ris"),
        (parse_ris, "ris/web_of_science.txt"),
        (parse_ris, "ris/_baseline.ris"),
        (parse_pubmed_xml, "entrez/pubmed1.xml"),
    ]:
        records += parse_fixture(parser, name)[0]
    new = [as_match(i, r) for i, r in enumerate(records, start=1)]
    assert find_duplicates([], new) == []


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            ("Treatment of hypertension in the elderly. Part I", 2001),
            ("Treatment of hypertension in the elderly. Part II", 2001),
        ),
        (
            ("Phase II trial of docetaxel in advanced gastric cancer", 2003),
            ("Phase III trial of docetaxel in advanced gastric cancer", 2003),
        ),
        (
            ("Systematic review of statins for primary prevention: 2010 update", 2010),
            ("Systematic review of statins for primary prevention: 2012 update", 2012),
        ),
        ((TITLE, 2018), ("Erratum: " + TITLE, 2018)),
        ((TITLE, 2018), ("Correction to: " + TITLE, 2019)),
        ((TITLE, 2014), (TITLE, 2018)),
        (("Editorial", 2018), ("Editorial", 2018)),
    ],
)
def test_similar_but_different_publications_do_not_match(first, second):
    existing = [MatchRecord(1, "", "", first[0], first[1], "Smith")]
    new = [MatchRecord(2, "", "", second[0], second[1], "Smith")]
    assert find_duplicates(existing, new) == []


def test_same_title_with_different_dois_does_not_match():
    existing = [MatchRecord(1, "", "10.1000/a", TITLE, 2018, "Lerro")]
    assert find_duplicates(existing, [MatchRecord(2, "", "10.1000/b", TITLE, 2018, "Lerro")]) == []


def test_a_doi_shared_by_unrelated_titles_is_not_a_match():
    existing = [
        MatchRecord(
            1, "", "10.1093/supplement", "Gut microbiota in Crohn disease children", 2019, ""
        )
    ]
    new = [
        MatchRecord(
            2, "", "10.1093/supplement", "Vedolizumab trough levels predict remission", 2019, ""
        )
    ]
    assert find_duplicates(existing, new) == []


def test_different_first_authors_block_a_fuzzy_match():
    existing = [MatchRecord(1, "", "", TITLE, 2018, "Lerro")]
    new = [MatchRecord(2, "", "", TITLE.replace("male", "female"), 2018, "Kowalczyk")]
    assert find_duplicates(existing, new) == []


def test_a_chain_resolves_to_the_earliest_record():
    index = DuplicateIndex()
    index.add(MatchRecord(1, "111", "", TITLE, 2018, "Lerro"))
    assert index.check(MatchRecord(2, "111", "10.1000/x", TITLE, 2018, "Lerro")) == DuplicateLink(
        2, 1, "pmid", 100.0
    )
    # 3 shares only the DOI with 2, which is itself a duplicate of 1.
    assert index.check(MatchRecord(3, "", "10.1000/X", TITLE, 2018, "")) == DuplicateLink(
        3, 1, "doi", 100.0
    )


def test_duplicates_within_one_new_batch_are_found():
    new = [
        MatchRecord(5, "", "10.1000/q", TITLE, 2018, ""),
        MatchRecord(6, "", "doi:10.1000/Q", TITLE, 2018, ""),
    ]
    assert find_duplicates([], new) == [DuplicateLink(6, 5, "doi", 100.0)]


def test_a_known_duplicate_added_with_its_primary_routes_later_matches_there():
    index = DuplicateIndex()
    index.add(MatchRecord(1, "", "", "Something else entirely different", 2000, ""))
    index.add(MatchRecord(4, "999", "", TITLE, 2018, ""), primary_id=1)
    assert index.match(MatchRecord(9, "999", "", "", None, "")) == DuplicateLink(
        9, 1, "pmid", 100.0
    )
    assert len(index) == 2


def test_a_new_record_older_than_its_match_becomes_the_primary():
    index = DuplicateIndex()
    index.add(MatchRecord(10, "5", "", "", None, ""))
    assert index.check(MatchRecord(3, "5", "", "", None, "")) == DuplicateLink(10, 3, "pmid", 100.0)


def _random_title(rng, vocabulary):
    return " ".join(rng.choice(vocabulary) for _ in range(rng.randint(6, 14)))


def test_blocking_keeps_comparisons_linear(monkeypatch):
    rng = random.Random(20240501)
    vocabulary = [f"word{i}" for i in range(3000)] + [
        "systematic",
        "review",
        "cancer",
        "trial",
    ] * 200
    calls = {"n": 0}
    real_ratio = matching.fuzz.ratio

    def counting_ratio(*args, **kwargs):
        calls["n"] += 1
        return real_ratio(*args, **kwargs)

    monkeypatch.setattr(matching.fuzz, "ratio", counting_ratio)
    records = [
        MatchRecord(i, "", "", _random_title(rng, vocabulary), 2000 + i % 20, f"author{i % 500}")
        for i in range(1, 5001)
    ]
    links = find_duplicates([], records)
    assert links == []
    # All pairs would be 12.5 million comparisons; blocking keeps it to a few per record.
    assert calls["n"] < 5 * len(records)


def test_planted_duplicates_in_a_large_set_are_all_found():
    rng = random.Random(7)
    vocabulary = [f"term{i}" for i in range(5000)]
    records = [
        MatchRecord(i, "", "", _random_title(rng, vocabulary), 1990 + i % 30, f"name{i % 300}")
        for i in range(1, 3001)
    ]
    planted = [r._replace(id=10000 + r.id, title=r.title.upper() + ".") for r in records[::100]]
    links = find_duplicates(records, planted)
    assert sorted((link.duplicate_id, link.primary_id) for link in links) == sorted(
        (p.id, p.id - 10000) for p in planted
    )


def test_a_title_key_given_with_the_record_is_used_instead_of_working_it_out():
    # An importer passes the key it stores; the index must then match on that key alone.
    existing = [MatchRecord(1, "", "", "ignored title words here", 2018, "Lerro", title_key(TITLE))]
    new = [(2, "", "", TITLE.upper() + ".", 2018, "Lerro")]  # a plain six-field tuple still works
    assert find_duplicates(existing, new) == [DuplicateLink(2, 1, "title_year_author", 100.0)]


def test_block_keys_take_the_longest_words_alphabetically_among_equals():
    keys = matching._block_keys("zeta alpha beta gamma delta epsilon")
    assert keys[2] == "l:alpha delta epsilon"  # epsilon, then alpha and delta before gamma


def test_same_doi_with_different_pmids_is_offered_as_a_candidate():
    # PubMed holds some articles twice (an ahead-of-print and a print record): the DOI says one
    # publication, the PMIDs two, so a reviewer decides.
    existing = [MatchRecord(1, "29187505", "10.1136/oemed-2017-104431", TITLE, 2018, "Lerro")]
    new = [MatchRecord(2, "30012345", "10.1136/OEMED-2017-104431", TITLE + ".", 2018, "Lerro")]
    assert find_duplicates(existing, new) == [DuplicateLink(2, 1, "doi_other_pmid", 100.0)]


def test_same_doi_with_different_pmids_and_unrelated_titles_is_not_offered():
    existing = [
        MatchRecord(
            1, "111", "10.1093/supplement", "Gut microbiota in Crohn disease children", 2019
        )
    ]
    new = [
        MatchRecord(2, "222", "10.1093/supplement", "Vedolizumab trough levels predict remission")
    ]
    assert find_duplicates(existing, new) == []


def test_a_sure_match_wins_over_a_same_doi_candidate_with_another_pmid():
    existing = [
        MatchRecord(1, "111", "10.1000/x", TITLE, 2017, "Lerro"),
        MatchRecord(2, "", "", TITLE, 2018, "Lerro"),
    ]
    # Same DOI as record 1 but another PMID; same title, year and author as record 2.
    new = [MatchRecord(3, "333", "10.1000/x", TITLE, 2018, "Lerro")]
    assert find_duplicates(existing, new) == [DuplicateLink(3, 2, "title_year_author", 100.0)]


def test_same_doi_with_different_pmids_is_offered_even_for_a_short_title():
    existing = [MatchRecord(1, "111", "10.1000/ed", "Editorial", 2018, "Smith")]
    new = [MatchRecord(2, "222", "10.1000/ed", "Editorial", 2018, "Smith")]
    assert find_duplicates(existing, new) == [DuplicateLink(2, 1, "doi_other_pmid", 100.0)]


def test_a_cross_database_copy_without_pmid_is_linked_by_its_doi_or_title():
    # The Embase/Scopus copy of a PubMed record carries no PMID: the DOI (in another form), or
    # without one the title, year and first author link it.
    existing = [MatchRecord(1, "29187505", "10.1136/oemed-2017-104431", TITLE, 2018, "Lerro")]
    by_doi = MatchRecord(2, "", "DOI: 10.1136/OEMED-2017-104431", TITLE.upper(), 2018, "Lerro CC")
    by_title = MatchRecord(3, "", "", TITLE.lower() + ".", 2018, "LERRO")
    assert find_duplicates(existing, [by_doi, by_title]) == [
        DuplicateLink(2, 1, "doi", 100.0),
        DuplicateLink(3, 1, "title_year_author", 100.0),
    ]


def test_same_doi_with_different_pmids_and_merely_related_titles_is_not_offered():
    # Two abstracts of one supplement: one DOI, two PMIDs, titles on the same subject.
    existing = [
        MatchRecord(1, "111", "10.1093/ecco-jcc/supp", "Vedolizumab trough levels in Crohn disease")
    ]
    new = [
        MatchRecord(
            2, "222", "10.1093/ecco-jcc/supp", "Vedolizumab trough levels in ulcerative colitis"
        )
    ]
    assert find_duplicates(existing, new) == []


def _crowded_records(rng):
    """Records whose titles share their first words, years and authors, so that blocks hold
    dozens of records, with near-copies among them: typos, other DOIs, other authors, numbers."""
    openings = ["effect of natalizumab withdrawal", "risk of relapse after stopping"]
    tail = [f"term{i}" for i in range(60)]
    records = []
    for i in range(1, 1201):
        title = f"{rng.choice(openings)} {' '.join(rng.choice(tail) for _ in range(8))}"
        records.append(
            MatchRecord(i, "", f"10.1/{i}" if i % 3 else "", title, 2010 + i % 3, f"a{i % 4}")
        )
    copies = []
    for n, original in enumerate(records[::7]):
        title = original.title
        spot = rng.randrange(len(title))
        title = title[:spot] + "x" + title[spot + 1 :]  # one typo
        if n % 5 == 1:
            title += " 2"  # a part number: not the same publication
        copies.append(
            original._replace(
                id=5000 + original.id,
                doi="" if n % 4 else f"10.2/{n}",  # some carry another DOI
                title=title,
                year=original.year + (n % 3) - 1,
                first_author_surname=original.first_author_surname if n % 6 else "zz",
            )
        )
    rng.shuffle(copies)
    return records, copies


def test_a_crowded_block_scored_in_one_call_gives_the_same_links_as_title_by_title(monkeypatch):
    records, copies = _crowded_records(random.Random(11))
    found = {}
    for name, at_least in (("title by title", 10**9), ("one call", 2)):
        monkeypatch.setattr(matching, "SCORE_IN_ONE_CALL", at_least)
        found[name] = find_duplicates(records, copies)
    assert found["one call"] == found["title by title"]
    rules = {link.rule for link in found["one call"]}
    assert "fuzzy_title" in rules
    # Blocks were crowded (so the one-call path ran), and copies that must not match did not.
    index = matching.DuplicateIndex()
    for record in records:
        index.add(record)
    assert max(len(b) for b in index._blocks.values() if isinstance(b, list)) >= 20
    assert len(found["one call"]) < len(copies)
