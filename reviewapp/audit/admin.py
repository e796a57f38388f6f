from django.contrib import admin

from reviewapp.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only, even for superusers."""

    list_display = ["created_at", "review", "actor_label", "action", "target_type", "target_label"]
    list_filter = ["action"]
    search_fields = ["target_label", "actor_label"]
    raw_id_fields = ["review", "actor"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
