"""The BCG trials extracted through the real extraction services, for the analysis tests."""

from __future__ import annotations

from reviewapp.extraction.services import extraction_form_create, extraction_save, form_version_save
from tests.conftest import membership_of
from tests.extraction.helpers import study_included
from tests.synthesis.reference import bcg


def bcg_trials_extract(review, owner, *, moderators: bool = False) -> tuple[dict[str, str], list]:
    """The 13 BCG trials (Colditz et al. 1994; tests/fixtures/reference/pooling-bcg.json) extracted
    on a form "Trial data" by one extractor, so each submitted entry is final: the allocation and
    the tuberculosis 2x2 counts, and with ``moderators`` each trial's year and latitude. Studies
    are labelled "<author> <year>". Returns the form's keys by label and (trial, study) pairs in
    the file's order."""
    me = membership_of(owner, review)
    form = extraction_form_create(membership=me, name="Trial data")
    design = [{"section": "Design", "label": "Allocation", "type": "text"}]
    if moderators:
        design += [
            {"section": "Design", "label": "Year", "type": "integer"},
            {"section": "Design", "label": "Latitude", "type": "integer"},
        ]
    form_version_save(
        membership=me,
        form=form,
        items=[*design, {"section": "Outcomes", "label": "Tuberculosis", "type": "dichotomous"}],
    )
    version = form.versions.order_by("-number").first()
    keys = {i["label"]: i["key"] for s in version.definition["sections"] for i in s["items"]}
    extracted = []
    for trial in bcg()["inputs"]["studies"]:
        study = study_included(review, owner, label=f"{trial['author']} {trial['year']}")
        values = {keys["Allocation"]: trial["alloc"]}
        if moderators:
            values[keys["Year"]] = str(trial["year"])
            values[keys["Latitude"]] = str(trial["ablat"])
        extraction_save(
            membership=me,
            form=form,
            study=study,
            raw={
                "values": values,
                "outcomes": [
                    {
                        "group": keys["Tuberculosis"],
                        "outcome": "Tuberculosis",
                        "arm1_events": str(trial["tpos"]),
                        "arm1_total": str(trial["tpos"] + trial["tneg"]),
                        "arm2_events": str(trial["cpos"]),
                        "arm2_total": str(trial["cpos"] + trial["cneg"]),
                    }
                ],
            },
            expected_revision=0,
            submit=True,
        )
        extracted.append((trial, study))
    return keys, extracted


def trials_extract(review, owner, trials) -> None:
    """Two-arm trials ((events, total) in arm 1, (events, total) in arm 2) extracted on a form
    "Trials" with one dichotomous outcome "Death" by one extractor (final data); the studies are
    labelled "Trial 001", "Trial 002"..."""
    me = membership_of(owner, review)
    form = extraction_form_create(membership=me, name="Trials")
    form_version_save(
        membership=me,
        form=form,
        items=[{"section": "Outcomes", "label": "Death", "type": "dichotomous"}],
    )
    for i, ((a, n1), (c, n2)) in enumerate(trials):
        extraction_save(
            membership=me,
            form=form,
            study=study_included(review, owner, label=f"Trial {i + 1:03d}"),
            raw={
                "outcomes": [
                    {
                        "group": "outcomes_death",
                        "outcome": "Death",
                        "arm1_events": str(a),
                        "arm1_total": str(n1),
                        "arm2_events": str(c),
                        "arm2_total": str(n2),
                    }
                ]
            },
            expected_revision=0,
            submit=True,
        )
