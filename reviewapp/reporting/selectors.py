"""PRISMA 2020 counts: from the counts the writes keep, or recounted from every row.

Pages read `prisma_counts_get`: the kept counts (screening.counts) plus the reports assessed at
full text, a fixed number of queries on a review of any size. `prisma_counts_recount` builds each
box from the records it counts, so an inconsistency names them; the tests check that both agree.
The arithmetic and its checks live in the pure prisma module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.db import connection

from reviewapp.literature.constants import SourceKind
from reviewapp.literature.models import DuplicateLink, Import, LivingVersion, Record, Search
from reviewapp.reporting.constants import OTHER_EXCLUDED_REASON, ManualPrismaField
from reviewapp.reporting.models import PrismaManualCount
from reviewapp.reporting.prisma import ManualEntry, PrismaCounts
from reviewapp.reviews.models import Review
from reviewapp.screening.constants import DecisionKind, RetrievalStatus, Stage
from reviewapp.screening.counts import ReviewCounts, not_duplicate, review_counts
from reviewapp.screening.models import Decision, ExclusionReason, RecordStageState, Report
from reviewapp.screening.rules import State
from reviewapp.screening.selectors import stage_states

REASON_NOT_RECORDED = "Reason not recorded"
# A report excluded at full text by a stopping rule (screening.stopping) was never assessed; it
# is counted under this reason, not as "reason not recorded".
REASON_STOPPING_RULE = "Not assessed: excluded by the stopping rule"


def manual_counts_latest(review: Review) -> dict[str, PrismaManualCount]:
    """The latest hand-entered value of each manual box."""
    latest: dict[str, PrismaManualCount] = {}
    for entry in PrismaManualCount.objects.filter(review=review).select_related("entered_by"):
        current = latest.get(entry.field)
        if current is None or (entry.entered_at, entry.pk) > (current.entered_at, current.pk):
            latest[entry.field] = entry
    return latest


def _source_name(record: Mapping[str, Any]) -> tuple[str, str]:
    if record["search_id"]:
        return record["search__source_kind"], record["search__source_database"] or "PubMed"
    return (
        record["source_import__source_kind"],
        record["source_import__source_database"] or record["source_import__file_name"],
    )


def _identified(
    review: Review, numbers: tuple[int, int] | None = None
) -> tuple[dict[str, int], dict[str, int], list[int], list[int]]:
    """Records per database and per register, from completed searches and imports (only those
    numbered within ``numbers``, first and last, when given)."""
    # Searches and imports store their records in one transaction, so every record is from a
    # run that finished: no filter on the run's status is needed (or wanted: screening has none).
    records = Record.objects.filter(review=review)
    if numbers is not None:
        records = records.filter(number__gte=numbers[0], number__lte=numbers[1])
    rows = records.values(
        "id",
        "search_id",
        "search__source_kind",
        "search__source_database",
        "source_import__source_kind",
        "source_import__source_database",
        "source_import__file_name",
    )
    databases: dict[str, int] = defaultdict(int)
    registers: dict[str, int] = defaultdict(int)
    database_ids, register_ids = [], []
    for row in rows:
        kind, name = _source_name(row)
        if kind == SourceKind.REGISTER:
            registers[name] += 1
            register_ids.append(row["id"])
        else:
            # Records from "other" sources imported as files are still screened like database
            # records; the hand-entered other-methods arm covers what happened outside the app.
            databases[name] += 1
            database_ids.append(row["id"])
    return dict(databases), dict(registers), database_ids, register_ids


def _primary_reason(reasons: list[tuple[int, str]]) -> str:
    """PRISMA counts each excluded report once: the reason first in the review's list wins."""
    return min(reasons)[1] if reasons else REASON_NOT_RECORDED


def _full_text_reasons(review: Review, excluded_ids: list[int]) -> dict[int, str]:
    """For each report excluded at full text, the reason it is counted under."""
    reasons: dict[int, list[tuple[int, str]]] = defaultdict(list)
    adjudicated: dict[int, list[tuple[int, str]]] = defaultdict(list)
    rows = (
        Decision.objects.filter(
            review=review, stage=Stage.FULL_TEXT, record_id__in=excluded_ids, value="exclude"
        )
        .order_by("created_at", "id")
        .values_list("record_id", "kind", "reasons__position", "reasons__label")
    )
    for record_id, kind, position, label in rows:
        if kind == DecisionKind.AUTOMATION:
            reasons[record_id].append((0, REASON_STOPPING_RULE))
            continue
        if label is None:
            continue
        target = adjudicated if kind == DecisionKind.ADJUDICATION else reasons
        target[record_id].append((position, label))
    return {
        rid: _primary_reason(adjudicated.get(rid) or reasons.get(rid, [])) for rid in excluded_ids
    }


