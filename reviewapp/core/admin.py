from django.contrib import admin

from reviewapp.core.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "last_seen", "celery_version", "beats"]
    readonly_fields = ["hostname", "last_seen", "celery_version", "beats"]
