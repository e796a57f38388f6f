"""Included studies and a meta-analysis form for the extraction, download and API tests."""

from reviewapp.extraction.schema import definition_build
from reviewapp.screening.constants import Stage
from reviewapp.screening.models import Report, StageSettings, Study
from reviewapp.screening.services import decision_record
from tests.factories import RecordFactory


def single_screening(review):
    StageSettings.objects.filter(review=review).update(reviewers_required=1)


def study_included(review, user, label=None, record=None):
    """A study whose report is included at full text, screened by ``user`` alone."""
    membership = user.memberships.get(review=review)
    single_screening(review)
    record = record or RecordFactory(review=review)
    decision_record(
        membership=membership, record=record, stage=Stage.TITLE_ABSTRACT, value="include"
    )
    study = Study.objects.create(review=review, label=label or f"Study of record {record.pk}")
    Report.objects.create(review=review, record=record, study=study)
    decision_record(membership=membership, record=record, stage=Stage.FULL_TEXT, value="include")
    return study


ROWS = [
    {"section": "Study design", "label": "Country", "type": "text", "required": True},
    {
        "section": "Study design",
        "label": "Design",
        "type": "single_choice",
        "choices": ["RCT", "Cohort", "Case-control"],
        "required": True,
    },
    {"section": "Participants", "label": "Mean age", "type": "decimal", "min": 0, "max": 120},
    {"section": "Participants", "label": "Number", "type": "integer", "min": 1},
    {"section": "Participants", "label": "Women only", "type": "yes_no"},
    {
        "section": "Participants",
        "label": "Subtypes",
        "type": "multiple_choice",
        "choices": ["RRMS", "SPMS", "PPMS"],
    },
    {"section": "Participants", "label": "Notes", "type": "long_text"},
    {"section": "Participants", "label": "Recruited from", "type": "date"},
    {"section": "Outcomes", "label": "Relapse", "type": "dichotomous"},
    {"section": "Outcomes", "label": "EDSS change", "type": "continuous", "units": "points"},
    {"section": "Outcomes", "label": "Rebound", "type": "proportion"},
    {"section": "Outcomes", "label": "Time to relapse", "type": "estimate", "measure": "HR"},
]


def definition_sample():
    definition, errors = definition_build(ROWS)
    assert not errors, errors
    return definition


def entry_sample(**overrides):
    """A complete entry for ``definition_sample``'s form, as a browser would send it."""
    values = {
        "study_design_country": "Italy",
        "study_design_design": "Cohort",
        "participants_mean_age": "38.5",
        "participants_number": "120",
        "participants_women_only": "no",
        "participants_subtypes": ["RRMS"],
        "participants_notes": "Multicentre.",
        "participants_recruited_from": "2012-03-01",
    }
    values.update(overrides)
    return {
        "values": values,
        "outcomes": [
            {
                "group": "outcomes_relapse",
                "outcome": "Relapse",
                "time_point": "6 months",
                "arm1_label": "Stopped",
                "arm1_events": "12",
                "arm1_total": "40",
                "arm2_label": "Continued",
                "arm2_events": "3",
                "arm2_total": "38",
            },
            {
                "group": "outcomes_relapse",
                "outcome": "Relapse",
                "time_point": "12 months",
                "arm1_events": "18",
                "arm1_total": "40",
                "arm2_events": "5",
                "arm2_total": "38",
            },
            {
                "group": "outcomes_time_to_relapse",
                "time_point": "24 months",
                "estimate": "2.1",
                "ci_lower": "1.3",
                "ci_upper": "3.4",
            },
        ],
    }


def dual_form_submitted(review, owner, extractors, *, label="Prosperini 2019"):
    """A two-extractor form on ROWS and one included study, each of `extractors` having submitted
    ``entry_sample()`` for it: a study whose consensus is due. Returns (form, study)."""
    from reviewapp.extraction.models import ExtractionForm
    from reviewapp.extraction.services import form_version_save

    form = ExtractionForm.objects.create(review=review, name="Outcomes", extractors_required=2)
    form_version_save(membership=owner.memberships.get(review=review), form=form, items=ROWS)
    study = study_included(review, owner, label=label)
    for user in extractors:
        extraction_submit(user, review, form, study)
    return form, study


def extraction_submit(user, review, form, study, raw=None):
    """`user` submits an entry (``entry_sample()`` unless `raw` is given) for `study` on `form`."""
    from reviewapp.extraction.services import extraction_save

    return extraction_save(
        membership=user.memberships.get(review=review),
        form=form,
        study=study,
        raw=raw or entry_sample(),
        expected_revision=0,
        submit=True,
    )
