"""Reads on screening: states, counts, each reviewer's queue, and what each member may see.

States are read from the materialised RecordStageState rows (kept equal to the events by
reviewapp.screening.state); a record without a row is unscreened.
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.urls import reverse

from reviewapp.core.blinding import others_votes_visible, reader_of
from reviewapp.core.compiled import RawStatement
from reviewapp.core.models import Tally
from reviewapp.core.tally import member_key
from reviewapp.literature.models import DuplicateLink, Record
from reviewapp.literature.selectors import (
    MergedFrom,
    merged_from,
    records_merged,
    records_merged_by_id,
    records_unique,
)
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.constants import (
    DecisionKind,
    DecisionValue,
    ScreenState,
    Stage,
)
from reviewapp.screening.counts import ReviewCounts, StageCounts, not_duplicate, review_counts
from reviewapp.screening.models import (
    Decision,
    ExclusionReason,
    NewRecords,
    RecordNote,
    RecordStageState,
    RecordTag,
    RecordVote,
    Report,
    ReportFile,
    StageSettings,
    Study,
    Tag,
)
from reviewapp.screening.queue import queue_next
from reviewapp.screening.rules import Event, State, current_vote_index

_STAGE_SETTINGS = """
SELECT s.*, EXISTS (SELECT 1 FROM {new} n WHERE n.review_id = s.review_id) AS records_pending
FROM {settings} s WHERE s.review_id = %s AND s.stage = %s
"""


@functools.cache
def _stage_settings_statement() -> RawStatement[StageSettings]:
    return RawStatement(
        StageSettings,
        _STAGE_SETTINGS.format(
            new=NewRecords._meta.db_table, settings=StageSettings._meta.db_table
        ),
    )


def stage_settings_get(review: Review, stage: str) -> StageSettings:
    """The stage's settings, and in `records_pending` whether records were added to the review
    since their state rows were last built (read with them, so the queue needs no query for it).

    Read on every screening request: raw SQL (a fifth of the Python time of the same queryset)
    made into the instance as `raw()` would, with its columns worked out once.
    """
    found = _stage_settings_statement().fetch([review.pk, stage])
    if not found:
        raise StageSettings.DoesNotExist(f"No {stage} settings for review {review.pk}.")
    return found[0]


@dataclass(frozen=True)
class ReasonOption:
    pk: int
    label: str


def reasons_active(review: Review) -> list[ReasonOption]:
    """The review's exclusion reasons in use, in their order: what a decision form offers."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, label FROM {ExclusionReason._meta.db_table} "
            "WHERE review_id = %s AND active ORDER BY position, id",
            [review.pk],
        )
        return [ReasonOption(pk, label) for pk, label in cursor.fetchall()]


def stage_events(review: Review, stage: str) -> dict[int, list[Event]]:
    """Every decision event of a stage, grouped by record, in the order they happened."""
    events: dict[int, list[Event]] = defaultdict(list)
    rows = (
        Decision.objects.filter(review=review, stage=stage)
        .order_by("created_at", "id")
        .values_list("record_id", "reviewer_id", "kind", "value")
    )
    for record_id, reviewer_id, kind, value in rows:
        events[record_id].append(Event(reviewer_id, kind, value))
    return events


def _ta_included(review: Review):
    return RecordStageState.objects.filter(
        review=review, stage=Stage.TITLE_ABSTRACT, state=ScreenState.INCLUDED
    )


def stage_eligible_ids(review: Review, stage: str) -> list[int]:
    """Records that belong in a stage: unique records at title/abstract; at full text, those
    included at title/abstract."""
    unique = records_unique(review).order_by("id")
    if stage == Stage.FULL_TEXT:
        unique = unique.filter(Exists(_ta_included(review).filter(record_id=OuterRef("pk"))))
    return list(unique.values_list("id", flat=True))


def record_eligible(
    review: Review, record_id: int, stage: str, *, duplicate: bool | None = None
) -> bool:
    """Whether one record belongs in a stage (the one-record form of stage_eligible_ids).
    duplicate: whether it is an active duplicate, when the caller has read it already."""
    if duplicate is None:
        duplicate = DuplicateLink.objects.filter(
            duplicate_id=record_id, undone_at__isnull=True
        ).exists()
    if duplicate:
        return False
    if stage == Stage.FULL_TEXT:
        return _ta_included(review).filter(record_id=record_id).exists()
    return True


