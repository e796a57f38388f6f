"""Changes made in the Django admin bypass the services; the admin's own LogEntry, written in
the transaction of the change, is copied into the review's audit log so none goes unrecorded.

And a review being deleted as a whole is noted for the transaction, so the database trigger
lets its audit events go with it (and refuses every other deletion)."""

from __future__ import annotations

from typing import cast

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from reviewapp.audit.constants import Action
from reviewapp.audit.services import Target, audit_record
from reviewapp.reviews.models import Review

ADMIN_ACTIONS = {
    ADDITION: Action.ADMIN_ADDED,
    CHANGE: Action.ADMIN_CHANGED,
    DELETION: Action.ADMIN_DELETED,
}


def _model_of(entry: LogEntry):
    if entry.content_type_id is None:
        return None
    return ContentType.objects.get_for_id(entry.content_type_id).model_class()


def _review_of(entry: LogEntry) -> Review | None:
    model = _model_of(entry)
    if model is None or not entry.object_id:
        return None
    if model is Review:
        return Review.objects.filter(pk=entry.object_id).first()
    if not any(f.name == "review" for f in model._meta.get_fields()):
        return None
    review_id = (
        model._default_manager.filter(pk=entry.object_id)
        .values_list("review_id", flat=True)
        .first()
    )
    return Review.objects.filter(pk=review_id).first() if review_id else None


@receiver(post_save, sender=LogEntry, dispatch_uid="audit_admin_log_entry")
def admin_change_recorded(sender, instance: LogEntry, created: bool, **kwargs) -> None:
    if not created or instance.action_flag not in ADMIN_ACTIONS:
        return
    review = _review_of(instance)
    if review is None:
        return
    model = _model_of(instance)
    audit_record(
        review=review,
        actor=cast(User, instance.user),
        action=ADMIN_ACTIONS[instance.action_flag],
        target=Target(
            model._meta.model_name if model else "object",
            instance.object_id,
            instance.object_repr,
        ),
        after={"admin": instance.get_change_message() or instance.get_action_flag_display()},
    )


@receiver(pre_delete, sender=Review, dispatch_uid="audit_review_deleting")
def review_deleting(sender, instance: Review, **kwargs) -> None:
    # Transaction-local (set_config's third argument): gone at commit or rollback. The deletion
    # runs in a transaction of its own (Django's Collector), so nothing else shares the note.
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('reviewapp.reviews_deleted', "
            "coalesce(current_setting('reviewapp.reviews_deleted', true), '') || ',' || %s, true)",
            [str(instance.pk)],
        )
