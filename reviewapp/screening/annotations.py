"""Annotations of full texts: passages of a PDF marked with a comment, or as the source of an
extracted value. Services write (each member their own annotations only), selectors read through
the blinding rule (reviewapp.core.blinding.annotations_visible).

Not in the audit log: the log is open to every member and records settings-like changes, while
annotations belong with the blinded work (votes, notes, entries), which the log leaves out too.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from django.db import transaction

from reviewapp.core.blinding import annotations_visible
from reviewapp.core.errors import ServiceError
from reviewapp.extraction.constants import ExtractionKind
from reviewapp.extraction.models import Extraction, ExtractionForm
from reviewapp.extraction.schema import items_of
from reviewapp.extraction.selectors import form_latest_version
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership
from reviewapp.screening.models import Annotation, ReportFile

MAX_QUOTE = 2000
MAX_COMMENT = 5000
MAX_RECTS = 200
MAX_PAGE = 100_000


def may_annotate(membership: Membership) -> bool:
    """Those who screen or extract mark passages; analysts read."""
    return membership.can(Capability.SCREEN) or membership.can(Capability.EXTRACT)


def _rects_clean(rects: Any) -> list[list[float]]:
    if not isinstance(rects, list) or not rects:
        raise ServiceError("Select a passage in the PDF to annotate.", field="rects")
    if len(rects) > MAX_RECTS:
        raise ServiceError(
            f"The passage is too long to mark ({len(rects)} lines; at most {MAX_RECTS}).",
            field="rects",
        )
    out = []
    for rect in rects:
        if (
            not isinstance(rect, list)
            or len(rect) != 4
            or not all(isinstance(v, int | float) and math.isfinite(v) for v in rect)
        ):
            raise ServiceError("The passage's place on the page was not understood.", field="rects")
        x, y, w, h = (float(v) for v in rect)
        if not (0 <= x <= 1 and 0 <= y <= 1 and 0 < w <= 1 and 0 < h <= 1):
            raise ServiceError("The passage's place is outside the page.", field="rects")
        out.append([round(x, 4), round(y, 4), round(w, 4), round(h, 4)])
    return out


def field_choices(definition: dict) -> dict[str, str]:
    """Key -> "Section: label" of every field and table of a form definition."""
    return {
        item["key"]: f"{section['title']}: {item['label']}"
        for section, item in items_of(definition)
    }


def _own_entry(form: ExtractionForm, study_id: int, user_id: int) -> Extraction | None:
    return Extraction.objects.filter(
        form=form, study_id=study_id, kind=ExtractionKind.INDIVIDUAL, extractor_id=user_id
    ).first()


@transaction.atomic
def annotation_create(
    *,
    membership: Membership,
    report_file: ReportFile,
    page: int,
    quote: str,
    rects: Any,
    comment: str = "",
    form: ExtractionForm | None = None,
    field_key: str = "",
) -> Annotation:
    """Mark a passage of one uploaded PDF, with a comment or as the source of a form's field."""
    if not may_annotate(membership):
        raise ServiceError("Analysts read the full texts; only screeners and extractors annotate.")
    report = report_file.report
    if report.review_id != membership.review_id:
        raise ServiceError("That PDF is not in this review.")
    if not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        raise ServiceError("The page number is not a page of the PDF.", field="page")
    quote = " ".join((quote or "").split())
    if not quote:
        raise ServiceError("Select a passage in the PDF to annotate.", field="quote")
    if len(quote) > MAX_QUOTE:
        raise ServiceError(
            f"The passage is {len(quote)} characters long; mark at most {MAX_QUOTE}.",
            field="quote",
        )
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ServiceError(
            f"The comment is {len(comment)} characters long; at most {MAX_COMMENT}.",
            field="comment",
        )
    clean_rects = _rects_clean(rects)
    extraction = None
    if form is not None or field_key:
        if form is None or form.review_id != membership.review_id:
            raise ServiceError("Choose the extraction form the field belongs to.", field="form")
        if not membership.can(Capability.EXTRACT):
            raise ServiceError("Only extractors link passages to fields.", field="field_key")
        if report.study_id is None:
            raise ServiceError(
                "This report is not linked to a study yet, so its passages cannot be sources of "
                "extracted values; link it to a study in the full-text panel first.",
                field="field_key",
            )
        extraction = _own_entry(form, report.study_id, membership.user_id)
        version = extraction.form_version if extraction else form_latest_version(form)
        choices = field_choices(version.definition if version else {})
        if field_key not in choices:
            raise ServiceError(
                f"“{field_key or '(none)'}” is not a field of the form {form.name}; choose one "
                "from the list.",
                field="field_key",
            )
    elif not comment:
        raise ServiceError(
            "Write a comment, or choose the field this passage is the source of.", field="comment"
        )
    return Annotation.objects.create(
        review_id=membership.review_id,
        report_file=report_file,
        author=membership.user,
        page=page,
        quote=quote,
        rects=clean_rects,
        comment=comment,
        form=form,
        field_key=field_key,
        extraction=extraction,
    )