def stage_states(
    review: Review, stage: str, *, eligible_ids: list[int] | None = None
) -> dict[int, State]:
    """The derived state of every record eligible at a stage (PRISMA and extraction read this)."""
    if eligible_ids is None:
        eligible_ids = stage_eligible_ids(review, stage)
    stored = dict(
        RecordStageState.objects.filter(review=review, stage=stage).values_list(
            "record_id", "state"
        )
    )
    return {rid: State(stored.get(rid, State.UNSCREENED)) for rid in eligible_ids}


def records_with_states(records: QuerySet[Record]) -> QuerySet[Record]:
    """Records with what ``derived_states`` needs, joined in per record (by unique indexes):
    ``primary_id`` (the record it duplicates), ``ta_row`` and ``ft_row`` (its stored states,
    None without a row) and ``study_label``. For readers of a page or a stream of records that
    must not load the state of every record of the review first."""
    primary = DuplicateLink.objects.filter(duplicate=OuterRef("pk"), undone_at__isnull=True)
    study = Report.objects.filter(record=OuterRef("pk")).values("study__label")[:1]

    def state(stage: str):
        rows = RecordStageState.objects.filter(record=OuterRef("pk"), stage=stage)
        return Subquery(rows.values("state")[:1])

    return records.annotate(
        primary_id=Subquery(primary.values("primary_id")[:1]),
        study_label=Subquery(study),
        ta_row=state(Stage.TITLE_ABSTRACT),
        ft_row=state(Stage.FULL_TEXT),
    )


def derived_states(*, is_duplicate: bool, ta_row: str | None, ft_row: str | None) -> dict:
    """One record's state at each stage as ``stage_states`` gives it (None where the record does
    not belong in the stage): every unique record is in title/abstract screening, those included
    there in full-text screening; a record without a state row is unscreened."""
    ta = None if is_duplicate else (ta_row or ScreenState.UNSCREENED.value)
    ft = (ft_row or ScreenState.UNSCREENED.value) if ta == ScreenState.INCLUDED else None
    return {Stage.TITLE_ABSTRACT: ta, Stage.FULL_TEXT: ft}


def stage_counts(review: Review, stage: str) -> StageCounts:
    """How many records are in each state at a stage; duplicates are not counted.

    From the counts the writes keep (screening.counts): a fixed number of small queries
    whatever the review's size.
    """
    return review_counts(review).stage(stage)


# How stale the team's progress on the screening page may be, in seconds.
COUNTS_FRESH_FOR = 10


def stage_counts_recent(review: Review, stage: str, *, fresh: bool = False) -> StageCounts:
    """stage_counts at most COUNTS_FRESH_FOR seconds old, for the screening page's progress line.

    Every reviewer's page asks for it after each decision and every 20 s. The counts are kept by
    the writes (two small queries whatever the review's size), but twenty reviewers polling
    still share one reading per interval instead of each paying for their own. fresh: read
    them now (the reviewer has just decided, so their own numbers must agree) and share that.
    """
    # created_at too: a review id can be reused (tests, a restored database), its counts not.
    key = f"screening:stage-counts:{review.pk}:{review.created_at.timestamp()}:{stage}"
    counts = None if fresh else cache.get(key)
    if counts is None:
        counts = stage_counts(review, stage)
        cache.set(key, counts, COUNTS_FRESH_FOR)
    return counts


def my_current_vote(review: Review, stage: str, record: Record, user) -> Decision | None:
    """The vote event that is this reviewer's current vote (undo taken into account)."""
    vote = RecordVote.objects.filter(record=record, stage=stage, reviewer=user).first()
    if vote is None:
        return None
    return (
        Decision.objects.filter(
            review=review,
            stage=stage,
            record=record,
            reviewer=user,
            kind=DecisionKind.VOTE,
            value=vote.value,
        )
        .order_by("-created_at", "-id")
        .first()
    )


