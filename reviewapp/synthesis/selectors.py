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


def inputs_digest(rows: list[dict], settings: dict) -> str:
    """A fingerprint of the data and settings, to tell a current result from a stale one."""
    payload = json.dumps({"rows": rows, "settings": settings}, sort_keys=True)
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
    if inputs_digest(rows, analysis_settings(analysis)) != result.inputs_digest:
        return "The extracted data or the settings changed since this result was computed."
    return ""
