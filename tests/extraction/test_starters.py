"""The starter forms are held to the same schema as forms users build, and save as version 1."""

import pytest

from reviewapp.extraction.builder import draft_from_items, draft_items
from reviewapp.extraction.models import ExtractionForm
from reviewapp.extraction.schema import definition_build, definition_columns
from reviewapp.extraction.services import form_version_save
from reviewapp.extraction.starters import STARTERS
from tests.conftest import membership_of


@pytest.mark.parametrize("slug", STARTERS)
def test_each_starter_is_a_valid_definition(slug):
    definition, errors = definition_build(STARTERS[slug]["items"])
    assert errors == []
    assert len(definition_columns(definition)) >= len(STARTERS[slug]["items"])


@pytest.mark.parametrize("slug", STARTERS)
def test_each_starter_passes_the_builder_as_a_user_would_save_it(slug):
    rows, problems = draft_items(draft_from_items(STARTERS[slug]["items"]))
    assert problems == []
    assert [r["label"] for r in rows] == [i["label"] for i in STARTERS[slug]["items"]]


@pytest.mark.django_db
@pytest.mark.parametrize("slug", STARTERS)
def test_each_starter_saves_as_a_form_version(slug, review, owner):
    form = ExtractionForm.objects.create(review=review, name=slug)
    version, created = form_version_save(
        membership=membership_of(owner, review), form=form, items=STARTERS[slug]["items"]
    )
    assert created and version.number == 1


def test_the_rct_starter_has_arms_counts_per_arm_and_an_estimate_with_its_measure():
    definition, _ = definition_build(STARTERS["rct-outcomes"]["items"])
    types = {item["type"]: item for s in definition["sections"] for item in s["items"]}
    assert {"dichotomous", "continuous", "estimate", "integer"} <= set(types)
    assert types["estimate"]["measure"] == "RR"


def test_the_cohort_starter_covers_design_to_outcome():
    labels = {i["label"] for i in STARTERS["cohort-characteristics"]["items"]}
    for wanted in ("Design", "Country", "Participants (n)", "Age (years)", "Women (%)"):
        assert wanted in labels
    assert {"Follow-up (months)", "Exposure definition", "Outcome definition"} <= labels
