"""Reads for extraction and for the analyst's downloads.

Who sees which screening decisions and which extraction entries is decided by the one blinding
rule, ``reviewapp.core.blinding``: the readers here (the downloads, the background exports the
worker writes, the API) filter with it and keep no rule of their own. In short: a member with a
vote or an extraction still due never sees the others' until theirs is in, whatever their role;
adjudicators see everything where they have nothing due; analysts see everything; reviewers see
the others' votes on records they voted on once every vote is in, and another extractor's entry
once both are submitted.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from typing import cast

from django.db.models import Max, QuerySet

from reviewapp.core import blinding
from reviewapp.core.blinding import entries_visible
from reviewapp.extraction.constants import ExportKind, ExportWhich, ExtractionKind
from reviewapp.extraction.exports import Entry
from reviewapp.extraction.models import Extraction, ExtractionForm, FormVersion
from reviewapp.extraction.schema import Column, columns_union
from reviewapp.literature.models import Record
from reviewapp.literature.selectors import merged_values, records_count
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.constants import DecisionKind, Stage
from reviewapp.screening.models import Decision, Report, Study
from reviewapp.screening.rules import State
from reviewapp.screening.selectors import derived_states, records_with_states, stage_states


def included_record_ids(review: Review) -> set[int]:
    """Records settled as included at the full-text stage."""
    states = stage_states(review, Stage.FULL_TEXT)
    return {rid for rid, state in states.items() if state == State.INCLUDED}


def studies_included(review: Review) -> QuerySet[Study]:
    """Studies with at least one report whose record is included at full text."""
    ids = included_record_ids(review)
    return Study.objects.filter(review=review, reports__record_id__in=ids).distinct()


def form_versions(form: ExtractionForm) -> list[FormVersion]:
    return list(form.versions.order_by("number"))


def form_latest_version(form: ExtractionForm) -> FormVersion | None:
    return form.versions.order_by("-number").first()


def forms_with_latest_version_number(review: Review) -> list[ExtractionForm]:
    """The review's forms, each with ``latest_version_number`` (None while it has no fields yet),
    so the forms page shows the version without indexing a queryset."""
    return list(review.extraction_forms.annotate(latest_version_number=Max("versions__number")))


def form_columns(form: ExtractionForm) -> list[Column]:
    """The union of the columns of every version of the form (see ``columns_union``)."""
    return columns_union([v.definition for v in form_versions(form)])


def extractions_for_study(
    form: ExtractionForm, study: Study
) -> tuple[list[Extraction], Extraction | None]:
    """(individual entries ordered by extractor, consensus or None) of one study on one form."""
    rows = list(
        Extraction.objects.filter(form=form, study=study)
        .select_related("extractor", "decided_by", "form_version")
        .order_by("extractor__username")
    )
    individual = [e for e in rows if e.kind == ExtractionKind.INDIVIDUAL]
    consensus = next((e for e in rows if e.kind == ExtractionKind.CONSENSUS), None)
    return individual, consensus


def may_see_others(
    membership: Membership, form: ExtractionForm, individual: list[Extraction]
) -> bool:
    """Whether this member may see every individual entry of one study (and compare them)."""
    return len(entries_visible(membership, individual, form.extractors_required)) == len(individual)


def extractions_visible(
    membership: Membership, form: ExtractionForm | None = None
) -> QuerySet[Extraction]:
    """The extractions (of one form, or of the whole review) this member may read."""
    qs = blinding.extractions_visible(membership)
    return qs.filter(form=form) if form is not None else qs


class ExtractionEntries:
    """The entries an export holds, ordered by study then consensus first, then extractor: read
    from the database afresh (a chunk at a time) each time they are iterated, so an XLSX with
    a sheet per section reads them once per sheet instead of holding them all.

    ``final``: per study the consensus; without one, on a single-extractor form, the submitted
    entry. ``all``: every entry this member may see, drafts included (their kind says which).
    """

    def __init__(self, *, form: ExtractionForm, which: str, membership: Membership):
        self.form, self.which = form, which
        self.qs = (
            extractions_visible(membership, form)
            .select_related("study", "extractor", "decided_by", "form_version")
            .order_by("study__label", "study_id", "kind", "extractor__username", "id")
        )

    def __iter__(self) -> Iterator[Entry]:
        rows = self.qs.iterator(chunk_size=500)
        if self.which != ExportWhich.FINAL:
            yield from (_entry(e) for e in rows)
            return
        # The query orders each study's entries together: one study in memory at a time.
        for _study, group in groupby(rows, key=lambda e: e.study_id):
            entries = list(group)
            consensus = [e for e in entries if e.kind == ExtractionKind.CONSENSUS]
            if consensus:
                yield _entry(consensus[0])
            elif self.form.extractors_required == 1:
                yield from (_entry(e) for e in entries if e.submitted_at)


def extraction_entries(*, form: ExtractionForm, which: str, membership: Membership) -> list[Entry]:
    """The entries of ``ExtractionEntries``, as a list (for small reads and the tests)."""
    return list(ExtractionEntries(form=form, which=which, membership=membership))


def _entry(e: Extraction) -> Entry:
    return Entry(
        study_id=e.study_id,
        study_label=e.study.label,
        kind=e.kind,
        extractor=e.extractor.username if e.extractor else "",
        decided_by=e.decided_by.username if e.decided_by else "",
        form_version=e.form_version.number,
        revision=e.revision,
        submitted_at=e.submitted_at.isoformat() if e.submitted_at else "",
        definition=e.form_version.definition,
        data=e.data,
    )


@dataclass(frozen=True)
class StudyProgress:
    study: Study
    mine: Extraction | None
    submitted: int
    consensus: Extraction | None
    # Whether this member may open the side-by-side comparison (blinding): no link otherwise.
    may_compare: bool = False


def extraction_progress(
    review: Review, form: ExtractionForm, membership: Membership
) -> list[StudyProgress]:
    """For each included study: my entry, how many entries are submitted, the consensus."""
    studies = list(studies_included(review).order_by("label"))
    entries = defaultdict(list)
    for e in Extraction.objects.filter(form=form, study__in=studies):
        entries[e.study_id].append(e)
    out = []
    for study in studies:
        own = entries[study.pk]
        out.append(
            StudyProgress(
                study=study,
                mine=next((e for e in own if e.extractor_id == membership.user_id), None),
                submitted=sum(
                    1 for e in own if e.kind == ExtractionKind.INDIVIDUAL and e.submitted_at
                ),
                consensus=next((e for e in own if e.kind == ExtractionKind.CONSENSUS), None),
                may_compare=may_see_others(
                    membership, form, [e for e in own if e.kind == ExtractionKind.INDIVIDUAL]
                ),
            )
        )
    return out


# --- records and decisions ------------------------------------------------------------------


def decisions_visible(review: Review, membership: Membership) -> QuerySet[Decision]:
    """Decision events this member may read (``reviewapp.core.blinding``)."""
    if membership.review_id != review.pk:
        raise ValueError("a membership of another review")
    return blinding.decisions_visible(membership)


DECISIONS_LONG_HEADER = [
    "decision_id",
    "record_id",
    # The record's number in the review, as the pages show it ("record #17").
    "record_number",
    "stage",
    "created_at",
    "reviewer",
    "kind",
    "value",
    "reasons",
    "note",
    "pmid",
    "doi",
    "first_author",
    "year",
    "title",
]


# What the record exports read of each record: never the abstract nor the source's raw record,
# which are most of a record row's size.
RECORD_COLUMNS = ["id", "number", "review_id", "pmid", "doi", "authors", "year", "title", "journal"]
DECISION_VALUES = ["id", "record_id", "stage", "kind", "value", "note", "created_at"]
DECISION_VALUES += ["reviewer__username"]
CHUNK = 2000


def _with_reasons(rows: Iterator[dict]) -> Iterator[tuple[dict, list[str]]]:
    """Decisions (as values) with the labels of their reasons, read one query per chunk of
    decisions: the exports stream hundreds of thousands of decisions, and a model instance with
    a prefetched relation per decision costs several times the row itself."""
    through = Decision.reasons.through
    while True:
        chunk = list(itertools.islice(rows, CHUNK))
        if not chunk:
            return
        labels: dict[int, list[str]] = defaultdict(list)
        pairs = (
            through.objects.filter(decision_id__in=[d["id"] for d in chunk])
            .order_by("exclusionreason__position", "exclusionreason_id")
            .values_list("decision_id", "exclusionreason__label")
        )
        for decision_id, label in pairs:
            labels[decision_id].append(label)
        for d in chunk:
            yield d, labels.get(d["id"], [])


def _first_author(authors) -> str:
    return authors[0] if authors else ""


def decisions_long_rows(review: Review, membership: Membership) -> Iterator[dict]:
    """One row per decision event, in the order they happened."""
    values = DECISION_VALUES + [f"record__{f}" for f in RECORD_COLUMNS if f != "id"]
    rows = (
        decisions_visible(review, membership)
        .order_by("review_id", "created_at", "id")
        .values(*values)
        .iterator(chunk_size=CHUNK)
    )
    # Decisions on a merged cluster's primary carry the cluster's merged metadata, as the wide
    # export and every page show it.
    merged = merged_values(review)
    for d, reasons in _with_reasons(rows):
        row = {
            "decision_id": d["id"],
            "record_id": d["record_id"],
            "record_number": d["record__number"],
            "stage": d["stage"],
            "created_at": d["created_at"].isoformat(),
            "reviewer": d["reviewer__username"],
            "kind": d["kind"],
            "value": d["value"],
            "reasons": reasons,
            "note": d["note"],
            "pmid": d["record__pmid"],
            "doi": d["record__doi"],
            "first_author": _first_author(d["record__authors"]),
            "year": d["record__year"],
            "title": d["record__title"],
        }
        if d["record_id"] in merged:
            row |= {k: v for k, v in _merged_columns(merged[d["record_id"]]).items() if k in row}
        yield row


def records_wide_header(review: Review, membership: Membership) -> list[str]:
    """The columns of ``records_wide``: one vote column per reviewer whose votes this member may
    see at each stage."""
    voters: dict[str, set[str]] = {stage: set() for stage in WIDE_STAGES}
    pairs = (
        decisions_visible(review, membership)
        .filter(kind=DecisionKind.VOTE)
        .order_by()
        .values_list("stage", "reviewer__username")
        .distinct()
    )
    for stage, name in pairs:
        voters[stage].add(name)
    header = ["record_id", "record_number", "pmid", "doi", "first_author", "year", "title"]
    header += ["journal"]
    header += ["duplicate_of", "study"]
    for stage in WIDE_STAGES:
        header += [f"{stage}_state"]
        header += [f"{stage}_vote_{name}" for name in sorted(voters[stage])]
        header += [f"{stage}_final", f"{stage}_reasons"]
    return header


WIDE_STAGES = [Stage.TITLE_ABSTRACT, Stage.FULL_TEXT]


def records_wide(review: Review, membership: Membership) -> tuple[list[str], Iterator[dict]]:
    """(header, rows): one row per record with its state at each stage, each reviewer's current
    vote as a column of its own (``ta_vote_<username>``), the adjudication and the reasons of
    the deciding exclusion at full text.

    Streamed: the records (with their states, duplicate link and study joined in) and the
    decisions this member may see (ordered by record) are read side by side, a chunk at a time,
    so memory holds one record's decisions whatever the size of the review.
    """
    header = records_wide_header(review, membership)

    def rows() -> Iterator[dict]:
        decisions = _with_reasons(
            decisions_visible(review, membership)
            .order_by("record_id", "created_at", "id")
            .values(*DECISION_VALUES)
            .iterator(chunk_size=CHUNK)
        )
        pending = next(decisions, None)
        # A merged cluster's primary is exported with the cluster's merged metadata.
        merged = merged_values(review)
        records = (
            records_with_states(Record.objects.filter(review=review))
            .order_by("review_id", "id")
            .values(*RECORD_COLUMNS, "primary_id", "study_label", "ta_row", "ft_row")
        )
        for r in records.iterator(chunk_size=CHUNK):
            states = derived_states(
                is_duplicate=r["primary_id"] is not None, ta_row=r["ta_row"], ft_row=r["ft_row"]
            )
            row = {
                "record_id": r["id"],
                "record_number": r["number"],
                "pmid": r["pmid"],
                "doi": r["doi"],
                "first_author": _first_author(r["authors"]),
                "year": r["year"],
                "title": r["title"],
                "journal": r["journal"],
                "duplicate_of": r["primary_id"],
                "study": r["study_label"] or "",
            }
            if r["id"] in merged:
                row |= _merged_columns(merged[r["id"]])
            for stage in WIDE_STAGES:
                row[f"{stage}_state"] = states[stage] or ""
                row[f"{stage}_final"] = ""
                row[f"{stage}_reasons"] = []
            while pending is not None and pending[0]["record_id"] <= r["id"]:
                (d, labels), pending = pending, next(decisions, None)
                if d["record_id"] != r["id"]:
                    continue
                who = d["reviewer__username"]
                if d["kind"] == DecisionKind.VOTE:
                    row[f"{d['stage']}_vote_{who}"] = d["value"]
                else:
                    row[f"{d['stage']}_final"] = f"{d['value']} ({d['kind']}, {who})"
                if labels:
                    row[f"{d['stage']}_reasons"] = labels
            yield row

    return header, rows()


_MERGED_COLUMNS = ("pmid", "doi", "year", "title", "journal")


def _merged_columns(values: dict) -> dict:
    row = {name: values.get(name) for name in _MERGED_COLUMNS}
    row["first_author"] = _first_author(values.get("authors") or [])
    return row


_RIS_MERGED = (
    "title",
    "authors",
    "year",
    "journal",
    "volume",
    "issue",
    "pages",
    "doi",
    "pmid",
    "abstract",
    "keywords",
)


def included_ris_records(review: Review) -> list[dict]:
    """The included reports (records included at full text that belong to a study), with the
    study's label, ordered by study."""
    ids = included_record_ids(review)
    reports = (
        Report.objects.filter(review=review, record_id__in=ids, study__isnull=False)
        .select_related("record", "study")
        .order_by("study__label", "record_id")
    )
    out = []
    merged = merged_values(review, ids)
    for report in reports:
        r = report.record
        # The query keeps only reports with a study; the field itself is nullable.
        study = cast(Study, report.study)
        out.append(
            {
                "id": r.pk,
                "number": r.number,
                "title": r.title,
                "authors": r.authors,
                "year": r.year,
                "journal": r.journal,
                "volume": r.volume,
                "issue": r.issue,
                "pages": r.pages,
                "doi": r.doi,
                "pmid": r.pmid,
                "abstract": r.abstract,
                "keywords": r.keywords,
                "study": study.label,
            }
            | {name: merged[r.pk].get(name) for name in _RIS_MERGED if r.pk in merged}
        )
    return out


def export_size(
    *,
    review: Review,
    kind: str,
    form: ExtractionForm | None,
    membership: Membership,
    at_most: int | None = None,
) -> int:
    """The rows an export will have, to choose between now and background and to show progress.

    ``at_most``: stop counting there (the answer is then min(size, at_most)), so that choosing
    reads a few thousand rows of a large export, not all of them."""

    def count(qs: QuerySet) -> int:
        return qs.count() if at_most is None else qs.order_by()[:at_most].count()

    if kind in (ExportKind.EXTRACTION_CSV, ExportKind.EXTRACTION_XLSX, ExportKind.EXTRACTION_JSON):
        return count(extractions_visible(membership, form)) if form else 0
    if kind == ExportKind.DECISIONS_LONG:
        return count(decisions_visible(review, membership))
    if kind == ExportKind.RECORDS_WIDE:
        return records_count(review)
    return count(Report.objects.filter(review=review, study__isnull=False))
