"""Email notifications: each member's choice per review, digests from beat, unsubscribe without login."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.urls import reverse

from reviewapp.mail.models import OutboundEmail
from reviewapp.notifications.models import NotificationPreference
from reviewapp.notifications.services import (
    digest_send,
    digests_send,
    preference_set,
    waiting_items,
)
from reviewapp.reviews.services import invitation_accept, invitation_create
from tests.conftest import membership_of
from tests.factories import RecordFactory, UserFactory

MORNING = datetime(2026, 12, 7, 7, 5, tzinfo=UTC)  # DIGEST_HOUR is 7 by default


@pytest.fixture(autouse=True)
def _digest_hour(settings):
    settings.DIGEST_HOUR = 7
    settings.SITE_URL = "https://reviews.example.org"


def digests_to(user) -> list[OutboundEmail]:
    return [
        m for m in OutboundEmail.objects.filter(kind="digest").order_by("pk") if user.email in m.to
    ]


def test_a_daily_digest_says_what_waits_and_goes_once_a_day(review, reviewer, records):
    assert digests_send(now=MORNING - timedelta(hours=1)) == 0  # before the hour: nothing
    digests_send(now=MORNING)
    [message] = digests_to(reviewer)
    assert message.subject == f"Your day in “{review.title}”"
    assert "3 record(s) wait for your vote (title and abstract)" in message.body
    assert f"https://reviews.example.org/reviews/{review.slug}/screen/ta/" in message.body
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    digests_send(now=MORNING + timedelta(hours=5))
    assert len(digests_to(reviewer)) == 1  # not twice the same day
    digests_send(now=MORNING + timedelta(days=1))
    assert len(digests_to(reviewer)) == 2


def test_nothing_waiting_means_no_message_and_analysts_are_not_asked_to_vote(
    review, analyst, owner
):
    digests_send(now=MORNING)
    assert digests_to(analyst) == [] and digests_to(owner) == []  # no records yet


def test_immediately_writes_only_when_what_waits_has_changed(review, reviewer, records):
    preference_set(membership=membership_of(reviewer, review), frequency="immediate")
    digests_send(now=MORNING - timedelta(hours=3))
    digests_send(now=MORNING - timedelta(hours=2))
    assert len(digests_to(reviewer)) == 1
    RecordFactory(review=review)
    digests_send(now=MORNING - timedelta(hours=1))
    [_, second] = digests_to(reviewer)
    assert "4 record(s) wait for your vote" in second.body
    assert second.subject.startswith("Waiting for you in")


def test_off_means_no_message(review, reviewer, records):
    preference_set(membership=membership_of(reviewer, review), frequency="off")
    assert digests_send(now=MORNING) == 0 or digests_to(reviewer) == []
    assert digests_to(reviewer) == []


def test_the_owner_hears_that_an_invitation_was_accepted(review, owner):
    actor = membership_of(owner, review)
    preference_set(membership=actor, frequency="immediate")
    invitation_create(
        review=review, actor=actor, email="nils@example.org", role="analyst", site_url="http://x"
    )
    token = re.search(r"/accounts/invitations/([^/]+)/", OutboundEmail.objects.get().body).group(1)
    nils = UserFactory(username="nils", email="nils@example.org")
    invitation_accept(token=token, user=nils)
    assert digest_send(membership=actor, site_url="https://r.example.org")
    [message] = digests_to(owner)
    assert "1 invitation(s) accepted: nils" in message.body


def test_the_unsubscribe_link_works_without_logging_in(client, review, reviewer, records):
    digests_send(now=MORNING)
    [message] = digests_to(reviewer)
    path = re.search(
        r"https://reviews\.example\.org(/notifications/unsubscribe/\S+/)", message.body
    ).group(1)
    page = client.get(path)
    assert page.status_code == 200 and "Stop emails about" in page.content.decode()
    # Opening the link (as mail scanners do) changes nothing; the button does.
    assert NotificationPreference.objects.get(membership__user=reviewer).frequency == "daily"
    done = client.post(path)
    assert done.status_code == 200 and "Notifications off" in done.content.decode()
    assert NotificationPreference.objects.get(membership__user=reviewer).frequency == "off"
    digests_send(now=MORNING + timedelta(days=1))
    assert len(digests_to(reviewer)) == 1


def test_an_altered_unsubscribe_link_is_refused(client, review, reviewer, records):
    digests_send(now=MORNING)
    path = re.search(r"(/notifications/unsubscribe/\S+/)", digests_to(reviewer)[0].body).group(1)
    response = client.post(path.replace("/unsubscribe/", "/unsubscribe/x"))
    assert response.status_code == 404
    assert NotificationPreference.objects.get(membership__user=reviewer).frequency == "daily"


def test_each_member_sets_their_own_choice_on_the_notifications_page(client, review, reviewer):
    client.force_login(reviewer)
    url = reverse("notifications:preference", args=[review.slug])
    page = client.get(url).content.decode()
    assert re.search(r'value="daily"[^>]*checked', page)  # the default
    assert client.post(url, {"frequency": "immediate"}).status_code == 302
    assert NotificationPreference.objects.get(membership__user=reviewer).frequency == "immediate"
    assert client.post(url, {"frequency": "hourly"}).status_code == 200


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_beat_task_sends_digests_through_the_worker_and_smtp(
    celery_worker, smtp_server, settings
):
    from reviewapp.celery import app
    from tests.factories import review_make

    inbox, _port = smtp_server
    settings.CELERY_TASK_DEFAULT_QUEUE = celery_worker[0]
    owner = UserFactory(username="dora", email="dora.digest@example.org")
    review = review_make(owner=owner, slug="digest-review")
    RecordFactory.create_batch(2, review=review)
    with transaction.atomic():
        preference_set(membership=membership_of(owner, review), frequency="immediate")
    assert app.send_task("notifications.digests_send", queue=celery_worker[0]).get(timeout=60) >= 1
    [message] = inbox.wait_for("dora.digest@example.org")
    assert "2 record(s) wait for your vote" in message.get_body(("plain",)).get_content()
    assert message["List-Unsubscribe"].strip().startswith("<https://")


def test_extractions_waiting_for_consensus_are_told_to_those_who_may_decide_it(
    review, owner, reviewer, reviewer2, analyst
):
    from reviewapp.extraction.services import consensus_save
    from tests.extraction.helpers import dual_form_submitted, entry_sample, extraction_submit

    form, study = dual_form_submitted(review, owner, [])

    extraction_submit(reviewer, review, form, study)
    digests_send(now=MORNING)
    # One entry of two: nothing to decide yet.
    assert not any("consensus" in m.body for m in OutboundEmail.objects.all())

    extraction_submit(reviewer2, review, form, study)
    digests_send(now=MORNING + timedelta(days=1))
    for user in (reviewer, reviewer2, owner):  # its two extractors, and the owner who adjudicates
        assert "1 study waits for a consensus on “Outcomes”" in digests_to(user)[-1].body, user
        assert f"/reviews/{review.slug}/extraction/forms/{form.pk}/" in digests_to(user)[-1].body
    # An analyst neither extracts nor decides; a third reviewer who did not extract it may not
    # decide it either (consensus_save refuses them), so neither is told.
    third = UserFactory()
    review.memberships.create(user=third, role="reviewer")
    digests_send(now=MORNING + timedelta(days=2))
    assert all("consensus" not in m.body for m in digests_to(analyst) + digests_to(third))

    consensus_save(
        membership=membership_of(reviewer, review),
        form=form,
        study=study,
        raw=entry_sample(),
        expected_revision=0,
    )
    told_before = len(digests_to(owner))
    digests_send(now=MORNING + timedelta(days=3))
    assert all("consensus" not in m.body for m in digests_to(owner)[told_before:])
    assert not [
        item
        for user in (owner, reviewer, reviewer2)
        for item in waiting_items(membership_of(user, review), since=None)
        if item.key.startswith("consensus")
    ]
