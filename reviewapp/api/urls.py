from django.urls import path

from reviewapp.api import people, views

app_name = "api"
urlpatterns = [
    # What the API offers, for people and scripts (reviewapp/api/people.py).
    path("", people.ApiRoot.as_view(), name="root"),
    path("docs/", people.DocsView.as_view(), name="docs"),
    # The OpenAPI 3 schema: a page in a browser, YAML to scripts, JSON with ?format=json.
    # Public, as are the docs: they hold no data.
    path("schema/", people.SchemaView.as_view(), name="schema"),
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
