"""Identifier, text, year and author normalisation."""

import pytest

from reviewapp.literature.parsers.base import AbstractSection
from reviewapp.literature.parsers.normalise import (
    bad_character,
    doi_from_url,
    find_doi,
    flatten_abstract,
    format_author,
    normalise_doi,
    normalise_pmcid,
    normalise_pmid,
    parse_year,
    plain_text,
    split_author_list,
    split_structured_abstract,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12345", "12345"),
        ("PMID: 12345", "12345"),
        ("pmid:0012345", "12345"),
        ("PubMed ID 987", "987"),
        (" 31234567 ", "31234567"),
        ("WOS:000333482900004", ""),
        ("L373791783x", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_pmids_are_digits_only(raw, expected):
    assert normalise_pmid(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10.1136/OEMED-2017-104431", "10.1136/oemed-2017-104431"),
        ("https://doi.org/10.1136/oemed-2017-104431", "10.1136/oemed-2017-104431"),
        ("http://dx.doi.org/10.4103/2303-9027.138783", "10.4103/2303-9027.138783"),
        ("doi:10.1000/xyz123.", "10.1000/xyz123"),
        ("DOI: 10.1000/abc;", "10.1000/abc"),
        ("10.1016/0005-2795(76)90109-4", "10.1016/0005-2795(76)90109-4"),
        ("(see 10.1000/abc)", "10.1000/abc"),
        ("10.1186/1471-2105-7-10 [doi]", "10.1186/1471-2105-7-10"),
        ("not a doi", ""),
    ],
)
def test_dois_are_lower_case_without_resolver_or_trailing_punctuation(raw, expected):
    assert normalise_doi(raw) == expected


def test_a_doi_is_found_inside_an_encoded_query_string():
    url = "http://sfx.example/?id=doi:10.1002%2Fcncr.20369&atitle=Endoscopic"
    assert find_doi(url) == "10.1002/cncr.20369"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("PMC123", "PMC123"), ("pmc 0123", "PMC123"), ("123", "PMC123"), ("x", "")],
)
def test_pmcids_are_pmc_plus_digits(raw, expected):
    assert normalise_pmcid(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1990", 1990),
        ("1998 Dec-1999 Jan", 1998),
        ("Spring 2019", 2019),
        ("2019/03/01", 2019),
        ("2019///", 2019),
        ("2019/06//undefined", 2019),
        ("Published online 3 May 2011", 2011),
        ("10 15", None),
        ("1750", None),
        ("n.d.", None),
        ("12019", None),
    ],
)
def test_years_are_the_first_plausible_four_digit_year(raw, expected):
    assert parse_year(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mangalam H", "Mangalam, H"),
        ("Mangalam, Harry", "Mangalam, H"),
        ("Adler D.G.", "Adler, DG"),
        ("Basinska, Malgorzata A.", "Basinska, MA"),
        ("Alceste, F", "Alceste, F"),
        ("Labanski, A.", "Labanski, A"),
        ("de Hoon MJ", "de Hoon, MJ"),
        ("Müller, Hans-Peter", "Müller, HP"),
        ("Smith, John Jr.", "Smith, J"),
        ("CMS Collaboration", "CMS Collaboration"),
        ("Fluge Ø.", "Fluge, Ø"),
        ("Børresen-Dale A.-L.", "Børresen-Dale, AL"),
        # Lens.org's placeholder for an unknown given name, kept by Citavi, EndNote and RefWorks.
        ("van den Hoven, null", "van den Hoven"),
        ("van den Hoven,null", "van den Hoven"),
        # EPPI-Reviewer's RIS spaces the initials out.
        ("Brownstein C D", "Brownstein, CD"),
        ("de Hoon M J", "de Hoon, MJ"),
        ("NG Y", "NG, Y"),
    ],
)
def test_authors_are_surname_comma_initials(raw, expected):
    assert format_author(raw) == expected