def _meta_analysis_counts(
    review: Review, ft_included: list[int], study_of: Mapping[int, int | None]
) -> tuple[int | None, int | None]:
    """Studies and reports in at least one analysis's latest result; None before any analysis."""
    from reviewapp.synthesis.models import Analysis

    studies: set[int] = set()
    any_result = False
    for analysis in Analysis.objects.filter(review=review).prefetch_related("results"):
        latest = max(analysis.results.all(), key=lambda r: (r.computed_at, r.pk), default=None)
        if latest is None:
            continue
        any_result = True
        studies.update(s["study_id"] for s in latest.inputs.get("sources", []))
    if not any_result:
        return None, None
    reports = [rid for rid in ft_included if study_of.get(rid) in studies]
    return len(studies), len(reports)


def _states(review: Review, stage: str, ids: list[int] | None) -> dict[int, State]:
    """stage_states of the whole review (``ids`` None), or of the records ``ids``, which must
    all be eligible at the stage, from their own rows."""
    if ids is None:
        return stage_states(review, stage)
    stored = dict(
        RecordStageState.objects.filter(review=review, stage=stage, record_id__in=ids).values_list(
            "record_id", "state"
        )
    )
    return {rid: State(stored.get(rid, State.UNSCREENED)) for rid in ids}


def prisma_counts_recount(review: Review, *, version: LivingVersion | None = None) -> PrismaCounts:
    """Every PRISMA 2020 box of the review, from every one of its records, links, decisions and
    reports, with the ids each box counts (so a broken flow names its records).

    A pass over every row: seconds on a 100,000-record review. Pages use prisma_counts_get; this
    names the records of a flow that does not add up, and checks the kept counts in the tests.

    With a ``version`` of a living review: the flow of that version's records only, its
    "previous studies/reports" boxes those the version took from the one before. The boxes
    entered by hand (other methods) and the meta-analysis boxes belong to the review as a
    whole, so a version's flow leaves them out.
    """
    numbers = (version.first_number, version.last_number) if version else None
    databases, registers, database_ids, register_ids = _identified(review, numbers)
    identified_ids = set(database_ids) | set(register_ids)
    duplicate_ids = sorted(
        set(
            DuplicateLink.objects.filter(
                review=review, undone_at__isnull=True, duplicate_id__in=identified_ids
            ).values_list("duplicate_id", flat=True)
        )
    )
    unique_ids = sorted(identified_ids - set(duplicate_ids))

    # A version's flow reads the rows of its own records only: a few hundred records of a
    # 100,000-record review must not cost a pass over the whole review's states.
    ta = _states(review, Stage.TITLE_ABSTRACT, unique_ids if version is not None else None)
    automations = Decision.objects.filter(
        review=review, stage=Stage.TITLE_ABSTRACT, kind=DecisionKind.AUTOMATION
    )
    if version is not None:
        automations = automations.filter(record_id__in=unique_ids)
    automation_ids = set(automations.values_list("record_id", flat=True))
    automated = sorted(
        rid for rid in unique_ids if rid in automation_ids and ta.get(rid) == State.EXCLUDED
    )
    screened = [rid for rid in unique_ids if rid not in set(automated)]
    ta_excluded = [rid for rid in screened if ta.get(rid) == State.EXCLUDED]
    sought = [rid for rid in screened if ta.get(rid) == State.INCLUDED]

    # Counted from the reports themselves, not only among the sought ones, so that a report marked
    # "not retrieved" for a record that never reached full text breaks the flow visibly.
    not_retrieved = set(
        Report.objects.filter(
            review=review, retrieval_status=RetrievalStatus.NOT_RETRIEVED
        ).values_list("record_id", flat=True)
    )
    if version is not None:
        not_retrieved &= identified_ids
    ft = _states(review, Stage.FULL_TEXT, sought if version is not None else None)
    assessed = [rid for rid in sought if rid not in not_retrieved]
    ft_excluded = [rid for rid in assessed if ft.get(rid) == State.EXCLUDED]
    ft_included = [rid for rid in assessed if ft.get(rid) == State.INCLUDED]
    reasons_by_record = _full_text_reasons(review, ft_excluded)
    per_reason: dict[str, int] = defaultdict(int)
    for reason in reasons_by_record.values():
        per_reason[reason] += 1

    study_of = dict(
        Report.objects.filter(review=review, record_id__in=ft_included).values_list(
            "record_id", "study_id"
        )
    )
    return _prisma_counts(
        review,
        databases=databases,
        registers=registers,
        duplicates=len(duplicate_ids),
        automated=len(automated),
        screened=len(screened),
        ta_excluded=len(ta_excluded),
        sought=len(sought),
        not_retrieved=len(not_retrieved),
        assessed=len(assessed),
        ft_excluded=len(ft_excluded),
        per_reason=dict(per_reason),
        study_of={rid: study_of.get(rid) for rid in ft_included},
        version=version,
        record_ids={
            "database_results": sorted(database_ids),
            "register_results": sorted(register_ids),
            "duplicates": duplicate_ids,
            "excluded_automatic": automated,
            "records_screened": screened,
            "records_excluded": ta_excluded,
            "dbr_sought_reports": sought,
            "dbr_notretrieved_reports": sorted(not_retrieved),
            "dbr_assessed": assessed,
            "dbr_excluded": ft_excluded,
        },
    )


