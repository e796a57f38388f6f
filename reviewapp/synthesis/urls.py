from django.urls import path

from reviewapp.synthesis import views

app_name = "synthesis"
urlpatterns = [
    path("analyses/", views.analysis_list, name="analysis-list"),
    path("analyses/<int:analysis_id>/", views.analysis_detail, name="analysis-detail"),
    path("analyses/<int:analysis_id>/rerun/", views.analysis_rerun, name="analysis-rerun"),
    path("analyses/<int:analysis_id>/plot/<str:name>", views.analysis_plot, name="analysis-plot"),
    path(
        "analyses/<int:analysis_id>/download/<str:what>",
        views.analysis_download,
        name="analysis-download",
    ),
]
