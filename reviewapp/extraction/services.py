"""Writes on extraction: forms and their versions, entries, consensus, and background exports.

Nothing entered is ever silently overwritten: each save appends an ExtractionRevision, and a save
based on an older revision than the stored one is refused with a message instead of applied.
"""

from __future__ import annotations

import io
import logging
import tempfile
from datetime import datetime, timedelta
from typing import IO

from django.conf import settings
from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from reviewapp.audit.constants import Action
from reviewapp.audit.services import audit_fields, audit_record
from reviewapp.core.errors import ServiceError
from reviewapp.core.jobs import JobLost, job_claim, job_enqueue, job_requeue
from reviewapp.core.permissions import require
from reviewapp.core.progress import progress_write
from reviewapp.extraction import exports
from reviewapp.extraction.constants import (
    EXPORT_BACKGROUND_ROWS,
    EXPORT_FILE,
    EXTRACTION_EXPORTS,
    ExportKind,
    ExportWhich,
    ExtractionKind,
)
from reviewapp.extraction.models import (
    ExportJob,
    Extraction,
    ExtractionForm,
    ExtractionRevision,
    FormVersion,
)
from reviewapp.extraction.schema import definition_build, definition_check, definition_keys
from reviewapp.extraction.selectors import (
    DECISIONS_LONG_HEADER,
    ExtractionEntries,
    decisions_long_rows,
    export_size,
    extractions_for_study,
    form_columns,
    form_latest_version,
    form_versions,
    included_ris_records,
    records_wide,
    studies_included,
)
from reviewapp.extraction.starters import STARTERS
from reviewapp.extraction.validation import entry_clean
from reviewapp.literature.constants import JobStatus
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership
from reviewapp.riskofbias.builtin import assessment_read
from reviewapp.screening.models import Study

logger = logging.getLogger(__name__)


class EntryInvalid(ServiceError):
    """An entry that fails validation; ``errors`` maps each input's name to its message."""

    def __init__(self, errors: dict[str, str]):
        n = len(errors)
        super().__init__(f"{n} value{'s' if n != 1 else ''} need{'s' if n == 1 else ''} attention.")
        self.errors = errors


# --- forms --------------------------------------------------------------------------------------


FORM_AUDITED = ["name", "extractors_required"]


@transaction.atomic
def extraction_form_create(
    *, membership: Membership, name: str, extractors_required: int = 1, starter: str = ""
) -> ExtractionForm:
    """A new form: empty (its fields come with its first saved version), or with a starter
    form (``starters.STARTERS``) saved as version 1."""
    require(membership, Capability.MANAGE_REVIEW)
    if starter and starter not in STARTERS:
        raise ServiceError(f"There is no starter form called '{starter}'.", field="starter")
    name = name.strip()
    if not name:
        raise ServiceError("A form needs a name.", field="name")
    if extractors_required not in (1, 2):
        raise ServiceError("Choose one or two extractors per study.", field="extractors_required")
    if ExtractionForm.objects.filter(review=membership.review, name=name).exists():
        raise ServiceError(f"This review already has a form called '{name}'.", field="name")
    form = ExtractionForm.objects.create(
        review=membership.review, name=name, extractors_required=extractors_required
    )
    audit_record(
        review=membership.review,
        actor=membership,
        action=Action.FORM_CREATED,
        target=form,
        after=audit_fields(form, FORM_AUDITED),
    )
    if starter:
        form_version_save(membership=membership, form=form, items=STARTERS[starter]["items"])
    return form


@transaction.atomic
def extraction_form_settings_update(
    *, membership: Membership, form: ExtractionForm, name: str, extractors_required: int
) -> ExtractionForm:
    """Rename a form or change single/dual extraction (entries already made stay as they are)."""
    require(membership, Capability.MANAGE_REVIEW)
    name = name.strip()
    if not name:
        raise ServiceError("A form needs a name.", field="name")
    if extractors_required not in (1, 2):
        raise ServiceError("Choose one or two extractors per study.", field="extractors_required")
    clash = ExtractionForm.objects.filter(review=form.review, name=name).exclude(pk=form.pk)
    if clash.exists():
        raise ServiceError(f"This review already has a form called '{name}'.", field="name")
    before = audit_fields(form, FORM_AUDITED)
    form.name, form.extractors_required = name, extractors_required
    form.save(update_fields=["name", "extractors_required", "updated_at"])
    audit_record(
        review=form.review,
        actor=membership,
        action=Action.FORM_CHANGED,
        target=form,
        before=before,
        after=audit_fields(form, FORM_AUDITED),
    )
    return form


