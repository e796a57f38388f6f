"""Risk-of-bias tools and the judgements their published algorithms propose. Pure: no Django.

Four tools, each described as data (domains, signalling questions, allowed answers) so forms and
figures can be drawn from one definition, and each with the function that proposes judgements:

- RoB 2 for randomised trials (Sterne et al., BMJ 2019;366:l4898; the full guidance, Higgins,
  Savović, Page, Sterne, 22 August 2019, with one algorithm flowchart per domain). The algorithm
  *proposes*: the assessor may override any domain, and the overall "High" for "some concerns in
  multiple domains" is the assessor's call, so we flag it rather than decide it.
- ROBINS-I for non-randomised studies of interventions (Sterne et al., BMJ 2016;355:i4919,
  Table 3): the overall judgement follows from the seven domain judgements.
- QUADAS-2 for diagnostic accuracy studies (Whiting et al., Ann Intern Med 2011;155:529-36):
  four domains judged for risk of bias, the first three also for applicability.
- The Newcastle-Ottawa Scale (Wells et al.), cohort and case-control versions, in stars, with the
  AHRQ conversion to good/fair/poor that many reviews report.

A proposal on which a needed answer is missing says which question it needs next, never guesses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "ANSWERS",
    "NOS_CASE_CONTROL",
    "NOS_COHORT",
    "QUADAS2",
    "ROB2_ASSIGNMENT",
    "ROB2_ADHERENCE",
    "ROBINS_I",
    "TOOLS",
    "JudgementError",
    "NosScore",
    "Proposal",
    "final_judgement",
    "nos_score",
    "propose",
    "quadas2_domain",
    "quadas2_overall",
    "rob2_domain",
    "rob2_overall",
    "robins_i_overall",
]

# Signalling-question answers (RoB 2, ROBINS-I).
Y, PY, PN, N, NI, NA = "Y", "PY", "PN", "N", "NI", "NA"
ANSWERS = {
    Y: "Yes",
    PY: "Probably yes",
    PN: "Probably no",
    N: "No",
    NI: "No information",
    NA: "Not applicable",
}
YES = frozenset({Y, PY})
NO = frozenset({N, PN})

# Judgements. One vocabulary across tools so figures can colour them alike.
LOW, SOME, HIGH = "low", "some", "high"
MODERATE, SERIOUS, CRITICAL, NO_INFO = "moderate", "serious", "critical", "no-info"
UNCLEAR = "unclear"
JUDGEMENTS = {
    LOW: "Low",
    SOME: "Some concerns",
    HIGH: "High",
    MODERATE: "Moderate",
    SERIOUS: "Serious",
    CRITICAL: "Critical",
    NO_INFO: "No information",
    UNCLEAR: "Unclear",
}


class JudgementError(ValueError):
    """An answer or judgement the tool does not allow, or an override without its reason."""


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answers: tuple[str, ...]
    asked_if: str = ""  # the guidance's condition, shown to the assessor


@dataclass(frozen=True)
class Domain:
    key: str
    name: str
    questions: tuple[Question, ...] = ()
    judgements: tuple[str, ...] = (LOW, SOME, HIGH)
    applicability: bool = False  # QUADAS-2 domains 1-3 carry a second judgement


@dataclass(frozen=True)
class Tool:
    key: str
    name: str
    version: str
    citation: str
    domains: tuple[Domain, ...]
    overall: tuple[str, ...]
    per_result: bool = False  # RoB 2 is assessed per outcome/result, the others per study

    def domain(self, key: str) -> Domain:
        for domain in self.domains:
            if domain.key == key:
                return domain
        raise JudgementError(f"{self.name} has no domain {key!r}")


@dataclass(frozen=True)
class Proposal:
    """What the algorithm proposes: a judgement, or the question it still needs."""

    judgement: str | None
    path: tuple[str, ...] = ()  # the answers it followed, e.g. ("1.2 Y", "1.1 NI", "1.3 N")
    needs: str | None = None  # the first unanswered question on the path
    note: str = ""  # what the assessor must decide themselves

    @property
    def label(self) -> str:
        return JUDGEMENTS[self.judgement] if self.judgement else "Not yet judged"


class _Needs(Exception):
    def __init__(self, question: str) -> None:
        self.question = question


class _Answers:
    """Reads answers along the algorithm's path, recording each one read."""

    def __init__(self, answers: Mapping[str, str], allowed: Mapping[str, tuple[str, ...]]):
        self.answers = answers
        self.allowed = allowed
        self.path: list[str] = []

    def __call__(self, qid: str) -> str:
        value = (self.answers.get(qid) or "").strip().upper()
        if not value:
            raise _Needs(qid)
        if value not in self.allowed[qid]:
            raise JudgementError(
                f"Question {qid}: {value!r} is not an allowed answer "
                f"({'/'.join(self.allowed[qid])})"
            )
        self.path.append(f"{qid} {value}")
        return value


