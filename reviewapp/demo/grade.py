"""The demo review's GRADE assessment of its pooled analysis and so its summary-of-findings
table: what a team's finished assessment looks like, made through the same services."""

from __future__ import annotations

from reviewapp.extraction.models import ExtractionForm
from reviewapp.grade import proposals as p
from reviewapp.grade.models import Assessment
from reviewapp.grade.selectors import grading_of
from reviewapp.grade.services import assessment_settings_save, domain_judge
from reviewapp.reviews.models import Membership, Review
from reviewapp.synthesis.models import Analysis

# Illustrative: the 12-month relapse risk after stopping natalizumab in patients without high
# disease activity before it, as the comparator of the pooled odds ratio; 1,183 patients in all.
BASELINE_PER_1000 = 300
BASELINE_SOURCE = "Illustrative: 12-month relapse risk without high prior disease activity"
PARTICIPANTS = 1183
# The team's own words where the data propose nothing, or where it departs from the proposal.
OWN_JUDGEMENTS = {
    p.RISK_OF_BIAS: (
        p.SERIOUS,
        "Cohorts and a registry: confounding by indication is not addressed by the RoB 2 "
        "judgements the proposal counts (illustrative).",
    ),
    p.INDIRECTNESS: (
        p.NO,
        "Patients, exposure and outcome as in the review question (illustrative).",
    ),
    p.DOSE_RESPONSE: (p.NONE, "The studies report no gradient of prior activity."),
    p.CONFOUNDING: (
        p.NONE,
        "Residual confounding could move the effect either way (illustrative).",
    ),
}


def demo_grade(review: Review, owner: Membership) -> Assessment | None:
    """GRADE for the demo's first pooled analysis, once; None when there is nothing to assess."""
    analysis = Analysis.objects.filter(review=review, results__isnull=False).order_by("pk").first()
    if analysis is None or Assessment.objects.filter(analysis=analysis).exists():
        return None
    rob_form = ExtractionForm.objects.filter(review=review).exclude(tool="").order_by("pk").first()
    assessment_settings_save(
        membership=owner,
        analysis=analysis,
        design=p.OBSERVATIONAL,
        rob_form_id=rob_form.pk if rob_form else None,
        baseline_per_1000=BASELINE_PER_1000,
        baseline_source=BASELINE_SOURCE,
        ratio_kind="OR",
        participants=PARTICIPANTS,
        comments="Demo data: the numbers are illustrative.",
    )
    for domain in (*p.DOWNGRADING, *p.UPGRADING):
        if domain in OWN_JUDGEMENTS:
            judgement, reason = OWN_JUDGEMENTS[domain]
        else:
            # Confirmed as the data propose (rating up after the judgements above).
            row = next(r for r in grading_of(analysis).rows if r.key == domain)
            judgement, reason = row.proposal.judgement or row.judgement, ""
        domain_judge(
            membership=owner, analysis=analysis, domain=domain, judgement=judgement, reason=reason
        )
    return Assessment.objects.get(analysis=analysis)
