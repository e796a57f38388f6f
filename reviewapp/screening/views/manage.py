"""Screening settings (shared exclusion reasons, queue order) and the agreement export."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import review_view
from reviewapp.reviews.constants import Capability
from reviewapp.screening import services
from reviewapp.screening.constants import QueueOrder, Stage
from reviewapp.screening.models import ExclusionReason, StageSettings
from reviewapp.screening.selectors import agreement_table


@review_view(Capability.MANAGE_REVIEW)
def stage_settings(request, *, review, membership):
    """Owners and admins edit the review's one list of exclusion reasons and the queue order."""
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "add":
                reason = services.reason_add(
                    membership=membership, label=request.POST.get("label", "")
                )
                messages.success(request, f"Reason “{reason.label}” added.")
            elif action in ("rename", "retire", "restore", "up", "down"):
                try:
                    reason = ExclusionReason.objects.get(
                        review=review, pk=int(request.POST.get("reason", ""))
                    )
                except (ValueError, ExclusionReason.DoesNotExist):
                    raise ServiceError(
                        "That reason is not in this review's list.", field="reason"
                    ) from None
                services.reason_update(
                    membership=membership,
                    reason=reason,
                    label=request.POST.get("label") if action == "rename" else None,
                    active={"retire": False, "restore": True}.get(action),
                    move={"up": -1, "down": 1}.get(action, 0),
                )
                messages.success(request, "Reasons updated.")
            elif action == "queue_order":
                stage = request.POST.get("stage", "")
                if stage not in Stage.values:
                    raise ServiceError(f"'{stage}' is not a screening stage.", field="stage")
                services.queue_order_set(
                    membership=membership,
                    stage=stage,
                    queue_order=request.POST.get("queue_order", ""),
                )
                messages.success(request, "Queue order saved.")
            else:
                raise ServiceError("Unknown action.", field="action")
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect("screening:stage-settings", review.slug)
    return render(
        request,
        "screening/stage_settings.html",
        {
            "review": review,
            "membership": membership,
            "reasons": ExclusionReason.objects.filter(review=review),
            "stages": StageSettings.objects.filter(review=review).order_by("-stage"),
            "queue_orders": QueueOrder.choices,
        },
    )


def _fmt(value, digits):
    return "" if value is None else f"{value:.{digits}f}"


@review_view(Capability.EXPORT)
def agreement_csv(request, *, review, membership):
    """Agreement per stage and reviewer pair as CSV (see selectors.agreement_table)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{review.slug}-agreement.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "stage",
            "reviewer_a",
            "reviewer_b",
            "records_both_screened",
            "agreed",
            "percent_agreement",
            "cohen_kappa",
        ]
    )
    for row in agreement_table(review):
        writer.writerow(
            [
                row.stage,
                row.reviewer_a,
                row.reviewer_b,
                row.n,
                row.agreed,
                _fmt(row.percent, 1),
                _fmt(row.kappa, 3),
            ]
        )
    return response
