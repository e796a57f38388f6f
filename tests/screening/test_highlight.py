"""Keyword highlighting (pure) and its use on the screening page."""

from django.urls import reverse

from reviewapp.screening.highlight import segments


def kinds(text, include=(), exclude=()):
    return [(piece, kind) for piece, kind in segments(text, include, exclude) if kind]


def test_keywords_match_whatever_the_case():
    assert kinds("A RANDOMISED trial", include=["randomised"]) == [("RANDOMISED", "include")]


def test_a_star_matches_word_endings_but_only_from_the_start_of_a_word():
    found = kinds("Randomly randomised; nonrandom", include=["random*"])
    assert found == [("Randomly", "include"), ("randomised", "include")]


def test_a_phrase_matches_across_line_breaks_and_spaces():
    assert kinds("a controlled\n  trial", include=["controlled trial"]) == [
        ("controlled\n  trial", "include")
    ]


def test_a_keyword_without_a_star_does_not_match_inside_longer_words():
    assert kinds("mice and mouse-like", exclude=["mouse"]) == [("mouse", "exclude")]
    assert kinds("micelles", exclude=["mice"]) == []


def test_the_longest_keyword_wins_when_two_overlap():
    assert kinds("case series", include=["case"], exclude=["case series"]) == [
        ("case series", "exclude")
    ]


def test_text_is_kept_whole():
    text = "Natalizumab <b>withdrawal</b> in mice"
    assert "".join(piece for piece, _ in segments(text, ["withdrawal"], ["mice"])) == text


def test_the_screening_page_marks_keywords_and_escapes_the_rest(client, review, reviewer, records):
    review.keywords_include = ["natalizumab"]
    review.keywords_exclude = ["cohort*"]
    review.save()
    records[0].abstract = "Stopping natalizumab <script>x</script> in a cohort study"
    records[0].save()
    client.force_login(reviewer)
    html = client.get(reverse("screening:screen", args=[review.slug, "ta"])).content.decode()
    assert '<mark class="kw-include">natalizumab</mark>' in html
    assert '<mark class="kw-exclude">cohort</mark>' in html
    assert "<script>x</script>" not in html


def test_one_look_behind_for_all_keywords_marks_what_one_per_keyword_marked():
    """The pattern checks the word boundary once for all keywords (for speed); a boundary per
    keyword, as before, must give the same marks on real abstracts."""
    import csv
    import re
    from pathlib import Path

    include = ["antihistamin*", "randomi*", "placebo", "allerg*", "rhinitis", "case report"]
    exclude = ["rat", "rats", "mice", "in vitro", "pharmacokinetic*", "+ve", "(R)-cetirizine"]
    keyed = sorted(
        [(k, "include") for k in include] + [(k, "exclude") for k in exclude],
        key=lambda item: -len(item[0]),
    )
    per_keyword = re.compile(
        "|".join(
            "((?<!\\w)"
            + r"\s+".join(re.escape(w) for w in k.rstrip("*").split())
            + (r"\w*" if k.endswith("*") else r"(?!\w)")
            + ")"
            for k, _ in keyed
        ),
        re.IGNORECASE,
    )
    path = Path(__file__).parents[1] / "fixtures" / "labelled" / "Cohen_2006_Antihistamines.csv"
    with path.open(encoding="utf-8") as handle:
        texts = [row["title"] + " " + row["abstract"] for row in csv.DictReader(handle)]
    texts.append("a +ve test of (R)-cetirizine in rats, not in rat-like vitro")
    marked = 0
    for text in texts:
        expected = [
            (m.group(0), keyed[m.lastindex - 1][1])
            for m in per_keyword.finditer(text)
            if m.group(0)
        ]
        assert kinds(text, include, exclude) == expected, text
        marked += len(expected)
    assert marked > 500  # the abstracts do hold the keywords: the comparison compared something
