from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q

from reviewapp.core.models import JobRun, TimeStampedModel
from reviewapp.literature.constants import (
    DuplicateRule,
    DuplicateStatus,
    ImportFormat,
    JobStatus,
    LivingSchedule,
    SourceKind,
)
from reviewapp.reviews.models import Review


class JobFields(JobRun):
    """Status and progress of background work, written by the task and read by the page."""

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(JobRun.Meta):
        abstract = True


class Search(TimeStampedModel, JobFields):
    """One run of a database search. A re-run (living review) is a new Search pointing at the first."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="searches")
    source_database = models.CharField(max_length=100, default="PubMed")
    source_kind = models.CharField(
        max_length=16, choices=SourceKind.choices, default=SourceKind.DATABASE
    )
    query = models.TextField()
    query_translation = models.TextField(blank=True)
    run_at = models.DateTimeField(null=True, blank=True, help_text="When the source was queried.")
    mindate = models.CharField(max_length=10, blank=True, help_text="YYYY/MM/DD")
    maxdate = models.CharField(max_length=10, blank=True, help_text="YYYY/MM/DD")
    count_reported = models.PositiveIntegerField(null=True, blank=True)
    count_retrieved = models.PositiveIntegerField(default=0)
    count_new = models.PositiveIntegerField(default=0)
    # How the query was run: date-split plan, batch sizes, server warnings, WebEnv, tool versions.
    provenance = models.JSONField(default=dict, blank=True)
    rerun_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # `error` (or `note`, while a retry waits) is the sentence a reviewer reads; this is the
    # technical text behind it (the request, the tries, the socket error), shown folded.
    error_detail = models.TextField(blank=True)
    # When a search that failed on something passing (network, a busy PubMed) is tried again.
    retry_at = models.DateTimeField(null=True, blank=True)
    # Which PubMed date mindate/maxdate limit: publication ("pdat") as a person asks, or entry
    # date ("edat") for a living update, which asks only for what PubMed added since the last run.
    datetype = models.CharField(max_length=4, default="pdat")
    # On the first search of a lineage: how often it re-runs by itself (living review).
    schedule = models.CharField(
        max_length=8, choices=LivingSchedule.choices, default=LivingSchedule.OFF
    )
    # A run queued by the schedule rather than by a person.
    scheduled = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "searches"
        indexes = [
            models.Index(fields=["review", "status"]),
            models.Index(
                fields=["schedule"], condition=~Q(schedule="off"), name="search_scheduled"
            ),
        ]
        constraints = [
            # Two beats, or a beat and its retry, cannot queue the same update twice.
            models.UniqueConstraint(
                fields=["rerun_of"],
                condition=Q(scheduled=True, status__in=["queued", "running"]),
                name="living_one_pending_run",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_database}: {self.query[:60]}"

    @property
    def shortfall(self) -> int:
        if self.count_reported is None:
            return 0
        return max(0, self.count_reported - self.count_retrieved)


class LivingVersion(models.Model):
    """One version of a review: the records numbered first_number..last_number.

    Version 1 is everything before the first update that added records; each later version is
    one update of a stored search (its run) with the records it added. The PRISMA 2020 boxes
    "studies/reports included in previous version" are the earlier version's totals, taken in
    the update's transaction so they cannot drift from the records it added.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="living_versions")
    number = models.PositiveIntegerField()
    search = models.OneToOneField(
        Search, null=True, blank=True, on_delete=models.PROTECT, related_name="living_version"
    )
    first_number = models.PositiveIntegerField()
    last_number = models.PositiveIntegerField()
    previous_studies = models.PositiveIntegerField(default=0)
    previous_reports = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["review", "number"]
        constraints = [
            models.UniqueConstraint(fields=["review", "number"], name="living_version_once"),
            models.CheckConstraint(
                condition=Q(first_number__lte=models.F("last_number") + 1),
                name="living_version_range",
            ),
        ]

    def __str__(self) -> str:
        return f"version {self.number}"

    @property
    def records_count(self) -> int:
        return self.last_number - self.first_number + 1


