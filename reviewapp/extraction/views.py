"""Extraction pages (forms, entries, comparison and consensus) and the analyst's downloads."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_POST

from reviewapp.core.errors import ServiceError
from reviewapp.core.htmx import render_page_or_partial
from reviewapp.core.jobs import job_enqueue
from reviewapp.core.permissions import require, review_view
from reviewapp.core.progress import progress_read
from reviewapp.extraction import exports, services
from reviewapp.extraction.builder import (
    Draft,
    FieldCard,
    SectionCard,
    draft_apply,
    draft_from_definition,
    draft_from_items,
    draft_from_post,
    draft_items,
)
from reviewapp.extraction.constants import (
    EXPORT_FILE,
    EXTRACTION_EXPORTS,
    ExportKind,
    ExportWhich,
)
from reviewapp.extraction.forms import (
    FormCreateForm,
    FormSettingsForm,
    entry_raw_from_post,
    entry_sections,
    value_text,
)
from reviewapp.extraction.models import ExportJob, ExtractionForm
from reviewapp.extraction.schema import (
    FIELD_TYPES,
    GROUP_TYPES,
    MEASURES,
    definition_build,
    items_of,
)
from reviewapp.extraction.selectors import (
    DECISIONS_LONG_HEADER,
    decisions_long_rows,
    extraction_progress,
    extractions_for_study,
    form_latest_version,
    form_versions,
    forms_with_latest_version_number,
    may_see_others,
    records_wide,
    studies_included,
)
from reviewapp.extraction.services import (
    EntryInvalid,
    consensus_save,
    export_in_background,
    export_request,
    export_write,
    extraction_form_create,
    extraction_form_settings_update,
    extraction_save,
    form_version_import,
    form_version_save,
    may_decide_consensus,
)
from reviewapp.extraction.starters import STARTERS
from reviewapp.extraction.validation import entries_compare
from reviewapp.literature.constants import JobStatus
from reviewapp.reviews.constants import Capability
from reviewapp.riskofbias.builtin import assessment_read
from reviewapp.screening.annotations import annotation_sources
from reviewapp.screening.selectors import study_full_text_file, study_full_texts

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _form_or_404(review, form_id: int) -> ExtractionForm:
    return get_object_or_404(ExtractionForm, pk=form_id, review=review)


def _included_study_or_404(review, study_id: int):
    return get_object_or_404(studies_included(review), pk=study_id)


def _revision(request) -> int:
    try:
        return int(request.POST.get("revision", ""))
    except ValueError:
        return -1


# --- forms ----------------------------------------------------------------------------------


@review_view(Capability.VIEW)
def form_list(request, *, review, membership):
    forms = forms_with_latest_version_number(review)
    return render(
        request,
        "extraction/form_list.html",
        {
            "review": review,
            "membership": membership,
            "forms": forms,
            "settings_form": FormCreateForm(),
            "may_manage": membership.can(Capability.MANAGE_REVIEW),
            "included_count": studies_included(review).count(),
        },
    )


@review_view(Capability.MANAGE_REVIEW)
@require_POST
def form_create(request, *, review, membership):
    settings_form = FormCreateForm(request.POST)
    if settings_form.is_valid():
        try:
            form = extraction_form_create(
                membership=membership,
                name=settings_form.cleaned_data["name"],
                extractors_required=settings_form.cleaned_data["extractors_required"],
                starter=settings_form.cleaned_data["starter"],
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            return redirect("extraction:form-edit", review.slug, form.pk)
    else:
        messages.error(request, "Give the form a name and choose one or two extractors.")
    return redirect("extraction:form-list", review.slug)


@review_view(Capability.VIEW)
def form_detail(request, form_id: int, *, review, membership):
    """The included studies and how far each one's extraction is."""
    form = _form_or_404(review, form_id)
    return render(
        request,
        "extraction/form_detail.html",
        {
            "review": review,
            "membership": membership,
            "form": form,
            "version": form_latest_version(form),
            "progress": extraction_progress(review, form, membership),
            "may_extract": membership.can(Capability.EXTRACT),
            "may_manage": membership.can(Capability.MANAGE_REVIEW),
        },
    )