def form_version_save(
    *, membership: Membership, form: ExtractionForm, items: list[dict]
) -> tuple[FormVersion, bool]:
    """Save the builder's rows as the form's definition; returns (version, created).

    An unchanged definition makes no new version. A changed one is always a new version:
    versions are never edited, so entries made against an earlier one keep their meaning.
    """
    require(membership, Capability.MANAGE_REVIEW)
    if form.review_id != membership.review_id:
        raise ServiceError("That form belongs to another review.")
    if form.tool:
        raise ServiceError(
            f"'{form.name}' is a built-in risk-of-bias form; its questions are fixed.",
            field="definition",
        )
    with transaction.atomic():
        # One builder save at a time per form, so two saves cannot both take the next number.
        ExtractionForm.objects.select_for_update().get(pk=form.pk)
        versions = form_versions(form)
        definition, errors = definition_build(items, previous=[v.definition for v in versions])
        if errors:
            raise ServiceError(" ".join(errors), field="definition")
        latest = versions[-1] if versions else None
        if latest is not None and latest.definition == definition:
            return latest, False
        version = FormVersion.objects.create(
            form=form,
            number=(latest.number + 1) if latest else 1,
            definition=definition,
            created_by=membership.user,
        )
        audit_record(
            review=form.review,
            actor=membership,
            action=Action.FORM_VERSION_SAVED,
            target=form,
            before=_form_state(latest),
            after=_form_state(version),
        )
    return version, True


def _form_state(version: FormVersion | None) -> dict:
    # The version's number and its fields' keys; the definition itself is kept by the version.
    if version is None:
        return {"version": None, "fields": []}
    return {"version": version.number, "fields": sorted(definition_keys(version.definition))}


def form_version_import(
    *, membership: Membership, form: ExtractionForm, definition: dict
) -> tuple[FormVersion, bool]:
    """Save a definition given as JSON (e.g. copied from another review's form)."""
    errors = definition_check(definition)
    if errors:
        raise ServiceError(" ".join(errors), field="definition")
    items = [
        {**item, "section": section["title"]}
        for section in definition["sections"]
        for item in section["items"]
    ]
    return form_version_save(membership=membership, form=form, items=items)


# --- entries --------------------------------------------------------------------------------


def _study_check(membership: Membership, form: ExtractionForm, study: Study) -> None:
    review = membership.review
    if form.review_id != review.pk or study.review_id != review.pk:
        raise ServiceError("That form or study belongs to another review.")
    if not studies_included(review).filter(pk=study.pk).exists():
        raise ServiceError(
            f"{study.label} is not included at full text, so it has no data to extract.",
            field="study",
        )


def _revision_check(extraction: Extraction | None, expected_revision: int) -> None:
    stored = extraction.revision if extraction else 0
    if stored != expected_revision:
        who = ""
        if extraction is not None:
            last = extraction.revisions.order_by("-number").select_related("saved_by").first()
            if last and last.saved_by:
                who = f" by {last.saved_by.username}"
        raise ServiceError(
            f"This entry was saved{who} (revision {stored}) after you opened it (revision "
            f"{expected_revision}). Your changes were not saved; reload the page to see the "
            "current entry and enter your changes again.",
            field="revision",
        )


def _append_revision(extraction: Extraction, user) -> None:
    ExtractionRevision.objects.create(
        extraction=extraction, number=extraction.revision, data=extraction.data, saved_by=user
    )


def _entry_clean(form: ExtractionForm, definition: dict, raw: dict, *, complete: bool):
    """The entry cleaned, or EntryInvalid; a risk-of-bias judgement that departs from its
    algorithm's proposal must carry its reason, and a submitted assessment judges every domain."""
    cleaned = entry_clean(definition, raw, complete=complete)
    if cleaned.ok and form.tool:
        assessment = assessment_read(form.tool, definition, cleaned.data)
        cleaned.errors.update(assessment.errors)
        if complete:
            cleaned.errors.update(assessment.incomplete())
    if not cleaned.ok:
        raise EntryInvalid(cleaned.errors)
    return cleaned