def next_record_for(review: Review, stage: str, user) -> Record | None:
    """The next record this reviewer should screen (leased to them; see queue.py).

    Records another reviewer has already voted on come first, so dual screening never leaves
    records half-done; then records nobody has seen, in the stage's queue order.
    """
    ids = queue_next(review, stage, user, limit=1)
    return Record.objects.get(pk=ids[0]) if ids else None


def votes_visible(
    *, settings: StageSettings, state: str, membership: Membership, i_voted: bool
) -> bool:
    """Whether this member may see other reviewers' votes (and decision notes) on a record.

    The blinding rule of ``reviewapp.core.blinding``: hidden from anyone whose own vote on the
    record is still due, whatever their role; at blinded stages, reviewers see them once they
    have voted and every vote is in, adjudicators wherever they owe no vote, analysts always.
    """
    return others_votes_visible(
        reader_of(membership), blinded=settings.blinded, state=state, i_voted=i_voted
    )


@dataclass(frozen=True)
class PanelVote:
    """A reviewer's current vote as the record panel shows it (no model instance needed)."""

    reviewer_id: int
    username: str
    value: str

    @property
    def label(self) -> str:
        return DecisionValue(self.value).label


@dataclass(frozen=True)
class ReportFileRow:
    """One uploaded file of a report, as the full-text panel lists it."""

    id: int
    report_id: int
    name: str
    size: int
    uploaded_by: str
    uploaded_at: datetime


def report_files(report_ids: list[int]) -> dict[int, list[ReportFileRow]]:
    """Every file uploaded to these reports, newest (the current one) first, in one query."""
    files: dict[int, list[ReportFileRow]] = defaultdict(list)
    rows = (
        ReportFile.objects.filter(report_id__in=report_ids)
        .order_by("-uploaded_at", "-id")
        .values_list(
            "id",
            "report_id",
            "original_filename",
            "file",
            "size",
            "uploaded_by__username",
            "uploaded_at",
        )
    )
    for pk, report_id, original, stored, size, username, uploaded_at in rows:
        name = original or stored.rsplit("/", 1)[-1]
        files[report_id].append(
            ReportFileRow(pk, report_id, name, size, username or "a former member", uploaded_at)
        )
    return files


@dataclass(frozen=True)
class PanelUrls:
    """Where a record panel's links and forms go (the record's history, decision, lease renewal,
    tag and note)."""

    history: str
    decide: str
    renew: str
    tag: str
    note: str


# A stand-in record id whose digits mark where the id goes in a reversed path.
_ID_MARK = 9_007_199_254_740_993


def _record_urls(review: Review, stage: str, record_ids: list[int]) -> dict[int, PanelUrls]:
    """Each record's PanelUrls, at the cost of one `reverse` per kind of link.

    `{% url %}` in the panel template reversed five URLs per record, for every record a
    screener sees (issue 13: about a tenth of the panel's rendering). The record id is the last
    number in each of these paths (nothing after it but words), so a path reversed with the
    marker id is cut at the marker's last occurrence, whatever digits the slug holds.
    """
    parts = {}
    for kind, name in (
        ("history", "screening:record-history"),
        ("decide", "screening:screen-decide"),
        ("renew", "screening:screen-renew"),
        ("tag", "screening:record-tag"),
        ("note", "screening:record-note"),
    ):
        head, _mark, tail = reverse(name, args=[review.slug, stage, _ID_MARK]).rpartition(
            str(_ID_MARK)
        )
        parts[kind] = (head, tail)
    return {
        rid: PanelUrls(**{kind: f"{head}{rid}{tail}" for kind, (head, tail) in parts.items()})
        for rid in record_ids
    }


@dataclass
class RecordPanel:
    """Everything the screening page shows about one record, already filtered for blinding."""

    record: Record
    state: str = ScreenState.UNSCREENED
    my_vote: PanelVote | None = None
    others_visible: bool = False
    other_votes: list[PanelVote] = field(default_factory=list)
    notes: list[RecordNote] = field(default_factory=list)
    hidden_notes: int = 0
    tags: list[str] = field(default_factory=list)
    report: Report | None = None
    # Whether this member's vote can be taken: theirs stands (a change of mind), or the record
    # still waits for votes. Otherwise it is settled or goes to adjudication (see
    # rules.vote_refusal, which the service applies).
    open_to_me: bool = True
    # The report's uploads, newest first: the current full text, then the earlier ones.
    report_files: list[ReportFileRow] = field(default_factory=list)
    # Set by the page: a fresh token per decision form, so a resent form is recognised.
    client_token: uuid.UUID | None = None
    urls: PanelUrls | None = None

    @property
    def state_label(self) -> str:
        return ScreenState(self.state).label.lower()

    @property
    def report_file_current(self) -> ReportFileRow | None:
        return self.report_files[0] if self.report_files else None

    @property
    def report_files_earlier(self) -> list[ReportFileRow]:
        return self.report_files[1:]


