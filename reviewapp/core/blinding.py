"""Blinding: whose screening votes and extraction entries a member may see. The one rule.

Every reader asks this module (in the spirit of zulip's ``access_*`` helpers): the screening page
and its partials, the record history, the conflicts page, the API, the downloads and the exports
the worker writes (with the membership of the member who asked for them). No reader keeps a copy
of the rule; membership itself (outsiders get a 404) is ``reviewapp.core.permissions``.

Screening votes (and what travels with a vote: its reasons and note, and the record's team
notes on the screening pages):

* A member who has a vote still **due** on a record never sees the others' votes on it until
  theirs is in, whatever their role: owners and admins included. A vote is due from a member who
  may screen, at a blinded stage, on a record that still needs votes (not screened yet, or waiting
  for another vote: fewer votes than the stage requires, and not settled by an adjudication or a
  stopping rule) when they have not voted on it. Once every vote the stage needs is in (agreement
  or conflict) no vote is due from anyone.
* Adjudicators (owners, admins and designated adjudicators) see every vote on the records where
  they have no vote due; analysts, who never vote, see every vote.
* Reviewers see the others' votes on a record once they have voted on it and every vote is in
  (as on the screening page: the conflict is then theirs to discuss).
* At a stage that is not blinded every member sees every vote.
* Everyone sees their own votes, and the adjudications and stopping-rule exclusions: nobody's
  vote, they settle the record, so no vote is due on it after them.

Extraction entries (dual extraction, a form with two extractors per study):

* An extraction is **due** from a member who may extract, on a study of a two-extractor form,
  while their own entry there is a draft, or while they have none and the study still has a free
  extractor place. Such a member sees no other extractor's entry of that study, whatever their
  role, until theirs is submitted.
* Otherwise everyone sees their own entries and the consensus; adjudicators and analysts every
  entry (drafts included); reviewers another extractor's entry once both it and their own are
  submitted.

Each rule is written once, as a Python predicate on one record's (or one entry's) facts, for the
readers that already hold the rows (the screening page must not add a query). Bulk readers (a
download of 100,000 records, the API, the worker's exports) get the same predicate as a queryset:
``_derived_q`` enumerates the predicate's few inputs and turns the combinations it allows into
SQL conditions, so the SQL cannot drift from the predicate (tests/core/test_blinding_rule.py
checks both agree, row by row, for every role and case).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db.models import Count, Exists, F, FilteredRelation, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.db.models.lookups import LessThan

from reviewapp.extraction.constants import ExtractionKind
from reviewapp.extraction.models import Extraction, ExtractionForm
from reviewapp.reviews.constants import Capability, Role
from reviewapp.reviews.models import Membership
from reviewapp.screening.constants import DecisionKind, ScreenState, Stage
from reviewapp.screening.models import Decision, StageSettings
from reviewapp.screening.rules import ALL_VOTES_IN


@dataclass(frozen=True)
class Reader:
    """What the rule needs to know about a member: who they are and what their role allows."""

    user_id: int
    may_screen: bool
    may_extract: bool
    # Adjudicators and analysts: everything that their own due work does not hide.
    sees_all: bool


def reader_of(membership: Membership) -> Reader:
    return Reader(
        user_id=membership.user_id,
        may_screen=membership.can(Capability.SCREEN),
        may_extract=membership.can(Capability.EXTRACT),
        sees_all=membership.can(Capability.ADJUDICATE) or membership.role == Role.ANALYST,
    )


# --- screening votes ----------------------------------------------------------------------------


def vote_due(reader: Reader, *, blinded: bool, state: str, i_voted: bool) -> bool:
    """Whether this member owes a vote on a record (in the state given) at a blinded stage."""
    return blinded and reader.may_screen and not i_voted and state not in ALL_VOTES_IN


def others_votes_visible(reader: Reader, *, blinded: bool, state: str, i_voted: bool) -> bool:
    """Whether this member may see the other members' votes on one record at one stage (with their
    reasons and notes). ``state`` is the record's state at the stage, ``i_voted`` whether the
    member has a current vote on it."""
    if not blinded:
        return True
    if vote_due(reader, blinded=blinded, state=state, i_voted=i_voted):
        return False
    if reader.sees_all:
        return True
    return i_voted and state in ALL_VOTES_IN


def stages_blinded(review_id: int) -> dict[str, bool]:
    """Whether each stage of a review is blinded (a stage without settings counts as blinded)."""
    stored = dict(StageSettings.objects.filter(review_id=review_id).values_list("stage", "blinded"))
    return {stage: stored.get(stage, True) for stage in Stage.values}


def decisions_visible(membership: Membership) -> QuerySet[Decision]:
    """The decision events of the member's review this member may read.

    The record's state and the member's own vote at each decision's stage come in by two left
    joins (one state row per record and stage, at most one vote of the member's), so the rule's
    conditions are plain column tests: a download of every decision of a 100,000-record review
    costs one pass over the state rows, with no subquery per decision.
    """
    reader = reader_of(membership)
    blinded = stages_blinded(membership.review_id)
    derived = _derived_q(
        lambda stage, i_voted, state: others_votes_visible(
            reader, blinded=blinded[stage], state=state, i_voted=i_voted
        ),
        [
            (Stage.values, lambda stages: Q(stage__in=sorted(stages))),
            ([False, True], lambda voted: Q(blinding_my_vote__id__isnull=True not in voted)),
            (ScreenState.values, _state_in),
        ],
    )
    decisions = Decision.objects.filter(review_id=membership.review_id)
    if derived is EVERYTHING:
        return decisions
    return decisions.annotate(
        blinding_state=FilteredRelation(
            "record__stage_states", condition=Q(record__stage_states__stage=F("stage"))
        ),
        blinding_my_vote=FilteredRelation(
            "record__current_votes",
            condition=Q(
                record__current_votes__stage=F("stage"),
                record__current_votes__reviewer_id=reader.user_id,
            ),
        ),
    ).filter(Q(reviewer_id=reader.user_id) | ~Q(kind=DecisionKind.VOTE) | derived)


def _state_in(states: frozenset) -> Q:
    """The decision's record is in one of these states at the decision's stage."""
    condition = Q(blinding_state__state__in=sorted(states))
    if ScreenState.UNSCREENED in states:
        # A record without a state row is unscreened.
        condition |= Q(blinding_state__id__isnull=True)
    return condition


# --- extraction entries -------------------------------------------------------------------------

# The member's own individual entry on the study and form of an entry.
NONE, DRAFT, SUBMITTED = "none", "draft", "submitted"


def extraction_due(reader: Reader, *, required: int, mine: str, free_place: bool) -> bool:
    """Whether this member owes an entry on a study of a form needing ``required`` extractors.

    ``mine`` is their own entry there (none, draft, submitted); ``free_place`` whether the study
    has fewer individual entries than the form requires.
    """
    if required < 2 or not reader.may_extract or mine == SUBMITTED:
        return False
    return mine == DRAFT or free_place


def entry_visible(
    reader: Reader, *, required: int, submitted: bool, mine: str, free_place: bool
) -> bool:
    """Whether this member may see another extractor's individual entry (``submitted`` or a
    draft) of a study; their own entries and the consensus are always visible."""
    if extraction_due(reader, required=required, mine=mine, free_place=free_place):
        return False
    if reader.sees_all:
        return True
    return mine == SUBMITTED and submitted


def entries_visible(membership: Membership, entries: Sequence[Extraction], required: int) -> list:
    """Which of one study's entries on one form (all of them, loaded) this member may see."""
    reader = reader_of(membership)
    individual = [e for e in entries if e.kind == ExtractionKind.INDIVIDUAL]
    own = next((e for e in individual if e.extractor_id == reader.user_id), None)
    mine = NONE if own is None else SUBMITTED if own.submitted_at else DRAFT
    free_place = len(individual) < required
    return [
        e
        for e in entries
        if e.kind == ExtractionKind.CONSENSUS
        or e.extractor_id == reader.user_id
        or entry_visible(
            reader,
            required=required,
            submitted=e.submitted_at is not None,
            mine=mine,
            free_place=free_place,
        )
    ]


