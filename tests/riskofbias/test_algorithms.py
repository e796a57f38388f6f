"""The judgements the risk-of-bias tools' published algorithms propose.

RoB 2 references are the algorithm flowcharts and the criteria tables of the full guidance
(Higgins JPT, Savović J, Page MJ, Sterne JAC, "Revised Cochrane risk-of-bias tool for randomized
trials (RoB 2)", 22 August 2019), one per domain; Sterne et al. BMJ 2019;366:l4898 Table 2 for
the overall judgement. Where the guidance states the criteria in words, the test restates them
independently of the flowchart and checks every combination of answers.
"""

from __future__ import annotations

import itertools

import pytest

from reviewapp.riskofbias.algorithms import (
    HIGH,
    LOW,
    MODERATE,
    NO_INFO,
    SOME,
    UNCLEAR,
    JudgementError,
    final_judgement,
    nos_score,
    propose,
    quadas2_domain,
    quadas2_overall,
    rob2_domain,
    rob2_overall,
    robins_i_overall,
)

ANS = ("Y", "PY", "PN", "N", "NI")
YES, NO = {"Y", "PY"}, {"N", "PN"}


def d(domain, effect="assignment", **answers):
    keyed = {k[1:].replace("_", "."): v for k, v in answers.items()}
    return rob2_domain(domain, keyed, effect=effect).judgement


# --- RoB 2 domain 1 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q11", "q12", "q13", "expected"),
    [
        ("Y", "Y", "N", LOW),  # concealed, random, no imbalance
        ("NI", "PY", "NI", LOW),  # "no information" on sequence and baseline still low
        ("Y", "Y", "PY", SOME),  # imbalance suggests a problem
        ("N", "Y", "N", SOME),  # concealed but not random
        ("Y", "NI", "N", SOME),  # no information on concealment
        ("Y", "NI", "Y", HIGH),  # ... and baseline imbalance
        ("Y", "N", "N", HIGH),  # not concealed
    ],
)
def test_rob2_domain1_flowchart(q11, q12, q13, expected):
    """Guidance p. 6, 'Algorithm for suggested judgement of risk of bias arising from the
    randomization process': each branch of the flowchart."""
    assert d("D1", q1_1=q11, q1_2=q12, q1_3=q13) == expected


def test_rob2_domain1_matches_the_criteria_in_words_for_every_answer():
    """Guidance, domain 1 criteria: Low if the sequence was concealed AND baseline differences
    are compatible with chance or unreported AND the sequence was random or unreported; High if
    not concealed, OR no information on concealment AND baseline differences suggest a problem;
    otherwise Some concerns."""
    for q11, q12, q13 in itertools.product(ANS, repeat=3):
        if q12 in NO or (q12 == "NI" and q13 in YES):
            expected = HIGH
        elif q12 in YES and q13 in NO | {"NI"} and q11 in YES | {"NI"}:
            expected = LOW
        else:
            expected = SOME
        assert d("D1", q1_1=q11, q1_2=q12, q1_3=q13) == expected, (q11, q12, q13)


def test_rob2_domain1_asks_only_what_the_path_needs():
    """Not concealed is high whatever 1.1 and 1.3 say; with 1.2 = Y the algorithm needs 1.1."""
    assert rob2_domain("D1", {"1.2": "N"}).judgement == HIGH
    waiting = rob2_domain("D1", {"1.2": "Y"})
    assert waiting.judgement is None and waiting.needs == "1.1"
    assert waiting.label == "Not yet judged"


def test_an_answer_the_question_does_not_allow_is_refused_by_name():
    with pytest.raises(JudgementError, match=r"Question 1\.2: 'MAYBE'"):
        rob2_domain("D1", {"1.2": "maybe"})


