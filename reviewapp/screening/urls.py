from django.urls import path

from reviewapp.screening import views

app_name = "screening"
urlpatterns = [
    # Fixed names first: they would otherwise be read as a stage.
    path("agreement.csv", views.agreement_csv, name="agreement-csv"),
    path("settings/", views.stage_settings, name="stage-settings"),
    path("reports/<int:report_id>/file/", views.report_file, name="report-file"),
    path(
        "reports/<int:report_id>/files/<int:file_id>/",
        views.report_file,
        name="report-file-version",
    ),
    path(
        "reports/<int:report_id>/files/<int:file_id>/annotations/",
        views.report_annotations,
        name="report-annotations",
    ),
    path(
        "reports/<int:report_id>/files/<int:file_id>/annotations/<int:annotation_id>/",
        views.annotation_edit,
        name="annotation-edit",
    ),
    path(
        "reports/<int:report_id>/files/<int:file_id>/annotations/<int:annotation_id>/delete/",
        views.annotation_remove,
        name="annotation-delete",
    ),
    path("fulltext/<int:record_id>/", views.report_update, name="report-update"),
    path("fulltext/retrieve/", views.fulltext_retrieval, name="fulltext-retrieval"),
    path("fulltext/bulk/", views.fulltext_bulk, name="fulltext-bulk"),
    path("fulltext/bulk/<int:batch_id>/", views.fulltext_bulk_review, name="fulltext-bulk-review"),
    path(
        "fulltext/retrieve/<int:retrieval_id>/again/",
        views.fulltext_retrieval_retry,
        name="fulltext-retrieval-retry",
    ),
    path("<str:stage>/", views.screen, name="screen"),
    path("<str:stage>/progress/", views.screen_progress, name="screen-progress"),
    path("<str:stage>/undo/", views.screen_undo, name="screen-undo"),
    path("<str:stage>/release/", views.screen_release, name="screen-release"),
    path("<str:stage>/conflicts/", views.conflict_list, name="conflict-list"),
    path(
        "<str:stage>/conflicts/<int:record_id>/",
        views.conflict_detail,
        name="conflict-detail",
    ),
    path("<str:stage>/<int:record_id>/decide/", views.screen_decide, name="screen-decide"),
    path("<str:stage>/<int:record_id>/renew/", views.screen_renew, name="screen-renew"),
    path("<str:stage>/<int:record_id>/resolve/", views.conflict_resolve, name="conflict-resolve"),
    path("<str:stage>/<int:record_id>/history/", views.record_history, name="record-history"),
    path("<str:stage>/<int:record_id>/note/", views.record_note, name="record-note"),
    path("<str:stage>/<int:record_id>/tag/", views.record_tag, name="record-tag"),
    # Prioritisation and stopping (issue 8).
    path("<str:stage>/prioritisation/", views.prioritisation, name="prioritisation"),
    path(
        "<str:stage>/prioritisation/methods.md",
        views.prioritisation_methods,
        name="prioritisation-methods",
    ),
]
