from django.urls import path

from reviewapp.synthesis import views

app_name = "synthesis"
urlpatterns = [
    path("analyses/", views.analysis_list, name="analysis-list"),
    path("analyses/<int:analysis_id>/", views.analysis_detail, name="analysis-detail"),
    path("analyses/<int:analysis_id>/rerun/", views.analysis_rerun, name="analysis-rerun"),
    path("analyses/<int:analysis_id>/plot/<str:name>", views.analysis_plot, name="analysis-plot"),
    path(
        "analyses/<int:analysis_id>/add/<str:kind>/",
        views.analysis_addition_add,
        name="analysis-addition-add",
    ),
    path(
        "analyses/<int:analysis_id>/additions/<int:addition_id>/remove/",
        views.analysis_addition_remove,
        name="analysis-addition-remove",
    ),
    path("analyses/<int:analysis_id>/rob-form/", views.analysis_rob_form, name="analysis-rob-form"),
    path(
        "analyses/<int:analysis_id>/download/<str:what>",
        views.analysis_download,
        name="analysis-download",
    ),
]
