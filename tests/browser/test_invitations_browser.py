"""Issue 15's whole path in a browser: a new owner invites two colleagues by email; they accept from
the link that arrived by SMTP, choose a password, land in the review, screen, choose their
notifications and get a digest by SMTP; the owner's audit log shows what changed. At 1280x800 and
390x844, with look() on every page."""

from __future__ import annotations

import pytest

from reviewapp.celery import app
from reviewapp.reviews.models import Membership
from reviewapp.screening.models import Decision
from tests.browser.conftest import VIEWPORTS, wait_for
from tests.browser.look import look
from tests.factories import RecordFactory, UserFactory, review_make
from tests.smtp_server import link_in

PASSWORD = "a sturdy passphrase 7"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_an_owner_invites_two_colleagues_who_accept_from_the_emailed_link(
    login, chromium, live_server, celery_worker, smtp_server, settings, viewport
):
    inbox, _port = smtp_server
    settings.CELERY_TASK_DEFAULT_QUEUE = celery_worker[0]
    owner = UserFactory(username=f"owen-{viewport}")
    review = review_make(owner=owner, slug=f"team-{viewport}")
    colleague = UserFactory(username=f"carl-{viewport}", email=f"carl-{viewport}@example.org")
    Membership.objects.create(review=review, user=colleague, role="reviewer")
    RecordFactory.create_batch(3, review=review)

    page = login(owner, viewport=viewport)
    page.goto(f"{live_server.url}/reviews/{review.slug}/members/")
    look(page, f"team-{viewport}")

    # Inviting someone who is a member already says so, beside the field and at the top.
    page.fill("#id_email", f"carl-{viewport}@example.org")
    page.click("[data-testid=invite-form] button[type=submit]")
    assert "already belongs to carl" in page.inner_text(".error-summary")
    look(page, f"team-invite-refused-{viewport}")

    emails = {f"ines-{viewport}@example.org": "reviewer", f"ivo-{viewport}@example.org": "admin"}
    for email, role in emails.items():
        page.fill("#id_email", email)
        page.select_option("#id_role", role)
        page.click("[data-testid=invite-form] button[type=submit]")
        assert f"Invitation sent to {email}" in page.inner_text(".messages")
    pending = page.inner_text("[data-testid=pending-invitations]")
    assert all(email in pending for email in emails)
    look(page, f"team-pending-{viewport}")

    width, height = VIEWPORTS[viewport]
    invitees = []
    try:
        for n, (email, role) in enumerate(emails.items()):
            [message] = inbox.wait_for(email, timeout=60)
            link = link_in(message, r"^/accounts/invitations/")
            context = chromium.new_context(viewport={"width": width, "height": height})
            invitee = context.new_page()
            invitees.append(invitee)
            invitee.goto(f"{live_server.url}{link}")
            assert review.title in invitee.inner_text("h1")
            look(invitee, f"invitation-{n}-{viewport}")
            username = email.split("@")[0]
            invitee.fill("#id_username", username)
            invitee.fill("#id_password1", PASSWORD)
            invitee.fill("#id_password2", PASSWORD + " typo" if n == 0 else PASSWORD)
            invitee.click("[data-testid=invitation-signup] button[type=submit]")
            if n == 0:
                # A typo in the second password: said beside it; nothing was created.
                assert "The two passwords differ" in invitee.inner_text(".error-summary")
                look(invitee, f"invitation-error-{viewport}")
                invitee.fill("#id_password1", PASSWORD)
                invitee.fill("#id_password2", PASSWORD)
                invitee.click("[data-testid=invitation-signup] button[type=submit]")
            invitee.wait_for_url(f"{live_server.url}/reviews/{review.slug}/")
            assert f"You joined “{review.title}”" in invitee.inner_text(".messages")
            look(invitee, f"invitee-landed-{n}-{viewport}")
            assert Membership.objects.get(review=review, user__username=username).role == role

        page.goto(f"{live_server.url}/reviews/{review.slug}/members/")
        team = page.inner_text("table")
        assert all(email.split("@")[0] in team for email in emails)
        assert page.locator("[data-testid=pending-invitations]").count() == 0

        # The first colleague screens one record with the keyboard, then asks to hear at once.
        ines = invitees[0]
        ines.goto(f"{live_server.url}/reviews/{review.slug}/screen/ta/")
        ines.locator(".screen-current .decision-bar").wait_for()
        ines.keyboard.press("i")
        wait_for(ines, "document.body.getAttribute('data-screening-pending') === '0'")
        assert Decision.objects.filter(
            review=review, reviewer__username=f"ines-{viewport}", value="include"
        ).exists()
        ines.goto(f"{live_server.url}/reviews/{review.slug}/notifications/")
        ines.check("input[name=frequency][value=immediate]")
        look(ines, f"notifications-choice-{viewport}")
        ines.click("button[type=submit]")
        ines.wait_for_load_state()

        # Beat's hourly task, run by the worker: the digest goes out by SMTP and says what waits.
        assert (
            app.send_task("notifications.digests_send", queue=celery_worker[0]).get(timeout=60) >= 1
        )
        _invitation, digest = inbox.wait_for(f"ines-{viewport}@example.org", count=2, timeout=60)
        body = digest.get_body(("plain",)).get_content()
        assert "2 record(s) wait for your vote (title and abstract)" in body
        # Its unsubscribe link works in a browser that is not logged in.
        unsubscribe = link_in(digest, r"^/notifications/unsubscribe/")
        stranger = chromium.new_context(viewport={"width": width, "height": height})
        try:
            anonymous = stranger.new_page()
            anonymous.goto(f"{live_server.url}{unsubscribe}")
            look(anonymous, f"unsubscribe-{viewport}")
            anonymous.click("button[type=submit]")
            anonymous.wait_for_load_state()
            look(anonymous, f"unsubscribed-{viewport}")
        finally:
            stranger.close()
        assert (
            Membership.objects.get(
                review=review, user__username=f"ines-{viewport}"
            ).notification_preference.frequency
            == "off"
        )
    finally:
        for invitee in invitees:
            invitee.context.close()

    # The owner's audit log shows each invitation sent and accepted, and each member it added.
    page.goto(f"{live_server.url}/reviews/{review.slug}/audit/")
    log = page.inner_text(".audit-table")
    for email in emails:
        assert log.count(email) >= 2, (email, log)  # sent, accepted
    assert log.count("Invitation sent") == 2 and log.count("Invitation accepted") == 2
    assert log.count("Member added") == 2
    look(page, f"audit-after-invitations-{viewport}")
