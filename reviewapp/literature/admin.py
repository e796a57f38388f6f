from django.contrib import admin

from reviewapp.literature.models import (
    DuplicateLink,
    Import,
    LivingVersion,
    Record,
    RecordMerge,
    Search,
)


@admin.register(Search)
class SearchAdmin(admin.ModelAdmin):
    list_display = [
        "review",
        "source_database",
        "status",
        "count_reported",
        "count_retrieved",
        "created_at",
    ]
    list_filter = ["status", "source_database", "schedule", "scheduled"]
    search_fields = ["query"]
    raw_id_fields = ["review", "rerun_of"]


@admin.register(LivingVersion)
class LivingVersionAdmin(admin.ModelAdmin):
    list_display = ["review", "number", "first_number", "last_number", "created_at"]
    raw_id_fields = ["review", "search"]


@admin.register(Import)
class ImportAdmin(admin.ModelAdmin):
    list_display = [
        "review",
        "file_name",
        "format",
        "status",
        "count_read",
        "count_imported",
        "count_rejected",
    ]
    list_filter = ["status", "format"]
    raw_id_fields = ["review"]


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = ["id", "review", "title", "year", "pmid", "doi"]
    search_fields = ["title", "pmid", "doi"]
    raw_id_fields = ["review", "search", "source_import"]
    list_select_related = ["review"]


@admin.register(DuplicateLink)
class DuplicateLinkAdmin(admin.ModelAdmin):
    list_display = ["duplicate", "primary", "rule", "score", "status", "undone_at"]
    list_filter = ["rule", "status"]
    raw_id_fields = ["review", "duplicate", "primary"]


@admin.register(RecordMerge)
class RecordMergeAdmin(admin.ModelAdmin):
    """Read-only: a merge revision is what an undo restores; edited by hand, undo would restore
    something no one chose. Merges are made and undone on the review's merge page."""

    list_display = ["primary", "review", "current", "created_by", "created_at", "undone_at"]
    list_filter = ["current"]
    raw_id_fields = ["review", "primary", "replaces", "created_by", "undone_by"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
