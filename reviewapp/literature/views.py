import csv

from django.contrib import messages
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header, urlencode
from django.views.decorators.http import require_POST

from reviewapp.core.errors import ServiceError, form_error_add
from reviewapp.core.filenames import upload_name_clean
from reviewapp.core.htmx import is_htmx, render_page_or_partial
from reviewapp.core.jobs import job_enqueue
from reviewapp.core.permissions import review_view
from reviewapp.core.progress import progress_read
from reviewapp.core.spreadsheet import neutralise
from reviewapp.literature import (
    duplicates,
    living,
    merges,
    merging,
    searches,
    selectors,
    services,
)
from reviewapp.literature.constants import DuplicateRule, DuplicateStatus, JobStatus
from reviewapp.literature.forms import DuplicateMarkForm, ImportForm, ScheduleForm, SearchForm
from reviewapp.literature.models import DuplicateLink, Import, Record, Search
from reviewapp.reviews.constants import Capability


def _id_param(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


@review_view()
def record_list(request, *, review, membership):
    query = request.GET.get("q", "").strip()[:200]
    in_full_text = request.GET.get("in") == "fulltext"
    page = selectors.records_page(
        review,
        query=query,
        after=_id_param(request, "after"),
        before=_id_param(request, "before"),
        in_full_text=in_full_text,
    )
    selectors.records_merged(review, page.rows)
    return render(
        request,
        "literature/record_list.html",
        {
            "review": review,
            "membership": membership,
            "page": page,
            "q": query,
            "in_full_text": in_full_text,
            # Counting the matches of a search would read every record of the review; the total
            # of an unfiltered list is an index-only count.
            "total": None if query else selectors.records_count(review),
        },
    )


@review_view()
def record_detail(request, record_id: int, *, review, membership):
    record = get_object_or_404(
        Record.objects.select_related("search", "source_import").defer(
            "raw", "search__provenance", "source_import__rejections", "source_import__warnings"
        ),
        pk=record_id,
        review=review,
    )
    link = selectors.duplicate_of(record)
    # A duplicate shows its own values (it has no merge); a merged cluster's primary, the
    # cluster's merged ones.
    if link is None:
        selectors.records_merged(review, [record])
    merged_from = []
    if getattr(record, "merged", False):
        merged_from = list(
            DuplicateLink.objects.filter(primary=record, undone_at__isnull=True)
            .order_by("duplicate__number")
            .values_list("duplicate__number", flat=True)
        )
    return render(
        request,
        "literature/record_detail.html",
        {
            "review": review,
            "membership": membership,
            "record": record,
            "duplicate_of": link,
            "merged_from": merged_from,
        },
    )


@review_view()
def source_list(request, *, review, membership):
    return render(
        request,
        "literature/source_list.html",
        {
            "review": review,
            "membership": membership,
            # The lists leave out what only the detail pages show (a file's rejections and
            # warnings, a search's provenance), which can be large.
            "searches": Search.objects.filter(review=review).defer(
                "provenance", "query_translation"
            ),
            "imports": Import.objects.filter(review=review).defer("rejections", "warnings"),
            "search_form": SearchForm(),
            "import_form": ImportForm(),
            "can_add": membership.can(Capability.MANAGE_REVIEW),
        },
    )


@review_view(Capability.MANAGE_REVIEW)
def search_create(request, *, review, membership):
    form = SearchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            search = searches.search_create(membership=membership, **form.cleaned_data)
        except ServiceError as exc:
            form_error_add(form, exc)
        else:
            job_enqueue(search)
            return redirect("literature:search-detail", review.slug, search.pk)
    return render(
        request,
        "literature/search_create.html",
        {"review": review, "membership": membership, "form": form},
    )


def _job_context(kind: str, job) -> dict:
    live = progress_read(kind, job.pk) if job.status == JobStatus.RUNNING else None
    done = live["done"] if live else job.progress_done
    total = (live or {}).get("total") or job.progress_total
    percent = round(100 * done / total) if total else None
    return {
        "job": job,
        "done": done,
        "total": total,
        "percent": percent,
        "active": job.status in (JobStatus.QUEUED, JobStatus.RUNNING),
    }


@review_view()
def search_detail(request, search_id: int, *, review, membership):
    search = get_object_or_404(Search, pk=search_id, review=review)
    summary = living.living_summary(search)
    context = {
        "review": review,
        "membership": membership,
        "search": search,
        "living": summary,
        "schedule_form": ScheduleForm(initial={"schedule": summary.root.schedule}),
        "can_add": membership.can(Capability.MANAGE_REVIEW),
        **_job_context("search", search),
    }
    return render_page_or_partial(
        request, "literature/search_detail.html", "literature/partials/_search_status.html", context
    )


@review_view(Capability.MANAGE_REVIEW)
@require_POST
def search_schedule(request, search_id: int, *, review, membership):
    search = get_object_or_404(Search, pk=search_id, review=review)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose off, daily, weekly or monthly.")
        return redirect("literature:search-detail", review.slug, search.pk)
    try:
        root = living.search_schedule_set(
            membership=membership, search=search, schedule=form.cleaned_data["schedule"]
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "The search no longer runs by itself."
            if root.schedule == "off"
            else f"The search now runs {root.get_schedule_display().lower()} by itself.",
        )
    return redirect("literature:search-detail", review.slug, search.pk)


@review_view(Capability.MANAGE_REVIEW)
@require_POST
def search_rerun(request, search_id: int, *, review, membership):
    search = get_object_or_404(Search, pk=search_id, review=review)
    try:
        new = searches.search_rerun(membership=membership, search=search)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("literature:source-list", review.slug)
    job_enqueue(new)
    messages.success(request, "The search runs again; only records new to it will be added.")
    return redirect("literature:search-detail", review.slug, new.pk)


@review_view(Capability.MANAGE_REVIEW)
@require_POST
def search_retry(request, search_id: int, *, review, membership):
    search = get_object_or_404(Search, pk=search_id, review=review)
    try:
        searches.search_retry(membership=membership, search=search)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        job_enqueue(search)
    return redirect("literature:search-detail", review.slug, search.pk)


@review_view(Capability.MANAGE_REVIEW)
def import_create(request, *, review, membership):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            imp = services.import_create(
                membership=membership,
                fileobj=upload,
                file_name=upload.name,
                format=form.cleaned_data["format"],
                source_database=form.cleaned_data["source_database"],
                source_kind=form.cleaned_data["source_kind"],
            )
        except ServiceError as exc:
            form_error_add(form, exc)
        else:
            job_enqueue(imp)
            return redirect("literature:import-detail", review.slug, imp.pk)
    return render(
        request,
        "literature/import_create.html",
        {"review": review, "membership": membership, "form": form},
        status=400 if form.errors else 200,
    )


@review_view()
def import_detail(request, import_id: int, *, review, membership):
    imp = get_object_or_404(Import, pk=import_id, review=review)
    context = {
        "review": review,
        "membership": membership,
        "imp": imp,
        "can_add": membership.can(Capability.MANAGE_REVIEW),
        "warnings_more": max(0, imp.count_warnings - len(imp.warnings)),
        **_job_context("import", imp),
    }
    return render_page_or_partial(
        request, "literature/import_detail.html", "literature/partials/_import_status.html", context
    )


@review_view(Capability.MANAGE_REVIEW)
@require_POST
def import_retry(request, import_id: int, *, review, membership):
    imp = get_object_or_404(Import, pk=import_id, review=review)
    try:
        services.import_retry(membership=membership, imp=imp)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        job_enqueue(imp)
    return redirect("literature:import-detail", review.slug, imp.pk)


@review_view()
def import_rejections_csv(request, import_id: int, *, review, membership):
    imp = get_object_or_404(Import, pk=import_id, review=review)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    # Cleaned again: names stored before names were cleaned on upload may still hold anything.
    stem = upload_name_clean(imp.file_name, default="import").rsplit(".", 1)[0]
    header = content_disposition_header(True, f"{stem}-rejected.csv")
    response["Content-Disposition"] = header or "attachment"  # None only when not an attachment
    writer = csv.writer(response)
    writer.writerow(["file", "record", "line", "field", "reason"])
    for rejection in imp.rejections:
        writer.writerow(
            [
                neutralise(imp.file_name),
                rejection.get("position"),
                rejection.get("line") or "",
                neutralise(rejection.get("field") or ""),
                neutralise(rejection.get("reason") or ""),
            ]
        )
    return response


@review_view()
def duplicate_list(request, *, review, membership):
    flt = selectors.DuplicateFilter.from_query(request.GET)
    page = selectors.duplicate_clusters_page(review, flt, page=request.GET.get("page"))
    here = flt.as_query() | ({"page": str(page.number)} if page.number > 1 else {})
    return render(
        request,
        "literature/duplicate_list.html",
        {
            "review": review,
            "membership": membership,
            "page": page,
            "filter": flt,
            "filter_query": urlencode(flt.as_query()),
            # Sent back with each action so that the answer returns to this page and filter.
            "here": urlencode(here),
            "rules": DuplicateRule.choices,
            "statuses": DuplicateStatus.choices,
            "confidences": [(k, label) for k, (label, _q) in selectors.CONFIDENCE.items()],
            "sources": selectors.duplicate_sources(review),
            "mark_form": DuplicateMarkForm(),
            "can_decide": membership.can(Capability.SCREEN),
        },
    )


def _back_to_duplicates(request, review):
    """The duplicates page with the filter and page number the action was sent from: only those
    query parameters, re-encoded, never a URL given by the request."""
    back = QueryDict(request.POST.get("back", ""))
    params = selectors.DuplicateFilter.from_query(back).as_query()
    page = back.get("page", "")
    if page.isdigit() and int(page) > 1:
        params["page"] = page
    url = reverse("literature:duplicate-list", args=[review.slug])
    return redirect(f"{url}?{urlencode(params)}" if params else url)


def _duplicate_action(request, review, action, success: str):
    try:
        action()
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return _back_to_duplicates(request, review)


@review_view(Capability.SCREEN)
@require_POST
def duplicate_confirm(request, link_id: int, *, review, membership):
    return _duplicate_action(
        request,
        review,
        lambda: duplicates.duplicate_confirm(membership=membership, link_id=link_id),
        "Marked as a confirmed duplicate.",
    )


@review_view(Capability.SCREEN)
@require_POST
def duplicate_undo(request, link_id: int, *, review, membership):
    return _duplicate_action(
        request,
        review,
        lambda: duplicates.duplicate_undo(membership=membership, link_id=link_id),
        "Not a duplicate: the record returns to screening.",
    )


@review_view(Capability.SCREEN)
@require_POST
def duplicate_mark(request, *, review, membership):
    form = DuplicateMarkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the record numbers of both records.")
        return _back_to_duplicates(request, review)
    return _duplicate_action(
        request,
        review,
        lambda: duplicates.duplicate_mark(
            membership=membership,
            duplicate_id=form.cleaned_data["duplicate"],
            primary_id=form.cleaned_data["primary"],
        ),
        "Marked as a duplicate.",
    )


# --- merging a cluster field by field ---------------------------------------------------------


def _merge_context(review, membership, view) -> dict:
    return {
        "review": review,
        "membership": membership,
        "view": view,
        "can_decide": membership.can(Capability.SCREEN),
    }


@review_view()
def duplicate_merge(request, record_id: int, *, review, membership):
    """A cluster field by field: each record's value, the one kept and where it is from."""
    record = get_object_or_404(Record.objects.only("id", "number"), pk=record_id, review=review)
    primary_id = (
        DuplicateLink.objects.filter(duplicate=record, undone_at__isnull=True)
        .values_list("primary_id", flat=True)
        .first()
    )
    if primary_id is not None:
        # A duplicate's cluster is merged from its primary's page.
        return redirect("literature:duplicate-merge", review.slug, primary_id)
    try:
        view = selectors.merge_view(review, record.pk)
    except ServiceError as exc:
        return render(
            request,
            "literature/duplicate_merge.html",
            {"review": review, "membership": membership, "record": record, "absent": exc.message},
        )
    return render_page_or_partial(
        request,
        "literature/duplicate_merge.html",
        "literature/partials/_merge_panel.html",
        _merge_context(review, membership, view),
    )


def _merge_answer(request, review, membership, action, success: str):
    """Run a merge service; answer htmx with the panel (or the refusal as text, shown beside the
    control by app.js), anything else with the page again and a message."""
    try:
        primary = action()
    except ServiceError as exc:
        if is_htmx(request):
            return HttpResponse(exc.message, status=409, content_type="text/plain; charset=utf-8")
        messages.error(request, exc.message)
        return redirect(
            "literature:duplicate-merge", review.slug, request.resolver_match.kwargs["record_id"]
        )
    url = reverse("literature:duplicate-merge", args=[review.slug, primary.pk])
    if not is_htmx(request):
        messages.success(request, success)
        return redirect(url)
    view = selectors.merge_view(review, primary.pk)
    context = _merge_context(review, membership, view) | {"done": success}
    response = render(request, "literature/partials/_merge_panel.html", context)
    # The address follows the primary, which a change of primary (or its undo) moves.
    response["HX-Replace-Url"] = url
    return response


def _refuse(message: str):
    raise ServiceError(message)


def _choice_of(value: str) -> int | None:
    return int(value) if value.isdigit() else None


@review_view(Capability.SCREEN)
@require_POST
def duplicate_merge_save(request, record_id: int, *, review, membership):
    choices = {
        name: _choice_of(request.POST.get(f"keep-{name}", ""))
        for name in merging.FIELD_NAMES
        if f"keep-{name}" in request.POST
    }
    return _merge_answer(
        request,
        review,
        membership,
        lambda: (
            merges.cluster_merge(
                membership=membership, primary_id=record_id, choices=choices
            ).primary
        ),
        "Merged: the kept record shows the values marked Kept; every record keeps its own.",
    )


@review_view(Capability.SCREEN)
@require_POST
def duplicate_merge_primary(request, record_id: int, *, review, membership):
    new_primary = _choice_of(request.POST.get("primary", ""))
    if new_primary is None:
        return _merge_answer(
            request,
            review,
            membership,
            lambda: _refuse("Choose the record to keep."),
            "",
        )
    return _merge_answer(
        request,
        review,
        membership,
        lambda: (
            merges.cluster_primary_choose(
                membership=membership, primary_id=record_id, new_primary_id=new_primary
            ).primary
        ),
        "Primary changed: that record is now the one screened, with the merged values.",
    )


@review_view(Capability.SCREEN)
@require_POST
def duplicate_merge_undo(request, record_id: int, *, review, membership):
    return _merge_answer(
        request,
        review,
        membership,
        lambda: merges.cluster_merge_undo(membership=membership, primary_id=record_id),
        "Undone: the cluster is as it was before that change.",
    )
