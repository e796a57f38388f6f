"""The demo review's worked example: screening, full texts, extraction, risk of bias (RoB 2) and
one analysis, with a subgroup and a sensitivity analysis added to it.

Everything goes through the same services a team uses in the browser, so the demo shows real
state: a PRISMA flow of 205 records identified and 35 reports included (the ends of Prosperini et
al. 2019's flow), with the steps between illustrative, and a random-effects pooling of six
studies with 1,183 patients whose numbers are illustrative, not the published study's.
"""

from __future__ import annotations

from typing import Any

from reviewapp.extraction.models import ExtractionForm
from reviewapp.extraction.services import (
    consensus_save,
    extraction_form_create,
    extraction_save,
    form_version_save,
)
from reviewapp.literature.models import Record
from reviewapp.reviews.models import Membership, Review
from reviewapp.riskofbias.services import rob_form_create
from reviewapp.screening.constants import RetrievalStatus, Stage
from reviewapp.screening.fulltext import report_status_set, report_study_set
from reviewapp.screening.models import Decision, ExclusionReason, Report, StageSettings
from reviewapp.screening.services import conflict_resolve, decision_record
from reviewapp.synthesis.models import Analysis
from reviewapp.synthesis.selectors import outcome_choices
from reviewapp.synthesis.services import analysis_create, analysis_run

RELEVANT_MESH = "Multiple Sclerosis, Relapsing-Remitting"
NOT_RETRIEVED = 2
FT_EXCLUDED = 11  # 48 sought - 2 not retrieved - 11 excluded = 35 reports included
# Reports 1 and 2 of the included ones are later papers of the studies of reports 3 and 4.
SECOND_REPORTS = 2

FORM_NAME = "Relapse after stopping natalizumab (demo)"
FORM_ITEMS: list[dict[str, Any]] = [
    {"section": "Study", "label": "Country", "type": "text", "required": True},
    {
        "section": "Study",
        "label": "Design",
        "type": "single_choice",
        "choices": ["Prospective cohort", "Retrospective cohort", "Registry"],
        "required": True,
    },
    {
        "section": "Study",
        "label": "Patients who stopped natalizumab",
        "type": "integer",
        "min": 1,
        "required": True,
    },
    {
        "section": "Outcomes",
        "label": "Relapse with high disease activity before natalizumab",
        "type": "estimate",
        "measure": "OR",
        "help": "Odds ratio of a relapse within 12 months of the last infusion",
    },
]
# Illustrative numbers: six studies, 1,183 patients in all (as the published pooling had).
EXTRACTED = [
    ("Italy", "Prospective cohort", 282, "2.10", "1.30", "3.40"),
    ("Denmark", "Registry", 375, "1.60", "1.10", "2.33"),
    ("Germany", "Retrospective cohort", 148, "2.90", "1.40", "6.01"),
    ("France", "Retrospective cohort", 132, "1.20", "0.62", "2.32"),
    ("Canada", "Prospective cohort", 120, "3.40", "1.50", "7.71"),
    ("Spain", "Retrospective cohort", 126, "1.85", "0.90", "3.80"),
]
OUTCOME = "Relapse with high disease activity before natalizumab"


def _relevant(record: Record) -> bool:
    return RELEVANT_MESH in (record.mesh_terms or [])


