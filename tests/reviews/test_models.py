"""Constraints the database enforces whatever code writes to it."""

import pytest
from django.db import IntegrityError, transaction

from reviewapp.extraction.constants import ExtractionKind
from reviewapp.extraction.models import Extraction, ExtractionForm, FormVersion
from reviewapp.literature.constants import DuplicateRule
from reviewapp.literature.models import DuplicateLink, Record
from reviewapp.reviews.models import Membership
from reviewapp.screening.constants import Stage
from reviewapp.screening.models import StageSettings, Study
from tests.factories import ImportFactory, RecordFactory


def _fails(model, fields):
    """Creating `model` with `fields` is refused by the database itself."""
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(**fields)


def test_a_user_is_a_member_of_a_review_once(review, owner):
    _fails(Membership, {"review": review, "user": owner, "role": "reviewer"})


def test_a_role_outside_the_list_is_refused(review, outsider):
    _fails(Membership, {"review": review, "user": outsider, "role": "superhero"})


def test_a_stage_needs_one_or_two_reviewers(review):
    with pytest.raises(IntegrityError), transaction.atomic():
        StageSettings.objects.filter(review=review, stage=Stage.TITLE_ABSTRACT).update(
            reviewers_required=3
        )


def test_a_record_comes_from_exactly_one_search_or_import(review):
    _fails(Record, {"review": review, "title": "Orphan record"})


def test_a_search_stores_a_pmid_once(review):
    from reviewapp.literature.models import Search

    search = Search.objects.create(review=review, query="natalizumab")
    Record.objects.create(review=review, search=search, title="A", pmid="123")
    _fails(Record, {"review": review, "search": search, "title": "A again", "pmid": "123"})


def test_two_files_may_bring_the_same_pmid_as_separate_records(review):
    first = RecordFactory(review=review, pmid="123")
    second = RecordFactory(review=review, pmid="123", source_import=ImportFactory(review=review))
    assert first.pk != second.pk


def test_an_implausible_year_is_refused(review):
    source = ImportFactory(review=review)
    _fails(Record, {"review": review, "source_import": source, "title": "T", "year": 20155})


def test_a_record_cannot_duplicate_itself(review, records):
    fields = {"review": review, "duplicate": records[0], "primary": records[0], "rule": "doi"}
    _fails(DuplicateLink, fields)


def test_a_record_has_one_active_duplicate_link_but_undone_ones_stay(review, records):
    from django.utils import timezone

    a, b, c = records
    link = DuplicateLink.objects.create(
        review=review, duplicate=b, primary=a, rule=DuplicateRule.DOI
    )
    _fails(DuplicateLink, {"review": review, "duplicate": b, "primary": c, "rule": "pmid"})
    DuplicateLink.objects.filter(pk=link.pk).update(undone_at=timezone.now())
    DuplicateLink.objects.create(review=review, duplicate=b, primary=c, rule=DuplicateRule.PMID)
    assert DuplicateLink.objects.filter(duplicate=b).count() == 2


def test_a_duplicate_score_lies_between_0_and_1(review, records):
    fields = {
        "review": review,
        "duplicate": records[1],
        "primary": records[0],
        "rule": "fuzzy_title",
        "score": 1.5,
    }
    _fails(DuplicateLink, fields)


def test_extraction_keeps_one_version_per_extractor_and_one_consensus(review, reviewer):
    study = Study.objects.create(review=review, label="Clerico 2014")
    form = ExtractionForm.objects.create(review=review, name="Outcomes")
    version = FormVersion.objects.create(form=form, number=1, definition={"sections": []})
    common = {"review": review, "study": study, "form": form, "form_version": version}
    Extraction.objects.create(**common, extractor=reviewer)
    _fails(Extraction, {**common, "extractor": reviewer})
    Extraction.objects.create(**common, kind=ExtractionKind.CONSENSUS)
    _fails(Extraction, {**common, "kind": ExtractionKind.CONSENSUS})
    # A consensus has no single extractor; an individual version must have one.
    _fails(Extraction, {**common, "kind": ExtractionKind.INDIVIDUAL, "extractor": None})


def test_form_versions_are_numbered_once_from_one(review):
    form = ExtractionForm.objects.create(review=review, name="Baseline")
    FormVersion.objects.create(form=form, number=1)
    _fails(FormVersion, {"form": form, "number": 1})
    _fails(FormVersion, {"form": form, "number": 0})
