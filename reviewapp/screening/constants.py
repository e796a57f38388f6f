from django.db import models


class Stage(models.TextChoices):
    TITLE_ABSTRACT = "ta", "Title and abstract"
    FULL_TEXT = "ft", "Full text"


class DecisionValue(models.TextChoices):
    INCLUDE = "include", "Include"
    EXCLUDE = "exclude", "Exclude"
    MAYBE = "maybe", "Maybe"
    # Undo: withdraws the reviewer's latest vote on the record, restoring the one before it (if
    # any). A new event, never a delete, so the history shows the slip and its correction.
    RETRACT = "retract", "Undo my last vote"


class DecisionKind(models.TextChoices):
    VOTE = "vote", "Reviewer's vote"
    ADJUDICATION = "adjudication", "Conflict resolution"
    AUTOMATION = "automation", "Excluded by an automation tool (stopping rule)"


class QueueOrder(models.TextChoices):
    """How the screening queue is ordered; a pluggable choice (see queue.strategy_register)."""

    FILE_ORDER = "file_order", "In the order records were imported"
    RANDOM = "random", "Random (fixed per reviewer)"
    RANKED = "ranked", "Ranked by the active-learning model"


class RetrievalStatus(models.TextChoices):
    SOUGHT = "sought", "Sought"
    RETRIEVED = "retrieved", "Retrieved"
    NOT_RETRIEVED = "not_retrieved", "Not retrieved"


class ScreenState(models.TextChoices):
    """The derived state of a record at a stage (mirrors rules.State, which is pure Python)."""

    UNSCREENED = "unscreened", "Not screened"
    AWAITING = "awaiting", "Waiting for another vote"
    CONFLICT = "conflict", "Conflict"
    MAYBE = "maybe", "Maybe"
    INCLUDED = "included", "Included"
    EXCLUDED = "excluded", "Excluded"


class RankingStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Training"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class StoppingMethod(models.TextChoices):
    """Statistical stopping rules a team can declare (see ranking/stopping.py for the maths)."""

    HYPERGEOMETRIC = (
        "hypergeometric",
        "Hypergeometric stopping test (Callaghan & Müller-Hansen 2020)",
    )
    RANDOM_SAMPLE = (
        "random_sample",
        "Declared random sample of the records left (hypergeometric bound)",
    )


class RetrievalOutcome(models.TextChoices):
    """What automatic retrieval found for one record."""

    FOUND = "found", "PDF attached"
    NOT_FOUND = "not_found", "No open-access PDF"
    FAILED = "failed", "Could not be fetched"


class RetrievalSource(models.TextChoices):
    PMC = "pmc", "PubMed Central"
    UNPAYWALL = "unpaywall", "Unpaywall"


class BulkStatus(models.TextChoices):
    STAGED = "staged", "Waiting for review"
    CONFIRMED = "confirmed", "Attached"
    DISCARDED = "discarded", "Discarded"


class MatchMethod(models.TextChoices):
    """How a bulk-uploaded PDF was matched to a record, strongest first."""

    DOI = "doi", "DOI in the PDF"
    PMID = "pmid", "PMID in the PDF"
    FILENAME = "filename", "File name"
    TITLE = "title", "Title similarity"
    MANUAL = "manual", "Assigned by hand"
