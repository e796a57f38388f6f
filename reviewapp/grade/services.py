"""Writes on GRADE: an outcome's assessment settings and the team's judgement of each domain.

A judgement that departs from what the data propose (or one made where the data propose nothing)
is refused without its reason, as GRADE asks every rating down or up to be explained. Every change
is written to the review's audit log with what it was before.
"""

from __future__ import annotations

import math

from django.db import transaction
from django.utils import timezone

from reviewapp.audit.constants import Action
from reviewapp.audit.services import audit_fields, audit_record
from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import require
from reviewapp.extraction.models import ExtractionForm
from reviewapp.grade.constants import Design, Domain, RatioKind, levels_of
from reviewapp.grade.models import Assessment, DomainJudgement
from reviewapp.grade.selectors import assessment_of, grading_of
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership
from reviewapp.synthesis.models import Analysis

ASSESSMENT_AUDITED = [
    "design",
    "rob_form",
    "baseline_per_1000",
    "baseline_source",
    "ratio_kind",
    "rrr",
    "threshold_low",
    "threshold_high",
    "participants",
    "comments",
]
JUDGEMENT_AUDITED = ["judgement", "reason", "proposed", "proposed_reason"]


def _own(membership: Membership, analysis: Analysis) -> None:
    require(membership, Capability.ANALYSE)
    if analysis.review_id != membership.review_id:
        raise ServiceError("That analysis belongs to another review.")


def _locked_assessment(membership: Membership, analysis: Analysis) -> Assessment:
    """The analysis's assessment, made (with its defaults) when it has none; row locked."""
    Analysis.objects.select_for_update().filter(pk=analysis.pk).first()
    found = Assessment.objects.select_for_update().filter(analysis=analysis).first()
    if found is not None:
        return found
    assessment = assessment_of(analysis)
    assessment.created_by = membership.user
    assessment.save()
    return assessment


def _assessment_changed_audit(
    membership: Membership, analysis: Analysis, assessment: Assessment, before: dict
) -> None:
    # Every service that changes the assessment audits the same fields under the same action.
    audit_record(
        review=analysis.review,
        actor=membership,
        action=Action.GRADE_ASSESSMENT_CHANGED,
        target=assessment,
        before=before,
        after=audit_fields(assessment, ASSESSMENT_AUDITED),
    )


def _number(
    value: float | str | None,
    field: str,
    label: str,
    *,
    low: float | None = None,
    high: float | None = None,
) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = float(str(value).strip().replace(",", ""))
    except ValueError:
        raise ServiceError(f"{label}: '{value}' is not a number.", field=field) from None
    if not math.isfinite(number):
        raise ServiceError(f"{label}: give a finite number.", field=field)
    if low is not None and number < low or high is not None and number > high:
        raise ServiceError(f"{label} must be between {low:g} and {high:g}.", field=field)
    return number


@transaction.atomic
def assessment_settings_save(
    *,
    membership: Membership,
    analysis: Analysis,
    design: str,
    rob_form_id: int | str | None,
    baseline_per_1000: float | str | None,
    baseline_source: str = "",
    ratio_kind: str = "",
    rrr: float | str = 0.25,
    threshold_low: float | str | None = None,
    threshold_high: float | str | None = None,
    participants: int | str | None = None,
    comments: str = "",
) -> Assessment:
    """Set what an outcome's certainty starts from and what its summary-of-findings row states:
    the study design, the risk-of-bias form, the assumed baseline risk, the decision thresholds
    and the relative risk reduction of the optimal information size."""
    _own(membership, analysis)
    if design not in Design.values:
        raise ServiceError("Choose randomised trials or observational studies.", field="design")
    form = None
    if rob_form_id is not None and rob_form_id != "":
        form = (
            ExtractionForm.objects.filter(pk=rob_form_id, review_id=analysis.review_id)
            .exclude(tool="")
            .first()
        )
        if form is None:
            raise ServiceError("Choose one of this review's risk-of-bias forms.", field="rob_form")
    if ratio_kind and ratio_kind not in RatioKind.values:
        raise ServiceError("Choose risk ratio or odds ratio.", field="ratio_kind")
    baseline = _number(
        baseline_per_1000, "baseline_per_1000", "Assumed risk per 1,000", low=0, high=1000
    )
    reduction = _number(rrr, "rrr", "Relative risk reduction", low=0.01, high=0.99)
    low = _number(threshold_low, "threshold_low", "Lower decision threshold")
    high = _number(threshold_high, "threshold_high", "Upper decision threshold")
    if (low is None) != (high is None):
        raise ServiceError(
            "Give both decision thresholds, or neither (ratios then use 0.75 and 1.25).",
            field="threshold_high" if high is None else "threshold_low",
        )
    if low is not None and high is not None and low >= high:
        raise ServiceError(
            "The lower decision threshold must be below the upper one.", field="threshold_low"
        )
    people = _number(participants, "participants", "Participants", low=1, high=10**9)
    if people is not None and people != int(people):
        raise ServiceError("Participants: give a whole number.", field="participants")
    assessment = _locked_assessment(membership, analysis)
    before = audit_fields(assessment, ASSESSMENT_AUDITED)
    assessment.design = design
    assessment.rob_form = form
    assessment.baseline_per_1000 = baseline
    assessment.baseline_source = baseline_source.strip()[:200]
    assessment.ratio_kind = ratio_kind
    assessment.rrr = reduction if reduction is not None else 0.25
    assessment.threshold_low, assessment.threshold_high = low, high
    assessment.participants = int(people) if people is not None else None
    assessment.comments = comments.strip()
    assessment.save()
    _assessment_changed_audit(membership, analysis, assessment, before)
    return assessment


