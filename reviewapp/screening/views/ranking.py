"""Prioritisation of a stage: ranked order and its model, retraining, stopping rule and stop."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import review_view
from reviewapp.reviews.constants import Capability
from reviewapp.screening import ranking_service, stopping
from reviewapp.screening.constants import QueueOrder, RankingStatus, Stage, StoppingMethod
from reviewapp.screening.models import Ranking, StageSettings, StoppingRule
from reviewapp.screening.views.common import stage_or_404


def _number(request, name: str, cast=float):
    try:
        return cast(request.POST.get(name, ""))
    except ValueError:
        raise ServiceError(f"Give a number for {name.replace('_', ' ')}.", field=name) from None


def _post(request, review, membership, stage: str) -> None:
    action = request.POST.get("action", "")
    if action == "settings":
        ranking_service.ranking_settings_set(
            membership=membership,
            stage=stage,
            ranked=request.POST.get("ranked") == "on",
            preset=request.POST.get("preset", ""),
            retrain_every=_number(request, "retrain_every", int),
        )
        messages.success(request, "Prioritisation settings saved.")
    elif action == "retrain":
        ranking_service.ranking_retrain_ask(membership=membership, stage=stage)
        messages.success(request, "The model will be retrained in the background.")
    elif action == "rule":
        stopping.stopping_rule_declare(
            membership=membership,
            stage=stage,
            method=request.POST.get("method", StoppingMethod.HYPERGEOMETRIC),
            # The form asks for percentages.
            target_recall=_number(request, "target_recall") / 100,
            confidence=_number(request, "confidence") / 100,
            min_screened=_number(request, "min_screened", int),
            note=request.POST.get("note", ""),
        )
        messages.success(request, "Stopping rule declared.")
    elif action == "stop":
        n = stopping.screening_stop(membership=membership, stage=stage)
        messages.success(
            request, f"Screening stopped: {n} unscreened records excluded by the stopping rule."
        )
    else:
        raise ServiceError("Unknown action.", field="action")


@review_view(Capability.VIEW)
def prioritisation(request, stage: str, *, review, membership):
    """Every member sees the ranking history and the recall estimate; owners and admins change
    the settings, ask for a retrain, declare the stopping rule and stop (the services check)."""
    stage = stage_or_404(stage)
    if request.method == "POST":
        try:
            _post(request, review, membership, stage)
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect("screening:prioritisation", review.slug, stage)
    settings = StageSettings.objects.get(review=review, stage=stage)
    status = stopping.recall_status(review, stage)
    return render(
        request,
        "screening/prioritisation.html",
        {
            "review": review,
            "membership": membership,
            "stage": stage,
            "stage_label": Stage(stage).label,
            "settings": settings,
            "ranked": settings.queue_order == QueueOrder.RANKED,
            "presets": list(ranking_service.presets_available().values()),
            "rankings": Ranking.objects.filter(review=review, stage=stage)
            .defer("record_ids")
            .select_related("requested_by")[:20],
            "in_flight": Ranking.objects.filter(
                review=review,
                stage=stage,
                status__in=[RankingStatus.QUEUED, RankingStatus.RUNNING],
            ).exists(),
            "status": status,
            "rules": StoppingRule.objects.filter(review=review, stage=stage).select_related(
                "declared_by"
            ),
            "stopped": stopping.stop_details(review, stage),
            "methods": StoppingMethod.choices,
            "can_manage": membership.can(Capability.MANAGE_REVIEW),
            # Analysts reach this page from the dashboard; the screening page is not theirs.
            "can_screen": membership.can(Capability.SCREEN),
        },
    )


@review_view(Capability.VIEW)
def prioritisation_methods(request, stage: str, *, review, membership):
    """The methods paragraph (markdown) on prioritisation and stopping, as a download."""
    stage = stage_or_404(stage)
    response = HttpResponse(
        stopping.methods_text(review, stage), content_type="text/markdown; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{review.slug}-{stage}-screening-methods.md"'
    )
    return response
