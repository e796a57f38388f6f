from django.urls import path

from reviewapp.extraction import views

app_name = "extraction"
urlpatterns = [
    path("extraction/", views.form_list, name="form-list"),
    path("extraction/forms/new/", views.form_create, name="form-create"),
    path("extraction/forms/<int:form_id>/", views.form_detail, name="form-detail"),
    path("extraction/forms/<int:form_id>/edit/", views.form_edit, name="form-edit"),
    path("extraction/forms/<int:form_id>/preview/", views.form_preview, name="form-preview"),
    path(
        "extraction/forms/<int:form_id>/studies/<int:study_id>/",
        views.study_extract,
        name="study-extract",
    ),
    path(
        "extraction/forms/<int:form_id>/studies/<int:study_id>/compare/",
        views.study_compare,
        name="study-compare",
    ),
    path("downloads/", views.download_list, name="download-list"),
    path("downloads/new/", views.download, name="download"),
    path("downloads/<int:export_id>/", views.export_detail, name="export-detail"),
    path("downloads/<int:export_id>/file/", views.export_file, name="export-file"),
    path("downloads/<int:export_id>/retry/", views.export_retry, name="export-retry"),
]
