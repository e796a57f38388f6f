"""Forms are versioned; extractors work independently; the consensus is final and attributed."""

import pytest

from reviewapp.core.errors import ServiceError
from reviewapp.extraction.constants import ExtractionKind
from reviewapp.extraction.forms import builder_initial
from reviewapp.extraction.models import Extraction, ExtractionRevision
from reviewapp.extraction.services import (
    EntryInvalid,
    consensus_save,
    extraction_form_create,
    extraction_save,
    form_version_save,
)
from reviewapp.screening.models import Study
from tests.conftest import membership_of
from tests.extraction.helpers import ROWS, entry_sample


def _save(user, review, form, study, raw=None, revision=0, submit=False):
    return extraction_save(
        membership=membership_of(user, review),
        form=form,
        study=study,
        raw=raw or entry_sample(),
        expected_revision=revision,
        submit=submit,
    )


# --- forms and versions


def test_an_unchanged_form_makes_no_new_version(review, owner, dual_form):
    rows = builder_initial(dual_form.versions.get().definition)
    version, created = form_version_save(
        membership=membership_of(owner, review), form=dual_form, items=rows
    )
    assert (version.number, created) == (1, False)


def test_a_changed_form_makes_a_new_version_and_old_entries_keep_theirs(
    review, owner, reviewer, dual_form, study
):
    old = _save(reviewer, review, dual_form, study, submit=True)
    rows = builder_initial(dual_form.versions.get(number=1).definition)
    rows = [r for r in rows if r["label"] != "Notes"]  # remove a field
    rows.append(
        {"section": "Participants", "label": "Country", "type": "text"}
    )  # same label as another
    version, created = form_version_save(
        membership=membership_of(owner, review), form=dual_form, items=rows
    )
    assert (version.number, created) == (2, True)
    old.refresh_from_db()
    assert old.form_version.number == 1
    assert old.data["values"]["participants_notes"] == "Multicentre."
    keys = [i["key"] for s in version.definition["sections"] for i in s["items"]]
    assert "participants_country" in keys and "study_design_country" in keys


def test_versions_are_never_edited(review, owner, dual_form):
    form_version_save(
        membership=membership_of(owner, review),
        form=dual_form,
        items=ROWS + [{"section": "Extra", "label": "Funding", "type": "text"}],
    )
    assert (
        dual_form.versions.get(number=1).definition != dual_form.versions.get(number=2).definition
    )
    assert [
        i["key"]
        for s in dual_form.versions.get(number=1).definition["sections"]
        for i in s["items"]
    ][0] == "study_design_country"


def test_a_reviewer_cannot_build_forms(review, reviewer):
    with pytest.raises(Exception, match="does not allow"):
        extraction_form_create(membership=membership_of(reviewer, review), name="Mine")


def test_a_broken_form_is_refused_with_the_reason(review, owner, dual_form):
    with pytest.raises(ServiceError, match="a choice field needs at least two choices"):
        form_version_save(
            membership=membership_of(owner, review),
            form=dual_form,
            items=[{"section": "A", "label": "Pick", "type": "single_choice", "choices": "one"}],
        )


# --- entries


def test_a_draft_skips_required_fields_but_a_submission_does_not(
    review, reviewer, dual_form, study
):
    draft = _save(reviewer, review, dual_form, study, raw={"values": {"participants_notes": "x"}})
    assert draft.submitted_at is None
    with pytest.raises(EntryInvalid) as caught:
        _save(reviewer, review, dual_form, study, raw={"values": {}}, revision=1, submit=True)
    assert caught.value.errors == {
        "study_design_country": "Country is required.",
        "study_design_design": "Design is required.",
    }


def test_every_save_appends_a_revision(review, reviewer, dual_form, study):
    first = _save(reviewer, review, dual_form, study, raw={"values": {"participants_notes": "a"}})
    second = _save(reviewer, review, dual_form, study, revision=1, submit=True)
    assert first.pk == second.pk and second.revision == 2
    revisions = ExtractionRevision.objects.filter(extraction=second).order_by("number")
    assert [r.number for r in revisions] == [1, 2]
    assert revisions[0].data["values"] == {"participants_notes": "a"}
    assert revisions[1].data["values"]["study_design_country"] == "Italy"


def test_a_save_from_a_stale_page_is_refused_not_applied(review, reviewer, dual_form, study):
    _save(reviewer, review, dual_form, study, raw={"values": {"participants_notes": "tab one"}})
    _save(
        reviewer,
        review,
        dual_form,
        study,
        raw={"values": {"participants_notes": "tab two"}},
        revision=1,
    )
    with pytest.raises(
        ServiceError, match=r"saved by rita \(revision 2\) after you opened it \(revision 1\)"
    ):
        _save(
            reviewer,
            review,
            dual_form,
            study,
            raw={"values": {"participants_notes": "stale"}},
            revision=1,
        )
    extraction = Extraction.objects.get()
    assert extraction.data["values"]["participants_notes"] == "tab two"


