from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from reviewapp.api import pages as api_pages
from reviewapp.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("healthz/live", core_views.healthz_live, name="healthz-live"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/api-token/", api_pages.api_token, name="api-token"),
    path("admin/", admin.site.urls),
    path("reviews/", include("reviewapp.reviews.urls")),
    path("reviews/<slug:slug>/", include("reviewapp.literature.urls")),
    path("reviews/<slug:slug>/screen/", include("reviewapp.screening.urls")),
    path("reviews/<slug:slug>/", include("reviewapp.extraction.urls")),
    path("reviews/<slug:slug>/", include("reviewapp.riskofbias.urls")),
    path("api/", include("reviewapp.api.urls")),
    path("reviews/<slug:slug>/", include("reviewapp.reporting.urls")),
    path("reviews/<slug:slug>/", include("reviewapp.synthesis.urls")),
    path("reviews/<slug:slug>/audit/", include("reviewapp.audit.urls")),
]
