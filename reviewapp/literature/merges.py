"""Writes on merged duplicate clusters: merging, choosing the primary, undoing (the merge view
reads them through ``selectors.merge_view``; the pure rule is ``merging``).

No record is ever changed: a merge is a RecordMerge revision holding the values the primary
shows. Choosing another primary re-points the cluster's duplicate links (the old ones are
undone, with who and when, new ones made), so that the chosen record is the one screened.

Screening decisions, notes, tags and full-text reports belong to the record they were made on,
and a duplicate is not screened. So the primary may only change while the record that would stop
being screened has none of them: choosing another primary is refused when the current primary
has any, and undoing a change of primary is refused when the primary it chose has gained any.
Nothing screened is ever hidden by a merge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from reviewapp.audit.constants import Action
from reviewapp.audit.services import Target, audit_record
from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import require
from reviewapp.literature import merging
from reviewapp.literature.models import DuplicateLink, Record, RecordMerge
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership, Review

# The record fields a merge reads (merging.FIELDS but "sources", and the companions).
RECORD_FIELDS = [n for n in merging.FIELD_NAMES if n != "sources"] + [
    c for group in merging.COMPANIONS.values() for c in group
]


def record_source_name(record: Record) -> str:
    """The database a record came from, as PRISMA counts it (reporting.selectors._source_name)."""
    if record.search is not None:
        return record.search.source_database or "PubMed"
    imp = record.source_import
    return (imp.source_database or imp.file_name) if imp is not None else ""


def merge_source(record: Record) -> merging.Source:
    """A record as the pure merge reads it: its own stored values and its source database."""
    values: dict[str, object] = {name: getattr(record, name) for name in RECORD_FIELDS}
    values["sources"] = [record_source_name(record)]
    return merging.Source(id=record.pk, number=record.number, values=values)


@dataclass
class ClusterState:
    """A cluster as it is now: its primary, its active links, its records (the primary first,
    then by record number) and its current merge, if any."""

    primary: Record
    links: list[DuplicateLink]
    records: list[Record]
    current: RecordMerge | None

    @property
    def ids(self) -> list[int]:
        return [r.pk for r in self.records]


def cluster_state(review: Review, primary_id: int, *, lock: bool = False) -> ClusterState:
    """The cluster whose primary is ``primary_id``. ``lock``: lock the primary's row and the
    links (inside a transaction), so two merges of one cluster run one after the other."""
    records = Record.objects.filter(review=review).select_related("search", "source_import")
    if lock:
        records = records.select_for_update(of=("self",))
    primary = records.filter(pk=primary_id).first()
    if primary is None:
        raise ServiceError("No such record in this review.")
    as_duplicate = (
        DuplicateLink.objects.filter(duplicate=primary, undone_at__isnull=True)
        .select_related("primary")
        .first()
    )
    if as_duplicate is not None:
        raise ServiceError(
            f"Record {primary.number} is a duplicate of record {as_duplicate.primary.number}: "
            f"merge that record's cluster."
        )
    links_qs = DuplicateLink.objects.filter(primary=primary, undone_at__isnull=True)
    if lock:
        links_qs = links_qs.select_for_update()
    links = list(links_qs.order_by("id"))
    others = list(
        Record.objects.filter(pk__in=[link.duplicate_id for link in links]).select_related(
            "search", "source_import"
        )
    )
    others.sort(key=lambda r: (r.number, r.pk))
    current = RecordMerge.objects.filter(primary=primary, current=True).first()
    return ClusterState(primary, links, [primary, *others], current)


def _require_cluster(state: ClusterState) -> None:
    if not state.links:
        raise ServiceError(f"Record {state.primary.number} has no duplicates to merge.")


def _clean_choices(state: ClusterState, choices: Mapping[str, int | None]) -> dict[str, int]:
    """The reviewer's choices with the automatic ones left out; a field or record the cluster
    does not have is refused, naming it."""
    numbers = {r.pk: r.number for r in state.records}
    clean: dict[str, int] = {}
    for name, record_id in choices.items():
        if name not in merging.RULES:
            raise ServiceError(f"There is no field “{name}” to merge.", field=name)
        if record_id is None:
            continue
        if record_id not in numbers:
            raise ServiceError(
                f"{merging_label(name)}: that record is not in this cluster.", field=name
            )
        clean[name] = record_id
    return clean


LABELS = {
    "title": "Title",
    "authors": "Authors",
    "journal": "Journal",
    "year": "Year",
    "volume": "Volume",
    "issue": "Issue",
    "pages": "Pages",
    "doi": "DOI",
    "pmid": "PMID",
    "pmcid": "PMCID",
    "abstract": "Abstract",
    "keywords": "Keywords",
    "mesh_terms": "MeSH terms",
    "publication_types": "Publication types",
    "language": "Language",
    "sources": "Source databases",
}


def merging_label(name: str) -> str:
    return LABELS.get(name, name)


def _revision(
    state: ClusterState,
    *,
    membership: Membership,
    choices: dict[str, int],
    replaces: RecordMerge | None,
    links_closed: list[int] | None = None,
    links_opened: list[int] | None = None,
) -> RecordMerge:
    merged = merging.merge(
        [merge_source(r) for r in state.records], primary_id=state.primary.pk, choices=choices
    )
    if replaces is not None:
        replaces.current = False
        replaces.save(update_fields=["current"])
    return RecordMerge.objects.create(
        review=state.primary.review,
        primary=state.primary,
        records=state.ids,
        values=merged.values(),
        origins=merged.origins(),
        choices={name: choices[name] for name in merging.FIELD_NAMES if name in choices},
        replaces=replaces,
        links_closed=links_closed or [],
        links_opened=links_opened or [],
        created_by=membership.user,
    )


def _shown(revision: RecordMerge | None, primary: Record) -> dict[str, object]:
    """What the primary showed with this revision in effect (its own values without one)."""
    if revision is not None:
        return {name: revision.values.get(name) for name in merging.FIELD_NAMES}
    own = merge_source(primary).values
    return {name: own.get(name) for name in merging.FIELD_NAMES}


def _target(record: Record) -> Target:
    return Target("record", record.pk, f"Record {record.number} and its duplicates")


@transaction.atomic
def cluster_merge(
    *, membership: Membership, primary_id: int, choices: Mapping[str, int | None] | None = None
) -> RecordMerge:
    """Merge a cluster's metadata onto its primary: each field kept by the rule of
    ``merging``, or from the record the reviewer chose for it (``choices``: field -> record id,
    None for the rule). The records keep their own values; merging again with the same result
    changes nothing."""
    require(membership, Capability.SCREEN)
    state = cluster_state(membership.review, primary_id, lock=True)
    _require_cluster(state)
    wanted = _clean_choices(state, choices or {})
    current = state.current
    if current is not None and current.records == state.ids and current.choices == wanted:
        return current
    before = _shown(current, state.primary)
    revision = _revision(state, membership=membership, choices=wanted, replaces=current)
    after = _shown(revision, state.primary)
    audit_record(
        review=membership.review,
        actor=membership,
        action=Action.DUPLICATE_MERGED,
        target=_target(state.primary),
        before={**before, "choices": current.choices if current else {}},
        after={**after, "choices": revision.choices, "records": _numbers(state.records)},
    )
    return revision


def _numbers(records: list[Record]) -> list[int]:
    return [r.number for r in records]


def screening_history(record_id: int) -> list[str]:
    """What screening holds on a record (decisions, notes, tags, a full-text report), in words;
    empty when it has none."""
    from reviewapp.screening.models import Decision, RecordNote, RecordTag, Report

    held = []
    if Decision.objects.filter(record_id=record_id).exists():
        held.append("screening decisions")
    if RecordNote.objects.filter(record_id=record_id).exists():
        held.append("notes")
    if RecordTag.objects.filter(record_id=record_id).exists():
        held.append("tags")
    if Report.objects.filter(record_id=record_id).exists():
        held.append("a full-text report")
    return held


def _refuse_if_screened(record: Record, why: str) -> None:
    held = screening_history(record.pk)
    if held:
        raise ServiceError(
            f"Record {record.number} already has {' and '.join(held)}; {why}, which would take "
            f"them out of screening. It stays the primary."
        )


@transaction.atomic
def cluster_primary_choose(
    *, membership: Membership, primary_id: int, new_primary_id: int
) -> RecordMerge:
    """Make another record of the cluster its primary: the one screened and shown with the merged
    metadata. The cluster's links are undone and made again to the new primary (the old primary
    becomes its duplicate, with the rule and score of the link between them); the merge is
    computed again around the new primary, keeping the fields chosen by hand."""
    require(membership, Capability.SCREEN)
    state = cluster_state(membership.review, primary_id, lock=True)
    _require_cluster(state)
    by_duplicate = {link.duplicate_id: link for link in state.links}
    if new_primary_id not in by_duplicate:
        raise ServiceError("Choose a record of this cluster as its primary.")
    _refuse_if_screened(state.primary, "choosing another primary would make it a duplicate")
    now = timezone.now()
    DuplicateLink.objects.filter(pk__in=[link.pk for link in state.links]).update(
        undone_at=now, undone_by=membership.user
    )
    between = by_duplicate[new_primary_id]
    new_links = [
        DuplicateLink(
            review=membership.review,
            duplicate_id=state.primary.pk if link is between else link.duplicate_id,
            primary_id=new_primary_id,
            rule=link.rule,
            score=link.score,
            status=link.status,
            created_by=membership.user,
            confirmed_by=link.confirmed_by,
        )
        for link in state.links
    ]
    DuplicateLink.objects.bulk_create(new_links)
    before = _shown(state.current, state.primary)
    new_state = cluster_state(membership.review, new_primary_id, lock=True)
    choices = dict(state.current.choices if state.current else {})
    revision = _revision(
        new_state,
        membership=membership,
        choices=choices,
        replaces=state.current,
        links_closed=[link.pk for link in state.links],
        links_opened=[link.pk for link in new_links],
    )
    audit_record(
        review=membership.review,
        actor=membership,
        action=Action.DUPLICATE_PRIMARY,
        target=_target(new_state.primary),
        before={"primary": state.primary.number, **before},
        after={"primary": new_state.primary.number, **_shown(revision, new_state.primary)},
    )
    return revision


@transaction.atomic
def cluster_merge_undo(*, membership: Membership, primary_id: int) -> Record:
    """Undo the cluster's latest merge revision: the one before it is in effect again (or the
    records' own values, after the first), and a change of primary is reversed, its links undone
    and the cluster's links before it restored. Returns the primary in effect afterwards."""
    require(membership, Capability.SCREEN)
    state = cluster_state(membership.review, primary_id, lock=True)
    revision = state.current
    if revision is None:
        raise ServiceError(f"Record {state.primary.number}'s cluster has no merge to undo.")
    previous = revision.replaces
    restored_primary = state.primary
    if revision.links_opened:
        # Only the very links it made: a record that joined since would be left pointing at a
        # duplicate, one that left would come back.
        if {link.pk for link in state.links} != set(revision.links_opened):
            raise ServiceError(
                "A record has left or joined this cluster since its primary was chosen; the "
                "change of primary cannot be undone. Choose the primary again instead."
            )
        closed = list(
            DuplicateLink.objects.select_for_update()
            .filter(pk__in=revision.links_closed)
            .select_related("primary")
        )
        restored_primary = closed[0].primary
        _refuse_if_screened(state.primary, "undoing would make it a duplicate again")
        DuplicateLink.objects.filter(pk__in=revision.links_opened).update(
            undone_at=timezone.now(), undone_by=membership.user
        )
        DuplicateLink.objects.filter(pk__in=revision.links_closed).update(
            undone_at=None, undone_by=None
        )
    revision.current = False
    revision.undone_at = timezone.now()
    revision.undone_by = membership.user
    revision.save(update_fields=["current", "undone_at", "undone_by"])
    if previous is not None:
        if RecordMerge.objects.filter(primary=previous.primary, current=True).exists():
            raise ServiceError("This cluster was merged again meanwhile; reload the page.")
        previous.current = True
        previous.save(update_fields=["current"])
    audit_record(
        review=membership.review,
        actor=membership,
        action=Action.DUPLICATE_MERGE_UNDONE,
        target=_target(restored_primary),
        before={"primary": state.primary.number, **_shown(revision, state.primary)},
        after={"primary": restored_primary.number, **_shown(previous, restored_primary)},
    )
    return restored_primary