# A record panel is built for every record a screener sees, so its state, votes, tags and the
# number of its notes come in one hand-written statement instead of four querysets: building
# those cost several times what PostgreSQL took to answer them. Rows: (part, record, text,
# user id, username); part 0 is the state, 1 a current vote, 2 a tag, 3 the number of notes.
# Plain SQL that SQLite (the embedded default) runs too.
_PANEL_PARTS = """
SELECT 0, s.record_id, s.state, NULL, NULL FROM {state} s
    WHERE s.stage = %(stage)s AND s.record_id IN ({ids})
UNION ALL
SELECT 1, v.record_id, v.value, v.reviewer_id, u.username FROM {vote} v
    JOIN {user} u ON u.id = v.reviewer_id
    WHERE v.stage = %(stage)s AND v.record_id IN ({ids})
UNION ALL
SELECT 2, rt.record_id, t.name, NULL, NULL FROM {record_tag} rt
    JOIN {tag} t ON t.id = rt.tag_id
    WHERE rt.record_id IN ({ids})
UNION ALL
SELECT 3, n.record_id, NULL, COUNT(*), NULL FROM {note} n
    WHERE n.record_id IN ({ids}) GROUP BY n.record_id
"""


def _panel_parts(stage: str, record_ids: list[int]):
    names = {f"r{i}": rid for i, rid in enumerate(record_ids)}
    sql = _PANEL_PARTS.format(
        state=RecordStageState._meta.db_table,
        vote=RecordVote._meta.db_table,
        user=get_user_model()._meta.db_table,
        record_tag=RecordTag._meta.db_table,
        tag=Tag._meta.db_table,
        note=RecordNote._meta.db_table,
        ids=", ".join(f"%({name})s" for name in names),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"stage": stage, **names})
        return cursor.fetchall()


def record_panels(
    review: Review, stage: str, record_ids: list[int], membership: Membership, settings
) -> list[RecordPanel]:
    """The panels of a few records, in the given order, in a fixed number of queries.

    Two queries (the records, then their state, votes, tags and note counts), and a third only
    when one of them has notes, or at full text for the reports.
    """
    if not record_ids:
        return []
    user = membership.user
    # A merged cluster's primary is screened with the cluster's merged metadata (the richest
    # abstract, every identifier and term), read with the records: no query more.
    records = records_merged_by_id(record_ids)
    states: dict[int, str] = {}
    votes: dict[int, list[PanelVote]] = defaultdict(list)
    tags: dict[int, list[str]] = defaultdict(list)
    with_notes = []
    for part, record_id, text, user_id, username in _panel_parts(stage, record_ids):
        if part == 0:
            states[record_id] = text
        elif part == 1:
            votes[record_id].append(PanelVote(user_id, username, text))
        elif part == 2:
            tags[record_id].append(text)
        elif user_id:
            with_notes.append(record_id)
    notes: dict[int, list[RecordNote]] = defaultdict(list)
    if with_notes:
        for note in RecordNote.objects.filter(record_id__in=with_notes).select_related("author"):
            notes[note.record_id].append(note)
    reports = {}
    if stage == Stage.FULL_TEXT:
        reports = {
            r.record_id: r
            for r in Report.objects.filter(record_id__in=record_ids).select_related("study")
        }
    # Only reports with a file have a history to list: no query for the others.
    files = report_files([r.pk for r in reports.values() if r.file]) if reports else {}
    urls = _record_urls(review, stage, [rid for rid in record_ids if rid in records])
    panels = []
    for rid in record_ids:
        if rid not in records:
            continue
        state = states.get(rid, ScreenState.UNSCREENED)
        mine = next((v for v in votes[rid] if v.reviewer_id == user.pk), None)
        visible = votes_visible(
            settings=settings, state=state, membership=membership, i_voted=mine is not None
        )
        own_notes = [n for n in notes[rid] if n.author_id == user.pk]
        panels.append(
            RecordPanel(
                record=records[rid],
                state=state,
                my_vote=mine,
                others_visible=visible,
                other_votes=(
                    sorted(
                        (v for v in votes[rid] if v.reviewer_id != user.pk),
                        key=lambda v: v.username,
                    )
                    if visible
                    else []
                ),
                notes=notes[rid] if visible else own_notes,
                hidden_notes=0 if visible else len(notes[rid]) - len(own_notes),
                tags=sorted(tags[rid]),
                report=reports.get(rid),
                open_to_me=mine is not None
                or state in (ScreenState.UNSCREENED, ScreenState.AWAITING),
                report_files=files.get(reports[rid].pk, []) if rid in reports else [],
                urls=urls[rid],
            )
        )
    return panels