def extraction_save(
    *,
    membership: Membership,
    form: ExtractionForm,
    study: Study,
    raw: dict,
    expected_revision: int,
    submit: bool = False,
) -> Extraction:
    """Save one extractor's entry for a study (a draft, or submitted and then locked).

    A new entry uses the form's latest version; an existing one keeps its own version.
    ``expected_revision`` is the revision the extractor's page showed (0 for a new entry).
    """
    require(membership, Capability.EXTRACT)
    _study_check(membership, form, study)
    user = membership.user
    with transaction.atomic():
        extraction = (
            Extraction.objects.select_for_update()
            .filter(form=form, study=study, kind=ExtractionKind.INDIVIDUAL, extractor=user)
            .select_related("form_version")
            .first()
        )
        _revision_check(extraction, expected_revision)
        if extraction is not None and extraction.submitted_at:
            raise ServiceError(
                "You have submitted this entry, so it is locked; differences between extractors "
                "are settled in the consensus.",
                field="revision",
            )
        if extraction is None:
            others = list(
                Extraction.objects.filter(
                    form=form, study=study, kind=ExtractionKind.INDIVIDUAL
                ).values_list("extractor__username", flat=True)
            )
            if len(others) >= form.extractors_required:
                raise ServiceError(
                    f"{study.label} already has its {form.extractors_required} "
                    f"extractor{'s' if form.extractors_required > 1 else ''} "
                    f"({', '.join(sorted(others))}).",
                    field="study",
                )
            version = form_latest_version(form)
            if version is None:
                raise ServiceError("This form has no fields yet.", field="form")
        else:
            version = extraction.form_version
        cleaned = _entry_clean(form, version.definition, raw, complete=submit)
        if extraction is None:
            try:
                with transaction.atomic():
                    extraction = Extraction.objects.create(
                        review=membership.review,
                        study=study,
                        form=form,
                        form_version=version,
                        kind=ExtractionKind.INDIVIDUAL,
                        extractor=user,
                        data=cleaned.data,
                        revision=1,
                        submitted_at=timezone.now() if submit else None,
                    )
            except IntegrityError:
                # The same extractor saved a first entry from another tab a moment ago.
                _revision_check(
                    Extraction.objects.get(
                        form=form, study=study, kind=ExtractionKind.INDIVIDUAL, extractor=user
                    ),
                    expected_revision,
                )
                raise
        else:
            extraction.data = cleaned.data
            extraction.revision += 1
            if submit:
                extraction.submitted_at = timezone.now()
            extraction.save(update_fields=["data", "revision", "submitted_at", "updated_at"])
        _append_revision(extraction, user)
    return extraction


def may_decide_consensus(membership: Membership, individual: list[Extraction]) -> bool:
    if not membership.can(Capability.EXTRACT):
        return False
    return membership.can(Capability.ADJUDICATE) or any(
        e.extractor_id == membership.user_id for e in individual
    )


def consensus_save(
    *,
    membership: Membership,
    form: ExtractionForm,
    study: Study,
    raw: dict,
    expected_revision: int,
) -> Extraction:
    """Save the final (consensus) entry of a study, recording who decided.

    Possible once every required extractor has submitted; open to those extractors and to
    members who may adjudicate. Checked as complete: required fields must be filled.
    """
    require(membership, Capability.EXTRACT)
    _study_check(membership, form, study)
    individual, _ = extractions_for_study(form, study)
    if not may_decide_consensus(membership, individual):
        raise ServiceError(
            "Only this study's extractors, or a member who resolves conflicts, may decide "
            "its consensus.",
            field="study",
        )
    submitted = [e for e in individual if e.submitted_at]
    if len(submitted) < form.extractors_required:
        raise ServiceError(
            f"The consensus waits for {form.extractors_required} submitted "
            f"entr{'ies' if form.extractors_required > 1 else 'y'}; {len(submitted)} "
            f"{'is' if len(submitted) == 1 else 'are'} submitted so far.",
            field="study",
        )
    user = membership.user
    with transaction.atomic():
        consensus = (
            Extraction.objects.select_for_update()
            .filter(form=form, study=study, kind=ExtractionKind.CONSENSUS)
            .first()
        )
        _revision_check(consensus, expected_revision)
        version = consensus.form_version if consensus else form_latest_version(form)
        if version is None:
            # Entries were submitted (checked above), and an entry is only made against a version.
            raise AssertionError("consensus on a form without a version")
        cleaned = _entry_clean(form, version.definition, raw, complete=True)
        now = timezone.now()
        if consensus is None:
            consensus = Extraction.objects.create(
                review=membership.review,
                study=study,
                form=form,
                form_version=version,
                kind=ExtractionKind.CONSENSUS,
                extractor=None,
                decided_by=user,
                data=cleaned.data,
                revision=1,
                submitted_at=now,
            )
        else:
            consensus.data = cleaned.data
            consensus.revision += 1
            consensus.decided_by = user
            consensus.submitted_at = now
            consensus.save(
                update_fields=["data", "revision", "decided_by", "submitted_at", "updated_at"]
            )
        _append_revision(consensus, user)
    return consensus


