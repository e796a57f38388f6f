from django.db import models

from reviewapp.notifications.constants import Frequency


class NotificationPreference(models.Model):
    """How often one member of one review hears by email what waits for them there."""

    membership = models.OneToOneField(
        "reviews.Membership", on_delete=models.CASCADE, related_name="notification_preference"
    )
    frequency = models.CharField(max_length=16, choices=Frequency.choices, default=Frequency.DAILY)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    # What the last message said, so "immediately" writes only when something has changed.
    last_summary = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.membership}: {self.frequency}"
