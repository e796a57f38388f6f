"""Reads for GRADE: the numbers an analysis's latest result offers, what they propose per domain,
the team's judgements beside them, and the summary-of-findings rows of a review."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from reviewapp.extraction.models import ExtractionForm
from reviewapp.extraction.schema import items_of
from reviewapp.grade import proposals as p
from reviewapp.grade.constants import Design, Domain, RatioKind, levels_of
from reviewapp.grade.models import Assessment, DomainJudgement
from reviewapp.reviews.models import Review
from reviewapp.riskofbias.selectors import overall_by_study, rob_forms
from reviewapp.synthesis.models import Analysis, AnalysisResult
from reviewapp.synthesis.selectors import analysis_latest_result

OBSERVATIONAL_TOOLS = frozenset({"robins-i", "nos-cohort", "nos-case-control"})


def assessment_of(analysis: Analysis) -> Assessment:
    """The analysis's assessment, or an unsaved one with the defaults its data suggest."""
    found = Assessment.objects.filter(analysis=analysis).select_related("rob_form").first()
    if found is not None:
        return found
    forms = rob_forms(analysis.review)
    # A form made for this outcome, else the review's only one.
    form = next((f for f in forms if f.result and f.result == analysis.outcome), None)
    if form is None and len(forms) == 1:
        form = forms[0]
    design = (
        Design.OBSERVATIONAL if form and form.tool in OBSERVATIONAL_TOOLS else Design.RANDOMISED
    )
    return Assessment(
        analysis=analysis,
        design=design,
        rob_form=form,
        ratio_kind=_ratio_kind_default(analysis),
    )


def _ratio_kind_default(analysis: Analysis) -> str:
    """For a generic ratio, what the extraction form says the estimates are (OR or else RR)."""
    if analysis.measure in (RatioKind.OR, RatioKind.RR):
        return analysis.measure
    form = ExtractionForm.objects.filter(pk=analysis.options.get("form_id")).first()
    version = form.versions.order_by("-number").first() if form else None
    if version is not None:
        for _section, item in items_of(version.definition):
            if item.get("key") == analysis.options.get("group"):
                return RatioKind.OR if item.get("measure") == "OR" else RatioKind.RR
    return RatioKind.RR


@dataclass
class Numbers:
    """What an analysis's latest result gives the proposals, on the reported scale."""

    k: int
    ratio: bool
    estimate: float
    ci: tuple[float, float]
    pi: tuple[float, float] | None
    i2: float | None
    null: float
    egger_p: float | None
    participants: int | None
    participants_source: str
    events: int | None
    weights: list[tuple[str, float, str | None]]  # study, weight %, overall risk of bias
    measure: str


def _total(rows: list[dict], keys: tuple[str, ...]) -> int | None:
    try:
        return sum(int(float(row[key])) for row in rows for key in keys)
    except (KeyError, TypeError, ValueError):
        return None


def numbers_of(result: AnalysisResult, assessment: Assessment) -> Numbers:
    """The proposals' inputs from a stored result (which must hold its inputs)."""
    pooled = result.results["pooled"]
    rows = result.inputs.get("rows") or []
    ratio = pooled.get("transform") == "exp"
    # No correlation (r = 0, z = 0) is the null of COR and ZCOR alike.
    if pooled["measure"] in ("OR", "RR", "RD", "MD", "SMD", "GEN", "COR", "ZCOR"):
        null = 1.0 if ratio else 0.0
    else:
        # A single-group proportion has no 'no effect': nothing is on either side of it.
        null = math.nan
    participants = _total(rows, ("ai", "bi", "ci", "di")) or _total(rows, ("n1i", "n2i"))
    participants = participants or _total(rows, ("ni",))
    source = "from the pooled data"
    if assessment.participants is not None:
        participants, source = assessment.participants, "as entered"
    events = _total(rows, ("ai", "ci"))
    by_label = {
        row.get("study"): src.get("study_id")
        for row, src in zip(rows, result.inputs.get("sources") or [], strict=False)
    }
    rob = overall_by_study(assessment.rob_form) if assessment.rob_form is not None else {}
    weights = [
        (s["study"], float(s.get("weight") or 0.0), rob.get(by_label.get(s["study"]) or 0))
        for s in pooled.get("studies") or []
    ]
    egger = result.results.get("egger") or {}
    pi = None
    if pooled.get("pi_lb_bt") is not None and pooled.get("pi_ub_bt") is not None:
        pi = (pooled["pi_lb_bt"], pooled["pi_ub_bt"])
    return Numbers(
        k=pooled["k"],
        ratio=ratio,
        estimate=pooled["estimate_bt"],
        ci=(pooled["ci_lb_bt"], pooled["ci_ub_bt"]),
        pi=pi,
        i2=pooled.get("I2"),
        null=null,
        egger_p=egger.get("pval"),
        participants=participants,
        participants_source=source,
        events=events,
        weights=weights,
        measure=pooled["measure"],
    )


