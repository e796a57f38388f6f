"""Issue 15's path without a browser: a new owner invites two colleagues, they accept and set a
password, screen, and each gets a digest of what still waits for them (and the owner hears the
invitations were accepted)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.test import Client
from django.urls import reverse

from reviewapp.mail.models import OutboundEmail
from reviewapp.notifications.services import digests_send
from reviewapp.reviews.services import review_create
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of
from tests.factories import RecordFactory, UserFactory

PASSWORD = "a sturdy passphrase 7"


def latest_to(address: str) -> OutboundEmail:
    return [m for m in OutboundEmail.objects.order_by("pk") if address in m.to][-1]


def test_invite_accept_screen_and_digest(db, settings):
    settings.DIGEST_HOUR = 7
    settings.SITE_URL = "https://reviews.example.org"
    owner = UserFactory(username="olga", email="olga@example.org")
    review = review_create(title="Statins and falls", owner=owner)
    records = RecordFactory.create_batch(3, review=review)
    owner_client = Client()
    owner_client.force_login(owner)
    colleagues = {}
    for name in ("ines", "ivo"):
        response = owner_client.post(
            reverse("reviews:invitation-create", args=[review.slug]),
            {"email": f"{name}@example.org", "role": "reviewer"},
        )
        assert response.status_code == 302
        link = re.search(r"https?://[^/]+(/\S+/)", latest_to(f"{name}@example.org").body).group(1)
        client = Client()
        response = client.post(
            link, {"username": name, "password1": PASSWORD, "password2": PASSWORD}
        )
        assert response["Location"] == review.get_absolute_url()
        assert client.get(reverse("screening:screen", args=[review.slug, "ta"])).status_code == 200
        colleagues[name] = client

    ines = membership_of(UserFactory._meta.model.objects.get(username="ines"), review)
    decision_record(membership=ines, record=records[0], stage="ta", value="include")

    assert digests_send(now=datetime(2026, 12, 8, 7, 5, tzinfo=UTC)) == 3
    assert "2 record(s) wait for your vote" in latest_to("ines@example.org").body
    # Blinded dual screening: ivo still has all three to vote on, and learns nothing of ines's vote.
    ivo_digest = latest_to("ivo@example.org").body
    assert "3 record(s) wait for your vote" in ivo_digest and "include" not in ivo_digest.lower()
    owner_digest = latest_to("olga@example.org").body
    assert "2 invitation(s) accepted: ines, ivo" in owner_digest