# --- RoB 2 domain 2 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        # Blinded trial with an ITT analysis.
        ({"2.1": "N", "2.2": "PN", "2.6": "Y"}, LOW),
        # Open trial, no deviations from trial context, ITT.
        ({"2.1": "Y", "2.2": "Y", "2.3": "N", "2.6": "PY"}, LOW),
        # Open trial, no information on deviations.
        ({"2.1": "Y", "2.2": "Y", "2.3": "NI", "2.6": "Y"}, SOME),
        # Deviations that did not affect the outcome.
        ({"2.1": "Y", "2.2": "N", "2.3": "Y", "2.4": "PN", "2.6": "Y"}, SOME),
        # Deviations affecting the outcome but balanced.
        ({"2.1": "Y", "2.2": "N", "2.3": "Y", "2.4": "Y", "2.5": "Y", "2.6": "Y"}, SOME),
        # ... and unbalanced.
        ({"2.1": "Y", "2.2": "N", "2.3": "Y", "2.4": "Y", "2.5": "N", "2.6": "Y"}, HIGH),
        # Per-protocol analysis with little impact: part 2 some concerns.
        ({"2.1": "N", "2.2": "N", "2.6": "N", "2.7": "N"}, SOME),
        # Per-protocol analysis with substantial impact: high.
        ({"2.1": "N", "2.2": "N", "2.6": "N", "2.7": "Y"}, HIGH),
        # Inappropriate analysis with no information on its impact: high.
        ({"2.1": "N", "2.2": "N", "2.6": "NI", "2.7": "NI"}, HIGH),
    ],
)
def test_rob2_domain2_assignment_flowchart(answers, expected):
    """Guidance p. 11, the two-part algorithm for the effect of assignment: part 1 (2.1-2.5,
    deviations arising from the trial context), part 2 (2.6-2.7, the analysis); the domain is
    low only if both parts are low and high if either part is high."""
    assert rob2_domain("D2", answers).judgement == expected


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"2.1": "N", "2.2": "N", "2.4": "N", "2.5": "PN"}, LOW),
        ({"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "NA", "2.5": "N"}, LOW),
        ({"2.1": "Y", "2.2": "Y", "2.3": "N", "2.6": "Y"}, SOME),
        ({"2.1": "Y", "2.2": "Y", "2.3": "NI", "2.6": "NI"}, HIGH),
        ({"2.1": "N", "2.2": "N", "2.4": "N", "2.5": "Y", "2.6": "PY"}, SOME),
        ({"2.1": "N", "2.2": "N", "2.4": "Y", "2.5": "N", "2.6": "PN"}, HIGH),
    ],
)
def test_rob2_domain2_adhering_flowchart(answers, expected):
    """Guidance p. 13, algorithm for the effect of adhering to intervention: blinded (or
    balanced non-protocol interventions) and no failures or non-adherence is low; otherwise an
    appropriate analysis (IV, inverse probability weighting) gives some concerns, else high."""
    assert rob2_domain("D2", answers, effect="adhering").judgement == expected


# --- RoB 2 domains 3-5 ------------------------------------------------------------------------


def test_rob2_domain3_matches_the_criteria_in_words_for_every_answer():
    """Guidance, domain 3 criteria: Low if data for (nearly) all participants, OR evidence the
    result was not biased, OR missingness could not depend on the true value; High if it is
    likely that missingness depended on the true value (Y/PY/NI to 3.4); otherwise Some
    concerns."""
    for q31, q32, q33, q34 in itertools.product(ANS, ("Y", "PY", "PN", "N"), ANS, ANS):
        if q31 in YES or q32 in YES or q33 in NO:
            expected = LOW
        elif q34 in NO:
            expected = SOME
        else:
            expected = HIGH
        got = rob2_domain("D3", {"3.1": q31, "3.2": q32, "3.3": q33, "3.4": q34}).judgement
        assert got == expected, (q31, q32, q33, q34)


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"4.1": "Y"}, HIGH),  # inappropriate method
        ({"4.1": "N", "4.2": "PY"}, HIGH),  # measurement differed between groups
        ({"4.1": "N", "4.2": "N", "4.3": "N"}, LOW),  # blinded assessors
        ({"4.1": "NI", "4.2": "N", "4.3": "Y", "4.4": "N"}, LOW),  # e.g. all-cause mortality
        ({"4.1": "N", "4.2": "N", "4.3": "Y", "4.4": "Y", "4.5": "N"}, SOME),
        ({"4.1": "N", "4.2": "N", "4.3": "Y", "4.4": "Y", "4.5": "PY"}, HIGH),
        # No information on 4.2: the paths that would be low become some concerns.
        ({"4.1": "N", "4.2": "NI", "4.3": "N"}, SOME),
        ({"4.1": "N", "4.2": "NI", "4.3": "Y", "4.4": "PN"}, SOME),
        ({"4.1": "N", "4.2": "NI", "4.3": "Y", "4.4": "Y", "4.5": "NI"}, HIGH),
    ],
)
def test_rob2_domain4_flowchart(answers, expected):
    """Guidance p. 19, algorithm for bias in measurement of the outcome, both branches (4.2
    N/PN and 4.2 NI); the guidance's example of an outcome knowledge cannot influence is
    all-cause mortality (4.4 = N)."""
    assert rob2_domain("D4", answers).judgement == expected


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"5.1": "Y", "5.2": "N", "5.3": "N"}, LOW),
        ({"5.1": "NI", "5.2": "N", "5.3": "PN"}, SOME),  # no pre-specified plan available
        ({"5.1": "Y", "5.2": "NI", "5.3": "N"}, SOME),
        ({"5.1": "Y", "5.2": "N", "5.3": "PY"}, HIGH),  # selected from multiple analyses
        ({"5.2": "Y"}, None),  # 5.3 still needed before anything is proposed
    ],
)
def test_rob2_domain5_flowchart(answers, expected):
    """Guidance p. 22, algorithm for bias in selection of the reported result."""
    assert rob2_domain("D5", answers).judgement == expected


