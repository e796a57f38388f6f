import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from reviewapp.core.models import JobRun, TimeStampedModel
from reviewapp.extraction.constants import ExportKind, ExportWhich, ExtractionKind
from reviewapp.literature.constants import JobStatus
from reviewapp.reviews.models import Review
from reviewapp.screening.models import Study


class ExtractionForm(TimeStampedModel):
    """A named data-extraction form of a review; its fields live in versions, as data."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="extraction_forms")
    name = models.CharField(max_length=200)
    extractors_required = models.PositiveSmallIntegerField(default=1)
    # A built-in risk-of-bias tool (reviewapp.riskofbias.builtin.TOOL_CHOICES); blank for a form
    # the review built. A tool's questions are fixed, so its form is never edited in the builder.
    tool = models.CharField(max_length=32, blank=True, default="")
    # What a per-result tool (RoB 2) assesses, e.g. "Relapse at 12 months".
    result = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["review", "name"], name="form_name_once"),
            models.CheckConstraint(
                condition=Q(extractors_required__in=[1, 2]), name="form_extractors_1_or_2"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class FormVersion(models.Model):
    """An immutable definition of a form (sections, fields, effect-data groups) as JSON.

    Editing a form makes a new version, so entries made against an older one stay readable.
    """

    form = models.ForeignKey(ExtractionForm, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["form", "number"]
        constraints = [
            models.UniqueConstraint(fields=["form", "number"], name="form_version_once"),
            models.CheckConstraint(condition=Q(number__gte=1), name="form_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.form} v{self.number}"


class Extraction(TimeStampedModel):
    """The data one extractor (or the consensus) entered for one study on one form."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="extractions")
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="extractions")
    form = models.ForeignKey(ExtractionForm, on_delete=models.PROTECT, related_name="extractions")
    form_version = models.ForeignKey(
        FormVersion, on_delete=models.PROTECT, related_name="extractions"
    )
    kind = models.CharField(
        max_length=16, choices=ExtractionKind.choices, default=ExtractionKind.INDIVIDUAL
    )
    extractor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="extractions",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    revision = models.PositiveIntegerField(default=1)
    # Set when the extractor submits (their entry is then locked and may be compared), or when a
    # consensus is saved.
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["study", "form", "extractor"],
                condition=Q(kind=ExtractionKind.INDIVIDUAL),
                name="extraction_one_per_extractor",
            ),
            models.UniqueConstraint(
                fields=["study", "form"],
                condition=Q(kind=ExtractionKind.CONSENSUS),
                name="extraction_one_consensus",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind=ExtractionKind.INDIVIDUAL, extractor__isnull=False)
                    | Q(kind=ExtractionKind.CONSENSUS, extractor__isnull=True)
                ),
                name="extraction_extractor_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        who = self.extractor or "consensus"
        return f"{self.study} / {self.form} ({who})"


class ExtractionRevision(models.Model):
    """Every saved state of an extraction, so nothing entered is ever silently overwritten."""

    extraction = models.ForeignKey(Extraction, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    data = models.JSONField(default=dict)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    saved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["extraction", "number"]
        constraints = [
            models.UniqueConstraint(fields=["extraction", "number"], name="revision_once"),
        ]

    def __str__(self) -> str:
        return f"{self.extraction} r{self.number}"


def export_path(instance: "ExportJob", filename: str) -> str:
    # Served only through a members-only view, never from MEDIA_URL.
    return f"exports/review-{instance.review_id}/{uuid.uuid4().hex}-{filename}"


class ExportJob(TimeStampedModel, JobRun):
    """A download written in the background; only the member who asked for it may fetch it."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="export_jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="export_jobs"
    )
    kind = models.CharField(max_length=24, choices=ExportKind.choices)
    form = models.ForeignKey(
        ExtractionForm, null=True, blank=True, on_delete=models.CASCADE, related_name="exports"
    )
    which = models.CharField(max_length=8, choices=ExportWhich.choices, default=ExportWhich.FINAL)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_written = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=export_path, blank=True, max_length=300)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ExportKind.values), name="export_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.status})"