def extractions_visible(membership: Membership) -> QuerySet[Extraction]:
    """The extraction entries of the member's review this member may read.

    Extraction tables are small (one entry per extractor, study and form), so the member's own
    entry and the number of entries per study come in as correlated subqueries.
    """
    reader = reader_of(membership)
    same_place = Extraction.objects.filter(
        study=OuterRef("study"), form=OuterRef("form"), kind=ExtractionKind.INDIVIDUAL
    )
    own = same_place.filter(extractor_id=reader.user_id)
    mine_q = {
        NONE: Q(~Exists(own)),
        DRAFT: Q(Exists(own.filter(submitted_at__isnull=True))),
        SUBMITTED: Q(Exists(own.filter(submitted_at__isnull=False))),
    }
    count = Coalesce(
        Subquery(same_place.order_by().values("study").annotate(n=Count("pk")).values("n")[:1]),
        0,
    )
    free_place = Q(LessThan(count, F("form__extractors_required")))
    derived = _derived_q(
        lambda required, mine, free, submitted: entry_visible(
            reader, required=required, submitted=submitted, mine=mine, free_place=free
        ),
        [
            ([1, 2], lambda values: Q(form__extractors_required__in=sorted(values))),
            ([NONE, DRAFT, SUBMITTED], lambda values: _any_of([mine_q[v] for v in values])),
            ([False, True], lambda values: free_place if True in values else ~free_place),
            ([False, True], lambda values: Q(submitted_at__isnull=True not in values)),
        ],
    )
    entries = Extraction.objects.filter(review_id=membership.review_id)
    if derived is EVERYTHING:
        return entries
    return entries.filter(
        Q(kind=ExtractionKind.CONSENSUS) | Q(extractor_id=reader.user_id) | derived
    )