# --- RoB 2 ----------------------------------------------------------------------------------

_YN = (Y, PY, PN, N, NI)
_YN_NA = (NA, Y, PY, PN, N, NI)


def _q(qid: str, text: str, answers: tuple[str, ...] = _YN, asked_if: str = "") -> Question:
    return Question(qid, text, answers, asked_if)


_ROB2_D1 = Domain(
    "D1",
    "Bias arising from the randomisation process",
    (
        _q("1.1", "Was the allocation sequence random?"),
        _q(
            "1.2",
            "Was the allocation sequence concealed until participants were enrolled and "
            "assigned to interventions?",
        ),
        _q(
            "1.3",
            "Did baseline differences between intervention groups suggest a problem with the "
            "randomisation process?",
        ),
    ),
)
_AWARE = (
    _q("2.1", "Were participants aware of their assigned intervention during the trial?"),
    _q(
        "2.2",
        "Were carers and people delivering the interventions aware of participants' assigned "
        "intervention during the trial?",
    ),
)
_ROB2_D2_ASSIGNMENT = Domain(
    "D2",
    "Bias due to deviations from intended interventions (effect of assignment)",
    _AWARE
    + (
        _q(
            "2.3",
            "Were there deviations from the intended intervention that arose because of the "
            "trial context?",
            _YN_NA,
            "If Y/PY/NI to 2.1 or 2.2",
        ),
        _q(
            "2.4",
            "Were these deviations likely to have affected the outcome?",
            (NA, Y, PY, PN, N, NI),
            "If Y/PY to 2.3",
        ),
        _q(
            "2.5",
            "Were these deviations from intended intervention balanced between groups?",
            _YN_NA,
            "If Y/PY/NI to 2.4",
        ),
        _q("2.6", "Was an appropriate analysis used to estimate the effect of assignment?"),
        _q(
            "2.7",
            "Was there potential for a substantial impact (on the result) of the failure to "
            "analyse participants in the group to which they were randomised?",
            _YN_NA,
            "If N/PN/NI to 2.6",
        ),
    ),
)
_ROB2_D2_ADHERENCE = Domain(
    "D2",
    "Bias due to deviations from intended interventions (effect of adhering)",
    _AWARE
    + (
        _q(
            "2.3",
            "Were important non-protocol interventions balanced across intervention groups?",
            _YN_NA,
            "If applicable, and if Y/PY/NI to 2.1 or 2.2",
        ),
        _q(
            "2.4",
            "Were there failures in implementing the intervention that could have affected "
            "the outcome?",
            _YN_NA,
            "If applicable",
        ),
        _q(
            "2.5",
            "Was there non-adherence to the assigned intervention regimen that could have "
            "affected participants' outcomes?",
            _YN_NA,
            "If applicable",
        ),
        _q(
            "2.6",
            "Was an appropriate analysis used to estimate the effect of adhering to the "
            "intervention?",
            _YN_NA,
            "If N/PN/NI to 2.3, or Y/PY/NI to 2.4 or 2.5",
        ),
    ),
)
_ROB2_D3 = Domain(
    "D3",
    "Bias due to missing outcome data",
    (
        _q(
            "3.1",
            "Were data for this outcome available for all, or nearly all, participants randomised?",
        ),
        _q(
            "3.2",
            "Is there evidence that the result was not biased by missing outcome data?",
            (NA, Y, PY, PN, N),
            "If N/PN/NI to 3.1",
        ),
        _q(
            "3.3",
            "Could missingness in the outcome depend on its true value?",
            _YN_NA,
            "If N/PN to 3.2",
        ),
        _q(
            "3.4",
            "Is it likely that missingness in the outcome depended on its true value?",
            _YN_NA,
            "If Y/PY/NI to 3.3",
        ),
    ),
)
_ROB2_D4 = Domain(
    "D4",
    "Bias in measurement of the outcome",
    (
        _q("4.1", "Was the method of measuring the outcome inappropriate?"),
        _q(
            "4.2",
            "Could measurement or ascertainment of the outcome have differed between "
            "intervention groups?",
        ),
        _q(
            "4.3",
            "Were outcome assessors aware of the intervention received by study participants?",
            _YN_NA,
            "If N/PN/NI to 4.1 and 4.2",
        ),
        _q(
            "4.4",
            "Could assessment of the outcome have been influenced by knowledge of intervention "
            "received?",
            _YN_NA,
            "If Y/PY/NI to 4.3",
        ),
        _q(
            "4.5",
            "Is it likely that assessment of the outcome was influenced by knowledge of "
            "intervention received?",
            _YN_NA,
            "If Y/PY/NI to 4.4",
        ),
    ),
)
_ROB2_D5 = Domain(
    "D5",
    "Bias in selection of the reported result",
    (
        _q(
            "5.1",
            "Were the data that produced this result analysed in accordance with a "
            "pre-specified analysis plan that was finalised before unblinded outcome data were "
            "available for analysis?",
        ),
        _q(
            "5.2",
            "Is the numerical result being assessed likely to have been selected, on the basis "
            "of the results, from multiple eligible outcome measurements (e.g. scales, "
            "definitions, time points) within the outcome domain?",
        ),
        _q(
            "5.3",
            "... from multiple eligible analyses of the data?",
        ),
    ),
)

