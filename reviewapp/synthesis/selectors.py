"""Reads for synthesis: the outcomes extraction data offers, and the rows an analysis pools."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from reviewapp.extraction.constants import ExtractionKind
from reviewapp.extraction.models import Extraction, ExtractionForm
from reviewapp.extraction.schema import items_of
from reviewapp.literature.constants import JobStatus
from reviewapp.reviews.models import Review
from reviewapp.synthesis.additions import REPORT_YEAR, Field, StudyData
from reviewapp.synthesis.inputs import MEASURES_FOR_GROUP, InputError, rows_layout, stats_row
from reviewapp.synthesis.models import Analysis, AnalysisResult, AnalysisRun


@dataclass(frozen=True)
class OutcomeChoice:
    form_id: int
    form_name: str
    group: str
    group_label: str
    group_type: str
    outcome: str
    time_point: str
    n_studies: int

    @property
    def measures(self) -> tuple[str, ...]:
        return MEASURES_FOR_GROUP.get(self.group_type, ())

    @property
    def value(self) -> str:
        return json.dumps([self.form_id, self.group, self.outcome, self.time_point])


def final_extractions(form: ExtractionForm) -> list[Extraction]:
    """Each study's final data on a form: its consensus, or on a single-extractor form the
    submitted entry. Drafts and unreconciled dual entries never reach an analysis."""
    chosen: dict[int, Extraction] = {}
    rows = (
        Extraction.objects.filter(form=form)
        .select_related("study", "form_version")
        .order_by("study_id", "kind", "pk")
    )
    for e in rows:
        if (
            e.kind == ExtractionKind.CONSENSUS
            or form.extractors_required == 1
            and e.submitted_at
            and e.study_id not in chosen
        ):
            chosen[e.study_id] = e
    return sorted(chosen.values(), key=lambda e: e.study.label)


def _groups(extraction: Extraction) -> dict[str, dict]:
    return {
        item["key"]: item
        for _section, item in items_of(extraction.form_version.definition)
        if item.get("kind") == "group"
    }


def outcome_choices(review: Review) -> list[OutcomeChoice]:
    """Every (form, effect group, outcome, time point) with final data, and how many studies."""
    found: dict[tuple, set[int]] = {}
    meta: dict[tuple, tuple[str, str, str]] = {}
    for form in ExtractionForm.objects.filter(review=review).order_by("name"):
        for e in final_extractions(form):
            groups = _groups(e)
            for row in (e.data or {}).get("outcomes") or []:
                group = groups.get(row.get("group"))
                if group is None:
                    continue
                key = (
                    form.pk,
                    group["key"],
                    str(row.get("outcome") or group["label"]).strip(),
                    str(row.get("time_point") or "").strip(),
                )
                found.setdefault(key, set()).add(e.study_id)
                meta[key] = (form.name, group["label"], group["type"])
    return [
        OutcomeChoice(k[0], meta[k][0], k[1], meta[k][1], meta[k][2], k[2], k[3], len(studies))
        for k, studies in sorted(found.items(), key=lambda item: (meta[item[0]][0], item[0][1:]))
    ]


def analysis_rows(analysis: Analysis) -> tuple[list[dict[str, str]], dict]:
    """The rows the analysis pools now, from the final extraction data, and what they came from.

    Raises InputError naming the study when a study's numbers cannot be used.
    """
    options = analysis.options
    form = ExtractionForm.objects.filter(pk=options.get("form_id"), review=analysis.review).first()
    if form is None:
        raise InputError("The extraction form of this analysis no longer exists.")
    rows, sources, group_type = [], [], None
    for e in final_extractions(form):
        group = _groups(e).get(options.get("group"))
        if group is None:
            continue
        matching = [
            row
            for row in (e.data or {}).get("outcomes") or []
            if row.get("group") == group["key"]
            and str(row.get("outcome") or group["label"]).strip() == analysis.outcome
            and str(row.get("time_point") or "").strip() == options.get("time_point", "")
        ]
        if not matching:
            continue
        if len(matching) > 1:
            raise InputError(
                f"{e.study.label}: {len(matching)} rows of '{analysis.outcome}' at the same time "
                "point; keep one per study (or give them different time points)."
            )
        group_type = group["type"]
        rows.append(stats_row(group_type, analysis.measure, e.study.label, matching[0]))
        sources.append(
            {
                "study_id": e.study_id,
                "extraction_id": e.pk,
                "revision": e.revision,
                "form_version": e.form_version.number,
            }
        )
    if not rows:
        raise InputError(f"No study has final data for '{analysis.outcome}' yet.")
    rows_layout(rows)
    ratio_gen = group_type == "estimate" and bool(options.get("ratio"))
    return rows, {"sources": sources, "group_type": group_type, "ratio": ratio_gen}


def inputs_digest(rows: list[dict], settings: dict, study_data: dict | None = None) -> str:
    """A fingerprint of the data and settings, to tell a current result from a stale one.

    ``study_data`` (the fields and risk of bias the additions and plots read) counts when there
    is any, so a result computed without them keeps its fingerprint.
    """
    body: dict = {"rows": rows, "settings": settings}
    if study_data:
        body["study_data"] = study_data
    payload = json.dumps(body, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def analysis_settings(analysis: Analysis) -> dict:
    return {
        "measure": analysis.measure,
        "model": analysis.model,
        "method": analysis.method,
        "hksj": analysis.hksj,
        "options": analysis.options,
        "outcome": analysis.outcome,
    }


def analysis_latest_result(
    analysis: Analysis, *, with_inputs: bool = False
) -> AnalysisResult | None:
    """The newest result; without its inputs (every study's data) unless asked for."""
    results = analysis.results.order_by("-computed_at", "-pk")
    if not with_inputs:
        results = results.defer("inputs")
    return results.select_related("computed_by").first()


def analysis_pending_run(analysis: Analysis, result: AnalysisResult | None) -> AnalysisRun | None:
    """The latest computation asked for since the result: queued, running or failed; else None."""
    runs = analysis.runs.exclude(status=JobStatus.DONE).order_by("-created_at", "-pk")
    if result is not None:
        runs = runs.filter(created_at__gt=result.computed_at)
    return runs.first()


def analysis_staleness(analysis: Analysis, result: AnalysisResult | None) -> str:
    """'' when the stored result matches the current data and settings; otherwise why not."""
    if result is None:
        return "Not computed yet."
    try:
        rows, _meta = analysis_rows(analysis)
    except InputError as exc:
        return f"The data changed and can no longer be pooled: {exc}"
    study_data = study_data_stored(analysis_study_data(analysis, rows))
    if inputs_digest(rows, analysis_settings(analysis), study_data) != result.inputs_digest:
        return "The extracted data or the settings changed since this result was computed."
    return ""


# Field types an addition can read: a subgroup any of them, a meta-regression numbers as they
# are and the others as categories, a cumulative analysis numbers and dates.
ADDITION_FIELD_TYPES = ("text", "integer", "decimal", "yes_no", "single_choice", "date")


def analysis_fields(analysis: Analysis) -> list[Field]:
    """The extracted fields of the analysis's form (its latest version) an addition may use."""
    form = ExtractionForm.objects.filter(pk=analysis.options.get("form_id")).first()
    version = form.versions.order_by("-number").first() if form else None
    if version is None:
        return []
    return [
        Field(item["key"], item["label"], item["type"])
        for _section, item in items_of(version.definition)
        if item.get("kind") == "field" and item.get("type") in ADDITION_FIELD_TYPES
    ]


def rob_forms_usable(review: Review) -> list[ExtractionForm]:
    """The review's risk-of-bias forms judged by domain (RoB 2, ROBINS-I, QUADAS-2)."""
    from reviewapp.riskofbias.algorithms import TOOLS

    return [f for f in review.extraction_forms.exclude(tool="").order_by("name") if f.tool in TOOLS]


def analysis_rob_form(analysis: Analysis) -> ExtractionForm | None:
    """The risk-of-bias form the analysis shows and uses: the one chosen, or the review's only
    one; None when there is none (or several and none chosen)."""
    forms = rob_forms_usable(analysis.review)
    chosen = analysis.options.get("rob_form_id")
    if chosen:
        return next((f for f in forms if f.pk == chosen), None)
    return forms[0] if len(forms) == 1 else None


def analysis_study_data(analysis: Analysis, rows: list[dict]) -> StudyData:
    """The pooled studies' values of the fields the additions use, the year of each study's
    first report (when asked for) and their consensus risk of bias on the analysis's form."""
    from reviewapp.literature.models import Record
    from reviewapp.riskofbias.selectors import rob_table, tool_domains

    labels = [row["study"] for row in rows]
    fields = {f.key: f for f in analysis_fields(analysis)}
    used: set[str] = set()
    for spec in analysis.options.get("additions") or []:
        used.update(k for k in [spec.get("by"), *(spec.get("moderators") or [])] if k)
    data = StudyData()
    data.fields = {key: fields[key] for key in sorted(used) if key in fields}
    form = ExtractionForm.objects.filter(pk=analysis.options.get("form_id")).first()
    if data.fields and form is not None:
        for e in final_extractions(form):
            if e.study.label in labels:
                values = (e.data or {}).get("values") or {}
                data.values[e.study.label] = {key: values.get(key) for key in data.fields}
    if REPORT_YEAR in used:
        years = (
            Record.objects.filter(
                report__study__review=analysis.review, report__study__label__in=labels
            )
            .exclude(year=None)
            .values_list("report__study__label", "year")
        )
        first: dict[str, int] = {}
        for label, year in years:
            first[label] = min(year, first.get(label, year))
        for label in labels:
            data.values.setdefault(label, {})[REPORT_YEAR] = first.get(label)
    rob_form = analysis_rob_form(analysis)
    if rob_form is not None:
        data.rob_form = rob_form.name
        data.rob_domains = tool_domains(rob_form.tool)
        for row in rob_table(rob_form):
            if row.assessment is not None and row.study.label in labels:
                overall = row.assessment.overall
                data.rob[row.study.label] = {
                    "domains": [d.judgement for d in row.assessment.domains],
                    "overall": overall.judgement if overall else None,
                }
    return data


def study_data_stored(data: StudyData) -> dict:
    """StudyData as kept with a result's inputs (and fingerprinted); empty when there is none."""
    if not (data.fields or data.values or data.rob_form):
        return {}
    return {
        "values": data.values,
        "fields": {k: [f.label, f.type] for k, f in data.fields.items()},
        "rob": data.rob,
        "rob_form": data.rob_form,
        "rob_domains": [list(d) for d in data.rob_domains],
    }


def study_data_read(stored: dict | None) -> StudyData:
    """The StudyData of a result's stored inputs."""
    stored = stored or {}
    return StudyData(
        values=stored.get("values") or {},
        fields={k: Field(k, v[0], v[1]) for k, v in (stored.get("fields") or {}).items()},
        rob=stored.get("rob") or {},
        rob_form=stored.get("rob_form") or "",
        rob_domains=[tuple(d) for d in stored.get("rob_domains") or []],
    )
