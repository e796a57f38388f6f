from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker proved it can reach the database.

    Written by a task that travels through the broker, so a fresh row proves the whole chain
    (web -> broker -> worker -> database) works; the status page and /healthz read it.
    """

    hostname = models.CharField(max_length=255, unique=True)
    last_seen = models.DateTimeField()
    celery_version = models.CharField(max_length=32, blank=True)
    beats = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.last_seen:%Y-%m-%d %H:%M:%S}"


class JobRun(models.Model):
    """What lets a background job survive its worker (see reviewapp/core/jobs.py).

    Each task that takes the job writes a fresh claim token and counts an attempt; while it works, a
    heartbeat thread refreshes heartbeat_at. A job "running" whose heartbeat stopped belongs to a
    worker that died: the next delivery of its task, or the recovery task, takes it back.
    """

    attempts = models.PositiveSmallIntegerField(default=0)
    claim_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the task's message was last handed to the broker; None: never (the broker was down).
    sent_at = models.DateTimeField(null=True, blank=True)
    # Why a queued job is waiting or was put back in the queue; shown on the job's page.
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        abstract = True


class Tally(models.Model):
    """One count kept by the writes that change it (see reviewapp/core/tally.py).

    Pages of a 100,000-record review read their numbers from a few hundred of these rows instead
    of counting the records, states and votes on every view. ``name`` says what is counted.
    """

    review = models.ForeignKey("reviews.Review", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "name"], name="tally_name_once"),
        ]

    def __str__(self) -> str:
        return f"{self.name} = {self.n}"


class DuplicateVersion(models.Model):
    """A row per change that may move a review's duplicate corrections (screening/counts.py):
    its active duplicate links, or the state or automated exclusion of one of its duplicates.

    Written by PostgreSQL triggers (migration core 0004), so no writer can forget it; the
    highest id of a review is the version its cached corrections are kept under. Ids come from
    a sequence, so a version never comes back after a rollback. No foreign key: the triggers
    also fire while a review's rows are being deleted.
    """

    review_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["review_id", "-id"], name="duplicate_version_latest")]

    def __str__(self) -> str:
        return f"review {self.review_id} duplicate version {self.id}"
