"""Small helpers for views that answer both full-page requests and htmx requests."""

from django.shortcuts import render


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render_page_or_partial(request, page: str, partial: str, context: dict, status: int = 200):
    """The full page for a normal request; only the partial when htmx asks for it."""
    return render(request, partial if is_htmx(request) else page, context, status=status)