_ROB2_CITATION = (
    "Sterne JAC et al. RoB 2: a revised tool for assessing risk of bias in randomised trials. "
    "BMJ 2019;366:l4898. Guidance: Higgins JPT et al., 22 August 2019."
)
ROB2_ASSIGNMENT = Tool(
    "rob2",
    "RoB 2 (effect of assignment to intervention)",
    "2019-08-22",
    _ROB2_CITATION,
    (_ROB2_D1, _ROB2_D2_ASSIGNMENT, _ROB2_D3, _ROB2_D4, _ROB2_D5),
    (LOW, SOME, HIGH),
    per_result=True,
)
ROB2_ADHERENCE = Tool(
    "rob2-adherence",
    "RoB 2 (effect of adhering to intervention)",
    "2019-08-22",
    _ROB2_CITATION,
    (_ROB2_D1, _ROB2_D2_ADHERENCE, _ROB2_D3, _ROB2_D4, _ROB2_D5),
    (LOW, SOME, HIGH),
    per_result=True,
)


def _rob2_d1(a: _Answers) -> str:
    concealed = a("1.2")
    if concealed in NO:
        return HIGH
    if concealed == NI:
        return HIGH if a("1.3") in YES else SOME
    if a("1.1") in NO:
        return SOME
    return SOME if a("1.3") in YES else LOW


