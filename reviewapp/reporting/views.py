from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from reviewapp.core.errors import ServiceError, form_error_add
from reviewapp.core.permissions import review_view
from reviewapp.core.svg import svg_for_inline
from reviewapp.literature.living import living_versions
from reviewapp.literature.models import LivingVersion, Record
from reviewapp.literature.selectors import records_merged
from reviewapp.reporting import diagram
from reviewapp.reporting.exports import CONTENT_TYPES, drawing_cached, prisma_export
from reviewapp.reporting.forms import ManualCountsForm
from reviewapp.reporting.prisma import PrismaInconsistent, violations
from reviewapp.reporting.selectors import (
    manual_counts_latest,
    prisma_box_ids,
    prisma_counts_get,
    prisma_counts_recount,
    prisma_pending,
)
from reviewapp.reporting.services import prisma_manual_set
from reviewapp.reviews.constants import Capability
from reviewapp.screening.constants import Stage
from reviewapp.screening.counts import review_counts

BOX_LABELS = {
    "database_results": "Records identified from databases",
    "register_results": "Records identified from registers",
    "duplicates": "Duplicate records removed",
    "excluded_automatic": "Records marked as ineligible by automation tools",
    "records_screened": "Records screened",
    "records_excluded": "Records excluded at title and abstract",
    "dbr_sought_reports": "Reports sought for retrieval",
    "dbr_notretrieved_reports": "Reports not retrieved",
    "dbr_assessed": "Reports assessed for eligibility",
    "dbr_excluded": "Reports excluded at full text",
}


# Records listed per page of a box; the next page starts after the last id shown.
BOX_PAGE = 200


def _box_urls(review, counts) -> dict[str, str]:
    return {
        box: reverse("reporting:prisma-box", args=[review.slug, box])
        for box in BOX_LABELS
        if box in diagram.BOX_NAMES and counts.count(box)
    }


def _version_chosen(request, review) -> LivingVersion | None:
    """The living review version named by ?version=N (None: the whole review); 404 if unknown."""
    number = request.GET.get("version", "")
    if not number:
        return None
    if not number.isdigit():
        raise Http404("No such version.")
    found = LivingVersion.objects.filter(review=review, number=int(number)).first()
    if found is None:
        raise Http404("No such version.")
    return found


def _version_pending(counts) -> dict[str, int]:
    """Records of a version still in screening at each stage, from its own flow."""
    return {
        Stage.TITLE_ABSTRACT: counts.records_screened
        - counts.records_excluded
        - counts.dbr_sought_reports,
        Stage.FULL_TEXT: counts.dbr_assessed - counts.dbr_excluded - counts.new_reports,
    }


@review_view()
def prisma_detail(request, *, review, membership):
    version = _version_chosen(request, review)
    if version is not None:
        # Only this version's records: a pass over them and the review's stage states.
        counts = prisma_counts_recount(review, version=version)
        pending = _version_pending(counts)
        found = violations(counts)
    else:
        kept = review_counts(review)
        counts = prisma_counts_get(review, counts=kept)
        pending = prisma_pending(review, kept)
        found = violations(counts)
        if found and not any(pending.values()):
            # Screening is over and the flow still does not add up: name the records, which
            # takes a pass over every row (rare: a state written behind the services' back).
            found = violations(prisma_counts_recount(review)) or found
    svg = None
    if not found:
        # Inline, so the boxes stay links; styles rewritten to satisfy the CSP (core/svg.py).
        # A version's boxes are not links: the box pages list the whole review's records.
        urls = _box_urls(review, counts) if version is None else {}
        svg = drawing_cached(
            "inline-svg",
            counts,
            lambda: svg_for_inline(prisma_export(counts, "svg", urls=urls)).encode(),
            urls=urls,
        ).decode()
    manual = manual_counts_latest(review)
    can_edit = membership.can(Capability.MANAGE_REVIEW)
    form = ManualCountsForm(initial_values={f: e.value for f, e in manual.items()})
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only owners and admins enter PRISMA boxes by hand.")
        form = ManualCountsForm(request.POST)
        if form.is_valid():
            values = {k: v for k, v in form.cleaned_data.items() if k != "note"}
            try:
                prisma_manual_set(
                    membership=membership, values=values, note=form.cleaned_data["note"]
                )
            except ServiceError as exc:
                form_error_add(form, exc)
            else:
                messages.success(request, "Hand-entered boxes saved.")
                return redirect("reporting:prisma-detail", review.slug)
    return render(
        request,
        "reporting/prisma_detail.html",
        {
            "review": review,
            "membership": membership,
            "counts": counts,
            "violations": found,
            "svg": svg,
            # The diagram in words, for readers who cannot see it (its text alternative).
            "diagram_text": diagram.diagram_text(counts) if svg else [],
            "pending": [(Stage(stage).label, n) for stage, n in pending.items() if n],
            "manual": manual,
            "form": form,
            "can_edit": can_edit,
            "formats": list(CONTENT_TYPES),
            "versions": living_versions(review),
            "version": version,
        },
        status=422 if form.errors else 200,
    )


@review_view(Capability.EXPORT)
def prisma_export_view(request, fmt: str, *, review, membership):
    if fmt not in CONTENT_TYPES:
        raise Http404("No such export format.")
    version = _version_chosen(request, review)
    if version is not None:
        counts = prisma_counts_recount(review, version=version)
    else:
        counts = prisma_counts_get(review)
    try:
        data = prisma_export(counts, fmt)
    except PrismaInconsistent as exc:
        messages.error(request, f"Nothing was exported. {exc}")
        return redirect("reporting:prisma-detail", review.slug)
    response = HttpResponse(data, content_type=CONTENT_TYPES[fmt])
    name = f"{review.slug}-prisma-v{version.number}" if version else f"{review.slug}-prisma"
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@review_view()
def prisma_box(request, box: str, *, review, membership):
    """The records a box counts, BOX_PAGE at a time in id order (?after=<last id shown>)."""
    if box not in BOX_LABELS:
        raise Http404("No such box.")
    counts = prisma_counts_get(review)
    try:
        after = int(request.GET.get("after", "0"))
    except ValueError:
        after = 0
    n = counts.count(box)
    # An empty box needs no walk through the review's rows to find nothing.
    ids = prisma_box_ids(review, box, after=after, limit=BOX_PAGE + 1) if n else []
    more = len(ids) > BOX_PAGE
    records = list(
        Record.objects.filter(pk__in=ids[:BOX_PAGE])
        .order_by("id")
        .only("id", "review_id", "number", "title", "authors", "year")
    )
    records_merged(review, records)
    return render(
        request,
        "reporting/prisma_box.html",
        {
            "review": review,
            "membership": membership,
            "box": box,
            "label": BOX_LABELS.get(box, box),
            "records": records,
            "n": n,
            "after": after,
            "next_after": records[-1].pk if more else None,
        },
    )