# --- RoB 2 overall ----------------------------------------------------------------------------


def test_rob2_overall():
    """Sterne et al. 2019, Table 2: low if low in all domains; some concerns if some concerns
    in at least one domain and high in none; high if high in at least one domain, or - the
    assessor's call - some concerns in multiple domains that substantially lower confidence."""
    all_low = {f"D{i}": LOW for i in range(1, 6)}
    assert rob2_overall(all_low).judgement == LOW
    one = all_low | {"D3": SOME}
    assert rob2_overall(one).judgement == SOME and rob2_overall(one).note == ""
    several = all_low | {"D2": SOME, "D4": SOME}
    proposal = rob2_overall(several)
    assert proposal.judgement == SOME
    assert "2 domains (D2, D4)" in proposal.note
    # A high domain decides it even before the others are judged.
    assert rob2_overall(all_low | {"D1": HIGH, "D5": None}).judgement == HIGH
    assert rob2_overall(all_low | {"D5": None}).needs == "D5"
    with pytest.raises(JudgementError):
        rob2_overall(all_low | {"D1": "critical"})


def test_override_needs_a_written_reason():
    """Guidance section 1.3.4: the algorithm maps answers to a proposed judgement, which
    assessors may override, explaining why."""
    assert final_judgement("rob2", "D1", LOW, None, "") == LOW
    assert final_judgement("rob2", "D1", LOW, LOW, "") == LOW
    with pytest.raises(JudgementError, match="algorithm proposes Low; write why you judge it High"):
        final_judgement("rob2", "D1", LOW, HIGH, "   ")
    reason = "Sealed envelopes were not opaque."
    assert final_judgement("rob2", "D1", LOW, HIGH, reason) == HIGH
    assert final_judgement("rob2", "overall", SOME, HIGH, "Concerns in D2-D5") == HIGH
    with pytest.raises(JudgementError, match="not an allowed judgement"):
        final_judgement("rob2", "D1", LOW, MODERATE, "reason")
    with pytest.raises(JudgementError, match="no judgement yet"):
        final_judgement("rob2", "D1", None, None, "")


# --- ROBINS-I ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domains", "expected"),
    [
        ([LOW] * 7, LOW),
        ([LOW] * 6 + [MODERATE], MODERATE),
        ([LOW, MODERATE, "serious", LOW, LOW, LOW, LOW], "serious"),
        (["serious", "critical", LOW, LOW, LOW, LOW, NO_INFO], "critical"),
        ([LOW, MODERATE, NO_INFO, LOW, LOW, LOW, LOW], NO_INFO),
        (["serious", NO_INFO, LOW, LOW, LOW, LOW, LOW], "serious"),
    ],
)
def test_robins_i_overall(domains, expected):
    """Sterne et al. BMJ 2016;355:i4919, Table 3: low/moderate if low/moderate in all domains,
    serious if serious in at least one but critical in none, critical if critical in at least
    one; no information if no indication of serious or critical and a key domain lacks
    information."""
    keyed = {f"D{i}": v for i, v in enumerate(domains, start=1)}
    assert robins_i_overall(keyed).judgement == expected


