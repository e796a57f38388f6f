"""The site's URLconf plus a page that fails, to see the 500 page as a user would."""

from django.urls import path

from reviewapp.urls import urlpatterns as site_urlpatterns


def fails(request):
    raise RuntimeError("a fault in a view")


urlpatterns = [*site_urlpatterns, path("fails/", fails)]