def _prisma_counts(
    review: Review,
    *,
    databases: dict[str, int],
    registers: dict[str, int],
    duplicates: int,
    automated: int,
    screened: int,
    ta_excluded: int,
    sought: int,
    not_retrieved: int,
    assessed: int,
    ft_excluded: int,
    per_reason: dict[str, int],
    study_of: dict[int, int | None],
    record_ids: dict[str, list[int]] | None = None,
    version: LivingVersion | None = None,
) -> PrismaCounts:
    """The PrismaCounts of the computed boxes given, with the hand-entered ones and the studies.

    study_of: each report included at full text (record id) -> its study (None: not grouped).
    version: a living review's version; its previous boxes replace the hand-entered ones.
    """
    manual = manual_counts_latest(review) if version is None else {}
    ft_included = list(study_of)
    if version is None:
        studies_ma, reports_ma = _meta_analysis_counts(review, ft_included, study_of)
    else:
        studies_ma = reports_ma = None
    # A report not yet grouped into a study stands for a study of its own.
    new_studies_db = len({study_of.get(rid) or f"record-{rid}" for rid in ft_included})

    def m(field: str) -> int:
        if version is not None and field == ManualPrismaField.PREVIOUS_STUDIES:
            return version.previous_studies
        if version is not None and field == ManualPrismaField.PREVIOUS_REPORTS:
            return version.previous_reports
        return manual[field].value if field in manual else 0

    other_excluded = m(ManualPrismaField.OTHER_EXCLUDED)
    new_reports = len(ft_included) + m(ManualPrismaField.OTHER_ASSESSED) - other_excluded
    new_studies = new_studies_db + m(ManualPrismaField.OTHER_STUDIES)
    return PrismaCounts(
        databases=databases,
        registers=registers,
        duplicates=duplicates,
        excluded_automatic=automated,
        excluded_other=0,
        records_screened=screened,
        records_excluded=ta_excluded,
        dbr_sought_reports=sought,
        dbr_notretrieved_reports=not_retrieved,
        dbr_assessed=assessed,
        dbr_excluded=ft_excluded,
        dbr_excluded_reasons=per_reason,
        website_results=m(ManualPrismaField.WEBSITE_RESULTS),
        organisation_results=m(ManualPrismaField.ORGANISATION_RESULTS),
        citations_results=m(ManualPrismaField.CITATIONS_RESULTS),
        other_sought_reports=m(ManualPrismaField.OTHER_SOUGHT),
        other_notretrieved_reports=m(ManualPrismaField.OTHER_NOT_RETRIEVED),
        other_assessed=m(ManualPrismaField.OTHER_ASSESSED),
        other_excluded=other_excluded,
        other_excluded_reasons={OTHER_EXCLUDED_REASON: other_excluded} if other_excluded else {},
        new_studies=new_studies,
        new_reports=new_reports,
        previous_studies=m(ManualPrismaField.PREVIOUS_STUDIES),
        previous_reports=m(ManualPrismaField.PREVIOUS_REPORTS),
        total_studies=new_studies + m(ManualPrismaField.PREVIOUS_STUDIES),
        total_reports=new_reports + m(ManualPrismaField.PREVIOUS_REPORTS),
        total_studies_ma=studies_ma,
        total_reports_ma=reports_ma,
        record_ids=record_ids or {},
        manual={
            field: ManualEntry(
                entered_by=entry.entered_by.get_username(),
                entered_at=entry.entered_at.isoformat(timespec="seconds"),
            )
            for field, entry in manual.items()
            if field in PrismaCounts.__dataclass_fields__
        },
    )