def _builder_context(form: ExtractionForm, draft: Draft, *, previous: list[dict]) -> dict:
    """What the builder and its preview draw for a draft (nothing is saved here)."""
    rows, problems = draft_items(draft, previous=previous)
    definition, _errors = definition_build(rows, previous=previous)
    return {
        "draft": draft,
        "problems": problems,
        "preview": entry_sections(definition, None),
        "field_types": list(FIELD_TYPES.items()),
        "group_types": list(GROUP_TYPES.items()),
        "measures": list(MEASURES.items()),
        "starters": STARTERS,
        # What the script copies for a new card or section ("__uid__" becomes its own id).
        "blank_card": FieldCard("__uid__"),
        "blank_section": SectionCard("__uid__"),
    }


@review_view(Capability.MANAGE_REVIEW)
def form_edit(request, form_id: int, *, review, membership):
    """The form builder: settings, then the fields as cards in sections, with a live preview.

    Without script, the builder's buttons (add, move, remove, start from a template) post the
    draft back and the page is drawn again with the change applied; nothing is saved until
    "Save". With script (static/js/form_builder.js) they act at once in the page.
    """
    form = _form_or_404(review, form_id)
    versions = form_versions(form)
    latest = versions[-1] if versions else None
    previous = [v.definition for v in versions]
    action = request.POST.get("action") if request.method == "POST" else None
    settings_form = FormSettingsForm(
        request.POST if action == "settings" else None,
        initial={"name": form.name, "extractors_required": form.extractors_required},
    )
    draft = (
        draft_from_post(request.POST)
        if action == "definition"
        else draft_from_definition(latest.definition if latest else None)
    )
    error, focus, status, show_problems = "", "", 200, False
    if request.method == "POST":
        try:
            if action == "settings" and settings_form.is_valid():
                extraction_form_settings_update(
                    membership=membership,
                    form=form,
                    name=settings_form.cleaned_data["name"],
                    extractors_required=settings_form.cleaned_data["extractors_required"],
                )
                messages.success(request, "Form settings saved.")
                return redirect("extraction:form-edit", review.slug, form.pk)
            if action == "definition":
                op = request.POST.get("op") or "save"
                starter = op.removeprefix("starter:")
                if starter != op and starter in STARTERS:
                    draft = draft_from_items(STARTERS[starter]["items"])
                elif op != "save":
                    focus = draft_apply(draft, op)
                else:
                    rows, problems = draft_items(draft, previous=previous)
                    if problems:
                        n = len(problems)
                        error = f"Nothing was saved: {n} problem{pluralize(n)} to put right."
                        show_problems = True
                    else:
                        version, created = form_version_save(
                            membership=membership, form=form, items=rows
                        )
                        messages.success(
                            request,
                            f"Saved as version {version.number}; entries already made keep "
                            "the version they were made on."
                            if created
                            else "Nothing changed, so no new version was made.",
                        )
                        return redirect("extraction:form-edit", review.slug, form.pk)
            if action == "import":
                try:
                    definition = json.loads(request.POST.get("definition_json", ""))
                except ValueError as exc:
                    raise ServiceError(f"That is not JSON: {exc}.") from None
                version, created = form_version_import(
                    membership=membership, form=form, definition=definition
                )
                messages.success(request, f"Saved as version {version.number}.")
                return redirect("extraction:form-edit", review.slug, form.pk)
            if action not in ("settings", "definition", "import"):
                error = "Choose what to save."
        except ServiceError as exc:
            error = exc.message
    if error:
        status = 422
    context = _builder_context(form, draft, previous=previous)
    if not show_problems:
        # Problems are shown beside the cards only once a save was refused; the preview lists
        # them all the time.
        for section in draft.sections:
            section.errors = []
            for card in section.fields:
                card.errors = []
    return render(
        request,
        "extraction/form_edit.html",
        {
            "review": review,
            "membership": membership,
            "form": form,
            "version": latest,
            "settings_form": settings_form,
            "error": error,
            "show_problems": show_problems,
            "focus": focus,
            "offer_starters": draft.is_blank(),
            "definition_json": json.dumps(latest.definition, indent=1) if latest else "",
            **context,
        },
        status=status,
    )