def _rob2_d2_assignment(a: _Answers) -> str:
    # Part 1: deviations that arose because of the trial context.
    if a("2.1") in NO and a("2.2") in NO:
        part1 = LOW
    else:
        context = a("2.3")
        if context in NO | {NA}:
            part1 = LOW
        elif context == NI or a("2.4") in NO:
            part1 = SOME
        else:
            part1 = SOME if a("2.5") in YES else HIGH
    # Part 2: the analysis.
    part2 = LOW if a("2.6") in YES else SOME if a("2.7") in NO else HIGH
    if HIGH in (part1, part2):
        return HIGH
    return LOW if part1 == part2 == LOW else SOME


def _rob2_d2_adherence(a: _Answers) -> str:
    aware = not (a("2.1") in NO and a("2.2") in NO)
    if aware and a("2.3") not in YES | {NA}:
        return SOME if a("2.6") in YES else HIGH
    failures, non_adherence = a("2.4"), a("2.5")
    if failures in NO | {NA} and non_adherence in NO | {NA}:
        return LOW
    return SOME if a("2.6") in YES else HIGH


def _rob2_d3(a: _Answers) -> str:
    if a("3.1") in YES:
        return LOW
    if a("3.2") in YES:
        return LOW
    if a("3.3") in NO:
        return LOW
    return SOME if a("3.4") in NO else HIGH


def _rob2_d4(a: _Answers) -> str:
    if a("4.1") in YES:
        return HIGH
    differ = a("4.2")
    if differ in YES:
        return HIGH
    # With no information on 4.2 the best the rest can reach is "some concerns".
    best = LOW if differ in NO else SOME
    if a("4.3") in NO:
        return best
    if a("4.4") in NO:
        return best
    return SOME if a("4.5") in NO else HIGH


def _rob2_d5(a: _Answers) -> str:
    measurements, analyses = a("5.2"), a("5.3")
    if measurements in YES or analyses in YES:
        return HIGH
    if measurements == NI or analyses == NI:
        return SOME
    return LOW if a("5.1") in YES else SOME


_ROB2_ALGORITHMS = {
    ("rob2", "D1"): _rob2_d1,
    ("rob2", "D2"): _rob2_d2_assignment,
    ("rob2", "D3"): _rob2_d3,
    ("rob2", "D4"): _rob2_d4,
    ("rob2", "D5"): _rob2_d5,
    ("rob2-adherence", "D1"): _rob2_d1,
    ("rob2-adherence", "D2"): _rob2_d2_adherence,
    ("rob2-adherence", "D3"): _rob2_d3,
    ("rob2-adherence", "D4"): _rob2_d4,
    ("rob2-adherence", "D5"): _rob2_d5,
}


def rob2_domain(domain: str, answers: Mapping[str, str], *, effect: str = "assignment") -> Proposal:
    """The judgement the RoB 2 algorithm suggests for one domain from its signalling answers.

    `effect` is "assignment" (intention to treat) or "adhering" (per protocol); only domain 2
    differs between them.
    """
    tool = ROB2_ADHERENCE if effect == "adhering" else ROB2_ASSIGNMENT
    spec = tool.domain(domain)
    reader = _Answers(answers, {q.id: q.answers for q in spec.questions})
    try:
        judgement = _ROB2_ALGORITHMS[(tool.key, domain)](reader)
    except _Needs as needs:
        return Proposal(None, tuple(reader.path), needs=needs.question)
    return Proposal(judgement, tuple(reader.path))


def _check(judgements: Iterable[str | None], allowed: Iterable[str], tool: str) -> list[str]:
    allowed = tuple(allowed)
    values = list(judgements)
    for value in values:
        if value is not None and value not in allowed:
            raise JudgementError(f"{tool}: {value!r} is not a judgement this tool uses")
    return [v for v in values if v is not None]