class Import(TimeStampedModel, JobFields):
    """One uploaded file of records exported from a database."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="imports")
    file = models.FileField(upload_to="imports/%Y/%m/", blank=True)
    file_name = models.CharField(max_length=255)
    format = models.CharField(max_length=16, choices=ImportFormat.choices, blank=True)
    source_database = models.CharField(max_length=100, blank=True)
    source_kind = models.CharField(
        max_length=16, choices=SourceKind.choices, default=SourceKind.DATABASE
    )
    count_read = models.PositiveIntegerField(default=0)
    count_imported = models.PositiveIntegerField(default=0)
    count_duplicates = models.PositiveIntegerField(default=0)
    count_rejected = models.PositiveIntegerField(default=0)
    # [{"position": 7, "line": 81, "field": "title", "reason": "..."}]
    rejections = models.JSONField(default=list, blank=True)
    # What is wrong with the file's structure without costing a record (a record without its end
    # line, records run together, files joined): [{"position": 7 or None, "line": 81 or None,
    # "reason": "..."}], the first `services.WARNINGS_KEPT` of them.
    warnings = models.JSONField(default=list, blank=True)
    count_warnings = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["review", "status"])]

    def __str__(self) -> str:
        return self.file_name


# The first key of the review's advisory lock for adding records (PostgreSQL's two-key form keeps
# it apart from any other advisory lock taken on a review id).
RECORDS_LOCK_CLASS = 13_08


def review_records_lock(review_id: int) -> None:
    """Hold the review's lock for adding records until the current transaction ends.

    An import or a search reads the review's records (to find duplicates and known PMIDs), then
    adds its own in one transaction nobody else sees until it commits. Two of them into one review
    at once, on two workers (or two pool processes), would each miss the other's records: the
    same file uploaded twice would land twice with no duplicate linked. Taken before that read,
    the lock makes the second wait for the first to commit and then see its records. The same
    holds for a record's number, the review's max() plus one. An advisory lock blocks nothing
    else (screening, pages, other reviews' imports). SQLite, which has no such lock, runs the
    jobs in-process one at a time anyway and serialises its writers.
    """
    if connection.vendor != "postgresql":
        return
    assert connection.in_atomic_block, "the lock lasts as long as the transaction adding records"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [RECORDS_LOCK_CLASS, review_id])


def record_numbers_assign(records) -> None:
    """Give each unsaved record without a number the next numbers of its review, in order.

    One max() per review per call, read under the review's lock for adding records, so that two
    transactions adding records to one review never take the same number (the second waits for
    the first to commit). Call it inside the transaction that saves the records.
    """
    pending: dict[int, list] = {}
    for record in records:
        if record.number is None:
            pending.setdefault(record.review_id, []).append(record)
    for review_id in sorted(pending):  # one order for every caller: no two wait on each other
        review_records_lock(review_id)
    for review_id, group in pending.items():
        top = Record.objects.filter(review_id=review_id).aggregate(top=models.Max("number"))["top"]
        for offset, record in enumerate(group, start=(top or 0) + 1):
            record.number = offset


class RecordQuerySet(models.QuerySet):
    def prepare_new(self, objs) -> None:
        """Called by bulk_create and by BulkWriter's COPY before new records are written."""
        record_numbers_assign(objs)

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        with transaction.atomic(using=self.db):
            record_numbers_assign(objs)
            return super().bulk_create(objs, *args, **kwargs)


class Record(models.Model):
    """One imported citation, exactly as one search or file gave it (duplicates included)."""

    # Not indexed alone: every index below starts with the review. The plain index cost every
    # record's insert one more index entry (an import writes 100,000 at once) and, with
    # statistics missing, led the planner to scan a review's rows through it (issue 13).
    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="records", db_index=False
    )
    # The record's number in its review, 1..N in the order records came in: what people see and
    # cite ("record 17"), instead of the database id, which counts every review's records.
    number = models.PositiveIntegerField(
        help_text="The record's number in its review, 1..N in the order records came in."
    )
    # A record comes from a search or from an import, never both: each is indexed where it is
    # set (record_by_search, record_by_import), so no insert adds an index entry for a NULL.
    search = models.ForeignKey(
        Search,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="records",
        db_index=False,
    )
    source_import = models.ForeignKey(
        Import,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="records",
        db_index=False,
    )
    source_position = models.PositiveIntegerField(
        null=True, blank=True, help_text="Record number in the file or search result."
    )
    pmid = models.CharField("PMID", max_length=12, blank=True)
    doi = models.CharField("DOI", max_length=255, blank=True)
    pmcid = models.CharField("PMCID", max_length=16, blank=True)
    title = models.TextField()
    title_key = models.CharField(
        max_length=255, blank=True, help_text="Normalised title for duplicate matching."
    )
    abstract = models.TextField(blank=True)
    # [{"label": "BACKGROUND", "text": "..."}] so structured abstracts keep their sections.
    abstract_sections = models.JSONField(default=list, blank=True)
    authors = models.JSONField(default=list, blank=True)
    journal = models.CharField(max_length=500, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    volume = models.CharField(max_length=50, blank=True)
    issue = models.CharField(max_length=50, blank=True)
    pages = models.CharField(max_length=100, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    mesh_terms = models.JSONField(default=list, blank=True)
    publication_types = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=50, blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="The record as the source gave it.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RecordQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "number"], name="record_number_once_per_review"
            ),
            models.CheckConstraint(
                condition=(
                    Q(search__isnull=False, source_import__isnull=True)
                    | Q(search__isnull=True, source_import__isnull=False)
                ),
                name="record_from_one_search_or_import",
            ),
            # A search run never stores the same PMID twice: re-running an interrupted fetch is safe.
            models.UniqueConstraint(
                fields=["search", "pmid"],
                condition=Q(search__isnull=False) & ~Q(pmid=""),
                name="record_pmid_once_per_search",
            ),
            models.CheckConstraint(
                condition=Q(year__isnull=True) | Q(year__gte=1000, year__lte=2200),
                name="record_year_plausible",
            ),
        ]
        indexes = [
            models.Index(fields=["review", "pmid"]),
            models.Index(fields=["review", "doi"]),
            models.Index(fields=["review", "title_key"]),
            models.Index(fields=["review", "id"]),
            models.Index(
                fields=["search"], condition=Q(search__isnull=False), name="record_by_search"
            ),
            models.Index(
                fields=["source_import"],
                condition=Q(source_import__isnull=False),
                name="record_by_import",
            ),
        ]

    def __str__(self) -> str:
        return self.title[:80]

    def save(self, *args, **kwargs):
        if getattr(self, "merged", False):
            # Showing its cluster's merged values (literature.selectors.merged_apply): saving
            # would write them over the values its source gave.
            raise ValueError(f"Record {self.number} shows merged values and is not saved.")
        if self.number is not None:
            super().save(*args, **kwargs)
            return
        with transaction.atomic():
            record_numbers_assign([self])
            super().save(*args, **kwargs)

    @property
    def first_author(self) -> str:
        return self.authors[0] if self.authors else ""


