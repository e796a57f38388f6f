import pytest

from reviewapp.extraction.models import ExtractionForm
from reviewapp.extraction.services import form_version_save
from tests.conftest import membership_of
from tests.extraction.helpers import ROWS, study_included


@pytest.fixture
def study(review, owner):
    return study_included(review, owner, label="Prosperini 2019")


@pytest.fixture
def dual_form(review, owner):
    form = ExtractionForm.objects.create(review=review, name="Outcomes", extractors_required=2)
    form_version_save(membership=membership_of(owner, review), form=form, items=ROWS)
    return form


@pytest.fixture
def single_form(review, owner):
    form = ExtractionForm.objects.create(review=review, name="Characteristics")
    form_version_save(membership=membership_of(owner, review), form=form, items=ROWS)
    return form
