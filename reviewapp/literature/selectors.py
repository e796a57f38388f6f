"""Reads on records: the unique records, the records list and the duplicates page."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    IntegerField,
    JSONField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL

from reviewapp.core.compiled import RawStatement
from reviewapp.core.errors import ServiceError
from reviewapp.core.rows import in_review, row_after, row_before
from reviewapp.literature import compare, matching, merging
from reviewapp.literature.constants import DuplicateRule, DuplicateStatus
from reviewapp.literature.models import DuplicateLink, Import, Record, RecordMerge, Search
from reviewapp.reviews.models import Review

RECORDS_PAGE_SIZE = 50


def records_unique(review: Review) -> QuerySet[Record]:
    """The review's records that are not an active duplicate of another: what gets screened."""
    active_links = DuplicateLink.objects.filter(duplicate=OuterRef("pk"), undone_at__isnull=True)
    return Record.objects.filter(review=review).exclude(Exists(active_links))


def duplicate_of(record: Record) -> DuplicateLink | None:
    """The active link that makes ``record`` a duplicate of another (not screened: decisions are
    made on its primary), with the primary's number; None for a record that is screened."""
    return (
        DuplicateLink.objects.filter(duplicate=record, undone_at__isnull=True)
        .select_related("primary")
        .only("id", "primary_id", "rule", "status", "primary__id", "primary__number")
        .first()
    )


def duplicates_active_count(review: Review) -> int:
    return DuplicateLink.objects.filter(review=review, undone_at__isnull=True).count()


@dataclass
class KeysetPage:
    """One page of a list read by key: the rows, and the keys to ask for the pages around it."""

    rows: list[Any]
    after: int | None = None  # the next page starts after this id (None: this is the last)
    before: int | None = None  # the previous page ends before this id (None: this is the first)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_other_pages(self) -> bool:
        return self.after is not None or self.before is not None


