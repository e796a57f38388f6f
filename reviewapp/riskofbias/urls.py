from django.urls import path

from reviewapp.riskofbias import views

app_name = "riskofbias"
urlpatterns = [
    path("risk-of-bias/", views.overview, name="overview"),
    path("risk-of-bias/new/", views.form_create, name="form-create"),
    path("risk-of-bias/judgements/", views.judgements_download, name="judgements-download"),
    path("risk-of-bias/<int:rob_form_id>/figure/<slug:figure>/", views.figure, name="figure"),
]
