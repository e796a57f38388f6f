from django.conf import settings
from django.db import models

from reviewapp.core.models import JobRun, TimeStampedModel
from reviewapp.literature.constants import JobStatus
from reviewapp.reviews.models import Review
from reviewapp.synthesis.constants import Measure, Method, Model


class Analysis(TimeStampedModel):
    """A meta-analysis of one outcome: which data, which measure, which model."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="analyses")
    name = models.CharField(max_length=200)
    outcome = models.CharField(max_length=200, help_text="Outcome name in the extraction data.")
    measure = models.CharField(max_length=4, choices=Measure.choices)
    model = models.CharField(max_length=8, choices=Model.choices, default=Model.RANDOM)
    method = models.CharField(max_length=4, choices=Method.choices, default=Method.REML)
    hksj = models.BooleanField("Hartung-Knapp-Sidik-Jonkman adjustment", default=False)
    # Subgroup variable, time point and other options; stored as data so they travel with results.
    options = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "analyses"
        constraints = [
            models.UniqueConstraint(fields=["review", "name"], name="analysis_name_once")
        ]

    def __str__(self) -> str:
        return self.name


def plot_path(instance: "AnalysisResult", filename: str) -> str:
    analysis = instance.analysis
    return f"analyses/review-{analysis.review_id}/analysis-{analysis.pk}/{filename}"


class AnalysisResult(models.Model):
    """One computation of an analysis with the exact inputs it used.

    inputs_digest lets the page compare with the current data and say when a result is stale.
    The plots are drawn once per result (by the computation, or on the first request for one
    missing) and kept: a result never changes, so neither do its plots.
    """

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="results")
    inputs = models.JSONField(default=list)
    inputs_digest = models.CharField(max_length=64)
    model_settings = models.JSONField(default=dict)
    results = models.JSONField(default=dict)
    computed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # How many studies the inputs hold, so the page need not load the inputs to say so.
    studies_count = models.PositiveIntegerField(null=True, blank=True)
    forest_svg = models.FileField(upload_to=plot_path, blank=True, max_length=300)
    funnel_svg = models.FileField(upload_to=plot_path, blank=True, max_length=300)
    forest_png = models.FileField(upload_to=plot_path, blank=True, max_length=300)
    funnel_png = models.FileField(upload_to=plot_path, blank=True, max_length=300)
    # Set while the worker draws the plots of a result it has just shown (cleared when they are
    # stored): the page says they are coming instead of drawing them itself.
    plots_pending_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-computed_at"]

    def __str__(self) -> str:
        return f"{self.analysis} at {self.computed_at:%Y-%m-%d %H:%M}"


class AnalysisRun(TimeStampedModel, JobRun):
    """A computation of an analysis asked for by a member, done by the worker.

    A large analysis (leave-one-out and plots included) takes seconds: the request that asks for
    it only queues this row, and the page shows its status until the result is there.
    """

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="runs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="analysis_runs"
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    result = models.ForeignKey(
        AnalysisResult, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.analysis} ({self.status})"