def _keyset(
    qs: QuerySet, review: Review, *, after: int | None, before: int | None, size: int, by_key: bool
) -> KeysetPage:
    """The page of ``qs`` (one review's rows, ordered by id) after or before an id, with one row
    more read to know whether another page follows: a page costs the same wherever it is.

    ``by_key``: ``qs`` selects the review with ``core.rows.in_review`` and the bounds are row
    values, so the page is read along the (review, id) index and never by walking the primary
    key through other reviews' rows (see ``reviewapp.core.rows``). Not for a search, whose
    matches may be rare: a scan filtering on the text is then the cheaper plan and the planner
    should be free to choose it.
    """
    fields = ("review_id", "id")
    if before is not None:
        upper = row_before(fields, [review.pk, before]) if by_key else Q(id__lt=before)
        rows = list(qs.filter(upper).order_by("-review_id", "-id")[: size + 1])
        more = len(rows) > size
        rows = rows[:size][::-1]
        return KeysetPage(
            rows,
            after=rows[-1].pk if rows else None,
            before=rows[0].pk if more and rows else None,
        )
    if after is not None:
        qs = qs.filter(row_after(fields, [review.pk, after]) if by_key else Q(id__gt=after))
    rows = list(qs.order_by("review_id", "id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(
        rows,
        after=rows[-1].pk if more else None,
        before=rows[0].pk if after is not None and rows else None,
    )


# A query that can only be an identifier is looked up by its index; anything else is a title
# search: a scan of the review's records, since a substring has no index.
PMID_QUERY = re.compile(r"^\d{1,12}$")
# "#17" (or "no. 17"): the record's number in the review, as the pages show it.
NUMBER_QUERY = re.compile(r"^(?:#|no\.?\s*)(\d{1,9})$", re.IGNORECASE)
DOI_QUERY = re.compile(r"^10\.\S+/\S+$")


def records_page(
    review: Review,
    *,
    query: str = "",
    after: int | None = None,
    before: int | None = None,
    size: int = RECORDS_PAGE_SIZE,
    in_full_text: bool = False,
) -> KeysetPage:
    """A page of the records list, in record order, optionally those matching a title word, a
    PMID, a DOI or the record's number ("#17", or a bare 17, which also finds PMID 17). A PMID or
    DOI also finds the merged primary that shows it, taken from a duplicate. Only the columns the
    list shows are read (not abstracts nor the source's raw record), and the page is found by
    key from the (review, id) index, never by OFFSET."""
    by_key = not query
    records = (
        Record.objects.filter(in_review(review.pk) if by_key else Q(review=review))
        .select_related("search", "source_import")
        .only(
            "id",
            "number",
            "review_id",
            "title",
            "authors",
            "year",
            "search__id",
            "search__source_database",
            "source_import__id",
            "source_import__file_name",
        )
    )
    if in_full_text and query:
        # Words in the stored text of the records' current PDFs (issue 18).
        from reviewapp.screening.fulltext_text import records_with_text

        records = records.filter(pk__in=records_with_text(review.pk, query))
    elif number := NUMBER_QUERY.match(query):
        records = records.filter(number=int(number.group(1)))
    elif PMID_QUERY.match(query):
        # A bare number is a PMID or a record's number; both are found by index.
        records = records.filter(
            Q(pmid=query)
            | Q(number=int(query))
            | Q(pk__in=_merged_showing(review, "pmid", {query}))
        )
    elif DOI_QUERY.match(query):
        dois = {query, query.lower()}
        records = records.filter(Q(doi__in=dois) | Q(pk__in=_merged_showing(review, "doi", dois)))
    elif query:
        # The stored normalised title (casefolded, no accents nor punctuation) with a plain
        # LIKE: half the time of a case-insensitive match on the title over 100,000 records,
        # and "Cox-2" finds "COX 2". Words past its 255 characters are not searched.
        words = matching.title_key(query)
        records = records.filter(title_key__contains=words) if words else records.none()
    return _keyset(records, review, after=after, before=before, size=size, by_key=by_key)


def _merged_showing(review: Review, name: str, values: set[str]) -> list[int]:
    """The primaries whose merge in effect shows one of ``values`` as ``name`` (a DOI or PMID
    taken from a duplicate): the list shows them with it, so a search for it finds them too.
    One query, on the review's current merges only."""
    rows = (
        RecordMerge.objects.filter(review=review, current=True, **{f"values__{name}__in": values})
        .annotate(members=_active_duplicates("primary_id"), demoted=_demoted("primary_id"))
        .values_list("primary_id", "records", "members", "demoted")
    )
    return [
        pid
        for pid, merged_ids, members, demoted in rows
        if _merge_in_effect(merged_ids, members, demoted)
    ]


COUNT_CACHE_SECONDS = 3600


def records_count(review: Review) -> int:
    """The number of records in the review, counted once per import.

    Counting 100,000 records reads every one of them where the table's visibility map is not
    set (no VACUUM since the import): hundreds of milliseconds per page view. Records are only
    ever added, by imports and searches, each with ids above the ones before; so the count is
    kept in the cache under the review's highest record id (one probe of the (review, id)
    index): the next import changes the key. The expiry bounds what a record deleted by hand
    (admin) could leave wrong.
    """
    # Not Max("id"): PostgreSQL may answer that by walking the primary key back from the end
    # of the table through the other reviews' rows (see ``core.rows``).
    top = (
        Record.objects.filter(in_review(review.pk))
        .order_by("-review_id", "-id")
        .values_list("id", flat=True)
        .first()
    )
    if top is None:
        return 0
    key = f"literature:records-count:{review.pk}:{top}"
    count = cache.get(key)
    if count is None:
        count = Record.objects.filter(review=review).count()
        cache.set(key, count, COUNT_CACHE_SECONDS)
    return count


# --- the duplicates page --------------------------------------------------------------------

CLUSTERS_PAGE_SIZE = 20

# Confidence bands of a link's score: exact identifiers score 1.0, similar titles below.
CONFIDENCE = {
    "exact": ("Exact match (1.0)", Q(score__gte=1.0)),
    "high": ("High (0.95 to 1.0)", Q(score__gte=0.95, score__lt=1.0)),
    "low": ("Below 0.95", Q(score__lt=0.95)),
}


@dataclass(frozen=True)
class DuplicateFilter:
    """What the duplicates page shows: the links matched by a rule, with a status, in a band of
    confidence, whose duplicate came from one search or file. Empty means any."""

    rule: str = ""
    status: str = ""
    confidence: str = ""
    source: str = ""  # "import-<id>" or "search-<id>"

    @classmethod
    def from_query(cls, params) -> DuplicateFilter:
        """Read from the page's query string; values the page does not offer are ignored."""
        rule = params.get("rule", "")
        status = params.get("status", "")
        # The page's first form of the filter: ?show=uncertain.
        if params.get("show") == "uncertain" and not status:
            status = DuplicateStatus.NEEDS_REVIEW
        confidence = params.get("confidence", "")
        source = params.get("source", "")
        kind, _, number = source.partition("-")
        return cls(
            rule=rule if rule in DuplicateRule.values else "",
            status=status if status in DuplicateStatus.values else "",
            confidence=confidence if confidence in CONFIDENCE else "",
            source=source if kind in ("import", "search") and number.isdigit() else "",
        )

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}

    def condition(self) -> Q:
        q = Q()
        if self.rule:
            q &= Q(rule=self.rule)
        if self.status:
            q &= Q(status=self.status)
        if self.confidence:
            q &= CONFIDENCE[self.confidence][1]
        if self.source:
            kind, _, number = self.source.partition("-")
            field_name = (
                "duplicate__source_import_id" if kind == "import" else "duplicate__search_id"
            )
            q &= Q(**{field_name: int(number)})
        return q


