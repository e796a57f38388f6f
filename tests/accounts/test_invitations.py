"""Invitations by email: sent from the team page, accepted from the emailed link, one review only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from reviewapp.core.errors import ServiceError
from reviewapp.mail.models import OutboundEmail
from reviewapp.reviews.constants import Role
from reviewapp.reviews.models import Invitation, Membership
from reviewapp.reviews.services import invitation_accept, invitation_create
from tests.conftest import membership_of
from tests.factories import PASSWORD, UserFactory, review_make
from tests.smtp_server import link_in

NEW_PASSWORD = "a sturdy passphrase 7"


def invite(client, review, email, role="reviewer"):
    return client.post(
        reverse("reviews:invitation-create", args=[review.slug]), {"email": email, "role": role}
    )


def link_of(email: str) -> str:
    """The path of the invitation link in the latest message queued to `email`."""
    # (Read in Python: SQLite has no JSON containment lookup.)
    message = [m for m in OutboundEmail.objects.order_by("pk") if email in m.to][-1]
    return re.search(r"https?://[^/]+(/accounts/invitations/[^/\s]+/)", message.body).group(1)


@pytest.fixture
def owner_client(client, owner, review):
    client.force_login(owner)
    return client


def test_an_owner_invites_by_email_and_the_message_carries_a_working_link(owner_client, review):
    response = invite(owner_client, review, "Nora@Uni.Example.org", "analyst")
    assert response.status_code == 302
    invitation = Invitation.objects.get(review=review)
    assert (invitation.email, invitation.role, invitation.status) == (
        "Nora@uni.example.org",
        "analyst",
        "pending",
    )
    message = invitation.message
    assert message.to == ["Nora@uni.example.org"] and message.kind == "invitation"
    assert "olivia invited you" in message.subject and review.title in message.subject
    assert "as analyst (read and export only)" in message.body
    assert link_of("Nora@uni.example.org").startswith("/accounts/invitations/")
    # Only a digest of the link's token is kept.
    assert link_of("Nora@uni.example.org").split("/")[-2] not in invitation.token_digest
    page = owner_client.get(reverse("reviews:member-list", args=[review.slug])).content.decode()
    assert 'data-testid="pending-invitations"' in page and "Nora@uni.example.org" in page


def test_the_invitee_creates_an_account_and_lands_in_the_review(owner_client, review, client):
    invite(owner_client, review, "nora@example.org")
    link = link_of("nora@example.org")
    owner_client.logout()
    page = client.get(link)
    assert page.status_code == 200 and "Create your account" in page.content.decode()
    response = client.post(
        link, {"username": "nora", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == review.get_absolute_url()
    nora = get_user_model().objects.get(username="nora")
    assert nora.email == "nora@example.org"
    assert membership_of(nora, review).role == Role.REVIEWER
    assert EmailAddress.objects.get(user=nora).verified  # the link proved the address
    assert client.session["_auth_user_id"] == str(nora.pk)
    # Single use: the link now says so, and cannot add anyone else.
    client.logout()
    used = client.get(link)
    assert used.status_code == 410 and "has been used already" in used.content.decode()
    # And nora logs in with her email address too.
    assert client.post("/accounts/login/", {"login": "NORA@example.org", "password": NEW_PASSWORD})[
        "Location"
    ] == reverse("reviews:review-list")


def test_a_bad_password_or_taken_username_is_said_beside_the_field(owner_client, review, client):
    UserFactory(username="nora", email="someone.else@example.org")
    invite(owner_client, review, "nora@example.org")
    link = link_of("nora@example.org")
    owner_client.logout()
    response = client.post(link, {"username": "Nora", "password1": "12345678", "password2": "1"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "The two passwords differ" in page
    response = client.post(
        link, {"username": "nora", "password1": "123456789", "password2": "123456789"}
    )
    assert "The username &#x27;nora&#x27; is taken" in response.content.decode()
    response = client.post(
        link, {"username": "nora2", "password1": "123456789", "password2": "123456789"}
    )
    assert "entirely numeric" in response.content.decode()
    assert not Membership.objects.filter(review=review, user__username="nora2").exists()
    assert Invitation.objects.get(review=review).status == "pending"


def test_an_existing_user_logs_in_from_the_link_and_joins(owner_client, review, client):
    rosa = UserFactory(username="rosa", email="rosa@example.org")
    invite(owner_client, review, "ROSA@example.org", "admin")
    link = link_of("ROSA@example.org")
    owner_client.logout()
    page = client.get(link).content.decode()
    assert "Log in to accept" in page and "Create your account" not in page
    login = client.post(f"/accounts/login/?next={link}", {"login": "rosa", "password": PASSWORD})
    assert login["Location"] == link
    assert "Join the review as rosa" in client.get(link).content.decode()
    joined = client.post(link)
    assert joined["Location"] == review.get_absolute_url()
    assert membership_of(rosa, review).role == Role.ADMIN


def test_an_address_that_belongs_to_a_member_is_refused_saying_so(owner_client, review, reviewer):
    reviewer.email = "rita@example.org"
    reviewer.save()
    response = invite(owner_client, review, "Rita@Example.org")
    assert response.status_code == 400
    assert "Rita@example.org already belongs to rita, who is a member of this review" in (
        response.content.decode()
    )
    assert not Invitation.objects.exists()


def test_inviting_the_same_address_twice_points_to_the_waiting_invitation(owner_client, review):
    invite(owner_client, review, "nora@example.org")
    response = invite(owner_client, review, "NORA@example.org")
    assert "has not answered yet" in response.content.decode()
    assert Invitation.objects.count() == 1


def test_a_revoked_invitation_link_stops_working(owner_client, review, client):
    invite(owner_client, review, "nora@example.org")
    link = link_of("nora@example.org")
    invitation = Invitation.objects.get()
    owner_client.post(reverse("reviews:invitation-revoke", args=[review.slug, invitation.pk]))
    owner_client.logout()
    response = client.get(link)
    assert response.status_code == 410 and "was withdrawn" in response.content.decode()
    response = client.post(
        link, {"username": "nora", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 410
    assert not get_user_model().objects.filter(username="nora").exists()


def test_an_expired_link_stops_working_and_sending_again_gives_a_new_one(
    owner_client, review, client
):
    invite(owner_client, review, "nora@example.org")
    old_link = link_of("nora@example.org")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    page = owner_client.get(reverse("reviews:member-list", args=[review.slug])).content.decode()
    assert "Expired" in page
    assert client.get(old_link).status_code == 410
    invitation = Invitation.objects.get()
    owner_client.post(reverse("reviews:invitation-resend", args=[review.slug, invitation.pk]))
    new_link = link_of("nora@example.org")
    assert new_link != old_link
    assert client.get(old_link).status_code == 404  # the old token is gone entirely
    assert client.get(new_link).status_code == 200


def test_a_made_up_link_is_a_styled_404(client, db):
    response = client.get(reverse("invitation-accept", args=["made-up"]))
    assert response.status_code == 404 and "not valid" in response.content.decode()


def test_an_invitation_adds_its_own_review_only(owner, review, client):
    other = review_make(owner=owner, slug="other-review")
    actor = membership_of(owner, review)
    invitation_create(
        review=review, actor=actor, email="nora@example.org", role="reviewer", site_url="http://x"
    )
    link = link_of("nora@example.org")
    client.post(link, {"username": "nora", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    nora = get_user_model().objects.get(username="nora")
    assert list(Membership.objects.filter(user=nora).values_list("review__slug", flat=True)) == [
        review.slug
    ]
    assert client.get(other.get_absolute_url()).status_code == 404


def test_reviewers_and_analysts_cannot_invite_and_admins_cannot_invite_owners(
    client, review, reviewer, analyst, review_admin
):
    for user in (reviewer, analyst):
        client.force_login(user)
        assert invite(client, review, "x@example.org").status_code == 403
        page = client.get(reverse("reviews:member-list", args=[review.slug])).content.decode()
        assert "invite-form" not in page
    client.force_login(review_admin)
    response = invite(client, review, "x@example.org", "owner")
    assert response.status_code == 400 and "Only an owner can invite another owner" in (
        response.content.decode()
    )
    assert invite(client, review, "x@example.org", "admin").status_code == 302


def test_an_outsider_cannot_revoke_another_reviews_invitation(client, owner, review, outsider):
    other = review_make(owner=outsider, slug="outsiders-review")
    invitation = invitation_create(
        review=review,
        actor=membership_of(owner, review),
        email="n@example.org",
        role="reviewer",
        site_url="http://x",
    )
    client.force_login(outsider)
    response = client.post(reverse("reviews:invitation-revoke", args=[other.slug, invitation.pk]))
    assert response.status_code == 404
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_a_user_who_is_a_member_already_keeps_their_role(owner, review, reviewer):
    invitation = invitation_create(
        review=review,
        actor=membership_of(owner, review),
        email="r2@example.org",
        role="admin",
        site_url="http://x",
    )
    token = link_of("r2@example.org").split("/")[-2]
    assert invitation_accept(token=token, user=reviewer).role == Role.REVIEWER
    invitation.refresh_from_db()
    assert (invitation.status, invitation.accepted_by) == ("accepted", reviewer)
    with pytest.raises(ServiceError, match="used already"):
        invitation_accept(token=token, user=reviewer)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_invitation_goes_through_the_worker_and_smtp_and_its_link_works(
    celery_worker, smtp_server, settings, client
):
    """End to end: the team page queues, the worker sends by SMTP, the link read from the
    message that arrived creates the account inside the review."""
    inbox, _port = smtp_server
    settings.CELERY_TASK_DEFAULT_QUEUE = celery_worker[0]
    owner = UserFactory(username="olga")
    review = review_make(owner=owner, slug="worker-invite")
    client.force_login(owner)
    assert invite(client, review, "nils.worker@example.org").status_code == 302
    [message] = inbox.wait_for("nils.worker@example.org", timeout=60)
    # (Python folds an encoded subject onto the next line; the parser keeps the fold's space.)
    assert message["Subject"].strip() == f"olga invited you to “{review.title}” on reviewapp"
    link = link_in(message, r"^/accounts/invitations/")
    client.logout()
    response = client.post(
        link, {"username": "nils", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response["Location"] == review.get_absolute_url()
    assert client.get(review.get_absolute_url()).status_code == 200
    invitation = Invitation.objects.get(review=review)
    assert invitation.status == "accepted" and invitation.message.status == "sent"


def test_invitations_are_in_the_audit_log(owner_client, owner, review):
    from django.test import Client

    from reviewapp.audit.models import AuditEvent

    client = Client()  # the invitee's browser

    invite(owner_client, review, "nora@example.org", "analyst")
    invitation = Invitation.objects.get()
    owner_client.post(reverse("reviews:invitation-resend", args=[review.slug, invitation.pk]))
    link = link_of("nora@example.org")
    client.post(link, {"username": "nora", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    invite(owner_client, review, "omar@example.org")
    omar = Invitation.objects.get(email="omar@example.org")
    owner_client.post(reverse("reviews:invitation-revoke", args=[review.slug, omar.pk]))
    events = [
        (e.action, e.actor_label, e.target_label)
        for e in AuditEvent.objects.filter(
            review=review, action__startswith="invitation."
        ).order_by("pk")
    ]
    assert events == [
        ("invitation.sent", "olivia", "nora@example.org"),
        ("invitation.sent", "olivia", "nora@example.org"),
        ("invitation.accepted", "nora", "nora@example.org"),
        ("invitation.sent", "olivia", "omar@example.org"),
        ("invitation.revoked", "olivia", "omar@example.org"),
    ]
    added = AuditEvent.objects.get(review=review, action="member.added", actor_label="nora")
    assert added.after == {"role": "analyst"}