def demo_screen(review: Review, owner: Membership, second: Membership) -> None:
    """Dual, blinded title/abstract screening with two conflicts resolved, then full texts."""
    records = list(Record.objects.filter(review=review).order_by("id"))
    relevant = [r for r in records if _relevant(r)]
    relevant_ids = {r.pk for r in relevant}
    # The two reviewers disagree on the first two relevant records; the owner resolves both.
    disputed = {relevant[0].pk, relevant[1].pk}
    for record in records:
        value = "include" if record.pk in relevant_ids else "exclude"
        decision_record(membership=owner, record=record, stage=Stage.TITLE_ABSTRACT, value=value)
        second_value = "exclude" if record.pk in disputed else value
        decision_record(
            membership=second, record=record, stage=Stage.TITLE_ABSTRACT, value=second_value
        )
    for record in relevant:
        if record.pk in disputed:
            conflict_resolve(
                membership=owner,
                record=record,
                stage=Stage.TITLE_ABSTRACT,
                value="include",
                note="Demo: reports relapses after the last infusion, so it meets the criteria.",
            )

    # Full texts: single screening by the owner, as many teams do at this stage.
    StageSettings.objects.filter(review=review, stage=Stage.FULL_TEXT).update(reviewers_required=1)
    for record in relevant[:NOT_RETRIEVED]:
        report_status_set(membership=owner, record=record, status=RetrievalStatus.NOT_RETRIEVED)
    reasons = list(ExclusionReason.objects.filter(review=review, active=True).order_by("position"))
    assessed = relevant[NOT_RETRIEVED:]
    for i, record in enumerate(assessed[:FT_EXCLUDED]):
        decision_record(
            membership=owner,
            record=record,
            stage=Stage.FULL_TEXT,
            value="exclude",
            reason_ids=[reasons[i % 4].pk],
        )
    included = assessed[FT_EXCLUDED:]
    for record in included:
        decision_record(membership=owner, record=record, stage=Stage.FULL_TEXT, value="include")
    for later, main in zip(
        included[:SECOND_REPORTS], included[SECOND_REPORTS : 2 * SECOND_REPORTS], strict=True
    ):
        main_report = Report.objects.get(record=main)
        report_study_set(membership=owner, record=later, study_id=main_report.study_id)


def demo_extract_and_pool(review: Review, owner: Membership) -> Analysis:
    """Six included studies' data extracted on a form, and their random-effects pooling."""
    form = extraction_form_create(membership=owner, name=FORM_NAME)
    form_version_save(membership=owner, form=form, items=FORM_ITEMS)
    version = form.versions.order_by("-number").first()
    if version is None:
        # form_version_save has just saved the form's first version.
        raise AssertionError("demo form without a version")
    keys = {
        item["label"]: item["key"] for s in version.definition["sections"] for item in s["items"]
    }
    studies = _included_studies(review)[: len(EXTRACTED)]
    for study, (country, design, patients, estimate, lower, upper) in zip(
        studies, EXTRACTED, strict=True
    ):
        extraction_save(
            membership=owner,
            form=form,
            study=study,
            raw={
                "values": {
                    keys["Country"]: country,
                    keys["Design"]: design,
                    keys["Patients who stopped natalizumab"]: str(patients),
                },
                "outcomes": [
                    {
                        "group": keys[OUTCOME],
                        "outcome": OUTCOME,
                        "time_point": "12 months",
                        "estimate": estimate,
                        "ci_lower": lower,
                        "ci_upper": upper,
                    }
                ],
            },
            expected_revision=0,
            submit=True,
        )
    choice = next(c for c in outcome_choices(review) if c.form_id == form.pk)
    analysis = analysis_create(
        membership=owner,
        name=DEMO_ANALYSIS,
        outcome_key=choice.value,
        measure="GEN",
        model="random",
        method="DL",
        ratio=True,
    )
    analysis_run(membership=owner, analysis=analysis)
    return analysis