# --- annotations of full texts ---------------------------------------------------------------

# Annotations (reviewapp.screening.models.Annotation) travel with extraction: a passage marked as
# the source of a value tells what was extracted, and a comment on a study's PDF may as well.
# So another member's annotation is shown only where their entry would be: one linked to a
# field of a two-extractor form follows entry_visible for that form; a comment (linked to no
# field) follows it for every two-extractor form of the review, since it could bear on any.
# Reports not linked to a study have no extraction to protect. One's own are always shown.


def annotations_visible(
    membership: Membership, annotations: Sequence, study_id: int | None
) -> list:
    """Which of these annotations (all of one study's reports, loaded) this member may see."""
    reader = reader_of(membership)
    others = [a for a in annotations if a.author_id != reader.user_id]
    if not others or study_id is None:
        return list(annotations)
    dual = dict(
        ExtractionForm.objects.filter(
            review_id=membership.review_id, extractors_required__gte=2
        ).values_list("pk", "extractors_required")
    )
    if not dual:
        return list(annotations)
    entries: dict[int, dict[int, bool]] = {form_id: {} for form_id in dual}
    for form_id, extractor_id, submitted_at in Extraction.objects.filter(
        study_id=study_id, form_id__in=list(dual), kind=ExtractionKind.INDIVIDUAL
    ).values_list("form_id", "extractor_id", "submitted_at"):
        entries[form_id][extractor_id] = submitted_at is not None

    def visible_on(form_id: int, author_id: int) -> bool:
        if form_id not in dual:
            return True
        on_form = entries[form_id]
        own = on_form.get(reader.user_id)
        mine = NONE if own is None else SUBMITTED if own else DRAFT
        return entry_visible(
            reader,
            required=dual[form_id],
            submitted=on_form.get(author_id, False),
            mine=mine,
            free_place=len(on_form) < dual[form_id],
        )

    return [
        a
        for a in annotations
        if a.author_id == reader.user_id
        or all(visible_on(f, a.author_id) for f in ([a.form_id] if a.form_id else dual))
    ]


# --- from a predicate to a filter ---------------------------------------------------------------

# An input of a predicate: its possible values, and the filter matching rows whose value for this
# input is one of a given set of them (never asked for all of them, nor for none).
Input = tuple[Sequence, Callable[[frozenset], Q]]
# Matching no row, and every row (an empty Q() would vanish from an OR instead of winning it).
NOTHING = Q(pk__in=[])
EVERYTHING = ~NOTHING


def _any_of(conditions: list[Q]) -> Q:
    result = conditions[0]
    for condition in conditions[1:]:
        result |= condition
    return result


def _outcomes(predicate: Callable[..., bool], inputs: Sequence[Input], fixed: tuple) -> tuple:
    """The predicate's value for every combination of the remaining inputs."""
    return tuple(
        predicate(*fixed, *combination)
        for combination in itertools.product(*(values for values, _ in inputs))
    )


def _derived_q(predicate: Callable[..., bool], inputs: Sequence[Input], fixed: tuple = ()) -> Q:
    """A filter true exactly for the rows whose inputs the predicate allows.

    The first input's values are grouped by what the predicate then does with the remaining
    ones: a group where it allows everything needs no further condition, one where it allows
    nothing is left out, and an input that changes nothing adds no condition at all.
    """
    (values, matching), rest = inputs[0], inputs[1:]
    groups: dict[tuple, list] = {}
    for value in values:
        groups.setdefault(_outcomes(predicate, rest, (*fixed, value)), []).append(value)
    parts = []
    for outcomes, group in groups.items():
        if not any(outcomes):
            continue
        here = EVERYTHING if all(outcomes) else _derived_q(predicate, rest, (*fixed, group[0]))
        if len(group) < len(values):
            condition = matching(frozenset(group))
            here = condition if here is EVERYTHING else condition & here
        if here is EVERYTHING:
            return EVERYTHING
        parts.append(here)
    return _any_of(parts) if parts else NOTHING