def rob2_overall(domains: Mapping[str, str | None]) -> Proposal:
    """Overall RoB 2 judgement: low if every domain is low, high if any is high, otherwise
    some concerns - flagged when several domains raise concerns, since the guidance lets the
    assessor judge that as high ("some concerns for multiple domains in a way that
    substantially lowers confidence in the result").
    """
    values = _check(domains.values(), (LOW, SOME, HIGH), "RoB 2")
    missing = [key for key, value in domains.items() if value is None]
    if HIGH in values:
        return Proposal(HIGH, path=tuple(k for k, v in domains.items() if v == HIGH))
    if missing:
        return Proposal(None, needs=missing[0])
    concerns = [key for key, value in domains.items() if value == SOME]
    if not concerns:
        return Proposal(LOW)
    note = ""
    if len(concerns) > 1:
        note = (
            f"Some concerns in {len(concerns)} domains ({', '.join(concerns)}): judge the result "
            "at high risk of bias if together they substantially lower confidence in it."
        )
    return Proposal(SOME, path=tuple(concerns), note=note)


# --- ROBINS-I -------------------------------------------------------------------------------

_ROBINS_LEVELS = (LOW, MODERATE, SERIOUS, CRITICAL, NO_INFO)
ROBINS_I = Tool(
    "robins-i",
    "ROBINS-I",
    "2016-10-12",
    "Sterne JAC et al. ROBINS-I: a tool for assessing risk of bias in non-randomised studies "
    "of interventions. BMJ 2016;355:i4919.",
    tuple(
        Domain(key, name, judgements=_ROBINS_LEVELS)
        for key, name in (
            ("D1", "Bias due to confounding"),
            ("D2", "Bias in selection of participants into the study"),
            ("D3", "Bias in classification of interventions"),
            ("D4", "Bias due to deviations from intended interventions"),
            ("D5", "Bias due to missing data"),
            ("D6", "Bias in measurement of outcomes"),
            ("D7", "Bias in selection of the reported result"),
        )
    ),
    _ROBINS_LEVELS,
)


def robins_i_overall(domains: Mapping[str, str | None]) -> Proposal:
    """ROBINS-I overall judgement (Sterne et al. 2016, Table 3): the worst domain, with "no
    information" ranking above low/moderate but below serious/critical."""
    values = _check(domains.values(), _ROBINS_LEVELS, "ROBINS-I")
    if CRITICAL in values:
        return Proposal(CRITICAL)
    if SERIOUS in values:
        return Proposal(SERIOUS)
    missing = [key for key, value in domains.items() if value is None]
    if missing:
        return Proposal(None, needs=missing[0])
    if NO_INFO in values:
        return Proposal(
            NO_INFO,
            note="No information in a domain: judge whether it is a key domain for this result.",
        )
    return Proposal(MODERATE if MODERATE in values else LOW)


# --- QUADAS-2 -------------------------------------------------------------------------------

QY, QN, QU = "yes", "no", "unclear"
_QUADAS_ANSWERS = (QY, QN, QU)
_QUADAS_LEVELS = (LOW, HIGH, UNCLEAR)


def _qq(qid: str, text: str) -> Question:
    return Question(qid, text, _QUADAS_ANSWERS)


