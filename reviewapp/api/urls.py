from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from reviewapp.api import views

app_name = "api"
urlpatterns = [
    # The OpenAPI 3 schema: YAML by default, JSON with ?format=json. Public: it holds no data.
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("reviews/", views.ReviewList.as_view(), name="review-list"),
    path("reviews/<slug:slug>/", views.ReviewDetail.as_view(), name="review-detail"),
    path("reviews/<slug:slug>/records/", views.RecordList.as_view(), name="record-list"),
    path("reviews/<slug:slug>/decisions/", views.DecisionList.as_view(), name="decision-list"),
    path("reviews/<slug:slug>/prisma/", views.Prisma.as_view(), name="prisma"),
    path("reviews/<slug:slug>/forms/", views.FormList.as_view(), name="form-list"),
    path(
        "reviews/<slug:slug>/extractions/", views.ExtractionList.as_view(), name="extraction-list"
    ),
]
