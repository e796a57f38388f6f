from django.conf import settings
from django.db import models
from django.db.models import Q

from reviewapp.core.models import JobRun, TimeStampedModel
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.models import Record
from reviewapp.reviews.models import Review
from reviewapp.screening.constants import (
    BulkStatus,
    DecisionKind,
    DecisionValue,
    MatchMethod,
    QueueOrder,
    RankingStatus,
    RetrievalOutcome,
    RetrievalSource,
    RetrievalStatus,
    ScreenState,
    Stage,
    StoppingMethod,
)


class StageSettings(TimeStampedModel):
    """How one screening stage of one review works: single or dual, blinded, queue order."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="stage_settings")
    stage = models.CharField(max_length=2, choices=Stage.choices)
    reviewers_required = models.PositiveSmallIntegerField(
        default=2, help_text="Independent votes needed per record: 1 (single) or 2 (dual)."
    )
    blinded = models.BooleanField(
        default=True, help_text="Reviewers cannot see each other's votes until both have voted."
    )
    queue_order = models.CharField(
        max_length=20, choices=QueueOrder.choices, default=QueueOrder.FILE_ORDER
    )
    # Active-learning prioritisation (used when queue_order is "ranked"): the model's preset, a
    # name in reviewapp.screening.ranking.PRESETS (checked by the service, so this module does not
    # import scikit-learn), and how many new decisions trigger a retrain.
    ranking_preset = models.CharField(max_length=40, default="elas_u4")
    retrain_every = models.PositiveSmallIntegerField(
        default=20, help_text="Retrain the ranking model after this many new decisions."
    )
    # No longer read: a high-water mark of record ids that had state rows, which an import
    # committing late could slip under; NewRecords replaced it. Kept because bench/benchdb.py
    # still writes it; drop it with that.
    rows_synced_to = models.BigIntegerField(default=0, editable=False)
    # A declared random sample the queue serves before the stage's order (stopping.py sets and
    # clears it); on the settings the queue reads anyway, so no sample costs no query.
    sample_rule = models.ForeignKey(
        "StoppingRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Not a field: reviewers_required as stored before a save, set by the pre_save signal
    # (reviewapp.screening.signals) for the post_save one to compare.
    _required_before: int | None

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "stage"], name="stage_settings_once"),
            models.CheckConstraint(
                condition=Q(reviewers_required__in=[1, 2]), name="stage_reviewers_1_or_2"
            ),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="stage_valid"),
        ]
        verbose_name_plural = "stage settings"

    def __str__(self) -> str:
        return f"{self.review}: {self.get_stage_display()}"


class ExclusionReason(TimeStampedModel):
    """A reason shared by the whole team; numbered so reviewers can press 1 to 9."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="exclusion_reasons")
    label = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True, help_text="Retired reasons stay on old decisions.")

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "label"], name="reason_label_once"),
        ]

    def __str__(self) -> str:
        return self.label


class DecisionQuerySet(models.QuerySet):
    # Decisions are events: the bulk paths that would rewrite or erase history are closed too.
    def update(self, **kwargs):
        raise TypeError("Decisions are append-only; record a new decision instead of updating.")

    def delete(self):
        raise TypeError("Decisions are append-only and cannot be deleted.")