QUADAS2 = Tool(
    "quadas-2",
    "QUADAS-2",
    "2011",
    "Whiting PF et al. QUADAS-2: a revised tool for the quality assessment of diagnostic "
    "accuracy studies. Ann Intern Med 2011;155:529-36.",
    (
        Domain(
            "D1",
            "Patient selection",
            (
                _qq("1.1", "Was a consecutive or random sample of patients enrolled?"),
                _qq("1.2", "Was a case-control design avoided?"),
                _qq("1.3", "Did the study avoid inappropriate exclusions?"),
            ),
            _QUADAS_LEVELS,
            applicability=True,
        ),
        Domain(
            "D2",
            "Index test",
            (
                _qq(
                    "2.1",
                    "Were the index test results interpreted without knowledge of the results "
                    "of the reference standard?",
                ),
                _qq("2.2", "If a threshold was used, was it pre-specified?"),
            ),
            _QUADAS_LEVELS,
            applicability=True,
        ),
        Domain(
            "D3",
            "Reference standard",
            (
                _qq(
                    "3.1",
                    "Is the reference standard likely to correctly classify the target condition?",
                ),
                _qq(
                    "3.2",
                    "Were the reference standard results interpreted without knowledge of the "
                    "results of the index test?",
                ),
            ),
            _QUADAS_LEVELS,
            applicability=True,
        ),
        Domain(
            "D4",
            "Flow and timing",
            (
                _qq(
                    "4.1",
                    "Was there an appropriate interval between index test(s) and reference "
                    "standard?",
                ),
                _qq("4.2", "Did all patients receive a reference standard?"),
                _qq("4.3", "Did patients receive the same reference standard?"),
                _qq("4.4", "Were all patients included in the analysis?"),
            ),
            _QUADAS_LEVELS,
        ),
    ),
    _QUADAS_LEVELS,
)


def quadas2_domain(domain: str, answers: Mapping[str, str]) -> Proposal:
    """QUADAS-2 risk of bias for one domain: all "yes" proposes low; any "no" flags potential
    for bias, proposed as high for the assessor to confirm against the review's protocol;
    otherwise unclear (Whiting et al. 2011, "Phase 4")."""
    spec = QUADAS2.domain(domain)
    values = []
    for question in spec.questions:
        value = (answers.get(question.id) or "").strip().lower()
        if not value:
            return Proposal(None, needs=question.id)
        if value not in _QUADAS_ANSWERS:
            raise JudgementError(f"Question {question.id}: {value!r} is not yes, no or unclear")
        values.append(value)
    path = tuple(f"{q.id} {v}" for q, v in zip(spec.questions, values, strict=True))
    if QN in values:
        return Proposal(HIGH, path, note="A 'no' flags potential for bias: confirm or override.")
    if QU in values:
        return Proposal(UNCLEAR, path)
    return Proposal(LOW, path)


def quadas2_overall(domains: Mapping[str, str | None]) -> Proposal:
    """Overall QUADAS-2 judgement (risk of bias, or applicability concerns): low only if every
    domain is low; "at risk" (high) if any is high; otherwise unclear."""
    values = _check(domains.values(), _QUADAS_LEVELS, "QUADAS-2")
    if HIGH in values:
        return Proposal(HIGH)
    missing = [key for key, value in domains.items() if value is None]
    if missing:
        return Proposal(None, needs=missing[0])
    return Proposal(UNCLEAR if UNCLEAR in values else LOW)


# --- Newcastle-Ottawa Scale -----------------------------------------------------------------


@dataclass(frozen=True)
class NosItem:
    key: str
    section: str  # selection / comparability / outcome (cohort) or exposure (case-control)
    text: str
    options: tuple[tuple[str, str, bool], ...]  # (code, text, earns a star)
    multiple: bool = False  # comparability: each ticked option earns its star (max 2)


@dataclass(frozen=True)
class NosScale:
    key: str
    name: str
    items: tuple[NosItem, ...]
    sections: tuple[tuple[str, str, int], ...] = field(default=())  # (key, label, max stars)


