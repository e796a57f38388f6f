from django.urls import path

from reviewapp.screening import views

app_name = "screening"
urlpatterns = [
    path("<str:stage>/", views.screen, name="screen"),
    path("<str:stage>/<int:record_id>/decide/", views.screen_decide, name="screen-decide"),
]
