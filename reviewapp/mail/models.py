from django.db import models

from reviewapp.mail.constants import EmailStatus


class OutboundEmail(models.Model):
    """One message to send, kept with its status: the outbox.

    A message is written here in the request that causes it and sent by a Celery task, so a slow
    or failing mail server never fails nor slows the request; the task retries with growing
    pauses, and a message that failed every attempt stays here as `failed`, with the last error,
    for an operator to see in the admin and send again.
    """

    kind = models.CharField(max_length=80, blank=True, help_text="What the message is about.")
    from_email = models.CharField(max_length=254)
    to = models.JSONField(default=list)
    subject = models.CharField(max_length=998)
    body = models.TextField()
    html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=EmailStatus.choices, default=EmailStatus.QUEUED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # A sending claim older than the task's time limit was left by a worker that died.
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        verbose_name = "outbound email"

    def __str__(self) -> str:
        return f"{self.subject} to {', '.join(self.to)} ({self.status})"
