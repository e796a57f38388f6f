from django.db import models


class ExtractionKind(models.TextChoices):
    INDIVIDUAL = "individual", "One extractor's version"
    CONSENSUS = "consensus", "Consensus (final)"