def thresholds_of(assessment: Assessment, numbers: Numbers) -> tuple[float, float] | None:
    if assessment.threshold_low is not None and assessment.threshold_high is not None:
        return (assessment.threshold_low, assessment.threshold_high)
    return p.RATIO_THRESHOLDS if numbers.ratio else None


def ois_of(assessment: Assessment, numbers: Numbers) -> int | None:
    """The optimal information size for a dichotomous outcome with a stated baseline risk."""
    baseline = assessment.baseline_per_1000
    if not (numbers.ratio or numbers.measure == "RD") or baseline is None:
        return None
    try:
        return p.optimal_information_size(baseline_risk=baseline / 1000, rrr=assessment.rrr)
    except ValueError:
        return None


def proposals_of(
    assessment: Assessment, numbers: Numbers, judged: dict[str, str]
) -> dict[str, p.Proposal]:
    """Every domain's proposal. ``judged`` (domain -> the judgement in force) decides whether
    another domain rated down, which rating up depends on."""
    out = {
        p.RISK_OF_BIAS: p.risk_of_bias([(w, j) for _s, w, j in numbers.weights])
        if assessment.rob_form_id
        else p.Proposal(
            None, "No risk-of-bias form is chosen for this outcome; judge it yourself."
        ),
        p.INCONSISTENCY: p.inconsistency(
            k=numbers.k, i2=numbers.i2, ci=numbers.ci, pi=numbers.pi, null=numbers.null
        ),
        p.INDIRECTNESS: p.indirectness(),
        p.IMPRECISION: p.imprecision(
            ci=numbers.ci,
            null=numbers.null,
            thresholds=thresholds_of(assessment, numbers),
            participants=numbers.participants,
            ois=ois_of(assessment, numbers),
        ),
        p.PUBLICATION_BIAS: p.publication_bias(k=numbers.k, egger_p=numbers.egger_p),
    }
    rated_down = any(
        judged.get(d, out[d].judgement or p.NO) not in (p.NO, None) for d in p.DOWNGRADING
    )
    out[p.LARGE_EFFECT] = p.large_effect(
        ratio=numbers.ratio,
        estimate=numbers.estimate,
        ci=numbers.ci,
        design=assessment.design,
        rated_down=rated_down,
    )
    out[p.DOSE_RESPONSE] = p.dose_response()
    out[p.CONFOUNDING] = p.confounding()
    return out


@dataclass
class DomainRow:
    key: str
    name: str
    upgrading: bool
    proposal: p.Proposal
    proposal_label: str
    judged: DomainJudgement | None
    judgement: str  # the judgement in force: the team's, else the proposal's, else none
    levels: list[tuple[str, str]]
    # The proposal changed since the team judged (the data did).
    proposal_changed: bool = False
    # What the page's controls show: the judgement in force and the team's own words, or what
    # was just posted when it was refused (with the refusal).
    shown_judgement: str = ""
    shown_reason: str = ""
    error: str = ""


@dataclass
class Grading:
    assessment: Assessment
    result: AnalysisResult | None
    numbers: Numbers | None
    rows: list[DomainRow] = field(default_factory=list)
    level: int = 0
    certainty: str = ""
    confirmed: int = 0
    ois: int | None = None
    thresholds: tuple[float, float] | None = None

    @property
    def complete(self) -> bool:
        return self.confirmed == len(self.rows)

    @property
    def symbols(self) -> str:
        return "⊕" * self.level + "◯" * (4 - self.level)

    @property
    def reasons(self) -> list[str]:
        """The domains that moved certainty, in words, for the table's footnotes."""
        said = []
        for row in self.rows:
            if row.judgement in (p.NO, p.NONE, ""):
                continue
            level = levels_of(row.key)[row.judgement]
            reason = row.judged.reason if row.judged else row.proposal.reason
            said.append(f"{row.name}: {level.lower()}. {reason}")
        return said


def grading_of(analysis: Analysis, *, assessment: Assessment | None = None) -> Grading:
    """The analysis's GRADE assessment as shown: per domain the proposal from the latest result,
    the team's judgement beside it, and the certainty from the judgements in force."""
    assessment = assessment or assessment_of(analysis)
    result = analysis_latest_result(analysis, with_inputs=True)
    grading = Grading(assessment=assessment, result=result, numbers=None)
    if result is None:
        return grading
    judged = (
        {j.domain: j for j in assessment.judgements.select_related("confirmed_by")}
        if (assessment.pk)
        else {}
    )
    numbers = numbers_of(result, assessment)
    proposals = proposals_of(assessment, numbers, {d: j.judgement for d, j in judged.items()})
    for key, name in Domain.choices:
        proposal = proposals[key]
        levels = levels_of(key)
        mine = judged.get(key)
        default = p.NO if key in p.DOWNGRADING else p.NONE
        in_force = mine.judgement if mine else (proposal.judgement or default)
        grading.rows.append(
            DomainRow(
                key=key,
                name=name,
                upgrading=key in p.UPGRADING,
                proposal=proposal,
                proposal_label=levels[proposal.judgement] if proposal.judgement else "No proposal",
                judged=mine,
                judgement=in_force,
                levels=list(levels.items()),
                proposal_changed=mine is not None
                and (mine.proposed or None, mine.proposed_reason)
                != (proposal.judgement, proposal.reason),
                shown_judgement=in_force,
                shown_reason=mine.reason if mine and mine.reason != mine.proposed_reason else "",
            )
        )
    grading.numbers = numbers
    grading.level, grading.certainty = p.certainty(
        assessment.design, {row.key: row.judgement for row in grading.rows}
    )
    grading.confirmed = sum(1 for row in grading.rows if row.judged)
    grading.ois = ois_of(assessment, numbers)
    grading.thresholds = thresholds_of(assessment, numbers)
    return grading