def test_author_cells_split_on_semicolons_or_between_initialled_names():
    assert split_author_list("Liu R., Adler D.G.") == ["Liu R.", "Adler D.G."]
    assert split_author_list("Wiklund, I") == ["Wiklund, I"]
    assert split_author_list("Kellstein, D E; Waksman, J A") == ["Kellstein, D E", "Waksman, J A"]
    assert split_author_list("Van Der Berg, Jan Piet") == ["Van Der Berg, Jan Piet"]
    # Scopus author cells from metaknowledge's real export (tests/fixtures/README.md): initials
    # beyond ASCII, and a few names whose initials Scopus wrote oddly, still split per author.
    assert split_author_list("Akslen L.A., Fluge Ø., Lønning P.E.") == [
        "Akslen L.A.",
        "Fluge Ø.",
        "Lønning P.E.",
    ]
    assert split_author_list("Davis R.E., Ma Ch.L., Lossos I.S., Hudson Jr. J.") == [
        "Davis R.E.",
        "Ma Ch.L.",
        "Lossos I.S.",
        "Hudson Jr. J.",
    ]


def test_inline_html_is_removed_but_comparisons_stay():
    assert (
        plain_text("CO<sub>2</sub> in <i>vivo</i> p<0.05 &amp; x>3") == "CO2 in vivo p<0.05 & x>3"
    )


def test_a_flat_abstract_with_caps_labels_becomes_sections_and_back():
    text = "BACKGROUND: Why. METHODS: How. RESULTS: What."
    sections = split_structured_abstract(text)
    assert sections == [
        AbstractSection("BACKGROUND", "Why."),
        AbstractSection("METHODS", "How."),
        AbstractSection("RESULTS", "What."),
    ]
    assert flatten_abstract(sections) == "BACKGROUND: Why.\n\nMETHODS: How.\n\nRESULTS: What."


def test_an_abstract_with_one_label_in_the_middle_stays_unstructured():
    sections = split_structured_abstract("We measured NOTE: something. Then more.")
    assert sections == [AbstractSection("", "We measured NOTE: something. Then more.")]


@pytest.mark.parametrize(
    ("url", "doi"),
    [
        ("https://doi.org/10.1016/J.JNS.2019.116500", "10.1016/j.jns.2019.116500"),
        ("http://dx.doi.org/10.1007%2Fs11307-012-0572-0", "10.1007/s11307-012-0572-0"),
        ("https://www.doi.org/10.1000/abc.pdf", "10.1000/abc"),
        ("doi.org/10.1000/abc", "10.1000/abc"),
        ("https://link.springer.com/content/pdf/10.1007%2Fs11307-012-0572-0.pdf", ""),
        ("https://www.frontiersin.org/articles/10.3389/fendo.2021.636959/full", ""),
        ("https://example.org/?doi=10.1000/abc", ""),
        ("", ""),
    ],
)
def test_a_doi_is_read_only_from_a_doi_org_link(url, doi):
    assert doi_from_url(url) == doi


def test_a_pdf_ending_is_never_part_of_a_doi():
    assert normalise_doi("10.1000/xyz.pdf") == "10.1000/xyz"
    assert normalise_doi("doi: 10.1000/xyz.PDF.") == "10.1000/xyz"
    assert normalise_doi("10.1000/pdf-guide") == "10.1000/pdf-guide"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Aspirin in adults", ""),
        ("", ""),
        ("Tab\tand newline\n are allowed", ""),
        ("No\u00a0break space and soft\u00adhyphen", ""),
        ("Lost \ufffd character", "U+FFFD"),
        ("Bell \x07", "U+0007"),
        ("C1 control \x86 here", "U+0086"),
        ("Delete \x7f", "U+007F"),
    ],
)
def test_bad_characters_are_controls_and_the_replacement_character(text, found):
    problem = bad_character(text)
    assert (found in problem) if found else problem == ""


def test_bibtex_style_author_cells_split_on_and_between_whole_names():
    # Rayyan's CSV writes BibTeX's list; abstrackr's breaks the line after each name.
    assert split_author_list("Yang, Z. and Jiang, B. and McNamara, M.E.") == [
        "Yang, Z.",
        "Jiang, B.",
        "McNamara, M.E.",
    ]
    assert split_author_list("Longrich, N.R.\n and Pereda-Suberbiola, X.\n") == [
        "Longrich, N.R.",
        "Pereda-Suberbiola, X.",
    ]
    # Not every part a "Surname, Given" name: an organisation's "and" stays inside one author.
    assert split_author_list("Smith, J and Jones") == ["Smith, J and Jones"]
    assert split_author_list("Research and Development Group") == ["Research and Development Group"]