_COMPARABILITY = NosItem(
    "C1",
    "comparability",
    "Comparability of groups on the basis of the design or analysis",
    (
        ("a", "Study controls for the most important factor", True),
        ("b", "Study controls for any additional factor", True),
    ),
    multiple=True,
)
NOS_COHORT = NosScale(
    "nos-cohort",
    "Newcastle-Ottawa Scale (cohort studies)",
    (
        NosItem(
            "S1",
            "selection",
            "Representativeness of the exposed cohort",
            (
                ("a", "Truly representative of the average in the community", True),
                ("b", "Somewhat representative of the average in the community", True),
                ("c", "Selected group of users (e.g. nurses, volunteers)", False),
                ("d", "No description of the derivation of the cohort", False),
            ),
        ),
        NosItem(
            "S2",
            "selection",
            "Selection of the non-exposed cohort",
            (
                ("a", "Drawn from the same community as the exposed cohort", True),
                ("b", "Drawn from a different source", False),
                ("c", "No description of the derivation of the non-exposed cohort", False),
            ),
        ),
        NosItem(
            "S3",
            "selection",
            "Ascertainment of exposure",
            (
                ("a", "Secure record (e.g. surgical records)", True),
                ("b", "Structured interview", True),
                ("c", "Written self report", False),
                ("d", "No description", False),
            ),
        ),
        NosItem(
            "S4",
            "selection",
            "Demonstration that the outcome of interest was not present at start of study",
            (("a", "Yes", True), ("b", "No", False)),
        ),
        _COMPARABILITY,
        NosItem(
            "O1",
            "outcome",
            "Assessment of outcome",
            (
                ("a", "Independent blind assessment", True),
                ("b", "Record linkage", True),
                ("c", "Self report", False),
                ("d", "No description", False),
            ),
        ),
        NosItem(
            "O2",
            "outcome",
            "Was follow-up long enough for outcomes to occur?",
            (("a", "Yes", True), ("b", "No", False)),
        ),
        NosItem(
            "O3",
            "outcome",
            "Adequacy of follow-up of cohorts",
            (
                ("a", "Complete follow-up: all subjects accounted for", True),
                ("b", "Subjects lost to follow-up unlikely to introduce bias", True),
                ("c", "Follow-up rate below the stated threshold and no description", False),
                ("d", "No statement", False),
            ),
        ),
    ),
    (
        ("selection", "Selection", 4),
        ("comparability", "Comparability", 2),
        ("outcome", "Outcome", 3),
    ),
)
NOS_CASE_CONTROL = NosScale(
    "nos-case-control",
    "Newcastle-Ottawa Scale (case-control studies)",
    (
        NosItem(
            "S1",
            "selection",
            "Is the case definition adequate?",
            (
                ("a", "Yes, with independent validation", True),
                ("b", "Yes, e.g. record linkage or based on self reports", False),
                ("c", "No description", False),
            ),
        ),
        NosItem(
            "S2",
            "selection",
            "Representativeness of the cases",
            (
                ("a", "Consecutive or obviously representative series of cases", True),
                ("b", "Potential for selection biases or not stated", False),
            ),
        ),
        NosItem(
            "S3",
            "selection",
            "Selection of controls",
            (
                ("a", "Community controls", True),
                ("b", "Hospital controls", False),
                ("c", "No description", False),
            ),
        ),
        NosItem(
            "S4",
            "selection",
            "Definition of controls",
            (
                ("a", "No history of disease (endpoint)", True),
                ("b", "No description of source", False),
            ),
        ),
        _COMPARABILITY,
        NosItem(
            "E1",
            "exposure",
            "Ascertainment of exposure",
            (
                ("a", "Secure record (e.g. surgical records)", True),
                ("b", "Structured interview where blind to case/control status", True),
                ("c", "Interview not blinded to case/control status", False),
                ("d", "Written self report or medical record only", False),
                ("e", "No description", False),
            ),
        ),
        NosItem(
            "E2",
            "exposure",
            "Same method of ascertainment for cases and controls",
            (("a", "Yes", True), ("b", "No", False)),
        ),
        NosItem(
            "E3",
            "exposure",
            "Non-response rate",
            (
                ("a", "Same rate for both groups", True),
                ("b", "Non-respondents described", False),
                ("c", "Rate different and no designation", False),
            ),
        ),
    ),
    (
        ("selection", "Selection", 4),
        ("comparability", "Comparability", 2),
        ("exposure", "Exposure", 3),
    ),
)
NOS_SCALES = {NOS_COHORT.key: NOS_COHORT, NOS_CASE_CONTROL.key: NOS_CASE_CONTROL}


