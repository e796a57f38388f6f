"""The API for people: its root page (/api/), the interactive docs (/api/docs/) and the schema
shown in the browser (/api/schema/).

Each answers a browser with a page in the app's layout and a script with JSON or YAML, by the
request's Accept header or ``?format=``. The docs are Swagger UI from drf-spectacular-sidecar
(a pinned package, served as our own static files); its start-up script is a separate URL
(``?script``) so the page needs no inline script and no change to the Content-Security-Policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth.views import redirect_to_login
from django.template.loader import render_to_string
from django.urls import URLPattern, reverse
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer, TemplateHTMLRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from reviewapp.reviews.models import Review


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str  # as the schema writes it: /api/reviews/{slug}/records/
    summary: str
    needs_review: bool


def endpoints() -> list[Endpoint]:
    """The data endpoints of the API, read from its URLconf, each with its view's first
    docstring paragraph, so a new endpoint is listed without touching this module."""
    from reviewapp.api import urls

    found = []
    for pattern in urls.urlpatterns:
        if not isinstance(pattern, URLPattern) or pattern.name in PEOPLE_PAGES:
            continue
        route = "/api/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        view = getattr(pattern.callback, "view_class", None)
        doc = (view.__doc__ or "").strip().split("\n\n")[0] if view else ""
        found.append(
            Endpoint(
                name=f"api:{pattern.name}",
                path=route,
                summary=" ".join(doc.replace("``", "").split()),
                needs_review="{slug}" in route,
            )
        )
    return found


# Served for people, not listed as data endpoints.
PEOPLE_PAGES = {"root", "docs", "schema"}


class ApiRoot(APIView):
    """What the API offers: its endpoints, the reviews you can read through it, and where its
    documentation and schema are."""

    http_method_names = ["get", "head", "options"]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer, TemplateHTMLRenderer]
    template_name = "api/root.html"

    @extend_schema(exclude=True)
    def get(self, request):
        listed = endpoints()
        reviews = list(
            Review.objects.filter(memberships__user=request.user)
            .order_by("title")
            .values("slug", "title")
        )
        data = {
            "endpoints": [
                {
                    "path": e.path,
                    "description": e.summary,
                    "url": None if e.needs_review else request.build_absolute_uri(reverse(e.name)),
                }
                for e in listed
            ],
            "reviews": [
                {
                    "slug": r["slug"],
                    "title": r["title"],
                    "url": request.build_absolute_uri(
                        reverse("api:review-detail", args=[r["slug"]])
                    ),
                }
                for r in reviews
            ],
            "docs": request.build_absolute_uri(reverse("api:docs")),
            "schema": request.build_absolute_uri(reverse("api:schema")),
            "token": request.build_absolute_uri(reverse("api-token")),
        }
        if request.accepted_renderer.format == "html":
            # The page gets the same facts, with the per-review links already made.
            return Response(
                {
                    **data,
                    "endpoint_rows": [
                        {
                            "path": e.path,
                            "summary": e.summary,
                            "url": None if e.needs_review else reverse(e.name),
                            "examples": [
                                (r["title"], reverse(e.name, args=[r["slug"]])) for r in reviews[:3]
                            ]
                            if e.needs_review
                            else [],
                        }
                        for e in listed
                    ],
                }
            )
        return Response(data)

    def handle_exception(self, exc):
        # A person who is not logged in is sent to log in, not shown a bare 401; a script still
        # gets the 401 with its WWW-Authenticate header.
        renderer = getattr(self.request, "accepted_renderer", None)
        if isinstance(exc, NotAuthenticated) and renderer is not None and renderer.format == "html":
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)


class SchemaPageRenderer(BaseRenderer):
    """The schema as YAML inside a page of the app, for a browser (which would otherwise
    download ``application/vnd.oai.openapi``)."""

    media_type = "text/html"
    format = "html"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        request = (renderer_context or {}).get("request")
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code >= 400:
            text = str(data)
        else:
            # The same YAML a script gets, drawn by drf-spectacular's own dumper.
            text = OpenApiYamlRenderer().render(data).decode()
        return render_to_string("api/schema.html", {"schema_text": text}, request=request)


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema: a page showing its YAML to a browser; YAML to a client that asks
    for it or for anything (``*/*``, as curl does); JSON with ``Accept: application/json`` or
    ``?format=json`` (``application/json``, which browsers show inline)."""

    renderer_classes = [
        OpenApiYamlRenderer,
        OpenApiYamlRenderer2,
        OpenApiJsonRenderer2,
        OpenApiJsonRenderer,
        SchemaPageRenderer,
    ]


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI inside the app's layout; its script comes from ``?script``."""

    template_name = "api/docs.html"
    url_name = "api:schema"

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if request.GET.get("script") is None:
            response.data["schema_json_url"] = reverse("api:schema") + "?format=json"
        return response