class DuplicateLink(models.Model):
    """`duplicate` is the same citation as `primary`. Undoing keeps the row with who and when."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="duplicate_links")
    duplicate = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="duplicate_of")
    primary = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="duplicates")
    rule = models.CharField(max_length=24, choices=DuplicateRule.choices)
    score = models.FloatField(default=1.0)
    status = models.CharField(
        max_length=16, choices=DuplicateStatus.choices, default=DuplicateStatus.AUTOMATIC
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(duplicate=models.F("primary")), name="duplicate_not_itself"
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=1), name="duplicate_score_0_1"
            ),
            models.UniqueConstraint(
                fields=["duplicate"],
                condition=Q(undone_at__isnull=True),
                name="duplicate_one_active_link",
            ),
        ]
        indexes = [
            models.Index(fields=["review", "undone_at"]),
            # A primary's active duplicates (a merged cluster's members, read with every record
            # the screening panels show). Without statistics the planner otherwise ANDs the
            # plain primary index with duplicate_one_active_link, reading every active link of
            # the database: 10 ms per record shown on the benchmark database, 0.02 ms with this.
            models.Index(
                fields=["primary"],
                condition=Q(undone_at__isnull=True),
                name="duplicate_active_by_primary",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.duplicate_id} duplicates {self.primary_id} ({self.rule})"

    @property
    def is_active(self) -> bool:
        return self.undone_at is None


class RecordMerge(models.Model):
    """One revision of a duplicate cluster's merged metadata: the values its primary shows.

    The records themselves are never changed: each keeps the values its source gave. A merge
    stores, field by field, the value kept, the records it came from (`origins`) and the fields a
    reviewer chose by hand (`choices`: field -> record id). Every change (a merge, a field chosen,
    another primary) is a new revision that `replaces` the one before; undoing a revision brings
    back exactly the one it replaced (or none), and the links it re-pointed (`links_closed`,
    `links_opened`) when it changed the primary. Only the newest revision of a cluster is
    `current`.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="record_merges")
    primary = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="merges")
    # The ids of the cluster's records when merged, the primary first.
    records = models.JSONField(default=list)
    values = models.JSONField(default=dict)
    origins = models.JSONField(default=dict)
    choices = models.JSONField(default=dict, blank=True)
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A change of primary undoes the cluster's links and makes new ones to the new primary.
    links_closed = models.JSONField(default=list, blank=True)
    links_opened = models.JSONField(default=list, blank=True)
    current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["primary"], condition=Q(current=True), name="record_merge_one_current"
            ),
            models.CheckConstraint(
                condition=Q(current=False) | Q(undone_at__isnull=True),
                name="record_merge_undone_not_current",
            ),
        ]
        indexes = [models.Index(fields=["review", "current"])]

    def __str__(self) -> str:
        # By the record's number in its review, as every page shows it, not its database id.
        return f"Merge of record {self.primary.number} ({len(self.records)} records)"
