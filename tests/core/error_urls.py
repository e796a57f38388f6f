"""The site's URLconf plus test-only pages: one that fails (the 500 page as a user sees it), one
that answers a bare unstyled 403, and one the crawl has no parameter value for."""

from django.http import HttpResponseForbidden
from django.urls import path

from reviewapp.urls import urlpatterns as site_urlpatterns


def fails(request):
    raise RuntimeError("a fault in a view")


urlpatterns = [*site_urlpatterns, path("fails/", fails, name="fails")]


def gizmo(request, gizmo_id):
    raise AssertionError("never requested: the crawl cannot fill <gizmo_id>")


# A page with a parameter nobody has taught the crawl: tests/core/test_crawl.py must name it.
urlpatterns.append(path("gizmos/<int:gizmo_id>/", gizmo, name="gizmo-detail"))


def bare_forbidden(request):
    return HttpResponseForbidden("<h1>403 Forbidden</h1>")


urlpatterns.append(path("bare-forbidden/", bare_forbidden, name="bare-forbidden"))