@transaction.atomic
def assessment_baseline_set(
    *,
    membership: Membership,
    analysis: Analysis,
    baseline_per_1000: float | str | None,
    baseline_source: str = "",
) -> Assessment:
    """Only the summary-of-findings row's assumed risk and where it comes from."""
    _own(membership, analysis)
    baseline = _number(
        baseline_per_1000, "baseline_per_1000", "Assumed risk per 1,000", low=0, high=1000
    )
    assessment = _locked_assessment(membership, analysis)
    before = audit_fields(assessment, ASSESSMENT_AUDITED)
    assessment.baseline_per_1000 = baseline
    assessment.baseline_source = baseline_source.strip()[:200]
    assessment.save(update_fields=["baseline_per_1000", "baseline_source", "updated_at"])
    _assessment_changed_audit(membership, analysis, assessment, before)
    return assessment


@transaction.atomic
def domain_judge(
    *, membership: Membership, analysis: Analysis, domain: str, judgement: str, reason: str = ""
) -> DomainJudgement:
    """Confirm or change the judgement of one GRADE domain.

    Agreeing with the proposal needs no words (the proposal's reason is kept); a different
    judgement, or any judgement where the data propose none, needs the reviewer's reason.
    """
    _own(membership, analysis)
    if domain not in Domain.values:
        raise ServiceError(f"'{domain}' is not a GRADE domain.", field="domain")
    levels = levels_of(domain)
    name = Domain(domain).label
    if judgement not in levels:
        raise ServiceError(
            f"{name}: choose one of {', '.join(levels.values())}.", field="judgement"
        )
    assessment = _locked_assessment(membership, analysis)
    grading = grading_of(analysis, assessment=assessment)
    if grading.result is None:
        raise ServiceError("Compute the analysis first: GRADE judges its result.")
    proposal = next(row.proposal for row in grading.rows if row.key == domain)
    reason = reason.strip()
    if proposal.judgement is None and not reason:
        raise ServiceError(
            f"{name}: the data propose nothing here, so say why you judge it "
            f"'{levels[judgement]}'.",
            field="reason",
        )
    if proposal.judgement is not None and judgement != proposal.judgement and not reason:
        raise ServiceError(
            f"{name}: the data propose '{levels[proposal.judgement]}'; say why you judge it "
            f"'{levels[judgement]}' instead.",
            field="reason",
        )
    found = DomainJudgement.objects.filter(assessment=assessment, domain=domain).first()
    before = audit_fields(found, JUDGEMENT_AUDITED) if found else {}
    judged = found or DomainJudgement(assessment=assessment, domain=domain)
    judged.judgement = judgement
    judged.reason = reason or proposal.reason
    judged.proposed = proposal.judgement or ""
    judged.proposed_reason = proposal.reason
    judged.confirmed_by = membership.user
    judged.confirmed_at = timezone.now()
    judged.save()
    audit_record(
        review=analysis.review,
        actor=membership,
        action=Action.GRADE_DOMAIN_JUDGED,
        target=judged,
        before=before,
        after=audit_fields(judged, JUDGEMENT_AUDITED),
    )
    return judged
