"""Every service that changes a review outside decisions and revisions leaves an audit event,
with the fields it changed before and after, in the same transaction."""

import uuid

import pytest

from reviewapp.audit.models import AuditEvent
from reviewapp.extraction.services import (
    extraction_form_create,
    extraction_form_settings_update,
    form_version_save,
)
from reviewapp.literature.duplicates import duplicate_confirm, duplicate_mark, duplicate_undo
from reviewapp.literature.models import DuplicateLink
from reviewapp.reporting.services import prisma_manual_set
from reviewapp.reviews.constants import Role
from reviewapp.reviews.models import Membership
from reviewapp.reviews.services import (
    membership_add,
    membership_change_role,
    membership_remove,
    review_update,
)
from reviewapp.screening.fulltext import report_study_set
from reviewapp.screening.models import ExclusionReason, Report
from reviewapp.screening.ranking_service import ranking_settings_set
from reviewapp.screening.services import (
    decisions_automation_exclude,
    queue_order_set,
    reason_add,
    reason_update,
)
from reviewapp.screening.stopping import stopping_rule_declare
from tests.conftest import membership_of
from tests.extraction.helpers import study_included
from tests.factories import RecordFactory, UserFactory, review_make


def latest(review, action):
    return AuditEvent.objects.filter(review=review, action=action).latest("id")


def events(review, action):
    return list(AuditEvent.objects.filter(review=review, action=action).order_by("id"))


@pytest.fixture
def me(review, owner):
    return membership_of(owner, review)


def _settings(review, **changes):
    values = dict(
        title=review.title,
        question=review.question,
        protocol_registration=review.protocol_registration,
        inclusion_criteria=review.inclusion_criteria,
        exclusion_criteria=review.exclusion_criteria,
        keywords_include="\n".join(review.keywords_include),
        keywords_exclude="\n".join(review.keywords_exclude),
        stages={
            "ta": {"reviewers_required": 2, "blinded": True},
            "ft": {"reviewers_required": 2, "blinded": True},
        },
    )
    values.update(changes)
    return values


def test_creating_a_review_is_logged(owner):
    review = review_make(owner=owner, title="Rebound after natalizumab", slug="rebound")
    event = latest(review, "review.created")
    assert (event.actor, event.after) == (owner, {"title": review.title, "slug": "rebound"})


def test_review_settings_criteria_and_keywords_are_logged_as_separate_changes(review, me):
    review_update(
        review=review,
        actor=me,
        **_settings(
            review,
            title="Stopping natalizumab in RRMS",
            inclusion_criteria="Adults with RRMS",
            keywords_include="natalizumab, rebound",
        ),
    )
    settings = latest(review, "review.settings.changed")
    assert (settings.before, settings.after) == (
        {"title": "Stopping natalizumab"},
        {"title": "Stopping natalizumab in RRMS"},
    )
    criteria = latest(review, "criteria.changed")
    assert (criteria.before, criteria.after) == (
        {"inclusion_criteria": ""},
        {"inclusion_criteria": "Adults with RRMS"},
    )
    keywords = latest(review, "keywords.changed")
    assert (keywords.before, keywords.after) == (
        {"keywords_include": []},
        {"keywords_include": ["natalizumab", "rebound"]},
    )
    assert not events(review, "stage.mode.changed"), "the stages did not change"


def test_saving_unchanged_settings_logs_nothing(review, me):
    n = AuditEvent.objects.filter(review=review).count()
    review_update(review=review, actor=me, **_settings(review))
    assert AuditEvent.objects.filter(review=review).count() == n


def test_a_stage_switched_to_single_unblinded_screening_is_logged(review, me):
    stages = {
        "ta": {"reviewers_required": 1, "blinded": False},
        "ft": {"reviewers_required": 2, "blinded": True},
    }
    review_update(review=review, actor=me, **_settings(review, stages=stages))
    (event,) = events(review, "stage.mode.changed")
    assert (event.target_type, event.target_id) == ("stage", "ta")
    assert event.target_label == "Title and abstract screening" or "abstract" in event.target_label
    assert (event.before, event.after) == (
        {"reviewers_required": 2, "blinded": True},
        {"reviewers_required": 1, "blinded": False},
    )


def test_queue_order_and_ranking_settings_are_logged(review, me):
    queue_order_set(membership=me, stage="ta", queue_order="random")
    event = latest(review, "stage.mode.changed")
    assert (event.before, event.after) == ({"queue_order": "file_order"}, {"queue_order": "random"})
    ranking_settings_set(
        membership=me, stage="ta", ranked=False, preset="elas_u4", retrain_every=35
    )
    event = latest(review, "stage.mode.changed")
    assert (event.before, event.after) == ({"retrain_every": 20}, {"retrain_every": 35})


def test_team_changes_are_logged(review, me, owner):
    UserFactory(username="rita", email="rita@example.org")
    added = membership_add(review=review, actor=me, identifier="rita@example.org", role="reviewer")
    event = latest(review, "member.added")
    assert (event.actor, event.target_label, event.after) == (owner, "rita", {"role": "reviewer"})
    membership_change_role(membership=added, actor=me, role=Role.ADMIN)
    event = latest(review, "member.role.changed")
    assert (event.before, event.after) == ({"role": "reviewer"}, {"role": "admin"})
    membership_remove(membership=added, actor=me)
    event = latest(review, "member.removed")
    assert (event.target_label, event.before, event.after) == ("rita", {"role": "admin"}, {})
    assert not Membership.objects.filter(pk=added.pk).exists()


