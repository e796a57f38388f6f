"""Reads on risk of bias: the tool forms of a review, their consensus judgements per study (for
the overview and the figures) and every judgement a member may see (for the download)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from reviewapp.core import blinding
from reviewapp.extraction.constants import ExtractionKind
from reviewapp.extraction.models import Extraction, ExtractionForm
from reviewapp.extraction.selectors import may_see_others, studies_included
from reviewapp.reviews.models import Membership, Review
from reviewapp.riskofbias.algorithms import JUDGEMENTS, NOS_SCALES, TOOLS
from reviewapp.riskofbias.builtin import Assessment, assessment_read
from reviewapp.riskofbias.figures import RobRow
from reviewapp.screening.models import Study


def rob_forms(review: Review) -> list[ExtractionForm]:
    return list(review.extraction_forms.exclude(tool="").order_by("name"))


def tool_domains(tool: str) -> list[tuple[str, str]]:
    """(key, name) of the columns a tool's table and figures show."""
    if tool in TOOLS:
        return [(d.key, d.name) for d in TOOLS[tool].domains]
    return [(key, label) for key, label, _ in NOS_SCALES[tool].sections]


def tool_levels(tool: str) -> tuple[str, ...]:
    return TOOLS[tool].overall if tool in TOOLS else ()


@dataclass
class StudyRob:
    study: Study
    assessment: Assessment | None  # from the consensus; None until there is one
    entries: int  # individual assessments made
    submitted: int
    # Whether this member may open the comparison (blinding, as on the extraction page).
    may_compare: bool = False


def rob_table(form: ExtractionForm, membership: Membership | None = None) -> list[StudyRob]:
    """Each included study with its consensus assessment (consensus exists only once every
    assessor has submitted, so showing it to all reveals nothing blinded) and entry counts."""
    rows = (
        Extraction.objects.filter(form=form)
        .select_related("form_version")
        .only(
            "study_id", "kind", "data", "submitted_at", "extractor_id", "form_version__definition"
        )
    )
    consensus: dict[int, Extraction] = {}
    counts: dict[int, list[int]] = {}
    individual: dict[int, list[Extraction]] = {}
    for e in rows:
        if e.kind == ExtractionKind.CONSENSUS:
            consensus[e.study_id] = e
        else:
            individual.setdefault(e.study_id, []).append(e)
            made = counts.setdefault(e.study_id, [0, 0])
            made[0] += 1
            made[1] += 1 if e.submitted_at else 0
    table = []
    for study in studies_included(form.review).order_by("label", "pk"):
        final = consensus.get(study.pk)
        assessment = (
            assessment_read(form.tool, final.form_version.definition, final.data) if final else None
        )
        made = counts.get(study.pk, [0, 0])
        may_compare = membership is not None and may_see_others(
            membership, form, individual.get(study.pk, [])
        )
        table.append(StudyRob(study, assessment, made[0], made[1], may_compare))
    return table


def analysis_weights(review: Review, analysis_id: int) -> dict[str, float]:
    """study label -> its percent weight in the latest result of one of the review's analyses
    (robvis weights its summary by the meta-analysis weights); empty if it has none."""
    from reviewapp.synthesis.models import AnalysisResult

    result = (
        AnalysisResult.objects.filter(analysis_id=analysis_id, analysis__review=review)
        .order_by("-pk")
        .first()
    )
    if result is None:
        return {}
    studies = (result.results.get("pooled") or {}).get("studies") or []
    return {row["study"]: float(row.get("weight") or 0.0) for row in studies if "study" in row}


def figure_rows(form: ExtractionForm, weights: dict[str, float] | None = None) -> list[RobRow]:
    """The consensus judgements of a RoB 2 / ROBINS-I / QUADAS-2 form, one row per study;
    with ``weights`` (by study label) a study outside them weighs nothing in the summary."""
    return [
        RobRow(
            row.study.label,
            [d.judgement for d in row.assessment.domains],
            row.assessment.overall.judgement if row.assessment.overall else None,
            weight=1.0 if weights is None else weights.get(row.study.label, 0.0),
        )
        for row in rob_table(form)
        if row.assessment is not None
    ]


def overall_by_study(form: ExtractionForm) -> dict[int, str]:
    """study id -> the consensus overall judgement ("low", "some", "high"...), for analyses by
    risk of bias (subgroups, excluding high risk); studies without a consensus are absent."""
    return {
        row.study.pk: row.assessment.overall.judgement
        for row in rob_table(form)
        if row.assessment and row.assessment.overall and row.assessment.overall.judgement
    }


JUDGEMENTS_HEADER = [
    "form",
    "tool",
    "result",
    "study_id",
    "study_label",
    "kind",
    "assessor",
    "submitted_at",
    "domain",
    "domain_name",
    "answers",
    "proposed",
    "judgement",
    "overridden",
    "support",
]


def judgement_rows(review: Review, membership: Membership) -> Iterator[dict]:
    """Every risk-of-bias judgement this member may see (blinding as for extraction entries),
    one row per entry and domain, with the signalling answers and the support text."""
    entries = (
        blinding.extractions_visible(membership)
        .filter(form__review=review)
        .exclude(form__tool="")
        .select_related("form", "form_version", "study", "extractor")
        .order_by("form__name", "study__label", "study_id", "kind", "extractor__username")
    )
    for e in entries:
        tool = e.form.tool
        base = {
            "form": e.form.name,
            "tool": tool,
            "result": e.form.result,
            "study_id": e.study_id,
            "study_label": e.study.label,
            "kind": e.kind,
            "assessor": e.extractor.username if e.extractor else "",
            "submitted_at": e.submitted_at.isoformat() if e.submitted_at else "",
        }
        assessment = assessment_read(tool, e.form_version.definition, e.data)
        if assessment.nos is not None:
            nos = assessment.nos
            for key, label, _max in NOS_SCALES[tool].sections:
                yield base | {
                    "domain": key,
                    "domain_name": label,
                    "judgement": f"{nos.stars[key]} stars",
                    "support": assessment.support.get(label, ""),
                }
            yield base | {
                "domain": "total",
                "domain_name": "Total",
                "judgement": f"{nos.total} stars ({nos.rating})",
            }
            continue
        domains = [*assessment.domains, assessment.overall] if assessment.overall else []
        for d in domains:
            yield base | {
                "domain": d.key,
                "domain_name": d.name,
                "answers": "; ".join(f"{q}={a}" for q, a in d.answers.items()),
                "proposed": JUDGEMENTS.get(d.proposal.judgement or "", ""),
                "judgement": JUDGEMENTS.get(d.judgement or "", ""),
                "overridden": "yes" if d.overridden else "",
                "support": d.support,
            }