ROB_RESULT = "Relapse within 12 months (demo)"
# Answers RoB 2's algorithm judges at low risk of bias in every domain. The tests of risk of
# bias and of analyses by risk of bias start from them too.
ROB2_LOW_ANSWERS = {
    "d1_1_1": "Yes",
    "d1_1_2": "Yes",
    "d1_1_3": "No",
    "d2_2_1": "No",
    "d2_2_2": "No",
    "d2_2_6": "Yes",
    "d3_3_1": "Yes",
    "d4_4_1": "No",
    "d4_4_2": "No",
    "d4_4_3": "No",
    "d5_5_1": "Yes",
    "d5_5_2": "No",
    "d5_5_3": "No",
}
# Illustrative RoB 2 answers for the six pooled studies, in the order of EXTRACTED: three
# judged low overall, two with some concerns (no pre-registered analysis plan; missing outcome
# data that could depend on relapse), one high (assessors who knew the treatment judged
# relapses). The analyst's sensitivity analysis can leave out the high-risk study.
ROB_ANSWERS: list[dict[str, str]] = [
    ROB2_LOW_ANSWERS,
    ROB2_LOW_ANSWERS
    | {"d5_5_1": "No information", "d5_support": "No analysis plan was registered."},
    ROB2_LOW_ANSWERS
    | {
        "d3_3_1": "No",
        "d3_3_2": "No",
        "d3_3_3": "Probably yes",
        "d3_3_4": "Probably no",
        "d3_support": "18% lost to follow-up; reasons reported and similar across groups.",
    },
    ROB2_LOW_ANSWERS,
    ROB2_LOW_ANSWERS
    | {
        "d4_4_3": "Yes",
        "d4_4_4": "Yes",
        "d4_4_5": "Probably yes",
        "d4_support": "Treating neurologists, aware of the treatment, confirmed relapses.",
    },
    ROB2_LOW_ANSWERS,
]
# The second assessor first read study 2's missing data differently; the consensus settles it.
SECOND_DIFFERS = {
    1: {
        "d3_3_1": "No information",
        "d3_3_2": "Probably yes",
        "d3_support": "Follow-up not reported by arm; the sensitivity analysis agrees.",
    }
}


def demo_risk_of_bias(review: Review, owner: Membership, second: Membership) -> None:
    """RoB 2 for the pooled result, assessed by two assessors and settled in consensus."""
    form = rob_form_create(membership=owner, tool="rob2", result=ROB_RESULT)
    studies = _included_studies(review)[: len(ROB_ANSWERS)]
    for index, (study, answers) in enumerate(zip(studies, ROB_ANSWERS, strict=True)):
        for who, values in ((owner, answers), (second, answers | SECOND_DIFFERS.get(index, {}))):
            extraction_save(
                membership=who,
                form=form,
                study=study,
                raw={"values": values},
                expected_revision=0,
                submit=True,
            )
        consensus_save(
            membership=owner,
            form=form,
            study=study,
            raw={"values": answers},
            expected_revision=0,
        )


DEMO_ANALYSIS = "Relapse after stopping natalizumab: high prior disease activity (demo)"


def demo_analyses_added(review: Review, owner: Membership) -> bool:
    """A subgroup analysis by study design and a sensitivity analysis leaving out the study at
    high risk of bias, added to the demo's pooled outcome and computed (once; False if done)."""
    from reviewapp.synthesis.services import analysis_addition_add

    analysis = Analysis.objects.filter(review=review, name=DEMO_ANALYSIS).first()
    form = ExtractionForm.objects.filter(review=review, name=FORM_NAME).first()
    if analysis is None or form is None or analysis.options.get("additions"):
        return False
    version = form.versions.order_by("-number").first()
    if version is None:
        return False
    design = next(
        item["key"]
        for section in version.definition["sections"]
        for item in section["items"]
        if item["label"] == "Design"
    )
    analysis_addition_add(membership=owner, analysis=analysis, kind="subgroup", by=design)
    analysis_addition_add(membership=owner, analysis=analysis, kind="sensitivity")
    analysis.refresh_from_db()
    analysis_run(membership=owner, analysis=analysis)
    return True


def _included_studies(review: Review):
    from reviewapp.extraction.selectors import studies_included

    return list(studies_included(review).order_by("label"))


def demo_flow_load(review: Review, owner: Membership, second: Membership) -> bool:
    """Run the worked example once; returns False when the review already has it."""
    if (
        Decision.objects.filter(review=review).exists()
        or ExtractionForm.objects.filter(review=review, name=FORM_NAME).exists()
    ):
        # A demo loaded before risk of bias existed gets its assessments now, once.
        pooled = ExtractionForm.objects.filter(review=review, name=FORM_NAME).exists()
        changed = False
        if pooled and not ExtractionForm.objects.filter(review=review, tool="rob2").exists():
            demo_risk_of_bias(review, owner, second)
            changed = True
        # A demo loaded before analyses could be added to an outcome gets them now, once.
        return demo_analyses_added(review, owner) or changed
    demo_screen(review, owner, second)
    demo_extract_and_pool(review, owner)
    demo_risk_of_bias(review, owner, second)
    demo_analyses_added(review, owner)
    return True
