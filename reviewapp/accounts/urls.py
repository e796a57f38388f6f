"""Everything under /accounts/: allauth's pages (without its deprecated, unnamed redirects) and
the invitation link."""

from allauth.urls import build_provider_urlpatterns
from django.urls import include, path

from reviewapp.accounts import views
from reviewapp.reviews import views as review_views

urlpatterns = [
    path("", views.account_home, name="account-home"),
    # Invitations belong to reviewapp.reviews (they add a member to one review); the link a
    # person gets by email sits with the other account pages.
    path("invitations/<str:token>/", review_views.invitation_accept, name="invitation-accept"),
    path("", include("allauth.account.urls")),
    path("2fa/", include("allauth.mfa.urls")),
    path("3rdparty/", include("allauth.socialaccount.urls")),
    *build_provider_urlpatterns(),
]