@review_view(Capability.MANAGE_REVIEW)
@require_POST
def form_preview(request, form_id: int, *, review, membership):
    """The draft the builder posts, drawn as extractors will see it; never saved."""
    form = _form_or_404(review, form_id)
    previous = [v.definition for v in form_versions(form)]
    context = _builder_context(form, draft_from_post(request.POST), previous=previous)
    return render(
        request,
        "extraction/partials/_form_preview.html",
        {"review": review, "membership": membership, "form": form, **context},
    )


# --- entries --------------------------------------------------------------------------------


@review_view(Capability.EXTRACT)
def study_extract(request, form_id: int, study_id: int, *, review, membership):
    """One extractor's entry for one study: save a draft, or submit (then it is locked)."""
    form = _form_or_404(review, form_id)
    study = _included_study_or_404(review, study_id)
    individual, consensus = extractions_for_study(form, study)
    mine = next((e for e in individual if e.extractor_id == membership.user_id), None)
    version = mine.form_version if mine else form_latest_version(form)
    if version is None:
        messages.error(request, "This form has no fields yet.")
        return redirect("extraction:form-detail", review.slug, form.pk)
    data, errors, error, status = (mine.data if mine else None), {}, "", 200
    if request.method == "POST":
        raw = entry_raw_from_post(version.definition, request.POST)
        submit = request.POST.get("action") == "submit"
        try:
            saved = extraction_save(
                membership=membership,
                form=form,
                study=study,
                raw=raw,
                expected_revision=_revision(request),
                submit=submit,
            )
        except EntryInvalid as exc:
            data, errors, error, status = raw, exc.errors, exc.message, 422
        except ServiceError as exc:
            data, error, status = raw, exc.message, 409 if exc.field == "revision" else 422
        else:
            messages.success(
                request,
                "Submitted; your entry is now locked." if submit else "Draft saved.",
            )
            if saved.submitted_at:
                return redirect("extraction:form-detail", review.slug, form.pk)
            return redirect("extraction:study-extract", review.slug, form.pk, study.pk)
    return render(
        request,
        "extraction/study_extract.html",
        {
            "review": review,
            "membership": membership,
            "form": form,
            "study": study,
            "version": version,
            "mine": mine,
            "consensus": consensus,
            "locked": bool(mine and mine.submitted_at),
            # A locked entry takes no new row; a refused one is shown as it was sent.
            "sections": entry_sections(
                version.definition,
                data,
                errors,
                blank_rows=0 if status != 200 or (mine and mine.submitted_at) else 1,
            ),
            "errors": errors,
            "error": error,
            "revision": mine.revision if mine else 0,
            "rob": assessment_read(form.tool, version.definition, data) if form.tool else None,
            **_full_text_context(request, review, study, version.definition),
        },
        status=status,
    )


def _full_text_context(request, review, study, definition: dict) -> dict:
    """The study's PDF to read beside the form (?report=<id> picks one of several reports)."""
    texts = study_full_texts(study)
    chosen = texts[0] if texts else None
    wanted = request.GET.get("report", "")
    for text in texts:
        if str(text.report_id) == wanted:
            chosen = text
    # ?file=<id>: an earlier upload of one of the study's reports (a source passage marked in it).
    wanted_file = request.GET.get("file", "")
    if wanted_file.isdigit():
        earlier = study_full_text_file(study, int(wanted_file))
        chosen = earlier or chosen
    return {
        "full_texts": texts,
        "full_text": chosen,
        "field_choices": [
            (item["key"], f"{section['title']}: {item['label']}")
            for section, item in items_of(definition)
        ],
    }


