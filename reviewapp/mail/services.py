"""The outbox: every email is queued here and sent by a Celery task, with retries.

`email_queue` is what the rest of the app calls. It writes the message and, once the caller's
transaction commits, hands its id to the worker; the user's request never waits for (nor fails
with) the mail server. `email_send` is the task's body: it claims the row, sends, and records
the outcome; a failure schedules the next attempt after a growing pause, up to
EMAIL_MAX_ATTEMPTS, after which the row stays `failed` with the server's last answer.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from reviewapp.mail.constants import EmailStatus
from reviewapp.mail.models import OutboundEmail

logger = logging.getLogger(__name__)

# A sending claim older than this was left by a worker that died mid-send (the task's hard time
# limit is far shorter); the message is taken back and sent again.
STALE_CLAIM = timedelta(minutes=10)
# Queued messages whose task has not run after this long are handed to the worker again (their
# task never reached the broker, or was lost with it).
FLUSH_AFTER = timedelta(minutes=1)


def retry_delay(attempts: int) -> timedelta:
    """The pause before the next attempt: EMAIL_RETRY_BASE_SECONDS, then four times longer each
    time (30 s, 2 min, 8 min, 32 min, ... by default), never more than six hours."""
    seconds = settings.EMAIL_RETRY_BASE_SECONDS * 4 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, 6 * 3600))


def email_queue(
    *,
    to: str | list[str],
    subject: str,
    body: str,
    html: str = "",
    kind: str = "",
    headers: dict[str, str] | None = None,
    from_email: str | None = None,
) -> OutboundEmail:
    """Put a message in the outbox; the worker sends it after the current transaction commits."""
    recipients = [to] if isinstance(to, str) else list(to)
    email = OutboundEmail.objects.create(
        kind=kind,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        subject=" ".join(subject.splitlines()).strip(),
        body=body,
        html=html,
        headers=headers or {},
    )
    transaction.on_commit(lambda: email_enqueue(email_id=email.pk))
    return email


def email_queue_message(message: EmailMessage, *, kind: str = "") -> OutboundEmail:
    """Put a Django EmailMessage (as allauth renders them) in the outbox."""
    html = ""
    for content, mimetype in getattr(message, "alternatives", []) or []:
        if mimetype == "text/html":
            html = str(content)
    body = str(message.body)
    if message.content_subtype == "html" and not html:
        html, body = body, ""
    return email_queue(
        to=list(message.to),
        subject=str(message.subject),
        body=body,
        html=html,
        kind=kind,
        headers={str(k): str(v) for k, v in (message.extra_headers or {}).items()},
        from_email=str(message.from_email) if message.from_email else None,
    )


def email_enqueue(
    *, email_id: int, countdown: float | None = None, queue: str | None = None
) -> bool:
    """Hand a message to the worker. With the broker unreachable the message stays queued in
    the database and the beat's outbox_flush hands it over later: nothing is lost, and the
    request that queued it does not fail."""
    from reviewapp.celery import app
    from reviewapp.mail.tasks import email_send as email_send_task

    queue = queue or settings.CELERY_TASK_DEFAULT_QUEUE
    if app.conf.task_always_eager:
        # In-process (no broker, `make run`): send now; a failed attempt is not retried here,
        # where each retry would hold up the request (the row says it waits to retry).
        if countdown is None:
            email_send_task.apply_async((email_id,), queue=queue)
        return True
    try:
        email_send_task.apply_async(
            (email_id,),
            queue=queue,
            countdown=countdown,
            retry=True,
            retry_policy={"max_retries": 1},
        )
    except (OperationalError, RedisError, OSError) as exc:
        logger.warning(
            "Email %s stays in the outbox: the broker is unreachable (%s)", email_id, exc
        )
        return False
    return True


def _error_text(exc: Exception) -> str:
    """What went wrong, as an operator reads it in the admin."""
    if isinstance(exc, smtplib.SMTPResponseException):
        answer = exc.smtp_error
        text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
        return f"The mail server answered: {exc.smtp_code} {text}"[:2000]
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(
            f"{to}: {code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
            for to, (code, reply) in exc.recipients.items()
        )
        return f"The mail server refused the recipients: {refused}"[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]


def email_send(*, email_id: int, queue: str | None = None) -> str:
    """Send one message of the outbox, once: claim it, send it, record what happened.

    Returns its new status, or "skipped" when it is not due (sent already, failed for good,
    waiting for a later attempt, or being sent by another worker). The next attempt after a
    failure goes to `queue` (the one this attempt came from) or the default queue.
    """
    now = timezone.now()
    due = Q(status__in=[EmailStatus.QUEUED, EmailStatus.RETRYING]) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    stale = Q(status=EmailStatus.SENDING, claimed_at__lt=now - STALE_CLAIM)
    claimed = (
        OutboundEmail.objects.filter(pk=email_id)
        .filter(due | stale)
        .update(status=EmailStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return "skipped"
    email = OutboundEmail.objects.get(pk=email_id)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body,
        from_email=email.from_email,
        to=email.to,
        headers=email.headers or None,
    )
    if email.html:
        message.attach_alternative(email.html, "text/html")
    try:
        message.send()
    except Exception as exc:  # noqa: BLE001 - SMTP errors, refused connections, timeouts, TLS
        error = _error_text(exc)
        if email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
            OutboundEmail.objects.filter(pk=email_id).update(
                status=EmailStatus.FAILED, last_error=error, claimed_at=None, next_attempt_at=None
            )
            logger.error(
                "Email %s to %s failed for good after %s attempts: %s",
                email_id,
                ", ".join(email.to),
                email.attempts,
                error,
            )
            return EmailStatus.FAILED
        delay = retry_delay(email.attempts)
        OutboundEmail.objects.filter(pk=email_id).update(
            status=EmailStatus.RETRYING,
            last_error=error,
            claimed_at=None,
            next_attempt_at=timezone.now() + delay,
        )
        logger.warning(
            "Email %s: attempt %s failed (%s); next in %s", email_id, email.attempts, error, delay
        )
        email_enqueue(email_id=email_id, countdown=delay.total_seconds(), queue=queue)
        return EmailStatus.RETRYING
    OutboundEmail.objects.filter(pk=email_id).update(
        status=EmailStatus.SENT, sent_at=timezone.now(), claimed_at=None, next_attempt_at=None
    )
    return EmailStatus.SENT


def outbox_flush(*, queue: str | None = None) -> int:
    """Hand to the worker every message that is due but whose task seems lost; returns how many."""
    now = timezone.now()
    waiting = OutboundEmail.objects.filter(
        Q(status=EmailStatus.QUEUED, created_at__lt=now - FLUSH_AFTER, next_attempt_at__isnull=True)
        | Q(
            status__in=[EmailStatus.QUEUED, EmailStatus.RETRYING],
            next_attempt_at__lt=now - FLUSH_AFTER,
        )
        | Q(status=EmailStatus.SENDING, claimed_at__lt=now - STALE_CLAIM)
    ).values_list("pk", flat=True)
    count = 0
    for email_id in waiting[:1000]:
        count += email_enqueue(email_id=email_id, queue=queue)
    return count


def email_retry(*, email_id: int) -> None:
    """Send a failed message again (an operator's action in the admin): a fresh set of attempts."""
    OutboundEmail.objects.filter(pk=email_id, status=EmailStatus.FAILED).update(
        status=EmailStatus.QUEUED, attempts=0, next_attempt_at=None
    )
    transaction.on_commit(lambda: email_enqueue(email_id=email_id))