@dataclass(frozen=True)
class PairRow:
    """One field of a candidate pair as the pair view shows it: the kept record's value, the
    duplicate's, and how they compare (compare.SAME, DIFFERENT, ONE_MISSING, BOTH_MISSING)."""

    label: str
    kept: str
    duplicate: str
    status: str

    @property
    def differs(self) -> bool:
        return self.status == compare.DIFFERENT


_PAIR_LABELS = {
    "title": "Title",
    "authors": "Authors",
    "journal": "Journal",
    "year": "Year",
    "volume": "Volume",
    "issue": "Issue",
    "pages": "Pages",
    "doi": "DOI",
    "pmid": "PMID",
    "source": "Source",
}
# Authors shown of a long list (all of them are compared).
PAIR_AUTHORS_SHOWN = 8


def _record_source(record: Record) -> str:
    if record.search is not None:
        return f"{record.search.source_database} search"
    imp = record.source_import
    if imp is not None:
        return imp.file_name + (f" ({imp.source_database})" if imp.source_database else "")
    return ""


def _citation(record: Record) -> compare.Citation:
    return compare.Citation(
        title=record.title,
        authors=tuple(record.authors or ()),
        journal=record.journal,
        year=record.year,
        volume=record.volume,
        issue=record.issue,
        pages=record.pages,
        doi=record.doi,
        pmid=record.pmid,
        source=_record_source(record),
    )


def _shown(name: str, citation: compare.Citation) -> str:
    if name == "authors":
        names = list(citation.authors)
        more = len(names) - PAIR_AUTHORS_SHOWN
        text = "; ".join(names[:PAIR_AUTHORS_SHOWN])
        return f"{text}; and {more} more ({len(names)} authors)" if more > 0 else text
    value = getattr(citation, name)
    return "" if value is None else str(value)


def pair_rows(primary: Record, duplicate: Record) -> list[PairRow]:
    """The fields of a candidate pair side by side, each marked with how the two compare
    (reviewapp.literature.compare). No query: the records come with their search and import."""
    kept, copy = _citation(primary), _citation(duplicate)
    status = compare.differences(kept, copy)
    return [
        PairRow(_PAIR_LABELS[name], _shown(name, kept), _shown(name, copy), status[name])
        for name in compare.FIELDS
    ]


@dataclass
class Cluster:
    primary: Record
    links: list[DuplicateLink]
    needs_review: bool

    @cached_property
    def pairs(self) -> list[tuple[DuplicateLink, list[PairRow]]]:
        """Each link with the kept and duplicate records compared, field by field."""
        return [(link, pair_rows(self.primary, link.duplicate)) for link in self.links]