@review_view(Capability.VIEW)
def study_compare(request, form_id: int, study_id: int, *, review, membership):
    """The entries side by side, differing inputs highlighted, and the consensus form.

    Blinded (``reviewapp.core.blinding``): nobody whose own entry of the study is still due sees
    the other's, whatever their role; a reviewer sees it once both are submitted.
    """
    form = _form_or_404(review, form_id)
    study = _included_study_or_404(review, study_id)
    individual, consensus = extractions_for_study(form, study)
    if not may_see_others(membership, form, individual):
        return render(
            request,
            "extraction/study_compare.html",
            {
                "review": review,
                "membership": membership,
                "form": form,
                "study": study,
                "blinded": True,
            },
            status=403,
        )
    # Individual entries always have an extractor; only the consensus has none.
    columns = [cast("User", e.extractor).username for e in individual]
    entries = [e.data for e in individual]
    if consensus:
        columns.append("consensus")
        entries.append(consensus.data)
    version = consensus.form_version if consensus else form_latest_version(form)
    definition = version.definition if version else {"sections": []}
    compared = entries_compare(definition, entries) if entries else []
    # Each value's source passages, marked in the PDF by the extractor who entered it.
    sources = annotation_sources(membership, form, study.pk)
    cell_entries = list(individual) + ([consensus] if consensus else [])
    submitted = [e for e in individual if e.submitted_at]
    may_decide = (
        len(submitted) >= form.extractors_required
        and may_decide_consensus(membership, individual)
        and version is not None
    )
    errors, error, status = {}, "", 200
    if consensus:
        prefill = consensus.data
    else:
        # Start the consensus from what the extractors agree on; differing inputs stay blank.
        agreed = {c.key: c.values[0] for c in compared if not c.differs}
        prefill = _unflatten(definition, agreed)
    if request.method == "POST":
        if not may_decide:
            raise Http404("No consensus can be decided here.")
        raw = entry_raw_from_post(definition, request.POST)
        try:
            consensus_save(
                membership=membership,
                form=form,
                study=study,
                raw=raw,
                expected_revision=_revision(request),
            )
        except EntryInvalid as exc:
            prefill, errors, error, status = raw, exc.errors, exc.message, 422
        except ServiceError as exc:
            prefill, error, status = raw, exc.message, 409 if exc.field == "revision" else 422
        else:
            messages.success(request, "Consensus saved as the final entry.")
            return redirect("extraction:study-compare", review.slug, form.pk, study.pk)
    return render(
        request,
        "extraction/study_compare.html",
        {
            "review": review,
            "membership": membership,
            "form": form,
            "study": study,
            "blinded": False,
            "individual": individual,
            "consensus": consensus,
            "columns": columns,
            "compared": compared,
            "compared_rows": [
                {
                    "section": c.section,
                    "label": c.label,
                    "differs": c.differs,
                    "cells": [
                        {"value": value_text(v), "sources": _sources(sources, e, c.key)}
                        for v, e in zip(c.values, cell_entries, strict=True)
                    ],
                }
                for c in compared
            ],
            "table_width": len(columns) + 2,
            "differences": sum(1 for c in compared if c.differs),
            "may_decide": may_decide,
            "waiting": form.extractors_required - len(submitted),
            "sections": entry_sections(
                definition, prefill, errors, blank_rows=0 if status != 200 else 1
            )
            if may_decide
            else [],
            "errors": errors,
            "error": error,
            "revision": consensus.revision if consensus else 0,
            "rob": assessment_read(form.tool, definition, prefill)
            if form.tool and may_decide
            else None,
            **_full_text_context(request, review, study, {}),
        },
        status=status,
    )


def _sources(sources: dict, entry, key: str) -> list[dict]:
    """The passages an entry's extractor marked as the source of this input: the field's own, or
    its table's for a cell of an outcome table (keys group__row__part)."""
    if entry is None or entry.extractor_id is None:
        return []
    found = list(sources.get((entry.extractor_id, key), []))
    if "__" in key:
        found += sources.get((entry.extractor_id, key.split("__", 1)[0]), [])
    return [
        {
            "id": a.pk,
            "page": a.page,
            "quote": a.quote,
            "comment": a.comment,
            "url": f"?file={a.report_file_id}#annotation-{a.pk}",
        }
        for a in found
    ]


def _unflatten(definition: dict, flat: dict) -> dict:
    """The inverse of ``validation.flatten`` for the inputs given."""
    values, outcomes = {}, []
    for _section, item in items_of(definition):
        key = item["key"]
        if item["kind"] == "field":
            if flat.get(key) is not None:
                values[key] = flat[key]
            continue
        index = 0
        while any(k.startswith(f"{key}__{index}__") for k in flat):
            prefix = f"{key}__{index}__"
            row = {"group": key}
            row.update({k[len(prefix) :]: v for k, v in flat.items() if k.startswith(prefix)})
            outcomes.append(row)
            index += 1
    return {"values": values, "outcomes": outcomes}


