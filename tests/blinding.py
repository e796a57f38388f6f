"""The blinding cast and scenes shared by the per-reader blinding tests.

A pytest plugin of tests/conftest.py, so its fixtures serve every test module.
Each scene leaves marks that are unique to the hidden work, so a reader that leaks it in any form
(the vote, its reason, its note, the team note, a column named after its reviewer) is caught.
"""

import pytest

from reviewapp.extraction.models import Extraction
from reviewapp.extraction.services import extraction_save
from reviewapp.reviews.constants import Role
from reviewapp.screening.models import ExclusionReason, RecordNote
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of
from tests.extraction.helpers import entry_sample
from tests.factories import MembershipFactory, RecordFactory, UserFactory

DECISION_NOTE = "ritas-decision-note-q7"
REASON = "ritas-reason-q7"
TEAM_NOTE = "ritas-team-note-q7"
# What a reader shows of rita's vote, depending on the reader.
VOTE_MARKS = (DECISION_NOTE, REASON, TEAM_NOTE, "ta_vote_rita", "rita: <strong")
ENTRY_MARK = "ritas-entry-q7"

# Members who may screen yet see everything where they owe no vote.
SCREENERS_WHO_ADJUDICATE = ["owner", "review_admin", "adjudicator"]


@pytest.fixture
def adjudicator(review):
    """A reviewer designated to resolve conflicts."""
    return MembershipFactory(
        review=review, user=UserFactory(username="judy"), role=Role.REVIEWER, is_adjudicator=True
    ).user


@pytest.fixture
def ritas_vote(review, reviewer):
    """Dual, blinded title/abstract screening: rita excluded a record, with a reason and a
    note, and left a team note on it; every other screener's vote there is still due."""
    record = RecordFactory(review=review, title="A record under blinded screening")
    reason = ExclusionReason.objects.create(review=review, label=REASON, position=99)
    decision_record(
        membership=membership_of(reviewer, review),
        record=record,
        stage="ta",
        value="exclude",
        reason_ids=[reason.pk],
        note=DECISION_NOTE,
    )
    RecordNote.objects.create(record=record, author=reviewer, text=TEAM_NOTE)
    # Retired, so the screening page's reason buttons do not carry its label.
    ExclusionReason.objects.filter(pk=reason.pk).update(active=False)
    return record


def vote(user, review, record, value="include"):
    decision_record(membership=membership_of(user, review), record=record, stage="ta", value=value)


def shows_ritas_vote(text: str) -> bool:
    return any(mark in text for mark in VOTE_MARKS)


def extract(user, review, form, study, *, submit, note="", revision=0) -> Extraction:
    return extraction_save(
        membership=membership_of(user, review),
        form=form,
        study=study,
        raw=entry_sample(participants_notes=note or f"{user.username}'s entry"),
        expected_revision=revision,
        submit=submit,
    )


@pytest.fixture
def ritas_entry(review, reviewer, dual_form, study):
    """Dual extraction: rita submitted her entry of the study; the second place is free."""
    return extract(reviewer, review, dual_form, study, submit=True, note=ENTRY_MARK)
