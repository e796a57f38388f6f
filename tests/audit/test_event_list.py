"""The audit log page and its CSV: owners and admins only, filters, keyset pages."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewapp.audit.constants import Action
from reviewapp.audit.models import AuditEvent
from reviewapp.audit.services import Target, audit_record
from reviewapp.screening.services import reason_add
from tests.conftest import membership_of


def url(review, name="audit:event-list"):
    return reverse(name, args=[review.slug])


@pytest.fixture
def logged(review, owner, reviewer):
    """A reason added by the owner, and a role change: two events besides the review's creation."""
    from django.db import transaction

    reason_add(membership=membership_of(owner, review), label="Wrong dose")
    with transaction.atomic():
        audit_record(
            review=review,
            actor=None,
            action=Action.MEMBER_ROLE_CHANGED,
            target=Target("user", reviewer.pk, "rita"),
            before={"role": "reviewer"},
            after={"role": "admin"},
        )
    return review


@pytest.mark.parametrize("name", ["audit:event-list", "audit:event-download"])
def test_owners_and_admins_see_the_log(client, logged, owner, review_admin, name):
    for user in (owner, review_admin):
        client.force_login(user)
        assert client.get(url(logged, name)).status_code == 200


@pytest.mark.parametrize("name", ["audit:event-list", "audit:event-download"])
def test_reviewers_and_analysts_are_refused(client, logged, reviewer, analyst, name):
    for user in (reviewer, analyst):
        client.force_login(user)
        assert client.get(url(logged, name)).status_code == 403


@pytest.mark.parametrize("name", ["audit:event-list", "audit:event-download"])
def test_outsiders_get_404_and_anonymous_users_log_in(client, logged, outsider, name):
    response = client.get(url(logged, name))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(outsider)
    assert client.get(url(logged, name)).status_code == 404


def test_only_owners_and_admins_get_the_link(client, review, owner, reviewer):
    client.force_login(owner)
    settings_page = client.get(reverse("reviews:review-settings", args=[review.slug]))
    assert url(review) in settings_page.content.decode()
    client.force_login(reviewer)
    for page in ("reviews:review-detail", "reviews:member-list"):
        assert url(review) not in client.get(reverse(page, args=[review.slug])).content.decode()


def test_the_log_shows_events_newest_first_with_before_and_after(client, logged, owner):
    client.force_login(owner)
    response = client.get(url(logged))
    rows = response.context["page"].rows
    assert [r.event.action for r in rows] == [
        "member.role.changed",
        "exclusion_reason.added",
        "review.created",
    ]
    html = response.content.decode()
    assert "Member&#x27;s role changed" in html and "System" in html
    assert [(c.field, c.before, c.after) for c in rows[0].changes] == [
        ("Role", "reviewer", "admin")
    ]
    assert [(c.field, c.before, c.after) for c in rows[1].changes] == [("Label", "—", "Wrong dose")]


def test_the_filters_narrow_the_log(client, logged, owner):
    client.force_login(owner)

    def actions(**params):
        response = client.get(url(logged), params)
        return [r.event.action for r in response.context["page"].rows]

    assert actions(who="system") == ["member.role.changed"]
    assert actions(who=str(owner.pk)) == ["exclusion_reason.added", "review.created"]
    assert actions(what="exclusion_reason.") == ["exclusion_reason.added"]
    assert actions(q="dose") == ["exclusion_reason.added"]
    today = timezone.now().date()
    assert len(actions(date_from=today.isoformat(), date_to=today.isoformat())) == 3
    assert actions(date_to=(today - timedelta(days=1)).isoformat()) == []


def test_a_bad_filter_is_named_beside_its_field_and_not_applied(client, logged, owner):
    client.force_login(owner)
    response = client.get(url(logged), {"date_from": "2026-12-10", "date_to": "2026-12-01"})
    assert response.status_code == 200
    assert "The end date must be on or after the start date." in response.content.decode()
    response = client.get(url(logged), {"who": "99999", "date_from": "yesterday"})
    html = response.content.decode()
    assert "These filters were not applied" in html and "Enter a valid date." in html
    assert len(response.context["page"].rows) == 3


def test_pages_follow_by_keyset_without_counting_the_log(
    client, review, owner, django_assert_max_num_queries
):
    from django.db import transaction

    with transaction.atomic():
        for i in range(60):
            audit_record(
                review=review,
                actor=owner,
                action=Action.KEYWORDS_CHANGED,
                target=review,
                after={"n": i},
            )
    client.force_login(owner)
    with django_assert_max_num_queries(8) as captured:
        first = client.get(url(review)).context["page"]
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)
    assert len(first.rows) == 50 and first.newer is None
    assert first.rows[0].event.after == {"n": 59}
    second = client.get(url(review), {"before": first.older}).context["page"]
    assert [r.event.after.get("n") for r in second.rows][:2] == [9, 8]
    assert second.rows[-1].event.action == "review.created" and second.older is None
    back = client.get(url(review), {"after": second.newer}).context["page"]
    assert [r.event.pk for r in back.rows] == [r.event.pk for r in first.rows]


def test_the_csv_holds_the_filtered_events(client, logged, owner):
    client.force_login(owner)
    response = client.get(url(logged, "audit:event-download"), {"what": "member."})
    assert response.streaming and response["Content-Type"] == "text/csv"
    assert 'filename="natalizumab-audit-' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    (row,) = rows
    assert (row["actor"], row["action"], row["target"]) == ("system", "member.role.changed", "rita")
    assert (row["before"], row["after"]) == ('{"role": "reviewer"}', '{"role": "admin"}')


def test_the_csv_neutralises_formulas_in_labels(client, review, owner):
    reason_add(membership=membership_of(owner, review), label="=HYPERLINK(1)")
    client.force_login(owner)
    response = client.get(url(review, "audit:event-download"), {"what": "exclusion_reason."})
    body = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK(1)" in body


def test_request_metadata_is_kept_for_a_change_made_on_a_page(client, review, owner):
    client.force_login(owner)
    client.post(
        reverse("screening:stage-settings", args=[review.slug]),
        {"action": "add", "label": "Wrong dose"},
    )
    event = AuditEvent.objects.filter(review=review, action="exclusion_reason.added").get()
    assert event.request_meta["ip"] == "127.0.0.1" and event.request_meta["method"] == "POST"


def test_a_former_member_can_still_be_chosen_in_the_who_filter(client, review, owner, reviewer):
    from reviewapp.reviews.services import membership_remove

    me = membership_of(owner, review)
    membership_remove(membership=membership_of(reviewer, review), actor=me)
    client.force_login(owner)
    response = client.get(url(review))
    assert (str(reviewer.pk), "rita") in response.context["form"].fields["who"].choices
