import uuid

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from reviewapp.core.errors import ServiceError
from reviewapp.core.htmx import is_htmx, render_page_or_partial
from reviewapp.core.permissions import review_view
from reviewapp.literature.models import Record
from reviewapp.reviews.constants import Capability
from reviewapp.screening.constants import DecisionValue, Stage
from reviewapp.screening.models import ExclusionReason
from reviewapp.screening.selectors import next_record_for, stage_counts, stage_settings_get
from reviewapp.screening.services import decision_record


def _stage_or_404(stage: str) -> str:
    if stage not in Stage.values:
        raise Http404("No such screening stage.")
    return stage


def _screen_context(review, membership, stage, error: str = "") -> dict:
    return {
        "review": review,
        "membership": membership,
        "stage": stage,
        "stage_label": Stage(stage).label,
        "settings": stage_settings_get(review, stage),
        "record": next_record_for(review, stage, membership.user),
        "reasons": ExclusionReason.objects.filter(review=review, active=True),
        "counts": stage_counts(review, stage),
        "client_token": uuid.uuid4(),
        "values": DecisionValue,
        "error": error,
    }


@review_view(Capability.SCREEN)
def screen(request, stage: str, *, review, membership):
    """One record at a time; the decision form posts to screen-decide."""
    stage = _stage_or_404(stage)
    return render_page_or_partial(
        request,
        "screening/screen.html",
        "screening/partials/_screen_record.html",
        _screen_context(review, membership, stage),
    )


@review_view(Capability.SCREEN)
@require_POST
def screen_decide(request, stage: str, record_id: int, *, review, membership):
    stage = _stage_or_404(stage)
    record = get_object_or_404(Record, pk=record_id, review=review)
    try:
        token = uuid.UUID(request.POST.get("client_token", ""))
    except ValueError:
        token = None
    try:
        reason_ids = [int(v) for v in request.POST.getlist("reasons")]
    except ValueError:
        reason_ids = [-1]  # makes the service name the bad reason
    try:
        decision_record(
            membership=membership,
            record=record,
            stage=stage,
            value=request.POST.get("value", ""),
            reason_ids=reason_ids,
            note=request.POST.get("note", ""),
            client_token=token,
        )
    except ServiceError as exc:
        if is_htmx(request):
            context = _screen_context(review, membership, stage, error=exc.message)
            return render_page_or_partial(
                request,
                "screening/screen.html",
                "screening/partials/_screen_record.html",
                context,
                status=422,
            )
        messages.error(request, exc.message)
    if is_htmx(request):
        return render_page_or_partial(
            request,
            "screening/screen.html",
            "screening/partials/_screen_record.html",
            _screen_context(review, membership, stage),
        )
    return redirect("screening:screen", review.slug, stage)
