from django.conf import settings
from django.db import models
from django.db.models import Q

from reviewapp.reporting.constants import ManualPrismaField
from reviewapp.reviews.models import Review


class PrismaManualCount(models.Model):
    """A PRISMA box entered by hand. Append-only: the latest entry per field counts, older ones
    stay as the history of who entered what and when."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="prisma_manual")
    field = models.CharField(max_length=32, choices=ManualPrismaField.choices)
    value = models.PositiveIntegerField()
    note = models.CharField(max_length=300, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["review", "field", "-entered_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(field__in=ManualPrismaField.values), name="prisma_manual_field_valid"
            ),
        ]
        indexes = [models.Index(fields=["review", "field", "entered_at"])]

    def __str__(self) -> str:
        return f"{self.field} = {self.value}"
