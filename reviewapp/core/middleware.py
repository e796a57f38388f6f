"""Error responses that views build themselves, given the same styled page as raised errors."""

from __future__ import annotations

from django.shortcuts import render


class MethodNotAllowedPageMiddleware:
    """A 405 from require_POST and friends has an empty body: a browser shows a blank page.

    Only empty 405s are replaced, and only for requests that are not htmx or the API (those get
    the bare status they expect); the Allow header is kept.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code != 405
            or response.content
            or getattr(response, "streaming", False)
            or request.headers.get("HX-Request")
            or request.path.startswith("/api/")
        ):
            return response
        page = render(
            request,
            "405.html",
            {"method": request.method, "allowed": response.get("Allow", "")},
            status=405,
        )
        if response.has_header("Allow"):
            page["Allow"] = response["Allow"]
        return page