class Decision(models.Model):
    """One screening event. Never changed: a change of mind is a new event; the state is derived.

    These events are also the training data of the ranking model, so they keep everything a model
    may learn from: who, what, when, at which stage, with which reasons.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="decisions")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="decisions")
    stage = models.CharField(max_length=2, choices=Stage.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions"
    )
    kind = models.CharField(max_length=16, choices=DecisionKind.choices, default=DecisionKind.VOTE)
    value = models.CharField(max_length=8, choices=DecisionValue.choices)
    reasons = models.ManyToManyField(ExclusionReason, blank=True, related_name="decisions")
    note = models.TextField(blank=True)
    # Sent by the browser with each decision so a double click or a retried request is stored once.
    client_token = models.UUIDField(null=True, blank=True)
    # Automation decisions carry the stopping rule and recall estimate that justified them.
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DecisionQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reviewer", "client_token"],
                condition=Q(client_token__isnull=False),
                name="decision_client_token_once",
            ),
            models.CheckConstraint(
                condition=Q(value__in=DecisionValue.values), name="decision_value_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=DecisionKind.values), name="decision_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values), name="decision_stage_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["review", "stage", "record", "created_at"]),
            models.Index(fields=["review", "stage", "reviewer", "created_at"]),
            # The few events that are nobody's vote: the latest resolutions on the conflicts
            # page, without reading every vote of the stage.
            models.Index(
                fields=["review", "stage", "kind", "created_at"],
                condition=~Q(kind="vote"),
                name="decision_settling",
            ),
            # The API's decision list and the decisions download, in the order things happened:
            # a page is read along this index instead of sorting every decision of the review.
            models.Index(fields=["review", "created_at", "id"], name="decision_review_time"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} {self.value} record {self.record_id} ({self.stage})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Decisions are append-only; record a new decision instead of editing.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Decisions are append-only and cannot be deleted.")


class Tag(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["review", "name"], name="tag_name_once")]

    def __str__(self) -> str:
        return self.name


class RecordTag(models.Model):
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="record_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="record_tags")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["record", "tag"], name="record_tag_once")]

    def __str__(self) -> str:
        return f"{self.tag} on {self.record_id}"


class RecordNote(models.Model):
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="record_notes"
    )
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.text[:60]


class Study(TimeStampedModel):
    """A study, as PRISMA 2020 counts them: one or more reports (records) describe it."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="studies")
    label = models.CharField(
        max_length=200, help_text="e.g. first author and year of the main report"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["label"]
        verbose_name_plural = "studies"
        constraints = [models.UniqueConstraint(fields=["review", "label"], name="study_label_once")]

    def __str__(self) -> str:
        return self.label


def full_text_path(instance: "Report", filename: str) -> str:
    # Not guessable from the record alone and never served directly: a members-only view serves it.
    return f"fulltext/review-{instance.review_id}/record-{instance.record_id}/{filename}"


class Report(TimeStampedModel):
    """The full text of a record that reached full-text screening (a 'report' in PRISMA 2020)."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="reports")
    record = models.OneToOneField(Record, on_delete=models.CASCADE, related_name="report")
    study = models.ForeignKey(
        Study, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    retrieval_status = models.CharField(
        max_length=16, choices=RetrievalStatus.choices, default=RetrievalStatus.SOUGHT
    )
    # The current full text: the same stored file as the latest of `files` (ReportFile), whose
    # rows keep every earlier upload too.
    file = models.FileField(upload_to=full_text_path, blank=True, max_length=255)
    original_filename = models.CharField(max_length=255, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["review", "retrieval_status"])]

    def __str__(self) -> str:
        return f"Report of record {self.record_id}"


def report_file_path(instance: "ReportFile", filename: str) -> str:
    # The same folder as the report's; the storage adds a suffix rather than overwrite a name.
    report = instance.report
    return f"fulltext/review-{report.review_id}/record-{report.record_id}/{filename}"


class ReportFileQuerySet(models.QuerySet):
    # The files are the report's history: the bulk paths that would rewrite or erase it are closed.
    def update(self, **kwargs):
        raise TypeError("Full-text files are kept as uploaded; upload a new one instead.")

    def delete(self):
        raise TypeError("Full-text files are a history and cannot be deleted.")


class ReportFile(models.Model):
    """One uploaded file of a report, kept for good: a re-upload adds one, never replaces one.

    The latest is the report's current full text (Report.file names the same stored file); the
    earlier ones stay downloadable by the review's members, with who uploaded them and when.
    """

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to=report_file_path, max_length=255)
    original_filename = models.CharField(max_length=255, blank=True)
    size = models.PositiveBigIntegerField(help_text="Bytes.")
    sha256 = models.CharField(max_length=64, blank=True, help_text="Hex digest of the content.")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    objects = ReportFileQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["report", "uploaded_at"], name="report_file_history")]

    def __str__(self) -> str:
        return f"{self.original_filename or self.file.name} (report {self.report_id})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Full-text files are kept as uploaded; upload a new one instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Full-text files are a history and cannot be deleted.")


class RecordStageState(models.Model):
    """The state of one record at one stage, derived from its Decision events and stored for speed.

    Written only by reviewapp.screening.state, in the same transaction as each new event and under
    a row lock, so two decisions at the same moment are applied one after the other. The events
    stay the source of truth: `stage_states_rebuild` recomputes every row from them. A record
    without a row is unscreened. The lease keeps two reviewers from being handed the same record
    at the same time.
    """

    # No index of its own: the queue indexes start with the review, and a plain review index
    # is what PostgreSQL wrongly scans when its statistics were taken while the review was small.
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+", db_index=False)
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="stage_states")
    stage = models.CharField(max_length=2, choices=Stage.choices)
    state = models.CharField(
        max_length=12, choices=ScreenState.choices, default=ScreenState.UNSCREENED
    )
    n_votes = models.PositiveSmallIntegerField(default=0)
    # A fixed pseudo-random key (a hash of the record id) for the random queue order.
    queue_key = models.IntegerField(default=0)
    lease_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lease_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record", "stage"], name="record_stage_state_once"),
        ]
        indexes = [
            models.Index(fields=["review", "stage", "state", "record"], name="rss_queue_file"),
            models.Index(fields=["review", "stage", "state", "queue_key"], name="rss_queue_random"),
            models.Index(fields=["lease_reviewer", "lease_until"], name="rss_lease"),
            # Records someone has open: a handful of rows, read when a reviewer's queue is
            # empty to say who holds the rest (queue.leases_held_by_others).
            models.Index(
                fields=["review", "stage", "lease_until"],
                name="rss_leased",
                condition=models.Q(lease_reviewer__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"record {self.record_id} {self.stage}: {self.state}"


class NewRecords(models.Model):
    """Records added to a review whose title/abstract state rows may not be built yet.

    Written by a database trigger on the record table (migration 0006), never by Python: one row
    per inserting statement (per record on SQLite), in the inserting transaction. So the row is
    visible exactly when its records are, whatever order imports commit in, and whichever path
    added them (an import's COPY, a search, the admin). `state_rows_sync` takes the rows away as
    it builds the state rows; the screening page only asks whether its review has one, which
    reads this small table instead of the records of every review.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "new records"

    def __str__(self) -> str:
        return f"records {self.first_id}-{self.last_id} of review {self.review_id}"


class RecordVote(models.Model):
    """A reviewer's current vote on a record at a stage (materialised from the events).

    `value` is the vote standing now; `first_value` the first vote still standing (not undone),
    which is what agreement statistics use: the independent judgement before any discussion.
    """

    # No index of its own: rv_mine starts with the review (see RecordStageState.review).
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+", db_index=False)
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="current_votes")
    stage = models.CharField(max_length=2, choices=Stage.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    value = models.CharField(max_length=8, choices=DecisionValue.choices)
    first_value = models.CharField(max_length=8, choices=DecisionValue.choices)
    decided_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["record", "stage", "reviewer"], name="record_vote_once_per_reviewer"
            ),
        ]
        indexes = [
            models.Index(fields=["review", "stage", "reviewer", "decided_at"], name="rv_mine"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} {self.value} record {self.record_id} ({self.stage})"


class Ranking(JobRun):
    """One training of the ranking model at a stage, kept with what produced it (as ASReview does).

    The queue uses the latest finished one. `record_ids` is the order: records unlabelled at
    training time, most likely relevant first, then the labelled ones. Written only by
    reviewapp.screening.ranking_service; at most one is queued or training per stage at a time.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="rankings")
    stage = models.CharField(max_length=2, choices=Stage.choices)
    status = models.CharField(
        max_length=8, choices=RankingStatus.choices, default=RankingStatus.QUEUED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    preset = models.CharField(max_length=40)
    # The preset's full settings, its source, the seed and the scikit-learn version.
    model_settings = models.JSONField(default=dict, blank=True)
    # Decision events at the stage when it was requested: the retrain-after-N trigger counts from it.
    decisions_seen = models.PositiveIntegerField(default=0)
    training_size = models.PositiveIntegerField(default=0)
    n_includes = models.PositiveIntegerField(default=0)
    n_excludes = models.PositiveIntegerField(default=0)
    n_records = models.PositiveIntegerField(default=0)
    # False when the labels lacked an include or an exclude: the queue then keeps its plain order.
    trained = models.BooleanField(default=False)
    # Records whose words this training had to tokenise (none once every record keeps its words).
    records_tokenised = models.PositiveIntegerField(default=0)
    record_ids = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "stage"],
                condition=Q(status__in=[RankingStatus.QUEUED, RankingStatus.RUNNING]),
                name="ranking_one_in_flight",
            ),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="ranking_stage_valid"),
        ]
        indexes = [models.Index(fields=["review", "stage", "status", "-id"], name="ranking_latest")]

    def __str__(self) -> str:
        return f"Ranking {self.pk} of {self.review_id} ({self.stage}, {self.status})"


class RankingWord(models.Model):
    """A word seen in some record's title or abstract: records keep their words as these ids.

    One dictionary for the whole database, only ever added to (an id, once given, always means
    the same word). Looked up by the MD5 of the word, so a word of any length has a key the
    unique index accepts.
    """

    id = models.AutoField(primary_key=True)
    key = models.BinaryField(max_length=16, unique=True)
    word = models.TextField()

    def __str__(self) -> str:
        return self.word


class RecordWords(models.Model):
    """A record's words for the ranking model, tokenised once (on import or at the first training
    that needs them) and kept, so a retrain builds TF-IDF from ids instead of re-reading text.

    `ids` are RankingWord ids in text order (4-byte little-endian unsigned) of ranking.record_text
    (title and abstract). A change of the record's title or abstract deletes the row in the same
    statement (a trigger, migration 0006), so words never outlive their text. Written only by
    reviewapp.screening.ranking_words.
    """

    record = models.OneToOneField(
        Record, primary_key=True, on_delete=models.CASCADE, related_name="ranking_words"
    )
    ids = models.BinaryField()

    def __str__(self) -> str:
        return f"words of record {self.record_id}"


class StoppingRuleQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Stopping rules are a history; declare a new one instead of updating.")


class StoppingRule(models.Model):
    """A stopping rule the team declared for a stage, before stopping. Never changed: declaring
    again adds a row, and the latest one is the rule in force; the history shows every change and
    how many records had been screened when it was made.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="stopping_rules")
    stage = models.CharField(max_length=2, choices=Stage.choices)
    method = models.CharField(
        max_length=20, choices=StoppingMethod.choices, default=StoppingMethod.HYPERGEOMETRIC
    )
    target_recall = models.FloatField(default=0.95)
    confidence = models.FloatField(default=0.95)
    min_screened = models.PositiveIntegerField(
        default=0, help_text="Never stop before this many records have been screened."
    )
    note = models.TextField(blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    screened_when_declared = models.PositiveIntegerField(default=0)
    declared_at = models.DateTimeField(auto_now_add=True)
    # A declared random sample (method "random_sample"): the records nobody had voted on when it
    # was declared (the population), the includes found by then, and the sample itself, drawn
    # at random from that population before any of it was screened, in the order the queue
    # serves it. Stored, not recomputed, so records imported later cannot change it.
    sample_population = models.PositiveIntegerField(null=True, blank=True)
    found_when_declared = models.PositiveIntegerField(null=True, blank=True)
    sample_ids = models.JSONField(default=list, blank=True)

    objects = StoppingRuleQuerySet.as_manager()

    class Meta:
        ordering = ["-declared_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(target_recall__gt=0, target_recall__lt=1), name="stopping_target_0_1"
            ),
            models.CheckConstraint(
                condition=Q(confidence__gt=0, confidence__lt=1), name="stopping_confidence_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()}: recall {self.target_recall:.0%}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Stopping rules are a history; declare a new one instead of editing.")
        super().save(*args, **kwargs)


class Retrieval(TimeStampedModel, JobRun):
    """One run of automatic retrieval of open-access full texts (PMC, Unpaywall) for a review."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="retrievals")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    found = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Retrieval {self.pk} ({self.status})"


class RetrievalItem(models.Model):
    """What one retrieval found for one record, and from where, or why nothing."""

    retrieval = models.ForeignKey(Retrieval, on_delete=models.CASCADE, related_name="items")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=16, choices=RetrievalOutcome.choices)
    source = models.CharField(max_length=16, choices=RetrievalSource.choices, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["retrieval", "record"], name="retrieval_record_once")
        ]

    def __str__(self) -> str:
        return f"Record {self.record_id}: {self.outcome}"


def bulk_file_path(instance: "BulkUploadFile", filename: str) -> str:
    return f"fulltext-bulk/review-{instance.batch.review_id}/batch-{instance.batch_id}/{filename}"


class BulkUpload(TimeStampedModel):
    """Many PDFs uploaded at once, staged until a member confirms the matches in one go."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="bulk_uploads")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=16, choices=BulkStatus.choices, default=BulkStatus.STAGED)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Bulk upload {self.pk} ({self.status})"


class BulkMatch(TimeStampedModel, JobRun):
    """The background job that checks and matches the files of one bulk upload.

    The upload request only unpacks and stores the files; this job reads each as a PDF and
    matches it (reviewapp.screening.bulk.bulk_match_run). Until it is done the batch cannot be
    confirmed; if no file could be taken it fails and the batch is discarded.
    """

    batch = models.OneToOneField(BulkUpload, on_delete=models.CASCADE, related_name="matching")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Matching of bulk upload {self.batch_id} ({self.status})"


class BulkUploadFile(models.Model):
    """One file of a bulk upload: staged with its match, or refused with the reason."""

    batch = models.ForeignKey(BulkUpload, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=255)
    file = models.FileField(upload_to=bulk_file_path, blank=True, max_length=300)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    refused = models.TextField(blank=True)
    record = models.ForeignKey(
        Record, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    method = models.CharField(max_length=16, choices=MatchMethod.choices, blank=True)
    evidence = models.CharField(max_length=500, blank=True)
    discarded = models.BooleanField(default=False)
    # Stored by the upload, not yet checked and matched by its BulkMatch job.
    pending = models.BooleanField(default=False)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


class ReportText(models.Model):
    """The text of one uploaded PDF, extracted once (pypdf) so full texts can be searched."""

    report_file = models.OneToOneField(ReportFile, on_delete=models.CASCADE, related_name="text")
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    text = models.TextField(blank=True)
    pages = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    extracted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Text of {self.report_file_id} ({self.pages} pages)"


class Annotation(TimeStampedModel):
    """A passage of one uploaded PDF that a member marked: with a comment, or as the source of a
    value they extracted (an extraction form's field, in their own entry of the report's study).

    Tied to the upload (ReportFile), not to the report: a new version of the PDF has other pages,
    and a passage's place is only true of the file it was marked in. Its place is kept as
    rectangles in fractions of the page (x, y, width, height), so it holds at any zoom. Who may
    see it follows the blinding of dual extraction (reviewapp.core.blinding.annotations_visible).
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    report_file = models.ForeignKey(
        ReportFile, on_delete=models.CASCADE, related_name="annotations"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    page = models.PositiveIntegerField()
    quote = models.TextField()
    rects = models.JSONField(default=list)
    comment = models.TextField(blank=True)
    # The value this passage is the source of: a field (or table) of an extraction form, and the
    # author's own entry of the study when it exists (an entry not started yet gets it later).
    form = models.ForeignKey(
        "extraction.ExtractionForm",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="annotations",
    )
    field_key = models.CharField(max_length=100, blank=True)
    extraction = models.ForeignKey(
        "extraction.Extraction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="annotations",
    )

    class Meta:
        ordering = ["page", "id"]
        indexes = [models.Index(fields=["report_file", "page"], name="annotation_file_page")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(form__isnull=True, field_key="")
                | models.Q(form__isnull=False) & ~models.Q(field_key=""),
                name="annotation_field_with_form",
            ),
            models.CheckConstraint(condition=models.Q(page__gte=1), name="annotation_page_from_1"),
        ]

    def __str__(self) -> str:
        return f"Annotation on page {self.page} of file {self.report_file_id}"
