"""PRISMA 2020 counts computed from the stored data, never from counters.

Each box is built from the records it counts, so the page can link a box to its records and an
inconsistency names them. The arithmetic and its checks live in the pure prisma module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from reviewapp.literature.constants import SourceKind
from reviewapp.literature.models import DuplicateLink, Record
from reviewapp.reporting.constants import OTHER_EXCLUDED_REASON, ManualPrismaField
from reviewapp.reporting.models import PrismaManualCount
from reviewapp.reporting.prisma import ManualEntry, PrismaCounts
from reviewapp.reviews.models import Review
from reviewapp.screening.constants import DecisionKind, RetrievalStatus, Stage
from reviewapp.screening.models import Decision, Report
from reviewapp.screening.rules import State
from reviewapp.screening.selectors import stage_states

REASON_NOT_RECORDED = "Reason not recorded"


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


def _identified(review: Review) -> tuple[dict[str, int], dict[str, int], list[int], list[int]]:
    """Records per database and per register, from completed searches and imports."""
    # Searches and imports store their records in one transaction, so every record is from a
    # run that finished: no filter on the run's status is needed (or wanted: screening has none).
    rows = Record.objects.filter(review=review).values(
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


def prisma_counts_get(review: Review) -> PrismaCounts:
    """Every PRISMA 2020 box of the review, from its records, links, decisions and reports."""
    databases, registers, database_ids, register_ids = _identified(review)
    identified_ids = set(database_ids) | set(register_ids)
    duplicate_ids = sorted(
        set(
            DuplicateLink.objects.filter(
                review=review, undone_at__isnull=True, duplicate_id__in=identified_ids
            ).values_list("duplicate_id", flat=True)
        )
    )
    unique_ids = sorted(identified_ids - set(duplicate_ids))

    ta = stage_states(review, Stage.TITLE_ABSTRACT)
    automation_ids = set(
        Decision.objects.filter(
            review=review, stage=Stage.TITLE_ABSTRACT, kind=DecisionKind.AUTOMATION
        ).values_list("record_id", flat=True)
    )
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
    ft = stage_states(review, Stage.FULL_TEXT)
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
    # A report not yet grouped into a study stands for a study of its own.
    new_studies_db = len({study_of.get(rid) or f"record-{rid}" for rid in ft_included})

    manual = manual_counts_latest(review)
    studies_ma, reports_ma = _meta_analysis_counts(review, ft_included, study_of)

    def m(field: str) -> int:
        return manual[field].value if field in manual else 0

    other_excluded = m(ManualPrismaField.OTHER_EXCLUDED)
    new_reports = len(ft_included) + m(ManualPrismaField.OTHER_ASSESSED) - other_excluded
    new_studies = new_studies_db + m(ManualPrismaField.OTHER_STUDIES)
    return PrismaCounts(
        databases=databases,
        registers=registers,
        duplicates=len(duplicate_ids),
        excluded_automatic=len(automated),
        excluded_other=0,
        records_screened=len(screened),
        records_excluded=len(ta_excluded),
        dbr_sought_reports=len(sought),
        dbr_notretrieved_reports=len(not_retrieved),
        dbr_assessed=len(assessed),
        dbr_excluded=len(ft_excluded),
        dbr_excluded_reasons=dict(per_reason),
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
        manual={
            field: ManualEntry(
                entered_by=entry.entered_by.get_username(),
                entered_at=entry.entered_at.isoformat(timespec="seconds"),
            )
            for field, entry in manual.items()
            if field in PrismaCounts.__dataclass_fields__
        },
    )


def prisma_pending(review: Review) -> dict[str, list[int]]:
    """Records still in screening at each stage: they keep the flow from adding up yet."""
    pending = {}
    for stage in Stage.values:
        states = stage_states(review, stage)
        waiting = sorted(
            rid
            for rid, state in states.items()
            if state in (State.UNSCREENED, State.AWAITING, State.CONFLICT, State.MAYBE)
        )
        if stage == Stage.FULL_TEXT:
            not_retrieved = set(
                Report.objects.filter(
                    review=review, retrieval_status=RetrievalStatus.NOT_RETRIEVED
                ).values_list("record_id", flat=True)
            )
            waiting = [rid for rid in waiting if rid not in not_retrieved]
        pending[stage] = waiting
    return pending


__all__ = ["manual_counts_latest", "prisma_counts_get", "prisma_pending"]
