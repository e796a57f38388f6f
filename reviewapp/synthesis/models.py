from django.conf import settings
from django.db import models

from reviewapp.core.models import TimeStampedModel
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


class AnalysisResult(models.Model):
    """One computation of an analysis with the exact inputs it used.

    inputs_digest lets the page compare with the current data and say when a result is stale.
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

    class Meta:
        ordering = ["-computed_at"]

    def __str__(self) -> str:
        return f"{self.analysis} at {self.computed_at:%Y-%m-%d %H:%M}"
