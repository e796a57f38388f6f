from django.db import models


class Stage(models.TextChoices):
    TITLE_ABSTRACT = "ta", "Title and abstract"
    FULL_TEXT = "ft", "Full text"


class DecisionValue(models.TextChoices):
    INCLUDE = "include", "Include"
    EXCLUDE = "exclude", "Exclude"
    MAYBE = "maybe", "Maybe"


class DecisionKind(models.TextChoices):
    VOTE = "vote", "Reviewer's vote"
    ADJUDICATION = "adjudication", "Conflict resolution"
    AUTOMATION = "automation", "Excluded by an automation tool (stopping rule)"


class QueueOrder(models.TextChoices):
    """How the screening queue is ordered; a pluggable choice (ranking comes later)."""

    FILE_ORDER = "file_order", "In the order records were imported"
    RANDOM = "random", "Random (fixed per reviewer)"


class RetrievalStatus(models.TextChoices):
    SOUGHT = "sought", "Sought"
    RETRIEVED = "retrieved", "Retrieved"
    NOT_RETRIEVED = "not_retrieved", "Not retrieved"
