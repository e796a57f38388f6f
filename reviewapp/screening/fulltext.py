"""Writes on full texts (PRISMA 2020 "reports") and the studies they belong to.

A PDF is accepted only if it starts with the PDF signature and is within settings.FULLTEXT_MAX_BYTES;
it is stored under MEDIA_ROOT and served only through a members-only view. Uploaded files are
never deleted or overwritten: a re-upload adds a version (ReportFile) and becomes the current one.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from reviewapp.audit.constants import Action
from reviewapp.audit.services import Target, audit_record
from reviewapp.core.errors import ServiceError
from reviewapp.core.filenames import upload_name_clean
from reviewapp.core.permissions import require
from reviewapp.literature.models import Record
from reviewapp.literature.selectors import records_merged
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.constants import RetrievalStatus, Stage
from reviewapp.screening.fulltext_text import report_text_enqueue
from reviewapp.screening.models import Report, ReportFile, Study
from reviewapp.screening.selectors import record_eligible
from reviewapp.screening.study_labels import study_label_base

PDF_MAGIC = b"%PDF-"


def report_get_or_create(*, review: Review, record: Record, user=None) -> Report:
    report, _ = Report.objects.get_or_create(
        record=record, defaults={"review": review, "updated_by": user}
    )
    return report


def _check(membership: Membership, record: Record) -> None:
    require(membership, Capability.SCREEN)
    if record.review_id != membership.review_id:
        raise ServiceError("That record belongs to another review.", field="record")
    if not record_eligible(membership.review, record.pk, Stage.FULL_TEXT):
        raise ServiceError(
            f"Record {record.number} was not included at title and abstract, so it has no full text "
            "to screen.",
            field="record",
        )


def _safe_name(name: str) -> str:
    base = os.path.basename(name or "full-text.pdf")
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-") or "full-text"
    if not base.lower().endswith(".pdf"):
        base += ".pdf"
    return base[-120:]


def _sha256(upload) -> str:
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


@transaction.atomic
def report_upload(*, membership: Membership, record: Record, upload) -> Report:
    """Attach an uploaded PDF as the record's full text and mark it retrieved.

    Every upload is kept as a ReportFile (who, when, size, original name, checksum); a re-upload
    makes the new file the current one and leaves the earlier ones in the history, on disk too.
    Uploading the current file's exact content again (a resubmitted form) adds nothing.
    """
    _check(membership, record)
    if upload is None:
        raise ServiceError("Choose a PDF file to upload.", field="file")
    limit = settings.FULLTEXT_MAX_BYTES
    if upload.size > limit:
        raise ServiceError(
            f"The file is {upload.size / 1048576:.1f} MB; the limit is {limit / 1048576:.0f} MB.",
            field="file",
        )
    upload.seek(0)
    head = upload.read(len(PDF_MAGIC))
    upload.seek(0)
    if head != PDF_MAGIC:
        raise ServiceError(
            "That file is not a PDF (it does not start with %PDF-); upload the article's PDF.",
            field="file",
        )
    report = report_get_or_create(review=membership.review, record=record, user=membership.user)
    # Locked so two uploads at once are recorded one after the other, each seeing the other.
    report = Report.objects.select_for_update().get(pk=report.pk)
    checksum = _sha256(upload)
    current = report.files.first()
    if current is None or current.sha256 != checksum or report.file.name != current.file.name:
        version = ReportFile(
            report=report,
            original_filename=upload_name_clean(upload.name, default="full-text.pdf"),
            size=upload.size,
            sha256=checksum,
            uploaded_by=membership.user,
        )
        version.file.save(_safe_name(upload.name), upload, save=False)
        version.save()
        report_text_enqueue(version.pk)  # its text, for search, in the background
        # The report points at the new file; the earlier ones stay where they are.
        report.file.name = version.file.name
        report.original_filename = version.original_filename
    report.retrieval_status = RetrievalStatus.RETRIEVED
    report.updated_by = membership.user
    report.save()
    return report


@transaction.atomic
def report_link(*, membership: Membership, record: Record, url: str) -> Report:
    """Record where the full text is (a publisher page or repository) and mark it retrieved."""
    _check(membership, record)
    url = url.strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ServiceError(
            "Give the full text's web address, starting with https:// or http://.", field="url"
        ) from None
    if len(url) > 1000:
        raise ServiceError("That address is longer than 1,000 characters.", field="url")
    report = report_get_or_create(review=membership.review, record=record, user=membership.user)
    report.url = url
    report.retrieval_status = RetrievalStatus.RETRIEVED
    report.updated_by = membership.user
    report.save()
    return report


@transaction.atomic
def report_status_set(*, membership: Membership, record: Record, status: str) -> Report:
    """Mark a report sought, retrieved or not retrieved (PRISMA: "reports not retrieved")."""
    _check(membership, record)
    if status not in RetrievalStatus.values:
        raise ServiceError(
            f"'{status}' is not a retrieval status; use {', '.join(RetrievalStatus.values)}.",
            field="status",
        )
    report = report_get_or_create(review=membership.review, record=record, user=membership.user)
    if status == RetrievalStatus.RETRIEVED and not (report.file or report.url):
        raise ServiceError("Upload the PDF or give a link first.", field="status")
    report.retrieval_status = status
    report.updated_by = membership.user
    report.save()
    return report


def study_label_free(review: Review, record: Record) -> str:
    """ "Surname Year" for a record, particles kept ("van Laarhoven 2020", see
    screening.study_labels), with a letter added (2015b) if a study already has it."""
    # The cluster's merged authors and year where the primary's own lack them (on a copy: the
    # caller's record keeps its own values).
    (record,) = records_merged(review, [copy.copy(record)])
    base = study_label_base(record.first_author, record.year, fallback=f"Record {record.number}")
    taken = set(
        Study.objects.filter(review=review, label__startswith=base).values_list("label", flat=True)
    )
    if base not in taken:
        return base
    for letter in string.ascii_lowercase[1:]:
        if f"{base}{letter}" not in taken:
            return f"{base}{letter}"
    return f"{base} (record {record.number})"


@transaction.atomic
def report_study_set(
    *,
    membership: Membership,
    record: Record,
    study_id: int | None = None,
    new_label: str = "",
) -> Report:
    """Link a record's report to an existing study, or to a new study with the given label.

    Several reports of one study (e.g. a trial's main paper and its extension) share a study,
    so PRISMA counts both reports and studies.
    """
    _check(membership, record)
    review = membership.review
    report = report_get_or_create(review=review, record=record, user=membership.user)
    new_label = " ".join(new_label.split())
    if study_id:
        study = Study.objects.filter(review=review, pk=study_id).first()
        if study is None:
            raise ServiceError("That study is not in this review.", field="study")
    elif new_label:
        if len(new_label) > 200:
            raise ServiceError("A study label can be at most 200 characters.", field="new_label")
        try:
            with transaction.atomic():
                study = Study.objects.create(
                    review=review, label=new_label, created_by=membership.user
                )
        except IntegrityError:
            raise ServiceError(
                f"A study called '{new_label}' exists; choose it from the list.", field="new_label"
            ) from None
    else:
        raise ServiceError("Choose a study or name a new one.", field="study")
    old_study_id = report.study_id
    old_label = report.study.label if report.study else None
    report.study = study
    report.updated_by = membership.user
    report.save()
    audit_record(
        review=review,
        actor=membership,
        action=Action.STUDY_LINKED,
        target=Target("record", record.pk, f"Record {record.number}: {record}"),
        before={"study": old_label},
        after={"study": study.label},
    )
    if old_study_id and old_study_id != study.pk:
        # A study left without reports was made automatically for this one; tidy it away
        # unless something else (an extraction) refers to it.
        orphan = Study.objects.filter(pk=old_study_id, reports__isnull=True).first()
        if orphan is not None:
            try:
                with transaction.atomic():
                    orphan.delete()
            except (IntegrityError, ProtectedError):
                pass
    return report