# --- exports --------------------------------------------------------------------------------


def _export_check(membership: Membership, kind: str, form: ExtractionForm | None, which: str):
    require(membership, Capability.EXPORT)
    if kind not in ExportKind.values:
        raise ServiceError(f"'{kind}' is not a download we offer.", field="kind")
    if which not in ExportWhich.values:
        raise ServiceError(f"'{which}' is not a choice of entries.", field="which")
    if kind in EXTRACTION_EXPORTS and (form is None or form.review_id != membership.review_id):
        raise ServiceError("Choose one of this review's extraction forms.", field="form")


def export_write(
    *,
    membership: Membership,
    kind: str,
    form: ExtractionForm | None = None,
    which: str = ExportWhich.FINAL,
    progress=None,
) -> tuple[bytes, int]:
    """The file's bytes and its row count, as this member may see the data (small exports, sent
    at once; large ones are written to a file by ``export_write_file``)."""
    out = io.BytesIO()
    n = export_write_file(
        out, membership=membership, kind=kind, form=form, which=which, progress=progress
    )
    return out.getvalue(), n


def export_write_file(
    out: IO[bytes],
    *,
    membership: Membership,
    kind: str,
    form: ExtractionForm | None = None,
    which: str = ExportWhich.FINAL,
    progress=None,
) -> int:
    """Write the export into ``out`` as it is read, and return its row count.

    Rows go from the database cursor (a chunk at a time) to the file: memory stays flat in the
    number of rows; XLSX goes through openpyxl's write-only workbook.
    """
    _export_check(membership, kind, form, which)
    review = membership.review
    if kind == ExportKind.EXTRACTION_XLSX:
        if form is None:
            raise AssertionError("extraction export without a form")
        entries = ExtractionEntries(form=form, which=which, membership=membership)
        return exports.write_xlsx(
            out, exports.extraction_sheets(form_columns(form), entries), progress
        )
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        n = _export_write_text(text, membership, review, kind, form, which, progress)
        text.flush()
    finally:
        # Leave ``out`` open for the caller (closing the wrapper would close it).
        text.detach()
    return n


def _export_write_text(out: IO[str], membership, review, kind, form, which, progress) -> int:
    if kind in EXTRACTION_EXPORTS:
        if form is None:
            # _export_check refuses an extraction export without a form.
            raise AssertionError("extraction export without a form")
        columns = form_columns(form)
        entries = ExtractionEntries(form=form, which=which, membership=membership)
        if kind == ExportKind.EXTRACTION_CSV:
            return exports.write_csv(
                out,
                exports.extraction_header(columns),
                exports.extraction_rows(columns, entries),
                progress,
            )
        n = 0

        def counted():
            nonlocal n
            for n, entry in enumerate(entries, start=1):  # noqa: B007 (n is read after)
                if progress and n % 500 == 0:
                    progress(n)
                yield entry

        form_doc = {
            "id": form.pk,
            "name": form.name,
            "review": review.slug,
            "extractors_required": form.extractors_required,
            "which": which,
            "versions": [
                {"number": v.number, "definition": v.definition} for v in form_versions(form)
            ],
        }
        for chunk in exports.extraction_json_stream(
            form=form_doc, columns=columns, entries=counted()
        ):
            out.write(chunk)
        return n
    if kind == ExportKind.DECISIONS_LONG:
        return exports.write_csv(
            out, DECISIONS_LONG_HEADER, decisions_long_rows(review, membership), progress
        )
    if kind == ExportKind.RECORDS_WIDE:
        header, rows = records_wide(review, membership)
        return exports.write_csv(out, header, rows, progress)
    return exports.write_ris(out, included_ris_records(review))


