from django.urls import path

from reviewapp.notifications import views

app_name = "notifications"
urlpatterns = [
    path("reviews/<slug:slug>/notifications/", views.preference, name="preference"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