_MY_PROGRESS = """
SELECT
    (SELECT COALESCE(SUM(t.n), 0) FROM {tally} t
        WHERE t.review_id = %(review)s AND t.name = %(name)s),
    (SELECT v.record_id FROM {vote} v
        WHERE v.review_id = %(review)s AND v.stage = %(stage)s AND v.reviewer_id = %(user)s
        ORDER BY v.decided_at DESC, v.id DESC LIMIT 1)
"""


def my_progress(review: Review, stage: str, user) -> tuple[int, int | None]:
    """(how many records I have a vote on at this stage, the one I decided last): what the
    screening page shows after every decision, in one statement: the count kept by the vote
    writes (core.tally), the last one through the rv_mine index.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _MY_PROGRESS.format(vote=RecordVote._meta.db_table, tally=Tally._meta.db_table),
            {
                "review": review.pk,
                "stage": stage,
                "user": user.pk,
                "name": member_key(stage, user.pk),
            },
        )
        count, last = cursor.fetchone()
    return count, last


# Records waiting for a second vote that already have mine: read from the awaiting rows (the
# queue hands those out first, so they stay few), probing my vote on each through its unique
# index, never by counting all my votes or all the review's records.
_MINE_AWAITING = """
SELECT COUNT(*) FROM {state} s
WHERE s.review_id = %(review)s AND s.stage = %(stage)s AND s.state = %(awaiting)s
    AND EXISTS (
        SELECT 1 FROM {vote} v
        WHERE v.record_id = s.record_id AND v.stage = s.stage AND v.reviewer_id = %(user)s
    )
    AND {not_duplicate}
