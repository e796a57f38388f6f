"""Screening views: interfaces only; they call services (writes) and selectors (reads)."""

from reviewapp.screening.views.annotations import (
    annotation_edit,
    annotation_remove,
    report_annotations,
)
from reviewapp.screening.views.bulk import fulltext_bulk, fulltext_bulk_review
from reviewapp.screening.views.conflicts import (
    conflict_detail,
    conflict_list,
    conflict_resolve,
)
from reviewapp.screening.views.fulltext import report_file, report_update
from reviewapp.screening.views.manage import agreement_csv, stage_settings
from reviewapp.screening.views.ranking import prioritisation, prioritisation_methods
from reviewapp.screening.views.records import record_history, record_note, record_tag
from reviewapp.screening.views.retrieval import fulltext_retrieval, fulltext_retrieval_retry
from reviewapp.screening.views.screen import (
    screen,
    screen_decide,
    screen_progress,
    screen_release,
    screen_renew,
    screen_undo,
)

__all__ = [
    "annotation_edit",
    "annotation_remove",
    "report_annotations",
    "agreement_csv",
    "conflict_detail",
    "conflict_list",
    "conflict_resolve",
    "fulltext_bulk",
    "fulltext_bulk_review",
    "fulltext_retrieval",
    "fulltext_retrieval_retry",
    "prioritisation",
    "prioritisation_methods",
    "record_history",
    "record_note",
    "record_tag",
    "report_file",
    "report_update",
    "screen",
    "screen_decide",
    "screen_progress",
    "screen_release",
    "screen_renew",
    "screen_undo",
    "stage_settings",
]
