from django.urls import path

from reviewapp.literature import views

app_name = "literature"
urlpatterns = [
    path("", views.record_list, name="record-list"),
    path("<int:record_id>/", views.record_detail, name="record-detail"),
]
