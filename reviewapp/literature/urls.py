from django.urls import path

from reviewapp.literature import views

app_name = "literature"
urlpatterns = [
    path("records/", views.record_list, name="record-list"),
    path("records/<int:record_id>/", views.record_detail, name="record-detail"),
    path("sources/", views.source_list, name="source-list"),
    path("sources/searches/new/", views.search_create, name="search-create"),
    path("sources/searches/<int:search_id>/", views.search_detail, name="search-detail"),
    path("sources/searches/<int:search_id>/rerun/", views.search_rerun, name="search-rerun"),
    path(
        "sources/searches/<int:search_id>/schedule/", views.search_schedule, name="search-schedule"
    ),
    path("sources/searches/<int:search_id>/retry/", views.search_retry, name="search-retry"),
    path("sources/imports/new/", views.import_create, name="import-create"),
    path("sources/imports/<int:import_id>/", views.import_detail, name="import-detail"),
    path("sources/imports/<int:import_id>/retry/", views.import_retry, name="import-retry"),
    path(
        "sources/imports/<int:import_id>/rejections.csv",
        views.import_rejections_csv,
        name="import-rejections-csv",
    ),
    path("duplicates/", views.duplicate_list, name="duplicate-list"),
    path("duplicates/<int:link_id>/confirm/", views.duplicate_confirm, name="duplicate-confirm"),
    path("duplicates/<int:link_id>/undo/", views.duplicate_undo, name="duplicate-undo"),
    path("duplicates/mark/", views.duplicate_mark, name="duplicate-mark"),
    path("duplicates/<int:record_id>/merge/", views.duplicate_merge, name="duplicate-merge"),
    path(
        "duplicates/<int:record_id>/merge/save/",
        views.duplicate_merge_save,
        name="duplicate-merge-save",
    ),
    path(
        "duplicates/<int:record_id>/merge/primary/",
        views.duplicate_merge_primary,
        name="duplicate-merge-primary",
    ),
    path(
        "duplicates/<int:record_id>/merge/undo/",
        views.duplicate_merge_undo,
        name="duplicate-merge-undo",
    ),
]
