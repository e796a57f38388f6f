from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from reviewapp.audit.constants import Action
from reviewapp.reviews.models import Review


class AuditEventQuerySet(models.QuerySet):
    # The log is history: the bulk paths that would rewrite or erase it are closed, as for
    # decisions. The database refuses them too (migration 0001's trigger).
    def update(self, **kwargs):
        raise TypeError("Audit events are append-only; record a new event instead of updating.")

    def delete(self):
        raise TypeError("Audit events are append-only and cannot be deleted.")


class AuditEvent(models.Model):
    """One change to a review made outside its append-only decisions and revisions: who, when,
    what (a stable action code), on what, and the fields that changed, before and after.

    Written only through reviewapp.audit.services.audit_record, in the transaction of the change.
    Never changed or deleted: a PostgreSQL trigger refuses UPDATE and DELETE on the table.
    """

    # Deleting a whole review takes its log with it, as it takes its decisions: the trigger lets
    # those rows go (reviewapp.audit.signals), and no others. (The admin refuses, as it does for
    # a review with decisions: the log's admin has no delete permission.)
    # No index of its own: the (review, id) index below serves every lookup by review, and
    # a second one tempts the planner into sorting a review's whole log to show a page.
    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="audit_events", db_index=False
    )
    # None: the system (a task, a command) made the change.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The actor's username when it happened, so the log reads the same after a rename.
    actor_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=40)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    before = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    # Where the change came from when a web request made it: address, method and path.
    request_meta = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The page, newest first, a keyset page at a time.
            models.Index(fields=["review", "id"], name="audit_review_id"),
            models.Index(fields=["review", "action", "id"], name="audit_review_action"),
            models.Index(fields=["review", "actor", "id"], name="audit_review_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label or 'system'} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Audit events are append-only; record a new event instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit events are append-only and cannot be deleted.")

    @property
    def action_label(self) -> str:
        try:
            return Action(self.action).label
        except ValueError:
            return self.action