def _own(membership: Membership, annotation: Annotation) -> None:
    if annotation.review_id != membership.review_id or annotation.author_id != membership.user_id:
        raise ServiceError("You can change and delete only your own annotations.")


@transaction.atomic
def annotation_update(
    *, membership: Membership, annotation: Annotation, comment: str
) -> Annotation:
    """Change the comment of one's own annotation (its passage stays as marked)."""
    _own(membership, annotation)
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ServiceError(
            f"The comment is {len(comment)} characters long; at most {MAX_COMMENT}.",
            field="comment",
        )
    if not comment and not annotation.field_key:
        raise ServiceError(
            "A comment annotation needs its comment; delete the annotation instead.",
            field="comment",
        )
    annotation.comment = comment
    annotation.save(update_fields=["comment", "updated_at"])
    return annotation


@transaction.atomic
def annotation_delete(*, membership: Membership, annotation: Annotation) -> None:
    """Delete one's own annotation."""
    _own(membership, annotation)
    annotation.delete()


# --- reading -----------------------------------------------------------------------------------


def annotations_for_file(membership: Membership, report_file: ReportFile) -> list[Annotation]:
    """The annotations of one uploaded PDF this member may see, in page order."""
    rows = list(
        Annotation.objects.filter(report_file=report_file)
        .select_related("author", "form")
        .order_by("page", "id")
    )
    return annotations_visible(membership, rows, report_file.report.study_id)


def annotation_sources(
    membership: Membership, form: ExtractionForm, study_id: int
) -> dict[tuple[int, str], list[Annotation]]:
    """(author id, field key) -> the passages each extractor marked as a value's source on this
    form for this study, as far as this member may see them."""
    rows = list(
        Annotation.objects.filter(form=form, report_file__report__study_id=study_id)
        .select_related("report_file")
        .order_by("page", "id")
    )
    out: dict[tuple[int, str], list[Annotation]] = defaultdict(list)
    for annotation in annotations_visible(membership, rows, study_id):
        out[(annotation.author_id, annotation.field_key)].append(annotation)
    return out


def annotation_json(annotation: Annotation, membership: Membership, labels: dict[str, str]) -> dict:
    """What the viewer draws and lists of one annotation."""
    from django.urls import reverse

    report_file = annotation.report_file
    return {
        "id": annotation.pk,
        "page": annotation.page,
        "quote": annotation.quote,
        "rects": annotation.rects,
        "comment": annotation.comment,
        "field_key": annotation.field_key,
        "field_label": labels.get(annotation.field_key, annotation.field_key)
        if annotation.field_key
        else "",
        "author": annotation.author.username,
        "mine": annotation.author_id == membership.user_id,
        "delete_url": reverse(
            "screening:annotation-delete",
            args=[membership.review.slug, report_file.report_id, report_file.pk, annotation.pk],
        )
        if annotation.author_id == membership.user_id
        else "",
    }
