"""GRADE services against PostgreSQL: proposals from a stored result, judgements with their
reasons, the audit trail, and the demo review's assessment and summary-of-findings table."""

import pytest
from django.core.exceptions import PermissionDenied

from reviewapp.audit.models import AuditEvent
from reviewapp.core.errors import ServiceError
from reviewapp.grade import proposals as p
from reviewapp.grade.models import Assessment, DomainJudgement
from reviewapp.grade.selectors import grading_of, sof_rows
from reviewapp.grade.services import assessment_settings_save, domain_judge
from reviewapp.riskofbias.selectors import overall_by_study
from reviewapp.synthesis.models import Analysis
from tests.conftest import membership_of
from tests.grade.helpers import BCG_ROWS, analysis_with_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysis(review, owner):
    return analysis_with_result(review, owner)


@pytest.fixture
def me(review, owner):
    return membership_of(owner, review)


def row_of(grading, domain):
    return next(r for r in grading.rows if r.key == domain)


def settings(me, analysis, **changes):
    values = {"design": p.RANDOMISED, "rob_form_id": None, "baseline_per_1000": None} | changes
    return assessment_settings_save(membership=me, analysis=analysis, **values)


def test_proposals_come_from_the_stored_result(analysis):
    grading = grading_of(analysis)
    pooled = analysis.results.get().results["pooled"]
    inconsistency = row_of(grading, p.INCONSISTENCY).proposal
    assert f"I² = {pooled['I2']:.0f}%" in inconsistency.reason
    assert f"{pooled['pi_lb_bt']:.2f} to {pooled['pi_ub_bt']:.2f}" in inconsistency.reason
    # Participants: every cell of the 2x2 tables.
    participants = sum(int(r[k]) for r in BCG_ROWS for k in ("ai", "bi", "ci", "di"))
    assert grading.numbers.participants == participants
    # Six trials: too few for Egger's test, whatever its p.
    assert "fewer than 10" in row_of(grading, p.PUBLICATION_BIAS).proposal.reason
    # Nothing saved by looking.
    assert not Assessment.objects.exists()


def test_a_baseline_risk_gives_the_optimal_information_size(me, analysis):
    settings(me, analysis, baseline_per_1000="20")
    grading = grading_of(analysis)
    ois = p.optimal_information_size(baseline_risk=0.02, rrr=0.25)
    assert grading.ois == ois
    assert f"optimal information size of {ois:,}" in row_of(grading, p.IMPRECISION).proposal.reason


def test_agreeing_with_the_proposal_needs_no_reason(me, analysis):
    proposal = row_of(grading_of(analysis), p.INCONSISTENCY).proposal
    judged = domain_judge(
        membership=me, analysis=analysis, domain=p.INCONSISTENCY, judgement=proposal.judgement
    )
    assert (judged.judgement, judged.reason) == (proposal.judgement, proposal.reason)
    assert (judged.proposed, judged.confirmed_by) == (proposal.judgement, me.user)


def test_departing_from_the_proposal_without_a_reason_is_refused(me, analysis):
    proposal = row_of(grading_of(analysis), p.PUBLICATION_BIAS).proposal
    assert proposal.judgement == p.NO
    with pytest.raises(ServiceError, match="say why you judge it 'Serious") as refused:
        domain_judge(
            membership=me, analysis=analysis, domain=p.PUBLICATION_BIAS, judgement=p.SERIOUS
        )
    assert refused.value.field == "reason"
    assert not DomainJudgement.objects.exists()
    judged = domain_judge(
        membership=me,
        analysis=analysis,
        domain=p.PUBLICATION_BIAS,
        judgement=p.SERIOUS,
        reason="Two registered trials never reported.",
    )
    assert judged.reason == "Two registered trials never reported."
    assert judged.proposed == p.NO


def test_a_domain_the_data_cannot_judge_needs_a_reason(me, analysis):
    with pytest.raises(ServiceError, match="propose nothing"):
        domain_judge(membership=me, analysis=analysis, domain=p.INDIRECTNESS, judgement=p.NO)
    with pytest.raises(ServiceError, match="choose one of") as refused:
        domain_judge(
            membership=me, analysis=analysis, domain=p.INDIRECTNESS, judgement=p.PLUS1, reason="x"
        )
    assert refused.value.field == "judgement"


def test_certainty_follows_the_judgements_in_force(me, analysis):
    assert grading_of(analysis).assessment.design == p.RANDOMISED
    before = grading_of(analysis).level
    domain_judge(
        membership=me,
        analysis=analysis,
        domain=p.INDIRECTNESS,
        judgement=p.SERIOUS,
        reason="Trials of the 1930s-70s; vaccines and strains differ from today's.",
    )
    grading = grading_of(analysis)
    assert grading.level == max(1, before - 1)
    assert grading.confirmed == 1 and not grading.complete
    assert any(reason.startswith("Indirectness: serious") for reason in grading.reasons)


