from django.contrib import admin

from reviewapp.core.models import DuplicateVersion, Tally, WorkerHeartbeat


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the admin shows but never adds, changes or deletes, even for a superuser: they are
    written only by the code that keeps them right (services, triggers), each subclass says
    why."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "last_seen", "celery_version", "beats"]
    readonly_fields = ["hostname", "last_seen", "celery_version", "beats"]


@admin.register(Tally)
class TallyAdmin(ReadOnlyAdmin):
    """Read only: the counts are kept by the writes (core/tally.py); a count changed by hand
    would be wrong until the next recount (stage_states_rebuild)."""

    list_display = ["review", "name", "n"]
    list_filter = ["review"]
    search_fields = ["name"]


@admin.register(DuplicateVersion)
class DuplicateVersionAdmin(ReadOnlyAdmin):
    """Read only: written by PostgreSQL triggers (migration core 0004); a row added or removed by
    hand would make the cached duplicate counts of its review wrong or recomputed."""

    list_display = ["id", "review_id"]
