from django.contrib import admin

from reviewapp.audit.models import AuditEvent
from reviewapp.core.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit log is append-only, even for superusers."""

    list_display = ["created_at", "review", "actor_label", "action", "target_type", "target_label"]
    list_filter = ["action"]
    search_fields = ["target_label", "actor_label"]
    raw_id_fields = ["review", "actor"]