def test_a_submitted_entry_is_locked(review, reviewer, dual_form, study):
    _save(reviewer, review, dual_form, study, submit=True)
    with pytest.raises(ServiceError, match="locked"):
        _save(reviewer, review, dual_form, study, revision=1)


def test_a_third_extractor_is_turned_away(review, owner, reviewer, reviewer2, dual_form, study):
    _save(reviewer, review, dual_form, study)
    _save(reviewer2, review, dual_form, study)
    with pytest.raises(ServiceError, match=r"already has its 2 extractors \(ravi, rita\)"):
        _save(owner, review, dual_form, study)


def test_an_analyst_cannot_extract(review, analyst, dual_form, study):
    with pytest.raises(Exception, match="does not allow"):
        _save(analyst, review, dual_form, study)


def test_a_study_not_included_at_full_text_has_nothing_to_extract(review, reviewer, dual_form):
    other = Study.objects.create(review=review, label="Excluded study")
    with pytest.raises(ServiceError, match="is not included at full text"):
        _save(reviewer, review, dual_form, other)


def test_an_existing_entry_keeps_its_version_after_the_form_changes(
    review, owner, reviewer, dual_form, study
):
    _save(reviewer, review, dual_form, study, raw={"values": {"participants_notes": "v1"}})
    form_version_save(
        membership=membership_of(owner, review),
        form=dual_form,
        items=ROWS + [{"section": "Extra", "label": "Funding", "type": "text"}],
    )
    again = _save(reviewer, review, dual_form, study, revision=1)
    assert again.form_version.number == 1


# --- consensus


def test_the_consensus_waits_for_both_submissions(review, reviewer, reviewer2, dual_form, study):
    _save(reviewer, review, dual_form, study, submit=True)
    _save(reviewer2, review, dual_form, study)
    with pytest.raises(ServiceError, match="waits for 2 submitted entries; 1 is submitted so far"):
        consensus_save(
            membership=membership_of(reviewer, review),
            form=dual_form,
            study=study,
            raw=entry_sample(),
            expected_revision=0,
        )


def test_the_consensus_is_saved_as_final_with_who_decided(
    review, reviewer, reviewer2, dual_form, study
):
    _save(reviewer, review, dual_form, study, submit=True)
    _save(
        reviewer2,
        review,
        dual_form,
        study,
        raw=entry_sample(participants_number="118"),
        submit=True,
    )
    consensus = consensus_save(
        membership=membership_of(reviewer2, review),
        form=dual_form,
        study=study,
        raw=entry_sample(participants_number="119"),
        expected_revision=0,
    )
    assert consensus.kind == ExtractionKind.CONSENSUS
    assert consensus.extractor is None
    assert consensus.decided_by == reviewer2
    assert consensus.data["values"]["participants_number"] == 119
    assert consensus.revisions.count() == 1
    # Both individual entries stay as they were.
    assert sorted(
        e.data["values"]["participants_number"]
        for e in Extraction.objects.filter(kind=ExtractionKind.INDIVIDUAL)
    ) == [118, 120]


def test_only_the_extractors_or_an_adjudicator_may_decide(
    review, owner, reviewer, reviewer2, review_admin, dual_form, study
):
    from tests.factories import MembershipFactory, UserFactory

    _save(reviewer, review, dual_form, study, submit=True)
    _save(reviewer2, review, dual_form, study, submit=True)
    third = MembershipFactory(review=review, user=UserFactory(username="tara"), role="reviewer")
    with pytest.raises(ServiceError, match="Only this study's extractors"):
        consensus_save(
            membership=third, form=dual_form, study=study, raw=entry_sample(), expected_revision=0
        )
    consensus = consensus_save(
        membership=membership_of(review_admin, review),
        form=dual_form,
        study=study,
        raw=entry_sample(),
        expected_revision=0,
    )
    assert consensus.decided_by == review_admin


def test_a_stale_consensus_is_refused(review, reviewer, reviewer2, dual_form, study):
    _save(reviewer, review, dual_form, study, submit=True)
    _save(reviewer2, review, dual_form, study, submit=True)
    kwargs = {"form": dual_form, "study": study, "raw": entry_sample(), "expected_revision": 0}
    consensus_save(membership=membership_of(reviewer, review), **kwargs)
    with pytest.raises(ServiceError, match="after you opened it"):
        consensus_save(membership=membership_of(reviewer2, review), **kwargs)
