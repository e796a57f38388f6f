from django.urls import path

from reviewapp.grade import views

app_name = "grade"
urlpatterns = [
    path("analyses/<int:analysis_id>/grade/", views.assessment_detail, name="assessment"),
    path(
        "analyses/<int:analysis_id>/grade/<slug:domain>/",
        views.domain_save,
        name="domain-save",
    ),
    path("summary-of-findings/", views.sof_table, name="sof"),
    path(
        "summary-of-findings/download/<str:sof_format>",
        views.sof_download,
        name="sof-download",
    ),
]