@dataclass
class ClusterPage:
    clusters: list[Cluster]
    number: int
    total: int  # clusters matching the filter, on every page
    size: int

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def has_other_pages(self) -> bool:
        return self.num_pages > 1


def _page_number(raw: str | None) -> int:
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1


def duplicate_clusters_page(
    review: Review,
    flt: DuplicateFilter,
    *,
    page: str | None = None,
    size: int = CLUSTERS_PAGE_SIZE,
) -> ClusterPage:
    """One page of the review's active duplicate links, grouped by their kept record: clusters
    with a link waiting for a reviewer first, then by record.

    Three queries whatever the review holds: the page's kept records (grouped, ordered and
    counted in one statement, the count as a window over the groups), then their links and the
    records on both sides. Only the links matching the filter are shown.
    """
    links = DuplicateLink.objects.filter(review=review, undone_at__isnull=True).filter(
        flt.condition()
    )
    number = _page_number(page)
    heads, total = _cluster_heads(links, offset=(number - 1) * size, size=size)
    if not heads and number > 1:
        # Past the last page (links were undone since the link was made): show the last one.
        number = max(1, -(-total // size))
        heads, total = _cluster_heads(links, offset=(number - 1) * size, size=size)
    primary_ids = [pid for pid, _ in heads]
    rows = (
        links.filter(primary_id__in=primary_ids)
        .select_related(
            "duplicate__search",
            "duplicate__source_import",
            "primary__search",
            "primary__source_import",
        )
        .defer(*_heavy("duplicate"), *_heavy("primary"))
        .order_by("primary_id", "duplicate_id")
    )
    grouped: dict[int, list[DuplicateLink]] = {pid: [] for pid in primary_ids}
    for link in rows:
        grouped[link.primary_id].append(link)
    clusters = [
        Cluster(grouped[pid][0].primary, grouped[pid], needs_review)
        for pid, needs_review in heads
        if grouped[pid]
    ]
    return ClusterPage(clusters, number, total, size)


def _heavy(prefix: str) -> list[str]:
    # What the side-by-side table never shows, and what makes a record row large.
    fields = ["abstract", "abstract_sections", "raw", "keywords", "mesh_terms"]
    fields += ["publication_types", "title_key"]
    return [f"{prefix}__{name}" for name in fields] + [
        f"{prefix}__search__provenance",
        f"{prefix}__search__query_translation",
        f"{prefix}__source_import__rejections",
        f"{prefix}__source_import__warnings",
    ]


def _cluster_heads(
    links: QuerySet, *, offset: int, size: int
) -> tuple[list[tuple[int, bool]], int]:
    """[(kept record id, whether a link waits for a reviewer)] of one page, and how many
    clusters there are in all."""
    waiting = When(Q(status=DuplicateStatus.NEEDS_REVIEW), then=Value(1))
    needs = Max(Case(waiting, default=Value(0), output_field=IntegerField()))
    groups = (
        links.order_by()
        .values("primary_id")
        .annotate(needs=needs, total=Window(Count("*")))
        .order_by("-needs", "primary_id")
        .values_list("primary_id", "needs", "total")[offset : offset + size]
    )
    rows = list(groups)
    if rows:
        return [(pid, bool(needs)) for pid, needs, _ in rows], rows[0][2]
    if offset == 0:
        return [], 0
    # Asked past the end: count the clusters alone to find the last page.
    return [], links.order_by().values("primary_id").distinct().count()


def duplicate_sources(review: Review) -> list[tuple[str, str]]:
    """The searches and files of the review, as choices of the duplicates page's source filter."""
    choices = [
        (f"import-{pk}", name)
        for pk, name in Import.objects.filter(review=review)
        .order_by("created_at", "id")
        .values_list("pk", "file_name")
    ]
    choices += [
        (f"search-{pk}", f"{database} search of {created:%d %b %Y}")
        for pk, database, created in Search.objects.filter(review=review)
        .order_by("created_at", "id")
        .values_list("pk", "source_database", "created_at")
    ]
    return choices


# --- merged duplicate clusters ----------------------------------------------------------------


def _merge_in_effect(merged_ids: list[int], member_ids, demoted: bool) -> bool:
    """A merge is in effect while its primary is still a primary and every record merged into it
    is still its duplicate: after a record left, the merge may hold values taken from it, so the
    primary shows its own values until the cluster is merged again (a record that joined only
    adds nothing yet). The one statement of that rule, for every reader below."""
    return not demoted and set(merged_ids[1:]) <= set(member_ids or ())


class _IdList(ArraySubquery):
    """A subquery's one column as a list: PostgreSQL's ARRAY(...); on SQLite (the embedded
    default), which has no arrays, json_group_array over the same subquery, read back as the
    same list."""

    def as_sqlite(self, compiler, connection, **extra_context):
        column = self.query.values_select[0]
        template = f'(SELECT json_group_array("{column}") FROM (%(subquery)s))'
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def get_db_converters(self, connection):
        if connection.vendor == "sqlite":
            return [lambda value, _expression, _connection: json.loads(value)]
        return super().get_db_converters(connection)


def _active_duplicates(primary_ref: str) -> ArraySubquery:
    return _IdList(
        DuplicateLink.objects.filter(primary_id=OuterRef(primary_ref), undone_at__isnull=True)
        .order_by()
        .values("duplicate_id")
    )


def _demoted(record_ref: str) -> Exists:
    return Exists(
        DuplicateLink.objects.filter(duplicate_id=OuterRef(record_ref), undone_at__isnull=True)
    )


def merged_values(review: Review, record_ids=None) -> dict[int, dict[str, Any]]:
    """The merged metadata in effect (``_merge_in_effect``) for the primaries among
    ``record_ids`` (every primary of the review when None): record id -> field -> value
    (merging.FIELD_NAMES and companions). For readers of rows rather than records (exports).
    One query."""
    if record_ids is not None and not record_ids:
        return {}
    merges = RecordMerge.objects.filter(review=review, current=True)
    if record_ids is not None:
        merges = merges.filter(primary_id__in=list(record_ids))
    rows = merges.annotate(
        members=_active_duplicates("primary_id"), demoted=_demoted("primary_id")
    ).values_list("primary_id", "records", "values", "members", "demoted")
    return {
        pid: values
        for pid, merged_ids, values, members, demoted in rows
        if _merge_in_effect(merged_ids, members, demoted)
    }


def merged_annotate(records: QuerySet[Record]) -> QuerySet[Record]:
    """Records with their cluster's current merge read in the same statement, for the hot
    readers that must not add a query (the screening panels, the API's pages): pass each record
    through ``merged_apply`` once fetched."""
    current = RecordMerge.objects.filter(primary_id=OuterRef("pk"), current=True)
    return records.annotate(
        merge_values=Subquery(current.values("values")[:1], output_field=JSONField()),
        merge_records=Subquery(current.values("records")[:1], output_field=JSONField()),
        merge_members=_active_duplicates("pk"),
        merge_demoted=_demoted("pk"),
    )


@functools.cache
def _merged_by_id_statement() -> tuple[RawStatement[Record], tuple, int]:
    """merged_annotate's statement for records by id, compiled once per process: (the
    statement, its parameters, the position of the parameter that takes the ids as one array)."""
    ids: list[int] = []  # a marker: found again among the compiled parameters by identity
    where = RawSQL(f'"{Record._meta.db_table}"."id" = ANY(%s)', [ids], output_field=BooleanField())
    sql, params = merged_annotate(Record.objects.filter(where)).query.sql_with_params()
    return (
        RawStatement(Record, sql),
        tuple(params),
        next(i for i, p in enumerate(params) if p is ids),
    )


def records_merged_by_id(record_ids: list[int]) -> dict[int, Record]:
    """Records by id, each through ``merged_apply``: what ``merged_annotate(...).in_bulk(ids)``
    gives, for the screening panels, which read one or two records on every request of every
    screener. Building and compiling that queryset took most of the Python time of reading
    them (about 2 of 2.7 ms); the statement is compiled once and only the ids change. (It
    binds the ids as one PostgreSQL array; elsewhere the queryset itself is read.)"""
    if connection.vendor != "postgresql":
        queryset = merged_annotate(Record.objects.filter(pk__in=list(record_ids)))
        return {record.pk: merged_apply(record) for record in queryset}
    statement, params, at = _merged_by_id_statement()
    bound = list(params)
    bound[at] = list(record_ids)
    records = {}
    for record in statement.fetch(bound):
        # A raw query hands annotations over as the driver reads them: JSON as text.
        for name in ("merge_values", "merge_records"):
            value = record.__dict__.get(name)
            if isinstance(value, str):
                record.__dict__[name] = json.loads(value)
        records[record.pk] = merged_apply(record)
    return records


def merged_apply(record: Record, values: dict[str, Any] | None = None) -> Record:
    """The record showing its cluster's merged values (not saved: each record keeps its own in
    the database). ``values`` from ``merged_values``; without them, the ones ``merged_annotate``
    read with the record. ``record.merged`` says whether it shows a merge. Applying twice
    changes nothing."""
    if getattr(record, "merged", False):
        return record
    read = vars(record)  # what merged_annotate read, if it did
    if values is None and read.get("merge_records") is not None:
        in_effect = _merge_in_effect(
            read["merge_records"], read["merge_members"], read["merge_demoted"]
        )
        values = read["merge_values"] if in_effect else None
    record.merged = bool(values)  # type: ignore[attr-defined]
    for name, value in (values or {}).items():
        if name != "sources" and name in record.__dict__:
            setattr(record, name, value)
    if values:
        record.merged_sources = values.get("sources") or []  # type: ignore[attr-defined]
    return record


def records_merged(review: Review, records: Iterable[Record | None]) -> list[Record]:
    """Records as every page, download and export shows them: a merged cluster's primary with
    the cluster's merged metadata (richest abstract, every identifier and term), any other
    record with its own values. Takes records already fetched (a page, a select_related
    record); one query. Returns the records."""
    shown = [r for r in records if r is not None]
    pending = [r for r in shown if not getattr(r, "merged", False)]
    merged = merged_values(review, [r.pk for r in pending]) if pending else {}
    for record in pending:
        merged_apply(record, merged.get(record.pk) or {})
    return shown


# The fields the citation shows (literature/partials/_record_citation.html), in its order.
CITATION_FIELDS = (
    "title",
    "authors",
    "journal",
    "year",
    "volume",
    "issue",
    "pages",
    "pmid",
    "doi",
    "pmcid",
    "abstract",
    "keywords",
    "mesh_terms",
)


@dataclass(frozen=True)
class MergedFrom:
    """Values a merged primary shows that came from its duplicates: the fields (as the merge
    view names them) and the numbers of the records they came from."""

    labels: tuple[str, ...]
    numbers: tuple[int, ...]
    # The same records' ids, in the same order: the note links each to its page.
    ids: tuple[int, ...] = ()

    @property
    def records(self) -> list[tuple[int, int]]:
        """(number, id) of each record the values came from."""
        return list(zip(self.numbers, self.ids, strict=True))


def merged_from(review: Review, record: Record) -> list[MergedFrom]:
    """Which values of its citation a record shows from the duplicates merged into it, grouped
    by the records they came from (empty for a record showing only its own values). Two
    queries for a merged record, none for another (``record`` as ``records_merged`` or
    ``merged_apply`` left it)."""
    from reviewapp.literature.merges import merging_label

    if not getattr(record, "merged", False):
        return []
    merge = (
        RecordMerge.objects.filter(review=review, primary_id=record.pk, current=True)
        .annotate(members=_active_duplicates("primary_id"), demoted=_demoted("primary_id"))
        .first()
    )
    if merge is None or not _merge_in_effect(merge.records, merge.members, merge.demoted):
        return []
    groups: dict[tuple[int, ...], list[str]] = {}
    for name in CITATION_FIELDS:
        others = tuple(pk for pk in merge.origins.get(name, []) if pk != record.pk)
        if others and merge.values.get(name):
            groups.setdefault(others, []).append(merging_label(name))
    if not groups:
        return []
    ids = {pk for others in groups for pk in others}
    numbers = dict(Record.objects.filter(pk__in=ids).values_list("pk", "number"))
    return [
        MergedFrom(tuple(labels), tuple(numbers.get(pk) or pk for pk in others), others)
        for others, labels in groups.items()
    ]


RULE_TEXT = {
    merging.FIRST: "the kept record's, or the first record's that has one",
    merging.LONGEST: "the longest",
    merging.UNION: "every record's, each once",
}


@dataclass(frozen=True)
class MergeCell:
    record: Record
    shown: str
    kept: bool  # the value the merge keeps is this record's


@dataclass(frozen=True)
class MergeRow:
    """One field of the merge view: each record's value, the kept one and where it is from."""

    name: str
    label: str
    rule: str
    cells: list[MergeCell]
    kept: str
    origins: list[int]  # numbers of the records the kept value came from
    choice: int | None  # the record a reviewer chose for this field (None: the rule)
    agree: bool  # every record has the same value

    @property
    def rule_text(self) -> str:
        return RULE_TEXT[self.rule]


@dataclass
class MergeView:
    primary: Record
    records: list[Record]
    rows: list[MergeRow]
    current: RecordMerge | None
    in_effect: bool  # the current merge is what the primary shows (not stale)
    left: list[int]  # numbers of records merged that left the cluster since
    joined: list[int]  # numbers of records in the cluster but not in the merge
    history: list[RecordMerge]
    screened: list[str]  # what screening holds on the primary (choosing another is refused)

    @property
    def differing(self) -> list[MergeRow]:
        return [row for row in self.rows if not row.agree]

    @property
    def agreeing(self) -> list[MergeRow]:
        return [row for row in self.rows if row.agree and row.kept]

    @property
    def empty(self) -> list[str]:
        """The fields no record has."""
        return [row.label for row in self.rows if row.agree and not row.kept]


def _merge_shown(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "authors":
        return _shown("authors", compare.Citation(authors=tuple(value or ())))
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


def merge_view(review: Review, primary_id: int) -> MergeView:
    """A cluster field by field: each record's own value, the value its merge keeps (the
    current merge's, else what merging now would keep) and from which record. Raises
    ServiceError when the record is not a primary with duplicates."""
    from reviewapp.literature import merges

    state = merges.cluster_state(review, primary_id)
    if not state.links:
        raise ServiceError(f"Record {state.primary.number} has no duplicates.")
    sources = [merges.merge_source(r) for r in state.records]
    ids = set(state.ids)
    current = state.current
    numbers = {r.pk: r.number for r in state.records}
    left = [pk for pk in (current.records if current else []) if pk not in ids]
    if left:
        numbers |= dict(Record.objects.filter(pk__in=left).values_list("pk", "number"))
    in_effect = current is not None and not left
    choices = {k: v for k, v in (current.choices if current else {}).items() if v in ids}
    proposed = merging.merge(sources, primary_id=state.primary.pk, choices=choices)
    rows = []
    for name, rule in merging.FIELDS:
        if in_effect and current is not None:
            kept_value = current.values.get(name)
            origins = current.origins.get(name, [])
        else:
            kept_value = proposed.fields[name].value
            origins = list(proposed.fields[name].origins)
        shown = [_merge_shown(name, s.values.get(name)) for s in sources]
        kept_shown = _merge_shown(name, kept_value)
        cells = [
            MergeCell(record, text, record.pk in origins)
            for record, text in zip(state.records, shown, strict=True)
        ]
        rows.append(
            MergeRow(
                name=name,
                label=merges.merging_label(name),
                rule=rule,
                cells=cells,
                kept=kept_shown,
                origins=[numbers.get(pk, pk) for pk in origins],
                choice=choices.get(name),
                agree=len(set(shown)) == 1,
            )
        )
    history = list(
        RecordMerge.objects.filter(review=review, primary_id__in=ids)
        .select_related("created_by", "undone_by", "primary")
        .order_by("-created_at", "-id")[:10]
    )
    return MergeView(
        primary=state.primary,
        records=state.records,
        rows=rows,
        current=current,
        in_effect=in_effect,
        left=[numbers.get(pk, pk) for pk in left],
        joined=[numbers[pk] for pk in state.ids if current and pk not in current.records],
        history=history,
        screened=merges.screening_history(state.primary.pk),
    )
