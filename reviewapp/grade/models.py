from django.conf import settings
from django.db import models

from reviewapp.core.models import TimeStampedModel
from reviewapp.extraction.models import ExtractionForm
from reviewapp.grade.constants import Design, Domain, RatioKind
from reviewapp.synthesis.models import Analysis


class Assessment(TimeStampedModel):
    """The GRADE certainty of one analysed outcome and its row of the summary-of-findings table.

    What the data propose is computed afresh from the analysis's latest result each time it is
    shown; what the team decided is kept per domain (DomainJudgement) with what was proposed then.
    """

    analysis = models.OneToOneField(
        Analysis, on_delete=models.CASCADE, related_name="grade_assessment"
    )
    design = models.CharField(max_length=16, choices=Design.choices, default=Design.RANDOMISED)
    # Whose consensus judgements give the share of weight at high risk of bias.
    rob_form = models.ForeignKey(
        ExtractionForm, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    baseline_per_1000 = models.FloatField(
        "assumed risk with the comparator, per 1,000", null=True, blank=True
    )
    baseline_source = models.CharField(max_length=200, blank=True)
    ratio_kind = models.CharField(max_length=2, choices=RatioKind.choices, blank=True)
    # Optimal information size: the relative risk reduction a trial should detect (GRADE 6).
    rrr = models.FloatField("relative risk reduction for the OIS", default=0.25)
    threshold_low = models.FloatField(null=True, blank=True)
    threshold_high = models.FloatField(null=True, blank=True)
    # Entered when the pooled data do not say (generic inverse-variance estimates).
    participants = models.PositiveIntegerField(null=True, blank=True)
    comments = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"GRADE: {self.analysis}"


class DomainJudgement(TimeStampedModel):
    """The team's judgement of one GRADE domain, its reason, and what the app proposed then."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="judgements")
    domain = models.CharField(max_length=24, choices=Domain.choices)
    judgement = models.CharField(max_length=16)
    reason = models.TextField()
    proposed = models.CharField(max_length=16, blank=True)
    proposed_reason = models.TextField(blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField()

    class Meta:
        ordering = ["assessment", "domain"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "domain"], name="grade_domain_once")
        ]

    def __str__(self) -> str:
        return f"{self.assessment.analysis}: {self.get_domain_display()}"