def test_judgements_and_settings_are_audited(me, review, analysis):
    settings(me, analysis, baseline_per_1000="30", baseline_source="Control arms")
    domain_judge(
        membership=me, analysis=analysis, domain=p.INDIRECTNESS, judgement=p.NO, reason="Direct."
    )
    domain_judge(
        membership=me,
        analysis=analysis,
        domain=p.INDIRECTNESS,
        judgement=p.SERIOUS,
        reason="Old vaccines.",
    )
    events = list(
        AuditEvent.objects.filter(review=review, action__startswith="grade.").order_by("pk")
    )
    assert [e.action for e in events] == [
        "grade.assessment.changed",
        "grade.domain.judged",
        "grade.domain.judged",
    ]
    assert events[0].after["baseline_per_1000"] == 30.0
    assert events[2].before == {"judgement": p.NO, "reason": "Direct."}
    assert events[2].after == {"judgement": p.SERIOUS, "reason": "Old vaccines."}
    assert events[2].actor == me.user


def test_settings_refuse_bad_values_naming_the_field(me, analysis):
    for changes, field in [
        ({"baseline_per_1000": "1200"}, "baseline_per_1000"),
        ({"baseline_per_1000": "many"}, "baseline_per_1000"),
        ({"threshold_low": "0.8"}, "threshold_high"),
        ({"threshold_low": "1.2", "threshold_high": "0.8"}, "threshold_low"),
        ({"design": "anecdote"}, "design"),
        ({"participants": "12.5"}, "participants"),
        ({"rrr": "2"}, "rrr"),
    ]:
        with pytest.raises(ServiceError) as refused:
            settings(me, analysis, **changes)
        assert refused.value.field == field, changes
    assert not Assessment.objects.exists()


def test_a_reviewer_reads_but_may_not_judge(review, reviewer, analysis):
    with pytest.raises(PermissionDenied):
        domain_judge(
            membership=membership_of(reviewer, review),
            analysis=analysis,
            domain=p.INDIRECTNESS,
            judgement=p.NO,
            reason="x",
        )
    assert grading_of(analysis).rows


def test_an_analyst_judges(review, analyst, analysis):
    judged = domain_judge(
        membership=membership_of(analyst, review),
        analysis=analysis,
        domain=p.INDIRECTNESS,
        judgement=p.NO,
        reason="Direct.",
    )
    assert judged.confirmed_by == analyst


def test_a_changed_proposal_is_flagged_on_the_judgement(me, analysis):
    domain_judge(
        membership=me,
        analysis=analysis,
        domain=p.IMPRECISION,
        judgement=row_of(grading_of(analysis), p.IMPRECISION).judgement,
    )
    assert not row_of(grading_of(analysis), p.IMPRECISION).proposal_changed
    settings(me, analysis, baseline_per_1000="40")
    assert row_of(grading_of(analysis), p.IMPRECISION).proposal_changed


def test_sof_row_gives_absolute_effects_at_the_assumed_risk(me, review, analysis):
    settings(me, analysis, baseline_per_1000="50", comments="Old trials.")
    (row,) = sof_rows(review)
    pooled = analysis.results.get().results["pooled"]
    expected = p.absolute_effect(
        kind="RR",
        estimate=pooled["estimate_bt"],
        ci=(pooled["ci_lb_bt"], pooled["ci_ub_bt"]),
        baseline_per_1000=50,
    )
    assert row.absolute == expected.text()
    assert row.relative.startswith(f"RR {pooled['estimate_bt']:.2f} (")
    assert row.studies == "6 randomised trials"
    assert row.comments.startswith("Old trials. Provisional: 8 of 8 GRADE domains")


def test_the_demo_review_carries_a_grade_assessment_and_a_summary_of_findings_table():
    from reviewapp.demo.services import demo_load

    review = demo_load().review
    assessment = Assessment.objects.get(analysis__review=review)
    grading = grading_of(assessment.analysis)
    assert grading.complete
    # Risk of bias proposed from the consensus RoB 2 judgements weighted as pooled.
    result = assessment.analysis.results.latest("computed_at")
    rob = overall_by_study(assessment.rob_form)
    label_to_study = {
        row["study"]: src["study_id"]
        for row, src in zip(result.inputs["rows"], result.inputs["sources"], strict=True)
    }
    high = sum(
        s["weight"]
        for s in result.results["pooled"]["studies"]
        if rob.get(label_to_study[s["study"]]) == "high"
    )
    assert high > 0
    reason = row_of(grading, p.RISK_OF_BIAS).proposal.reason
    assert f"{high:.0f}% comes from studies at high risk" in reason
    (row,) = sof_rows(review)
    assert row.assumed == "300 per 1,000"
    assert row.relative.startswith("OR ")
    assert row.certainty.endswith(grading.certainty)
    # Loading again adds nothing.
    demo_load()
    assert Assessment.objects.filter(analysis__review=review).count() == 1
    assert DomainJudgement.objects.filter(assessment=assessment).count() == 8
    assert Analysis.objects.filter(review=review, grade_assessment__isnull=False).count() == 1