def test_a_refused_change_leaves_no_event(review, me):
    n = AuditEvent.objects.filter(review=review).count()
    from reviewapp.core.errors import ServiceError

    with pytest.raises(ServiceError):
        membership_change_role(membership=me, actor=me, role=Role.REVIEWER)  # the last owner
    assert AuditEvent.objects.filter(review=review).count() == n


def test_exclusion_reasons_added_renamed_retired_restored_and_moved_are_logged(review, me):
    reason = reason_add(membership=me, label="Wrong dose")
    assert latest(review, "exclusion_reason.added").after == {"label": "Wrong dose"}
    reason_update(membership=me, reason=reason, label="Wrong dose or schedule")
    event = latest(review, "exclusion_reason.renamed")
    assert (event.before, event.after) == (
        {"label": "Wrong dose"},
        {"label": "Wrong dose or schedule"},
    )
    reason_update(membership=me, reason=reason, active=False)
    event = latest(review, "exclusion_reason.removed")
    assert (event.before, event.after) == ({"active": True}, {"active": False})
    reason_update(membership=me, reason=reason, active=True)
    assert latest(review, "exclusion_reason.restored").after == {"active": True}
    reason_update(membership=me, reason=reason, move=-1)
    event = latest(review, "exclusion_reason.moved")
    labels = list(ExclusionReason.objects.filter(review=review).values_list("label", flat=True))
    assert event.after == {"order": labels}
    assert event.before["order"][-1] == "Wrong dose or schedule"


def test_extraction_forms_are_logged(review, me):
    form = extraction_form_create(membership=me, name="Outcomes")
    assert latest(review, "form.created").after == {"name": "Outcomes", "extractors_required": 1}
    extraction_form_settings_update(
        membership=me, form=form, name="Outcomes", extractors_required=2
    )
    event = latest(review, "form.changed")
    assert (event.before, event.after) == ({"extractors_required": 1}, {"extractors_required": 2})
    items = [{"section": "Design", "label": "Country", "type": "text"}]
    form_version_save(membership=me, form=form, items=items)
    event = latest(review, "form.version.saved")
    assert event.before == {"version": None, "fields": []}
    assert event.after["version"] == 1 and len(event.after["fields"]) == 1
    # Saved again unchanged (the builder sends each field's key back): no version, no event.
    form_version_save(membership=me, form=form, items=[{**items[0], "key": "design_country"}])
    assert len(events(review, "form.version.saved")) == 1


def test_duplicate_links_made_confirmed_and_undone_are_logged(review, me):
    a, b, c = RecordFactory.create_batch(3, review=review)
    link = duplicate_mark(membership=me, duplicate_id=b.pk, primary_id=a.pk)
    event = latest(review, "duplicate.linked")
    assert (event.target_id, event.before, event.after) == (
        str(link.pk),
        {"linked": False},
        {"linked": True},
    )
    # By the records' numbers in the review, as users see and cite them (not database ids).
    assert event.target_label == f"Record {b.number} as a duplicate of record {a.number}"
    found = DuplicateLink.objects.create(
        review=review, duplicate=c, primary=a, rule="title", score=0.9, status="pending"
    )
    duplicate_confirm(membership=me, link_id=found.pk)
    event = latest(review, "duplicate.confirmed")
    assert (event.before, event.after) == ({"status": "pending"}, {"status": "confirmed"})
    duplicate_undo(membership=me, link_id=link.pk)
    assert latest(review, "duplicate.unlinked").after == {"linked": False}


def test_prisma_boxes_entered_by_hand_are_logged(review, me):
    prisma_manual_set(membership=me, values={"website_results": 12}, note="Google Scholar")
    prisma_manual_set(membership=me, values={"website_results": 14})
    first, second = events(review, "prisma.box.changed")
    assert (first.target_id, first.target_label) == (
        "website_results",
        "Records identified from websites",
    )
    assert (first.before, first.after) == ({"value": None}, {"value": 12, "note": "Google Scholar"})
    assert (second.before, second.after) == ({"value": 12}, {"value": 14, "note": ""})


def test_a_report_moved_to_another_study_is_logged(review, me, owner):
    study = study_included(review, owner, label="Smith 2015")
    record = Report.objects.get(study=study).record
    report_study_set(membership=me, record=record, new_label="Smith 2015 extension")
    event = latest(review, "study.linked")
    assert (event.before, event.after) == (
        {"study": "Smith 2015"},
        {"study": "Smith 2015 extension"},
    )


def test_a_stopping_rule_and_stopping_are_logged(review, me):
    RecordFactory.create_batch(3, review=review)
    stopping_rule_declare(membership=me, stage="ta", target_recall=0.9, confidence=0.95)
    event = latest(review, "stopping_rule.declared")
    assert event.after["target_recall"] == 0.9 and event.after["method"]
    n = decisions_automation_exclude(
        membership=me,
        stage="ta",
        record_ids=list(review.records.values_list("pk", flat=True)),
        details={"rule": {"id": 1}},
        token_for=lambda record_id: uuid.uuid4(),
    )
    assert n == 3
    assert latest(review, "screening.stopped").after == {"excluded_by_rule": 3, "rule": {"id": 1}}


def test_an_analysis_created_is_logged(review, owner):
    from tests.synthesis.test_analysis_page import create, extract_trials

    extract_trials(review, owner, k=3)
    analysis = create(review, owner)
    event = latest(review, "analysis.created")
    assert (event.target_id, event.target_label) == (str(analysis.pk), "Deaths")
    assert event.after["measure"] == "RR" and event.after["model"] == "random"
    assert len(events(review, "form.version.saved")) == 1
