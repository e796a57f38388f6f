from django.db import models


class ManualPrismaField(models.TextChoices):
    """PRISMA 2020 boxes the app cannot know from its data; names follow the PRISMA2020 template."""

    PREVIOUS_STUDIES = "previous_studies", "Studies included in previous version of review"
    PREVIOUS_REPORTS = "previous_reports", "Reports of studies included in previous version"
    WEBSITE_RESULTS = "website_results", "Records identified from websites"
    ORGANISATION_RESULTS = "organisation_results", "Records identified from organisations"
    CITATIONS_RESULTS = "citations_results", "Records identified from citation searching"