def prisma_pending(review: Review, counts: ReviewCounts | None = None) -> dict[str, int]:
    """Records still in screening at each stage: they keep the flow from adding up yet."""
    counts = counts or review_counts(review)
    return {stage: counts.pending(stage) for stage in Stage.values}


# The two lists a page of the flow needs beyond the kept counts, in one statement: the reasons of
# the reports excluded at full text (rows ('reason', record, kind, position, label)) and the study
# of each report included (rows ('included', record, '', study, '')). Both are reports assessed
# at full text: a few hundred or thousand rows, never the whole review.
_FULL_TEXT_ROWS = """
SELECT 'reason', d.record_id, d.kind, er.position, er.label
FROM {state} f
JOIN {state} t ON t.record_id = f.record_id AND t.stage = 'ta' AND t.state = 'included'
JOIN {decision} d ON d.record_id = f.record_id AND d.stage = 'ft' AND d.value = 'exclude'
JOIN {decision_reasons} dr ON dr.decision_id = d.id
JOIN {reason} er ON er.id = dr.exclusionreason_id
WHERE f.review_id = %(review)s AND f.stage = 'ft' AND f.state = 'excluded'
    AND {not_duplicate}
    AND NOT EXISTS (
        SELECT 1 FROM {report} r
        WHERE r.record_id = f.record_id AND r.retrieval_status = 'not_retrieved'
    )
UNION ALL
SELECT 'reason', d.record_id, d.kind, 0, %(stopping_rule)s
FROM {state} f
JOIN {state} t ON t.record_id = f.record_id AND t.stage = 'ta' AND t.state = 'included'
JOIN {decision} d ON d.record_id = f.record_id AND d.stage = 'ft' AND d.kind = 'automation'
    -- Said although the record implies it: without statistics PostgreSQL read this through
    -- decision_settling, which starts with the review, scanning every review's automated
    -- decisions once per record (5 s for a finished review of the realistic database).
    AND d.review_id = f.review_id
WHERE f.review_id = %(review)s AND f.stage = 'ft' AND f.state = 'excluded'
    AND {not_duplicate}
    AND NOT EXISTS (
        SELECT 1 FROM {report} r
        WHERE r.record_id = f.record_id AND r.retrieval_status = 'not_retrieved'
    )
UNION ALL
SELECT 'included', f.record_id, '', rep.study_id, ''
FROM {state} f
JOIN {state} t ON t.record_id = f.record_id AND t.stage = 'ta' AND t.state = 'included'
LEFT JOIN {report} rep ON rep.record_id = f.record_id
WHERE f.review_id = %(review)s AND f.stage = 'ft' AND f.state = 'included'
    AND {not_duplicate}
    AND (rep.id IS NULL OR rep.retrieval_status <> 'not_retrieved')
"""


def full_text_rows_sql() -> str:
    """The statement `_full_text_rows` runs (parameters: review, stopping_rule)."""
    return _FULL_TEXT_ROWS.format(
        state=RecordStageState._meta.db_table,
        decision=Decision._meta.db_table,
        decision_reasons=Decision.reasons.through._meta.db_table,
        reason=ExclusionReason._meta.db_table,
        not_duplicate=not_duplicate("f.record_id"),
        report=Report._meta.db_table,
    )


