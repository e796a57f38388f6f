"""The outbox: messages go out through a real SMTP server, are retried, and are never lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from reviewapp.mail.constants import EmailStatus
from reviewapp.mail.models import OutboundEmail
from reviewapp.mail.services import email_queue, email_send, outbox_flush, retry_delay
from tests.core.job_fixtures import broker_down_fixture  # noqa: F401
from tests.smtp_server import text_of


def queued(to="ada@example.org", **kwargs) -> OutboundEmail:
    return email_queue(to=to, subject="Conflicts wait for you", body="Three records.", **kwargs)


def test_a_queued_message_arrives_at_the_smtp_server_as_written(inbox, db, settings):
    settings.DEFAULT_FROM_EMAIL = "reviewapp <noreply@reviews.example.org>"
    email = queued(to="ada.sent@example.org", html="<p>Three records.</p>")
    assert email_send(email_id=email.pk) == EmailStatus.SENT
    [message] = inbox.to("ada.sent@example.org")
    assert message["Subject"] == "Conflicts wait for you"
    assert message["From"] == "reviewapp <noreply@reviews.example.org>"
    assert text_of(message).strip() == "Three records."
    assert "<p>Three records.</p>" in message.get_body(preferencelist=("html",)).get_content()
    email.refresh_from_db()
    assert (email.status, email.attempts, email.sent_at is not None) == ("sent", 1, True)
    # Sent is sent: the same task delivered twice sends nothing more.
    assert email_send(email_id=email.pk) == "skipped"
    assert len(inbox.to("ada.sent@example.org")) == 1


def test_a_refused_message_waits_and_is_sent_on_a_later_attempt(inbox, db, settings):
    settings.EMAIL_RETRY_BASE_SECONDS = 30
    inbox.refuse_next = 1
    email = queued(to="ada.retry@example.org")
    assert email_send(email_id=email.pk) == EmailStatus.RETRYING
    email.refresh_from_db()
    assert email.status == "retrying" and email.attempts == 1
    assert "451" in email.last_error and "try again later" in email.last_error
    assert timedelta(seconds=25) < email.next_attempt_at - timezone.now() <= timedelta(seconds=30)
    assert email_send(email_id=email.pk) == "skipped"  # not due yet
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert email_send(email_id=email.pk) == EmailStatus.SENT
    assert len(inbox.to("ada.retry@example.org")) == 1


def test_a_message_refused_every_time_ends_failed_with_the_servers_answer(inbox, db, settings):
    settings.EMAIL_MAX_ATTEMPTS = 3
    inbox.refuse_next = 3
    email = queued(to="ada.fails@example.org")
    for _attempt in range(3):
        OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=None)
        status = email_send(email_id=email.pk)
    assert status == EmailStatus.FAILED
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("failed", 3)
    assert email.last_error == "The mail server answered: 451 4.3.0 Mailbox busy, try again later"
    assert inbox.to("ada.fails@example.org") == []


def test_an_unreachable_smtp_server_is_an_attempt_that_failed_not_an_error(
    db, settings, smtp_server
):
    from tests.own_services import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    email = queued(to="ada.nobody@example.org")
    assert email_send(email_id=email.pk) == EmailStatus.RETRYING
    email.refresh_from_db()
    assert "ConnectionRefusedError" in email.last_error


def test_the_pause_between_attempts_grows_and_is_capped(settings):
    settings.EMAIL_RETRY_BASE_SECONDS = 30
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 120, 480, 1920]
    assert retry_delay(20) == timedelta(hours=6)


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_the_request_succeeds_and_the_message_waits(broker_down):
    with transaction.atomic():
        email = queued(to="ada.broker@example.org")
    # The commit handed it to a broker that is not there: no error, the row waits.
    email.refresh_from_db()
    assert email.status == EmailStatus.QUEUED and email.attempts == 0
    OutboundEmail.objects.filter(pk=email.pk).update(
        created_at=timezone.now() - timedelta(minutes=2)
    )
    assert outbox_flush() == 0  # the broker is still down: nothing handed over, nothing lost
    assert OutboundEmail.objects.get(pk=email.pk).status == EmailStatus.QUEUED


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_through_smtp_and_retries_a_refusal(celery_worker, smtp_server, settings):
    inbox, _port = smtp_server
    settings.CELERY_TASK_DEFAULT_QUEUE = celery_worker[0]
    inbox.refuse_next = 1
    with transaction.atomic():
        email = queued(to="ada.worker@example.org")
    [message] = inbox.wait_for("ada.worker@example.org", timeout=60)
    assert message["Subject"] == "Conflicts wait for you"
    email.refresh_from_db()
    # The first attempt was refused; the worker tried again a second later (EMAIL_RETRY_BASE_SECONDS).
    assert (email.status, email.attempts) == ("sent", 2)
    assert "451" in email.last_error