# --- summary of findings ---------------------------------------------------------------------

SOF_HEADER = [
    "outcome",
    "time_point",
    "analysis",
    "assumed_risk_per_1000",
    "baseline_source",
    "corresponding_risk_per_1000",
    "relative_effect",
    "absolute_effect",
    "participants",
    "studies",
    "certainty",
    "certainty_reasons",
    "comments",
]


@dataclass
class SofRow:
    analysis: Analysis
    grading: Grading
    outcome: str
    time_point: str
    assumed: str
    corresponding: str
    relative: str
    absolute: str
    participants: str
    studies: str
    certainty: str
    reasons: list[str]
    comments: str

    def as_dict(self) -> dict[str, str]:
        return {
            "outcome": self.outcome,
            "time_point": self.time_point,
            "analysis": self.analysis.name,
            "assumed_risk_per_1000": self.assumed,
            "baseline_source": self.grading.assessment.baseline_source,
            "corresponding_risk_per_1000": self.corresponding,
            "relative_effect": self.relative,
            "absolute_effect": self.absolute,
            "participants": self.participants,
            "studies": self.studies,
            "certainty": self.certainty,
            "certainty_reasons": " ".join(self.reasons),
            "comments": self.comments,
        }


def _fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def _absolute_kind(assessment: Assessment, numbers: Numbers) -> str | None:
    if numbers.measure in ("RR", "OR", "RD"):
        return numbers.measure
    if numbers.measure == "GEN" and numbers.ratio:
        return assessment.ratio_kind or RatioKind.RR
    return None


def sof_row_of(analysis: Analysis, grading: Grading) -> SofRow | None:
    """One outcome's row of the summary-of-findings table; None without a result."""
    numbers, assessment = grading.numbers, grading.assessment
    if numbers is None:
        return None
    kind = _absolute_kind(assessment, numbers)
    ci = f"{_fmt(numbers.ci[0])} to {_fmt(numbers.ci[1])}"
    name = kind or numbers.measure
    relative = f"{name} {_fmt(numbers.estimate)} ({ci})" if numbers.ratio else "—"
    assumed = corresponding = ""
    if kind is not None and assessment.baseline_per_1000 is not None:
        effect = p.absolute_effect(
            kind=kind,
            estimate=numbers.estimate,
            ci=numbers.ci,
            baseline_per_1000=assessment.baseline_per_1000,
        )
        assumed = f"{assessment.baseline_per_1000:,.0f} per 1,000"
        c = effect.corresponding
        corresponding = f"{c[0]:,.0f} per 1,000 ({c[1]:,.0f} to {c[2]:,.0f})"
        absolute = effect.text()
    elif kind is not None:
        absolute = "Give an assumed risk to see the absolute effect."
    else:
        absolute = f"{numbers.measure} {_fmt(numbers.estimate)} ({ci})"
    one = numbers.k == 1
    if assessment.design == Design.RANDOMISED:
        design = "randomised trial" if one else "randomised trials"
    else:
        design = "observational study" if one else "observational studies"
    studies = f"{numbers.k} {design}"
    comments = assessment.comments.strip()
    if not grading.complete:
        missing = len(grading.rows) - grading.confirmed
        note = (
            f"Provisional: {missing} of {len(grading.rows)} GRADE domains not yet confirmed by "
            "the team."
        )
        comments = f"{comments} {note}".strip()
    return SofRow(
        analysis=analysis,
        grading=grading,
        outcome=analysis.outcome,
        time_point=str(analysis.options.get("time_point") or ""),
        assumed=assumed,
        corresponding=corresponding,
        relative=relative,
        absolute=absolute,
        participants=f"{numbers.participants:,}" if numbers.participants is not None else "",
        studies=studies,
        certainty=f"{grading.symbols} {grading.certainty}",
        reasons=grading.reasons,
        comments=comments,
    )


def sof_rows(review: Review) -> list[SofRow]:
    """The summary-of-findings table: one row per analysis with a GRADE assessment and a result."""
    rows = []
    assessments = Assessment.objects.filter(analysis__review=review).select_related(
        "analysis", "rob_form"
    )
    for assessment in sorted(assessments, key=lambda a: a.analysis.name):
        row = sof_row_of(
            assessment.analysis, grading_of(assessment.analysis, assessment=assessment)
        )
        if row is not None:
            rows.append(row)
    return rows
