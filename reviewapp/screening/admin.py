from django.contrib import admin

from reviewapp.screening.models import (
    Annotation,
    BulkMatch,
    BulkUpload,
    BulkUploadFile,
    Decision,
    ExclusionReason,
    NewRecords,
    Ranking,
    RankingWord,
    RecordNote,
    RecordStageState,
    RecordTag,
    RecordVote,
    RecordWords,
    Report,
    ReportFile,
    ReportText,
    Retrieval,
    RetrievalItem,
    StageSettings,
    StoppingRule,
    Study,
    Tag,
)


@admin.register(StageSettings)
class StageSettingsAdmin(admin.ModelAdmin):
    list_display = ["review", "stage", "reviewers_required", "blinded", "queue_order"]


@admin.register(ExclusionReason)
class ExclusionReasonAdmin(admin.ModelAdmin):
    list_display = ["review", "label", "position", "active"]
    list_filter = ["active"]


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    """Read-only: decisions are append-only events, even for superusers."""

    list_display = ["created_at", "review", "stage", "record", "reviewer", "kind", "value"]
    list_filter = ["stage", "kind", "value"]
    raw_id_fields = ["review", "record"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


for model in (Tag, RecordTag, RecordNote, Study, Report):
    admin.site.register(model)


class _ReadOnly(admin.ModelAdmin):
    """Materialised from the decision events: rebuilt, never edited by hand."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(RecordStageState)
class RecordStageStateAdmin(_ReadOnly):
    list_display = [
        "review",
        "stage",
        "record",
        "state",
        "n_votes",
        "lease_reviewer",
        "lease_until",
    ]
    list_filter = ["stage", "state"]
    raw_id_fields = ["review", "record", "lease_reviewer"]


@admin.register(NewRecords)
class NewRecordsAdmin(_ReadOnly):
    list_display = ["review", "first_id", "last_id"]
    raw_id_fields = ["review"]


@admin.register(RecordVote)
class RecordVoteAdmin(_ReadOnly):
    list_display = ["review", "stage", "record", "reviewer", "value", "first_value", "decided_at"]
    list_filter = ["stage", "value"]
    raw_id_fields = ["review", "record", "reviewer"]


@admin.register(Ranking)
class RankingAdmin(_ReadOnly):
    """Each ranking is a record of what the model learned from: kept as it was computed."""

    list_display = ["review", "stage", "status", "preset", "training_size", "created_at"]
    list_filter = ["stage", "status", "preset"]
    raw_id_fields = ["review"]


class _Derived(_ReadOnly):
    """Derived from records' text by the ranking (a cache): never added or edited by hand."""


@admin.register(RankingWord)
class RankingWordAdmin(_Derived):
    list_display = ["id", "word"]
    search_fields = ["word"]
    show_full_result_count = False  # millions of words in a large installation


@admin.register(RecordWords)
class RecordWordsAdmin(_Derived):
    list_display = ["record"]
    raw_id_fields = ["record"]
    show_full_result_count = False


@admin.register(StoppingRule)
class StoppingRuleAdmin(_ReadOnly):
    """Declared rules are history: a change is a new declaration, made in the app."""

    list_display = ["review", "stage", "target_recall", "confidence", "declared_by", "declared_at"]
    raw_id_fields = ["review"]


@admin.register(ReportFile)
class ReportFileAdmin(_ReadOnly):
    """Every uploaded full text is kept: a replacement is a new upload, made in the app."""

    list_display = ["report", "original_filename", "size", "uploaded_by", "uploaded_at"]
    raw_id_fields = ["report", "uploaded_by"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Retrieval)
class RetrievalAdmin(_ReadOnly):
    """A run of automatic full-text retrieval, with its report: started and read in the app."""

    list_display = ["review", "status", "total", "found", "requested_by", "created_at"]
    list_filter = ["status"]
    raw_id_fields = ["review", "requested_by"]


@admin.register(RetrievalItem)
class RetrievalItemAdmin(_ReadOnly):
    list_display = ["retrieval", "record", "outcome", "source", "created_at"]
    list_filter = ["outcome", "source"]
    raw_id_fields = ["retrieval", "record"]


@admin.register(BulkUpload)
class BulkUploadAdmin(_ReadOnly):
    """A staged batch of PDFs: matched, assigned and confirmed in the app, never here."""

    list_display = ["review", "status", "uploaded_by", "created_at", "finished_at"]
    list_filter = ["status"]
    raw_id_fields = ["review", "uploaded_by"]


@admin.register(BulkMatch)
class BulkMatchAdmin(_ReadOnly):
    """The job that checks and matches a batch's files; run by the worker, never from here."""

    list_display = ["batch", "status", "total", "attempts", "created_at", "finished_at"]
    list_filter = ["status"]
    raw_id_fields = ["batch"]


@admin.register(BulkUploadFile)
class BulkUploadFileAdmin(_ReadOnly):
    list_display = ["batch", "name", "record", "method"]
    raw_id_fields = ["batch", "record"]


@admin.register(ReportText)
class ReportTextAdmin(_Derived):
    list_display = ["record", "pages"]
    raw_id_fields = ["review", "record"]
    show_full_result_count = False


@admin.register(Annotation)
class AnnotationAdmin(_ReadOnly):
    """A reviewer's passage and comment on a PDF, blinded like extraction entries: made, edited and
    deleted by its author in the viewer (screening.annotations), never here."""

    list_display = ["report_file", "author", "page", "field_key", "created_at"]
    raw_id_fields = ["review", "report_file", "author", "form", "extraction"]