"""


def my_remaining(review: Review, stage: str, user, counts: StageCounts | None) -> int | None:
    """Records still waiting for this reviewer's vote: not screened by anyone, or waiting for a
    second vote that is not theirs. What "remaining" means to one reviewer in dual screening
    (the team's remaining includes records that only wait for someone else)."""
    if counts is None:
        return None
    # Asked even when nothing is awaiting (then it reads no row), so the page's number of
    # queries stays the same whatever the review holds.
    with connection.cursor() as cursor:
        cursor.execute(
            _MINE_AWAITING.format(
                state=RecordStageState._meta.db_table,
                vote=RecordVote._meta.db_table,
                not_duplicate=not_duplicate("s.record_id"),
            ),
            {
                "review": review.pk,
                "stage": stage,
                "user": user.pk,
                "awaiting": ScreenState.AWAITING.value,
            },
        )
        (mine,) = cursor.fetchone()
    return max(0, counts.unscreened + counts.awaiting - mine)


def my_previous_record_id(review: Review, stage: str, user, *, before: int):
    """The record this reviewer decided just before record `before` (the latest one decided is
    my_progress's)."""
    mine = RecordVote.objects.filter(review=review, stage=stage, reviewer=user)
    anchor = mine.filter(record_id=before).values_list("decided_at", flat=True).first()
    if anchor is not None:
        mine = mine.filter(decided_at__lt=anchor)
    return mine.order_by("-decided_at", "-id").values_list("record_id", flat=True).first()


def my_next_record_id(review: Review, stage: str, user, *, after: int):
    """The record this reviewer decided just after record `after` (None: back to the queue)."""
    mine = RecordVote.objects.filter(review=review, stage=stage, reviewer=user)
    anchor = mine.filter(record_id=after).values_list("decided_at", flat=True).first()
    if anchor is None:
        return None
    return (
        mine.filter(decided_at__gt=anchor)
        .order_by("decided_at", "id")
        .values_list("record_id", flat=True)
        .first()
    )


# What makes a record row large, and what a list of records never shows.
RECORD_HEAVY = ("abstract", "abstract_sections", "raw", "keywords", "mesh_terms", "title_key")


@dataclass
class ConflictRow:
    record: Record
    state: str
    votes: list[RecordVote]
    votes_visible: bool


def conflicts_list(
    review: Review, stage: str, membership: Membership, *, after: int = 0, limit: int = 100
) -> list[ConflictRow]:
    """Records in conflict (and, in single screening, in the maybe queue) in id order, `limit`
    of them after record id `after` (a page; the next starts after its last id).

    Four queries whatever the number of conflicts (the fourth, the merges their records show).
    Votes are shown only to those allowed to see them (see votes_visible).
    """
    settings = stage_settings_get(review, stage)
    rows = list(
        _conflicts(review, stage)
        .filter(record_id__gt=after)
        .select_related("record")
        # Not the large fields a list never shows; every other one (the record's number too).
        .defer(*(f"record__{name}" for name in RECORD_HEAVY))
        .order_by("record_id")[:limit]
    )
    records_merged(review, [row.record for row in rows])
    votes: dict[int, list[RecordVote]] = defaultdict(list)
    for vote in (
        RecordVote.objects.filter(record_id__in=[r.record_id for r in rows], stage=stage)
        .select_related("reviewer")
        .order_by("reviewer__username")
    ):
        votes[vote.record_id].append(vote)
    result = []
    for row in rows:
        record_votes = votes[row.record_id]
        i_voted = any(v.reviewer_id == membership.user_id for v in record_votes)
        visible = votes_visible(
            settings=settings, state=row.state, membership=membership, i_voted=i_voted
        )
        result.append(ConflictRow(row.record, row.state, record_votes, visible))
    return result


def _conflicts(review: Review, stage: str) -> QuerySet[RecordStageState]:
    """The state rows of the records in conflict (or in the maybe queue) that are not duplicates:
    what the conflicts page lists and resolves."""
    duplicate = DuplicateLink.objects.filter(
        duplicate_id=OuterRef("record_id"), undone_at__isnull=True
    )
    return RecordStageState.objects.filter(
        review=review, stage=stage, state__in=[ScreenState.CONFLICT, ScreenState.MAYBE]
    ).exclude(Exists(duplicate))


@dataclass(frozen=True)
class VoteDetail:
    """One reviewer's current vote on a record in conflict, with what travels with it."""

    reviewer: str
    value: str
    reasons: list[str]
    note: str
    decided_at: datetime

    @property
    def label(self) -> str:
        return DecisionValue(self.value).label


@dataclass
class ConflictFocus:
    """One conflict as its resolver sees it, already filtered for blinding: the record, every
    current vote with its reasons, note and time, the team's notes, and the conflicts on either
    side of it (record ids, None at the ends)."""

    record: Record
    state: str
    votes_visible: bool
    votes: list[VoteDetail]
    hidden_votes: int
    notes: list[RecordNote]
    hidden_notes: int
    previous_id: int | None
    next_id: int | None
    # At full text: the record's report (its PDF or link), None without one.
    report: Report | None = None
    # Values the record shows from the duplicates merged into it, and which records they are.
    merged_from: list[MergedFrom] = field(default_factory=list)


def conflict_next_id(review: Review, stage: str, *, after: int) -> int | None:
    """The conflict to show after record `after`: the next one by record id, or the first one
    when `after` was the last (None when no conflict is left)."""
    ids = _conflicts(review, stage).order_by("record_id").values_list("record_id", flat=True)
    return ids.filter(record_id__gt=after).first() or ids.first()


def conflict_focus(
    review: Review, stage: str, record_id: int, membership: Membership, settings: StageSettings
) -> ConflictFocus | None:
    """One record in conflict at a stage as ``ConflictFocus`` (None when it is not in conflict:
    resolved, settled by a change of mind, a duplicate, or not in this review).

    A fixed number of queries whatever the record holds: its state with the record and its two
    neighbours, its events, the reasons of the votes (when one excludes), and its notes. Votes, their reasons and
    notes, and the team's notes are shown only where votes_visible allows.
    """
    ids = _conflicts(review, stage).values("record_id")
    # At full text the report (its PDF or link) comes in the same statement.
    related = ["record", "record__report"] if stage == Stage.FULL_TEXT else ["record"]
    row = (
        _conflicts(review, stage)
        .filter(record_id=record_id)
        .select_related(*related)
        # The record as the source gave it is never shown here and can be large.
        .defer("record__raw", "record__title_key")
        .annotate(
            previous_id=Subquery(ids.filter(record_id__lt=record_id).order_by("-record_id")[:1]),
            next_id=Subquery(ids.filter(record_id__gt=record_id).order_by("record_id")[:1]),
        )
        .first()
    )
    if row is None:
        return None
    events = list(
        Decision.objects.filter(record_id=record_id, stage=stage, kind=DecisionKind.VOTE)
        .order_by("created_at", "id")
        .values_list("id", "reviewer_id", "value", "note", "created_at", "reviewer__username")
    )
    pure = [Event(reviewer_id, DecisionKind.VOTE, value) for _, reviewer_id, value, *_ in events]
    standing = []
    for reviewer_id in dict.fromkeys(e.reviewer_id for e in pure):
        index = current_vote_index(pure, reviewer_id)
        if index is not None:
            standing.append(events[index])
    reasons: dict[int, list[str]] = defaultdict(list)
    if any(e[2] == DecisionValue.EXCLUDE for e in standing):
        through = Decision.reasons.through.objects.filter(
            decision_id__in=[e[0] for e in standing]
        ).order_by("exclusionreason__position", "exclusionreason_id")
        for decision_id, label in through.values_list("decision_id", "exclusionreason__label"):
            reasons[decision_id].append(label)
    i_voted = any(e[1] == membership.user_id for e in standing)
    visible = votes_visible(
        settings=settings, state=row.state, membership=membership, i_voted=i_voted
    )
    votes = [
        VoteDetail(username, value, reasons[pk], note, created_at)
        for pk, reviewer_id, value, note, created_at, username in sorted(
            standing, key=lambda e: e[5]
        )
        if visible or reviewer_id == membership.user_id
    ]
    notes = list(RecordNote.objects.filter(record_id=record_id).select_related("author"))
    shown_notes = [n for n in notes if visible or n.author_id == membership.user_id]
    report = None
    if stage == Stage.FULL_TEXT:
        try:
            report = row.record.report
        except Report.DoesNotExist:
            report = None
    (record,) = records_merged(review, [row.record])
    return ConflictFocus(
        record=record,
        report=report,
        state=row.state,
        votes_visible=visible,
        votes=votes,
        hidden_votes=len(standing) - len(votes),
        notes=shown_notes,
        hidden_notes=len(notes) - len(shown_notes),
        previous_id=row.previous_id,
        next_id=row.next_id,
        merged_from=merged_from(review, record),
    )


def conflict_resolver(review: Review, stage: str, record_id: int):
    """The latest adjudication of a record at a stage (with its reviewer), or None: who settled a
    conflict that someone else was about to resolve."""
    return (
        Decision.objects.filter(
            review=review, stage=stage, record_id=record_id, kind=DecisionKind.ADJUDICATION
        )
        .select_related("reviewer")
        .order_by("-created_at", "-id")
        .first()
    )


def resolutions_recent(review: Review, stage: str, *, limit: int = 50):
    """The latest adjudications: which record, what was decided, by whom and when."""
    decisions = list(
        Decision.objects.filter(review=review, stage=stage, kind=DecisionKind.ADJUDICATION)
        .select_related("reviewer", "record")
        .prefetch_related("reasons")
        .order_by("-created_at", "-id")[:limit]
    )
    records_merged(review, [d.record for d in decisions])
    return decisions


def record_history(review: Review, stage: str, record: Record, membership: Membership):
    """The events of one record at a stage that this member may see, oldest first.

    Their own events always; other reviewers' votes only when votes_visible allows; the
    adjudications and automation decisions (nobody's vote) always.
    """
    settings = stage_settings_get(review, stage)
    state = (
        RecordStageState.objects.filter(record=record, stage=stage)
        .values_list("state", flat=True)
        .first()
    ) or ScreenState.UNSCREENED
    i_voted = RecordVote.objects.filter(
        record=record, stage=stage, reviewer=membership.user
    ).exists()
    visible = votes_visible(settings=settings, state=state, membership=membership, i_voted=i_voted)
    events = (
        Decision.objects.filter(review=review, stage=stage, record=record)
        .select_related("reviewer")
        .prefetch_related("reasons")
        .order_by("created_at", "id")
    )
    shown = [
        e
        for e in events
        if visible or e.reviewer_id == membership.user_id or e.kind != DecisionKind.VOTE
    ]
    return state, visible, shown


def studies_for_linking(review: Review):
    return list(Study.objects.filter(review=review).order_by("label").values("id", "label"))


@dataclass(frozen=True)
class AgreementRow:
    stage: str
    stage_label: str
    reviewer_a: str
    reviewer_b: str
    n: int
    agreed: int
    percent: float | None
    kappa: float | None

    # Formatted here rather than with |floatformat, which costs a Decimal and a locale lookup per
    # number: the dashboard of a 20-reviewer review shows about 200 of these rows.
    @property
    def percent_text(self) -> str:
        return "—" if self.percent is None else f"{self.percent:.1f}%"

    @property
    def kappa_text(self) -> str:
        return "—" if self.kappa is None else f"{self.kappa:.2f}"


def agreement_table(review: Review, counts: ReviewCounts | None = None) -> list[AgreementRow]:
    """Cohen's kappa and percent agreement per stage (all pairs pooled) and per reviewer pair.

    Uses each reviewer's first vote still standing on a record (RecordVote.first_value): the
    independent judgement made before any conflict was discussed; a vote undone at once is not
    counted. Only records both reviewers screened count; adjudications never do. Read from the
    agreement cells the writes keep (screening.counts), not from every vote: pass the review's
    counts when the caller has them already.
    """
    from reviewapp.screening.agreement import pairwise_tables

    counts = counts or review_counts(review)
    reviewer_ids = {r for cells in counts.pairs.values() for pair in cells for r in pair}
    names = dict(get_user_model().objects.filter(pk__in=reviewer_ids).values_list("pk", "username"))
    rows: list[AgreementRow] = []
    for stage in Stage.values:
        pooled, pairs = pairwise_tables(counts.pairs.get(stage, {}))
        label = Stage(stage).label
        rows.append(
            AgreementRow(
                stage, label, "all pairs", "", pooled.n, pooled.agreed, pooled.percent, pooled.kappa
            )
        )
        for (a, b), result in sorted(
            pairs.items(), key=lambda kv: (names[kv[0][0]], names[kv[0][1]])
        ):
            rows.append(
                AgreementRow(
                    stage,
                    label,
                    names[a],
                    names[b],
                    result.n,
                    result.agreed,
                    result.percent,
                    result.kappa,
                )
            )
    return rows


@dataclass
class StudyFullText:
    """A report of a study that has a PDF, as the extraction page's viewer offers it."""

    report_id: int
    file_id: int
    name: str
    record_number: int | None


def study_full_texts(study) -> list[StudyFullText]:
    """The study's reports that have a PDF, each with its current upload, oldest record first."""
    reports = list(
        Report.objects.filter(study=study)
        .exclude(file="")
        .select_related("record")
        .order_by("record__number", "record_id")
    )
    current = report_files([r.pk for r in reports])
    out = []
    for report in reports:
        files = current.get(report.pk)
        if files:
            out.append(StudyFullText(report.pk, files[0].id, files[0].name, report.record.number))
    return out


def study_full_text_file(study, file_id: int) -> StudyFullText | None:
    """One upload (current or earlier) of one of the study's reports, or None."""
    version = (
        ReportFile.objects.filter(pk=file_id, report__study=study)
        .select_related("report__record")
        .first()
    )
    if version is None:
        return None
    name = version.original_filename or version.file.name.rsplit("/", 1)[-1]
    return StudyFullText(version.report_id, version.pk, name, version.report.record.number)