def export_in_background(
    *, membership: Membership, kind: str, form: ExtractionForm | None, which: str
) -> bool:
    """Whether an export is large enough to go to the background worker."""
    size = export_size(
        review=membership.review,
        kind=kind,
        form=form,
        membership=membership,
        at_most=EXPORT_BACKGROUND_ROWS + 1,
    )
    return size > EXPORT_BACKGROUND_ROWS


def export_request(
    *,
    membership: Membership,
    kind: str,
    form: ExtractionForm | None = None,
    which: str = ExportWhich.FINAL,
    queue: str | None = None,
) -> ExportJob:
    """Queue a background export for this member; the task is sent once the row is committed.

    ``queue`` names a Celery queue other than the default (the tests' own worker listens on one).
    """
    _export_check(membership, kind, form, which)
    job = ExportJob.objects.create(
        review=membership.review,
        requested_by=membership.user,
        kind=kind,
        form=form if kind in EXTRACTION_EXPORTS else None,
        which=which,
        rows_total=export_size(
            review=membership.review, kind=kind, form=form, membership=membership
        ),
    )
    job_enqueue(job, queue=queue)
    return job


def export_retry(*, membership: Membership, job: ExportJob) -> ExportJob:
    """Queue a failed export again, for the member who asked for it; the caller sends it."""
    require(membership, Capability.EXPORT)
    if job.requested_by_id != membership.user_id or not job_requeue(ExportJob, pk=job.pk):
        raise ServiceError("Only a failed export can be run again.")
    ExportJob.objects.filter(pk=job.pk).update(rows_written=0)
    job.refresh_from_db()
    return job


def export_run(*, export_id: int) -> ExportJob:
    """Write a queued export's file under MEDIA_ROOT/exports/, with progress in the cache.

    Idempotent: a redelivered task does nothing unless the attempt that held the job died (its
    heartbeat stopped); the file is written afresh then, and only the attempt holding the claim
    records it.
    """
    claim = job_claim(ExportJob, export_id)
    if claim is None:
        return ExportJob.objects.get(pk=export_id)
    job = ExportJob.objects.select_related("review", "requested_by", "form").get(pk=export_id)
    membership = Membership.objects.filter(review=job.review, user=job.requested_by).first()
    if membership is None:
        claim.finish(
            status=JobStatus.FAILED,
            error="The member who asked for this export has left the review.",
            finished_at=timezone.now(),
        )
        job.refresh_from_db()
        return job

    def progress(done: int) -> None:
        progress_write("export", job.pk, done=done, total=job.rows_total)
        claim.step()

    try:
        with claim.heartbeat():
            progress(0)
            # Written to a temporary file as the rows are read, then stored: the worker's
            # memory does not grow with the export.
            with tempfile.TemporaryFile() as scratch:
                n = export_write_file(
                    scratch,
                    membership=membership,
                    kind=job.kind,
                    form=job.form,
                    which=job.which,
                    progress=progress,
                )
                scratch.seek(0)
                name, _type = EXPORT_FILE[job.kind]
                job.file.save(f"{job.review.slug}-{name}", File(scratch), save=False)
        try:
            claim.finish(
                file=job.file.name,
                status=JobStatus.DONE,
                rows_written=n,
                finished_at=timezone.now(),
            )
        except JobLost:
            job.file.delete(save=False)
            raise
        progress_write("export", job.pk, done=n, total=n)
    except JobLost:
        logger.warning("export %s was taken over by a later attempt", job.pk)
    except ServiceError as exc:
        claim.finish(status=JobStatus.FAILED, error=exc.message, finished_at=timezone.now())
    except Exception as exc:
        logger.exception("export %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk, claim_token=claim.token).update(
            status=JobStatus.FAILED,
            error=f"The export stopped on an internal error ({exc.__class__.__name__}); "
            "it can be run again.",
            finished_at=timezone.now(),
        )
        raise
    job.refresh_from_db()
    return job


def exports_expire(*, now: datetime | None = None) -> int:
    """Delete the files of background exports finished more than EXPORT_KEEP_DAYS ago.

    Their jobs are marked expired (the page says to ask again). Runs daily from Celery beat.
    Returns how many files were deleted.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.EXPORT_KEEP_DAYS)
    expired = 0
    for job in ExportJob.objects.filter(status=JobStatus.DONE, finished_at__lt=cutoff).only(
        "pk", "file"
    ):
        if job.file:
            job.file.delete(save=False)
        expired += ExportJob.objects.filter(pk=job.pk, status=JobStatus.DONE).update(
            status=JobStatus.EXPIRED, file=""
        )
    return expired