def _full_text_rows(review: Review) -> tuple[dict[int, str], dict[int, int | None]]:
    """(each report excluded at full text that has a reason -> the reason it is counted under,
    each report included -> its study)."""
    sql = full_text_rows_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, {"review": review.pk, "stopping_rule": REASON_STOPPING_RULE})
        rows = cursor.fetchall()
    reasons: dict[int, list[tuple[int, str]]] = defaultdict(list)
    adjudicated: dict[int, list[tuple[int, str]]] = defaultdict(list)
    study_of: dict[int, int | None] = {}
    for part, record_id, kind, number, label in rows:
        if part == "included":
            study_of[record_id] = number
        else:
            target = adjudicated if kind == DecisionKind.ADJUDICATION else reasons
            target[record_id].append((number, label))
    primary = {
        rid: _primary_reason(adjudicated.get(rid) or reasons.get(rid, []))
        for rid in set(reasons) | set(adjudicated)
    }
    return primary, study_of


def _source_names(sources: Mapping[tuple[str, int], int]) -> tuple[dict[str, int], dict[str, int]]:
    """Records per database and per register, from the records each search and import added."""
    searches = [pk for kind, pk in sources if kind == "search"]
    imports = [pk for kind, pk in sources if kind == "import"]
    named: dict[tuple[str, int], tuple[str, str]] = {}
    for pk, kind, database in Search.objects.filter(pk__in=searches).values_list(
        "pk", "source_kind", "source_database"
    ):
        named[("search", pk)] = (kind, database or "PubMed")
    for pk, kind, database, file_name in Import.objects.filter(pk__in=imports).values_list(
        "pk", "source_kind", "source_database", "file_name"
    ):
        named[("import", pk)] = (kind, database or file_name)
    databases: dict[str, int] = defaultdict(int)
    registers: dict[str, int] = defaultdict(int)
    for key, n in sources.items():
        if not n:
            continue
        kind, name = named[key]
        # Records from "other" sources imported as files are still screened like database
        # records; the hand-entered other-methods arm covers what happened outside the app.
        (registers if kind == SourceKind.REGISTER else databases)[name] += n
    return dict(databases), dict(registers)


def _box_sql(box: str) -> str | None:
    """The statement giving a page of a box's record ids, or None for the boxes by source.

    Each walks an index in record id order (the review's records, its title/abstract state rows
    in one state, its duplicate links, its reports not retrieved) and tests each row with
    one-row lookups, so a page costs about its own rows whatever the review's size or
    statistics; joins the planner could turn into a pass over every row are avoided.
    """
    state = RecordStageState._meta.db_table
    decision = Decision._meta.db_table
    report = Report._meta.db_table

    def automated(record_id: str) -> str:
        return f"""COALESCE((
            SELECT TRUE FROM {decision} d
            WHERE d.review_id = %(review)s AND d.stage = 'ta' AND d.kind = 'automation'
                AND d.record_id = {record_id} LIMIT 1
        ), FALSE)"""

    def state_of(record_id: str, stage: str) -> str:
        return f"""COALESCE((
            SELECT x.state FROM {state} x WHERE x.record_id = {record_id} AND x.stage = '{stage}'
        ), 'unscreened')"""

    not_retrieved = f"""COALESCE((
        SELECT TRUE FROM {report} p
        WHERE p.record_id = s.record_id AND p.retrieval_status = 'not_retrieved'
    ), FALSE)"""
    page = "ORDER BY {id} LIMIT %(limit)s"
    if box == "duplicates":
        return f"""SELECT l.duplicate_id FROM {DuplicateLink._meta.db_table} l
            WHERE l.review_id = %(review)s AND l.undone_at IS NULL AND l.duplicate_id > %(after)s
            {page.format(id="l.duplicate_id")}"""
    if box == "dbr_notretrieved_reports":
        return f"""SELECT s.record_id FROM {report} s
            WHERE s.review_id = %(review)s AND s.retrieval_status = 'not_retrieved'
                AND s.record_id > %(after)s
            {page.format(id="s.record_id")}"""
    if box in ("database_results", "register_results"):
        kind = f"""COALESCE(
            (SELECT i.source_kind FROM {Import._meta.db_table} i WHERE i.id = r.source_import_id),
            (SELECT x.source_kind FROM {Search._meta.db_table} x WHERE x.id = r.search_id)
        )"""
        test = "=" if box == "register_results" else "<>"
        return f"""SELECT r.id FROM {Record._meta.db_table} r
            WHERE r.review_id = %(review)s AND r.id > %(after)s
                AND {kind} {test} '{SourceKind.REGISTER.value}'
            {page.format(id="r.id")}"""
    if box == "records_screened":
        return f"""SELECT r.id FROM {Record._meta.db_table} r
            WHERE r.review_id = %(review)s AND r.id > %(after)s AND {not_duplicate("r.id")}
                AND NOT ({state_of("r.id", "ta")} = 'excluded' AND {automated("r.id")})
            {page.format(id="r.id")}"""
    conditions = {
        "excluded_automatic": ("excluded", automated("s.record_id")),
        "records_excluded": ("excluded", f"NOT {automated('s.record_id')}"),
        "dbr_sought_reports": ("included", "1 = 1"),
        "dbr_assessed": ("included", f"NOT {not_retrieved}"),
        "dbr_excluded": (
            "included",
            f"NOT {not_retrieved} AND {state_of('s.record_id', 'ft')} = 'excluded'",
        ),
    }
    if box not in conditions:
        return None
    ta_state, condition = conditions[box]
    return f"""SELECT s.record_id FROM {state} s
        WHERE s.review_id = %(review)s AND s.stage = 'ta' AND s.state = '{ta_state}'
            AND s.record_id > %(after)s AND {not_duplicate("s.record_id")} AND {condition}
        {page.format(id="s.record_id")}"""


