"""A change made by a site operator in the Django admin, outside the services, is logged too."""

from django.urls import reverse

from reviewapp.audit.models import AuditEvent
from reviewapp.screening.models import ExclusionReason
from tests.factories import UserFactory


def test_an_exclusion_reason_renamed_in_the_admin_is_logged(client, review):
    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    reason = ExclusionReason.objects.filter(review=review).first()
    client.force_login(operator)
    response = client.post(
        reverse("admin:screening_exclusionreason_change", args=[reason.pk]),
        {"review": review.pk, "label": "Wrong population (adults)", "position": 1, "active": "on"},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.filter(review=review, action="admin.changed").get()
    assert (event.actor, event.target_type, event.target_id) == (
        operator,
        "exclusionreason",
        str(reason.pk),
    )
    assert event.target_label == "Wrong population (adults)"
    assert event.after == {"admin": "Changed Label."}


def test_an_admin_change_outside_any_review_is_not_logged(review):
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.auth import get_user_model

    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    UserFactory(username="someone")
    n = AuditEvent.objects.count()
    LogEntry.objects.log_actions(
        operator.pk,
        get_user_model().objects.filter(username="someone"),
        CHANGE,
        "Changed username.",
    )
    assert LogEntry.objects.filter(object_repr="someone").exists()
    assert AuditEvent.objects.count() == n