def test_robins_i_has_no_domain_algorithm():
    proposal = propose("robins-i", "D1", {})
    assert proposal.judgement is None and "assessor" in proposal.note


# --- QUADAS-2 ---------------------------------------------------------------------------------


def test_quadas2_domains_and_overall():
    """Whiting et al. 2011: 'If all signalling questions for a domain are answered "yes" then
    risk of bias can be judged "low". If any signalling question is answered "no" this flags
    the potential for bias'; 'unclear' only when too little is reported. Overall low only if
    low in every domain (Table 4)."""
    assert quadas2_domain("D1", {"1.1": "yes", "1.2": "Yes", "1.3": "yes"}).judgement == LOW
    flagged = quadas2_domain("D1", {"1.1": "yes", "1.2": "no", "1.3": "unclear"})
    assert flagged.judgement == HIGH and "confirm" in flagged.note
    assert quadas2_domain("D2", {"2.1": "yes", "2.2": "unclear"}).judgement == UNCLEAR
    assert quadas2_domain("D4", {"4.1": "yes"}).needs == "4.2"
    with pytest.raises(JudgementError, match="4.1"):
        quadas2_domain("D4", {"4.1": "Y"})
    assert quadas2_overall({"D1": LOW, "D2": LOW, "D3": LOW, "D4": LOW}).judgement == LOW
    assert quadas2_overall({"D1": LOW, "D2": UNCLEAR, "D3": LOW, "D4": LOW}).judgement == UNCLEAR
    assert quadas2_overall({"D1": HIGH, "D2": None, "D3": LOW, "D4": LOW}).judgement == HIGH


# --- Newcastle-Ottawa -------------------------------------------------------------------------


def test_nos_cohort_worked_example():
    """Wells et al., NOS coding manual: at most one star per numbered item in Selection and
    Outcome, at most two for Comparability (9 in all). A community cohort (S1a), non-exposed
    from the same community (S2a), exposure from records (S3a), outcome absent at start (S4a),
    adjusted for age only (C1a), self-reported outcome (O1c), long enough follow-up (O2a),
    complete follow-up (O3a): 4 + 1 + 2 = 7 stars; AHRQ 'good'."""
    answers = {
        "S1": "a",
        "S2": "a",
        "S3": "a",
        "S4": "a",
        "C1": ["a"],
        "O1": "c",
        "O2": "a",
        "O3": "a",
    }
    score = nos_score("nos-cohort", answers)
    assert score.stars == {"selection": 4, "comparability": 1, "outcome": 2}
    assert (score.total, score.rating, score.unanswered) == (7, "good", ())
    # Controlling for an additional factor earns the second comparability star.
    assert nos_score("nos-cohort", answers | {"C1": ["a", "b"]}).total == 8
    # No comparability star makes it poor whatever else it earns.
    assert nos_score("nos-cohort", answers | {"C1": []}).rating == "poor"


def test_nos_case_control_fair_and_unanswered():
    """Case-control version: hospital controls (S3b) and no independent validation (S1b)
    leave 2 selection stars: AHRQ 'fair'; an unanswered item is listed, not guessed."""
    answers = {"S1": "b", "S2": "a", "S3": "b", "S4": "a", "C1": ["a", "b"], "E1": "b", "E2": "a"}
    score = nos_score("nos-case-control", answers)
    assert score.stars == {"selection": 2, "comparability": 2, "exposure": 2}
    assert (score.total, score.rating, score.unanswered) == (6, "fair", ("E3",))
    with pytest.raises(JudgementError, match="S1 .*choose one"):
        nos_score("nos-case-control", answers | {"S1": ["a", "b"]})
    with pytest.raises(JudgementError, match="no option 'z'"):
        nos_score("nos-case-control", answers | {"E3": "z"})