@dataclass(frozen=True)
class NosScore:
    stars: dict[str, int]  # per section key
    total: int
    rating: str  # AHRQ standard: good / fair / poor
    unanswered: tuple[str, ...] = ()


def nos_score(scale: NosScale | str, answers: Mapping[str, str | Iterable[str]]) -> NosScore:
    """Stars per section and in total, and the AHRQ rating (good: 3-4 selection stars, 1-2
    comparability and 2-3 outcome/exposure; fair: 2 selection stars with the same; poor
    otherwise). Unanswered items earn no star and are listed."""
    if isinstance(scale, str):
        try:
            scale = NOS_SCALES[scale]
        except KeyError:
            raise JudgementError(f"No Newcastle-Ottawa scale {scale!r}") from None
    stars = {key: 0 for key, _, _ in scale.sections}
    unanswered = []
    for item in scale.items:
        given = answers.get(item.key)
        chosen = [given] if isinstance(given, str) else list(given or [])
        chosen = [c.strip().lower() for c in chosen if c and c.strip()]
        if not chosen:
            if not item.multiple:  # comparability may rightly earn nothing
                unanswered.append(item.key)
            continue
        if len(chosen) > 1 and not item.multiple:
            raise JudgementError(f"{item.key} ({item.text}): choose one option")
        options = {code: star for code, _, star in item.options}
        for code in chosen:
            if code not in options:
                raise JudgementError(f"{item.key} ({item.text}): no option {code!r}")
        stars[item.section] += sum(1 for code in set(chosen) if options[code])
    last = scale.sections[-1][0]
    if stars["comparability"] >= 1 and stars[last] >= 2 and stars["selection"] >= 3:
        rating = "good"
    elif stars["comparability"] >= 1 and stars[last] >= 2 and stars["selection"] == 2:
        rating = "fair"
    else:
        rating = "poor"
    return NosScore(stars, sum(stars.values()), rating, tuple(unanswered))


# --- common ---------------------------------------------------------------------------------

TOOLS: dict[str, Tool] = {
    tool.key: tool for tool in (ROB2_ASSIGNMENT, ROB2_ADHERENCE, ROBINS_I, QUADAS2)
}


def propose(tool: str, domain: str, answers: Mapping[str, str]) -> Proposal:
    """The proposed domain judgement for any tool with a signalling-question algorithm.

    ROBINS-I (2016) publishes no algorithm from its signalling questions, so the assessor
    judges each domain; the proposal then only names what is missing.
    """
    if tool == ROB2_ASSIGNMENT.key:
        return rob2_domain(domain, answers)
    if tool == ROB2_ADHERENCE.key:
        return rob2_domain(domain, answers, effect="adhering")
    if tool == QUADAS2.key:
        return quadas2_domain(domain, answers)
    if tool in TOOLS:
        return Proposal(None, note="The assessor judges this domain.")
    raise JudgementError(f"No risk-of-bias tool {tool!r}")


def final_judgement(
    tool: Tool | str, domain: str, proposed: str | None, chosen: str | None, justification: str
) -> str:
    """The judgement that stands: the algorithm's, or the assessor's with a written reason.

    Departing from the algorithm's proposal without a justification is refused, as the
    guidance asks assessors to explain any judgement that differs from the algorithm's.
    """
    spec = TOOLS[tool] if isinstance(tool, str) else tool
    allowed = spec.domain(domain).judgements if domain != "overall" else spec.overall
    value = chosen or proposed
    if value is None:
        raise JudgementError(f"{spec.name} {domain}: no judgement yet")
    if value not in allowed:
        raise JudgementError(f"{spec.name} {domain}: {value!r} is not an allowed judgement")
    if proposed is not None and value != proposed and not justification.strip():
        raise JudgementError(
            f"{spec.name} {domain}: the algorithm proposes {JUDGEMENTS[proposed]}; write why "
            f"you judge it {JUDGEMENTS[value]}"
        )
    return value
