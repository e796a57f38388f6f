from allauth.account import views as account_views
from django.contrib import admin
from django.urls import include, path

from reviewapp.api import pages as api_pages
from reviewapp.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("healthz", core_views.healthz, name="healthz"),
    path("healthz/live", core_views.healthz_live, name="healthz-live"),
    # allauth's login and logout under the names the app (and LOGIN_URL) has always used.
    path("accounts/login/", account_views.login, name="login"),
    path("accounts/logout/", account_views.logout, name="logout"),
    path("accounts/api-token/", api_pages.api_token, name="api-token"),
    path("accounts/", include("reviewapp.accounts.urls")),
    path("admin/", admin.site.urls),
    path("", include("reviewapp.notifications.urls")),
    path("reviews/", include("reviewapp.reviews.urls")),
    path("reviews/<slug:slug>/", include("reviewapp.literature.urls")),
    path("reviews/<slug:slug>/screen/", include("reviewapp.screening.urls")),
    path("reviews/<slug:slug>/", include("reviewapp.extraction.urls")),
    path("reviews/<slug:slug>/", include("reviewapp.riskofbias.urls")),
    path("api/", include("reviewapp.api.urls")),
    path("reviews/<slug:slug>/", include("reviewapp.reporting.urls")),
    path("reviews/<slug:slug>/", include("reviewapp.synthesis.urls")),
    path("reviews/<slug:slug>/", include("reviewapp.grade.urls")),
    path("reviews/<slug:slug>/audit/", include("reviewapp.audit.urls")),
]