# --- downloads ------------------------------------------------------------------------------


@review_view(Capability.EXPORT)
def download_list(request, *, review, membership):
    return render(
        request,
        "extraction/download_list.html",
        {
            "review": review,
            "membership": membership,
            "forms": review.extraction_forms.all(),
            "kinds": ExportKind,
            "extraction_kinds": [k for k in ExportKind if k in EXTRACTION_EXPORTS],
            "record_kinds": [k for k in ExportKind if k not in EXTRACTION_EXPORTS],
            "which": ExportWhich,
            "jobs": ExportJob.objects.filter(review=review, requested_by=membership.user)[:20],
        },
    )


@review_view(Capability.EXPORT)
@require_POST
def download(request, *, review, membership):
    """Send the file now, or queue it for the background worker when it is large."""
    kind = request.POST.get("kind", "")
    which = request.POST.get("which", ExportWhich.FINAL)
    form = None
    if kind in EXTRACTION_EXPORTS:
        try:
            form = ExtractionForm.objects.filter(
                review=review, pk=int(request.POST.get("form", ""))
            ).first()
        except ValueError:
            form = None
    try:
        if kind not in ExportKind.values:
            raise ServiceError(f"'{kind}' is not a download we offer.")
        if export_in_background(membership=membership, kind=kind, form=form, which=which):
            job = export_request(membership=membership, kind=kind, form=form, which=which)
            return redirect("extraction:export-detail", review.slug, job.pk)
        return _send_now(review, membership, kind, form, which)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("extraction:download-list", review.slug)


def _attachment(response, review, kind):
    name, _type = EXPORT_FILE[kind]
    response["Content-Disposition"] = f'attachment; filename="{review.slug}-{name}"'
    return response


def _send_now(review, membership, kind, form, which):
    name, content_type = EXPORT_FILE[kind]
    if kind in (ExportKind.DECISIONS_LONG, ExportKind.RECORDS_WIDE):
        require(membership, Capability.EXPORT)
        if kind == ExportKind.DECISIONS_LONG:
            header, rows = DECISIONS_LONG_HEADER, decisions_long_rows(review, membership)
        else:
            header, rows = records_wide(review, membership)
        response = StreamingHttpResponse(
            exports.csv_stream(header, rows), content_type=content_type
        )
        return _attachment(response, review, kind)
    content, _n = export_write(membership=membership, kind=kind, form=form, which=which)
    return _attachment(HttpResponse(content, content_type=content_type), review, kind)


def _job_or_404(review, membership, export_id: int) -> ExportJob:
    # Only the member who asked may see a job: its file holds what that member may see.
    return get_object_or_404(ExportJob, pk=export_id, review=review, requested_by=membership.user)


@review_view(Capability.EXPORT)
def export_detail(request, export_id: int, *, review, membership):
    """The job's status; the page polls (htmx) until the file is ready."""
    job = _job_or_404(review, membership, export_id)
    progress = progress_read("export", job.pk) or {}
    done = job.rows_written if job.status == JobStatus.DONE else progress.get("done", 0)
    total = job.rows_total or progress.get("total") or 0
    return render_page_or_partial(
        request,
        "extraction/export_detail.html",
        "extraction/partials/_export_status.html",
        {
            "review": review,
            "membership": membership,
            "job": job,
            "done": done,
            "total": total,
            "percent": min(100, round(100 * done / total)) if total else 0,
            "polling": job.status in (JobStatus.QUEUED, JobStatus.RUNNING),
            "keep_days": settings.EXPORT_KEEP_DAYS,
        },
    )


@review_view(Capability.EXPORT)
@require_POST
def export_retry(request, export_id: int, *, review, membership):
    job = _job_or_404(review, membership, export_id)
    try:
        services.export_retry(membership=membership, job=job)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        job_enqueue(job)
    return redirect("extraction:export-detail", review.slug, job.pk)


@review_view(Capability.EXPORT)
def export_file(request, export_id: int, *, review, membership):
    job = _job_or_404(review, membership, export_id)
    if job.status != JobStatus.DONE or not job.file:
        raise Http404("This export is not ready.")
    name, content_type = EXPORT_FILE[job.kind]
    return FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=f"{review.slug}-{name}",
        content_type=content_type,
    )
