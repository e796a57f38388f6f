"""Full texts in bulk: automatic retrieval of open-access PDFs, and many PDFs uploaded at once."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from reviewapp.core.errors import ServiceError
from reviewapp.core.htmx import is_htmx
from reviewapp.core.permissions import require, review_view
from reviewapp.literature.selectors import records_merged
from reviewapp.reviews.constants import Capability
from reviewapp.screening import retrieval as service
from reviewapp.screening.models import Retrieval

ACTIVE = ("queued", "running")


def _status_context(review, membership, run):
    progress = service.retrieval_progress(run) if run else {"done": 0, "total": 0}
    total = progress["total"] or 0
    return {
        "review": review,
        "membership": membership,
        "run": run,
        "polling": bool(run and run.status in ACTIVE),
        "done": progress["done"],
        "total": total,
        "percent": int(100 * progress["done"] / total) if total else 0,
    }


@review_view(Capability.VIEW)
@require_http_methods(["GET", "POST"])
def fulltext_retrieval(request, *, review, membership):
    """The retrieval page: start a run (screeners), follow its progress, read its report."""
    if request.method == "POST":
        require(membership, Capability.SCREEN)
        try:
            service.retrieval_request(membership=membership)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Retrieval started; this page follows its progress.")
        return redirect("screening:fulltext-retrieval", review.slug)
    run = Retrieval.objects.filter(review=review).first()
    context = _status_context(review, membership, run)
    if is_htmx(request) and request.GET.get("part") == "status":
        response = render(request, "screening/partials/_retrieval_status.html", context)
        if not context["polling"]:
            # Finished: the whole page reloads to show the report.
            response["HX-Refresh"] = "true"
        return response
    items = []
    if run is not None and not context["polling"]:
        items = list(run.items.select_related("record").order_by("outcome", "record_id"))
        records_merged(review, [item.record for item in items])
    context.update(
        items=items,
        missing=len(service.retrieval_candidates(review)),
        sources=service.retrieval_sources(),
        unpaywall_on=bool(settings.UNPAYWALL_EMAIL),
        can_screen=membership.can(Capability.SCREEN),
        max_upload_bytes=settings.FULLTEXT_MAX_BYTES,
    )
    return render(request, "screening/fulltext_retrieval.html", context)


@review_view(Capability.SCREEN)
@require_POST
def fulltext_retrieval_retry(request, retrieval_id: int, *, review, membership):
    run = get_object_or_404(Retrieval, pk=retrieval_id, review=review)
    try:
        service.retrieval_retry(membership=membership, retrieval=run)
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("screening:fulltext-retrieval", args=[review.slug]))