def prisma_box_ids(review: Review, box: str, *, after: int = 0, limit: int = 200) -> list[int]:
    """A page of the ids of the records a box of the flow counts: the first `limit` above
    `after`, in id order (the same records as prisma_counts_recount's ids for the box)."""
    sql = _box_sql(box)
    if sql is None:
        raise ValueError(f"'{box}' is not a box that counts records.")
    with connection.cursor() as cursor:
        cursor.execute(sql, {"review": review.pk, "after": after, "limit": limit})
        return [row[0] for row in cursor.fetchall()]


def prisma_counts_get(
    review: Review, *, counts: ReviewCounts | None = None, with_ids: bool = False
) -> PrismaCounts:
    """Every PRISMA 2020 box of the review, in a fixed number of queries whatever its size.

    From the counts the writes keep (screening.counts), plus the reports assessed at full text
    (their reasons and studies). The same numbers as prisma_counts_recount, without the ids of
    each box (with_ids=True gives them, at the cost of a pass over every row).
    """
    if with_ids:
        return prisma_counts_recount(review)
    counts = counts or review_counts(review)
    databases, registers = _source_names(counts.sources)
    automated = counts.in_state(Stage.TITLE_ABSTRACT, State.EXCLUDED, automated=True)
    screened = counts.records - counts.duplicates - automated
    ta_excluded = counts.in_state(Stage.TITLE_ABSTRACT, State.EXCLUDED) - automated
    sought = counts.in_state(Stage.TITLE_ABSTRACT, State.INCLUDED)
    # Reports not retrieved among those sought, by their full-text state.
    missing = counts.not_retrieved_in_ft
    assessed = sought - sum(missing.values())
    ft_excluded = counts.in_state(Stage.FULL_TEXT, State.EXCLUDED) - missing[State.EXCLUDED]
    primary, study_of = _full_text_rows(review)
    per_reason: dict[str, int] = defaultdict(int)
    for reason in primary.values():
        per_reason[reason] += 1
    if ft_excluded > len(primary):
        per_reason[REASON_NOT_RECORDED] += ft_excluded - len(primary)
    return _prisma_counts(
        review,
        databases=databases,
        registers=registers,
        duplicates=counts.duplicates,
        automated=automated,
        screened=screened,
        ta_excluded=ta_excluded,
        sought=sought,
        not_retrieved=counts.reports_not_retrieved,
        assessed=assessed,
        ft_excluded=ft_excluded,
        per_reason=dict(per_reason),
        study_of=study_of,
    )


__all__ = [
    "manual_counts_latest",
    "prisma_box_ids",
    "prisma_counts_get",
    "prisma_counts_recount",
    "prisma_pending",
]
