from urllib.parse import urlencode

from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from reviewapp.audit.forms import AuditFilterForm
from reviewapp.audit.selectors import (
    CSV_HEADER,
    audit_csv_rows,
    audit_events,
    audit_members,
    audit_page,
)
from reviewapp.core.permissions import review_view
from reviewapp.extraction.exports import csv_stream
from reviewapp.reviews.constants import Capability

FILTERS = ("who", "what", "date_from", "date_to", "q")


def _filters(request, review) -> tuple[AuditFilterForm, dict, str]:
    """The bound filter form, the filters that are valid, and the query string that repeats them."""
    given = {k: request.GET[k] for k in FILTERS if request.GET.get(k)}
    form = AuditFilterForm(given or None, members=audit_members(review))
    valid = {}
    if given:
        form.is_valid()
        valid = {k: v for k, v in form.cleaned_data.items() if k not in form.errors and v}
    query = urlencode(given)
    return form, valid, query


def _cursor(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


@review_view(Capability.MANAGE_REVIEW)
@require_GET
def event_list(request, *, review, membership):
    """The review's audit log, newest first, for owners and admins."""
    form, filters, query = _filters(request, review)
    page = audit_page(
        audit_events(review, filters),
        older_than=_cursor(request, "before"),
        newer_than=_cursor(request, "after"),
    )
    return render(
        request,
        "audit/event_list.html",
        {
            "review": review,
            "membership": membership,
            "form": form,
            "page": page,
            "query": query,
            "filtered": bool(filters),
        },
    )


@review_view(Capability.MANAGE_REVIEW)
@require_GET
def event_download(request, *, review, membership):
    """The filtered events as CSV, streamed (a log can be long)."""
    _form, filters, _query = _filters(request, review)
    rows = audit_csv_rows(audit_events(review, filters))
    response = StreamingHttpResponse(csv_stream(CSV_HEADER, rows), content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="{review.slug}-audit-{stamp}.csv"'
    return response
