"""PRISMA 2020 flow counts: the boxes, the arithmetic that ties them together, and exports.

Pure Python, no Django: the reporting selector gathers the numbers from the database and hands a
``PrismaCounts`` to this module; the diagram (``reviewapp.reporting.diagram``), the CSV and the
JSON are only ever produced from counts that pass ``check``.

Boxes follow the flow diagram for new and updated systematic reviews that searched databases,
registers and other sources (Page et al. BMJ 2021;372:n71, Figure 1) and are named after the
``data`` column of the PRISMA2020 R package / Shiny app template (Haddaway et al. Campbell Syst Rev
2022;18:e1230), so the CSV export loads in their app unchanged.

Two readings of the figure are built into the arithmetic:

* the other-methods arm has no screening step: its reports flow into the same "New studies
  included in review" box as the databases-and-registers arm, so
  ``dbr_assessed + other_assessed - dbr_excluded - other_excluded = new_reports``;
* "Total ... included in review" adds the previous version of the review:
  ``total = new + previous``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reviewapp.core.spreadsheet import neutralise

__all__ = [
    "BREAKDOWN_FIELDS",
    "COUNT_FIELDS",
    "PHASE_FIELDS",
    "TEMPLATE_COLUMNS",
    "TEMPLATE_FIELDS",
    "ManualEntry",
    "PrismaCounts",
    "PrismaInconsistent",
    "Violation",
    "check",
    "format_named_counts",
    "parse_named_counts",
    "template_rows",
    "to_json",
    "to_json_dict",
    "to_template_csv",
    "violations",
]

RecordId = int | str

# Verbatim copy of tests/fixtures/prisma/PRISMA2020_template_PRISMA.csv (the template of the
# PRISMA2020 R package and Shiny app). It lives here rather than as a data file so the export
# cannot drift from a file someone edits; a test compares it with the fixture cell by cell.
_TEMPLATE_CSV = """\
data,node,box,description,boxtext,tooltips,url,n
NA,node4,prevstud,Grey title box; Previous studies,Previous studies,Grey title box; Previous studies,prevstud.html,0
previous_studies,node5,box1,Studies included in previous version of review,Studies included in previous version of review,Studies included in previous version of review,previous_studies.html,0
previous_reports,NA,box1,Reports of studies included in previous version of review,Reports of studies included in previous version of review,NA,previous_reports.html,0
NA,node6,newstud,Yellow title box; Identification of new studies via databases and registers,Identification of new studies via databases and registers,Yellow title box; Identification of new studies via databases and registers,newstud.html,0
database_results,node7,box2,Records identified from: Databases,Databases,Records identified from: Databases and Registers,database_results.html,0
database_specific_results,NA,box2,Records identified from: specific databases,Specific Databases,NA,database_results.html,"Database 1, xxx; Database 2, xxx; Database 3, xxx"
register_results,NA,box2,Records identified from: Registers,Registers,NA,NA,0
register_specific_results,NA,box2,Records identified from: specific registers,Specific Registers,NA,database_results.html,"Register 1, xxx; Register 2, xxx; Register 3, xxx"
NA,node16,othstud,Grey title box; Identification of new studies via other methods,Identification of new studies via other methods,Grey title box; Identification of new studies via other methods,othstud.html,0
website_results,node17,box11,Records identified from: Websites,Websites,"Records identified from: Websites, Organisations and Citation Searching",website_results.html,0
organisation_results,,box11,Records identified from: Organisations,Organisations,NA,NA,0
citations_results,NA,box11,Records identified from: Citation searching,Citation searching,NA,NA,0
duplicates,node8,box3,Duplicate records,Duplicate records,Duplicate records,duplicates.html,0
excluded_automatic,NA,box3,Records marked as ineligible by automation tools,Records marked as ineligible by automation tools,NA,NA,0
excluded_other,NA,box3,Records removed for other reasons,Records removed for other reasons,NA,NA,0
records_screened,node9,box4,Records screened (databases and registers),Records screened,Records screened (databases and registers),records_screened.html,0
records_excluded,node10,box5,Records excluded (databases and registers),Records excluded,Records excluded (databases and registers),records_excluded.html,0
dbr_sought_reports,node11,box6,Reports sought for retrieval (databases and registers),Reports sought for retrieval,Reports sought for retrieval (databases and registers),dbr_sought_reports.html,0
dbr_notretrieved_reports,node12,box7,Reports not retrieved (databases and registers),Reports not retrieved,Reports not retrieved (databases and registers),dbr_notretrieved_reports.html,0
other_sought_reports,node18,box12,Reports sought for retrieval (other),Reports sought for retrieval,Reports sought for retrieval (other),other_sought_reports.html,0
other_notretrieved_reports,node19,box13,Reports not retrieved (other),Reports not retrieved,Reports not retrieved (other),other_notretrieved_reports.html,0
dbr_assessed,node13,box8,Reports assessed for eligibility (databases and registers),Reports assessed for eligibility,Reports assessed for eligibility (databases and registers),dbr_assessed.html,0
dbr_excluded,node14,box9,"Reports excluded (databases and registers): [separate reasons and numbers using ; e.g. Reason1, xxx; Reason2, xxx; Reason3, xxx]",Reports excluded,Reports excluded (databases and registers),dbrexcludedrecords.html,"Reason1, xxx; Reason2, xxx; Reason3, xxx"
other_assessed,node20,box14,Reports assessed for eligibility (other),Reports assessed for eligibility,Reports assessed for eligibility (other),other_assessed.html,0
other_excluded,node21,box15,"Reports excluded (other): [separate reasons and numbers using ; e.g. Reason1, xxx; Reason2, xxx; Reason3, xxx]",Reports excluded,Reports excluded (other),other_excluded.html,"Reason1, xxx; Reason2, xxx; Reason3, xxx"
new_studies,node15,box10,New studies included in review,New studies included in review,New studies included in review,new_studies.html,0
new_reports,NA,box10,Reports of new included studies,Reports of new included studies,NA,NA,0
total_studies,node22,box16,Total studies included in review,Total studies included in review,Total studies included in review,total_studies.html,0
total_reports,NA,box16,Reports of total included studies,Reports of total included studies,NA,NA,0
identification,node1,identification,Blue identification box,Identification,Blue identification box,identification.html,0
screening,node2,screening,Blue screening box,Screening,Blue screening box,screening.html,0
included,node3,included,Blue included box,Included,Blue included box,included.html,0
total_studies_ma,node23,box17,Total studies included in meta-analysis,Total studies included in meta-analysis,Total studies included in meta-analysis,total_studies_meta_analysis.html,0
total_reports_ma,NA,box17,Reports of total included studies in meta-analysis,Reports of total included studies in meta-analysis,NA,NA,0
"""


def _read_template() -> tuple[tuple[str, ...], tuple[dict[str, str], ...]]:
    reader = csv.DictReader(io.StringIO(_TEMPLATE_CSV))
    rows = tuple(dict(row) for row in reader)
    return tuple(reader.fieldnames or ()), rows


TEMPLATE_COLUMNS, _TEMPLATE_ROWS = _read_template()
# Rows whose ``data`` is "NA" are title boxes with no number of their own.
TEMPLATE_FIELDS: tuple[str, ...] = tuple(r["data"] for r in _TEMPLATE_ROWS if r["data"] != "NA")
PHASE_FIELDS = ("identification", "screening", "included")
# Fields whose template cell holds "name, n; name, n" instead of a single number.
BREAKDOWN_FIELDS = (
    "database_specific_results",
    "register_specific_results",
    "dbr_excluded",
    "other_excluded",
)
# Every box that holds a single number (dbr_excluded/other_excluded as their totals).
COUNT_FIELDS: tuple[str, ...] = tuple(
    f
    for f in TEMPLATE_FIELDS
    if f not in PHASE_FIELDS and f not in ("database_specific_results", "register_specific_results")
)
_OPTIONAL_FIELDS = ("total_studies_ma", "total_reports_ma")
_OTHER_METHODS_FIELDS = (
    "website_results",
    "organisation_results",
    "citations_results",
    "other_sought_reports",
    "other_notretrieved_reports",
    "other_assessed",
    "other_excluded",
)


@dataclass(frozen=True)
class ManualEntry:
    """Who typed a hand-entered box and when (plain strings, e.g. a username and an ISO date)."""

    entered_by: str
    entered_at: str


@dataclass(frozen=True, kw_only=True)
class PrismaCounts:
    """Every box of the PRISMA 2020 flow diagram, with optional record ids and manual flags.

    Per-source and per-reason counts are dicts (name -> n); the database and register totals are
    their sums. ``dbr_excluded`` and ``other_excluded`` are the totals of reports excluded, and
    ``*_excluded_reasons`` their breakdown (one reason per report, so they must add up).
    ``record_ids`` maps a field of ``COUNT_FIELDS`` to the ids the box counts (record ids for
    records and reports, study ids for studies), so a page can link a box to its records and a
    violation can name them. ``manual`` maps the hand-entered fields to who entered them and
    when; every other box is computed. The meta-analysis boxes are ``None`` when not reported.
    """

    databases: Mapping[str, int] = field(default_factory=dict)
    registers: Mapping[str, int] = field(default_factory=dict)
    duplicates: int = 0
    excluded_automatic: int = 0
    excluded_other: int = 0
    records_screened: int = 0
    records_excluded: int = 0
    dbr_sought_reports: int = 0
    dbr_notretrieved_reports: int = 0
    dbr_assessed: int = 0
    dbr_excluded: int = 0
    dbr_excluded_reasons: Mapping[str, int] = field(default_factory=dict)
    website_results: int = 0
    organisation_results: int = 0
    citations_results: int = 0
    other_sought_reports: int = 0
    other_notretrieved_reports: int = 0
    other_assessed: int = 0
    other_excluded: int = 0
    other_excluded_reasons: Mapping[str, int] = field(default_factory=dict)
    new_studies: int = 0
    new_reports: int = 0
    previous_studies: int = 0
    previous_reports: int = 0
    total_studies: int = 0
    total_reports: int = 0
    total_studies_ma: int | None = None
    total_reports_ma: int | None = None
    record_ids: Mapping[str, Sequence[RecordId]] = field(default_factory=dict)
    manual: Mapping[str, ManualEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in COUNT_FIELDS:
            if name in ("database_results", "register_results"):
                continue
            value = getattr(self, name)
            if value is None and name in _OPTIONAL_FIELDS:
                continue
            _require_int(name, value)
        if (self.total_studies_ma is None) != (self.total_reports_ma is None):
            raise ValueError("Give both total_studies_ma and total_reports_ma, or neither.")
        for name in ("databases", "registers", "dbr_excluded_reasons", "other_excluded_reasons"):
            for key, value in getattr(self, name).items():
                if not isinstance(key, str) or not key.strip():
                    raise ValueError(f"{name}: names must be non-empty strings, got {key!r}.")
                _require_int(f"{name}[{key!r}]", value)
        for label, keys in (("record_ids", self.record_ids), ("manual", self.manual)):
            unknown = sorted(set(keys) - set(COUNT_FIELDS))
            if unknown:
                raise ValueError(f"{label} has keys that are not PRISMA boxes: {unknown}.")
        for name, entry in self.manual.items():
            if not isinstance(entry, ManualEntry):
                raise TypeError(f"manual[{name!r}] must be a ManualEntry.")

    @property
    def database_results(self) -> int:
        """Records identified from databases, all databases together."""
        return sum(self.databases.values())

    @property
    def register_results(self) -> int:
        """Records identified from registers, all registers together."""
        return sum(self.registers.values())

    @property
    def uses_other_methods(self) -> bool:
        """Whether the other-methods arm has anything to show (any of its counts above zero)."""
        return any(self.count(f) for f in _OTHER_METHODS_FIELDS)

    @property
    def has_previous(self) -> bool:
        """Whether this is an update with studies carried over from a previous version."""
        return self.previous_studies > 0 or self.previous_reports > 0

    @property
    def has_meta_analysis(self) -> bool:
        """Whether the meta-analysis boxes were given."""
        return self.total_studies_ma is not None

    def count(self, name: str) -> int | None:
        """The number in the box named by a ``COUNT_FIELDS`` name."""
        if name not in COUNT_FIELDS:
            raise KeyError(name)
        return getattr(self, name)

    def is_manual(self, name: str) -> bool:
        """Whether the box was entered by hand rather than computed from the review's data."""
        return name in self.manual


def _require_int(name: str, value: object) -> None:
    # bool is an int subclass; True as a count is always a bug upstream.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}.")


# --- invariants -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One broken PRISMA equation: which rule, the equation, its numbers, and the ids involved."""

    rule: str
    equation: str
    numbers: str
    record_ids: tuple[RecordId, ...] = ()
    ids_note: str = ""

    def __str__(self) -> str:
        text = f"[{self.rule}] {self.equation}: {self.numbers}"
        if self.ids_note:
            text += f". {self.ids_note}"
        return text


class PrismaInconsistent(ValueError):
    """The counts break at least one PRISMA equation; ``violations`` lists every one."""

    def __init__(self, found: Sequence[Violation]):
        self.violations = list(found)
        lines = "\n".join(f"- {v}" for v in self.violations)
        plural = "s" if len(self.violations) != 1 else ""
        super().__init__(
            f"PRISMA counts are inconsistent ({len(self.violations)} problem{plural}):\n{lines}"
        )


@dataclass(frozen=True)
class _Flow:
    """``sum(sources) - sum(removed) = result``: every item entering a stage leaves it once."""

    rule: str
    sources: tuple[str, ...]
    removed: tuple[str, ...]
    result: str


_FLOWS = (
    _Flow(
        "identification",
        ("database_results", "register_results"),
        ("duplicates", "excluded_automatic", "excluded_other"),
        "records_screened",
    ),
    _Flow("screening", ("records_screened",), ("records_excluded",), "dbr_sought_reports"),
    _Flow("retrieval", ("dbr_sought_reports",), ("dbr_notretrieved_reports",), "dbr_assessed"),
    _Flow(
        "other_retrieval",
        ("other_sought_reports",),
        ("other_notretrieved_reports",),
        "other_assessed",
    ),
    _Flow(
        "eligibility",
        ("dbr_assessed", "other_assessed"),
        ("dbr_excluded", "other_excluded"),
        "new_reports",
    ),
    _Flow("total_studies", ("new_studies", "previous_studies"), (), "total_studies"),
    _Flow("total_reports", ("new_reports", "previous_reports"), (), "total_reports"),
)

_STUDY_REPORT_PAIRS = (
    ("new_studies", "new_reports"),
    ("previous_studies", "previous_reports"),
    ("total_studies", "total_reports"),
    ("total_studies_ma", "total_reports_ma"),
)

_MAX_IDS_IN_MESSAGE = 20


def _sort_ids(ids: Iterable[RecordId]) -> tuple[RecordId, ...]:
    return tuple(sorted(ids, key=lambda v: (0, v, "") if isinstance(v, int) else (1, 0, str(v))))


def _ids_text(ids: Sequence[RecordId]) -> str:
    shown = ", ".join(str(i) for i in ids[:_MAX_IDS_IN_MESSAGE])
    if len(ids) > _MAX_IDS_IN_MESSAGE:
        shown += f" and {len(ids) - _MAX_IDS_IN_MESSAGE} more"
    return shown


def _flow_ids(counts: PrismaCounts, flow: _Flow) -> tuple[tuple[RecordId, ...], str]:
    """Ids that explain a broken flow, when every box in it carries its ids."""
    boxes = (*flow.sources, *flow.removed, flow.result)
    # An empty box needs no ids to be known; any other box without them leaves the flow vague.
    known = {b: counts.record_ids.get(b, ()) for b in boxes}
    if any(b not in counts.record_ids and counts.count(b) for b in boxes):
        return (), ""
    left = {i for b in flow.sources for i in known[b]}
    right_counter = Counter(i for b in (*flow.removed, flow.result) for i in set(known[b]))
    right = set(right_counter)
    unaccounted = _sort_ids(left - right)
    appeared = _sort_ids(right - left)
    twice = _sort_ids(i for i, n in right_counter.items() if n > 1)
    notes = []
    if unaccounted:
        notes.append(
            f"ids counted in {' + '.join(flow.sources)} but in no box after it: "
            f"{_ids_text(unaccounted)}"
        )
    if appeared:
        notes.append(
            f"ids in {', '.join((*flow.removed, flow.result))} that were never in "
            f"{' + '.join(flow.sources)}: {_ids_text(appeared)}"
        )
    if twice:
        notes.append(
            f"ids counted in more than one of "
            f"{', '.join((*flow.removed, flow.result))}: {_ids_text(twice)}"
        )
    return _sort_ids({*unaccounted, *appeared, *twice}), "; ".join(notes)


def _check_flow(counts: PrismaCounts, flow: _Flow) -> Violation | None:
    sources = [counts.count(b) or 0 for b in flow.sources]
    removed = [counts.count(b) or 0 for b in flow.removed]
    result = counts.count(flow.result) or 0
    expected = sum(sources) - sum(removed)
    if expected == result:
        return None
    equation = " + ".join(flow.sources)
    numbers = " + ".join(str(n) for n in sources)
    if flow.removed:
        equation += " - " + " - ".join(flow.removed)
        numbers += " - " + " - ".join(str(n) for n in removed)
    equation += f" = {flow.result}"
    numbers += f" = {expected}, but {flow.result} = {result} (off by {result - expected:+d})"
    ids, note = _flow_ids(counts, flow)
    return Violation(flow.rule, equation, numbers, ids, note)


def _check_reasons(counts: PrismaCounts, total_field: str) -> Violation | None:
    reasons: Mapping[str, int] = getattr(counts, f"{total_field}_reasons")
    total = counts.count(total_field) or 0
    if sum(reasons.values()) == total:
        return None
    listed = " + ".join(f"{n} ({name})" for name, n in reasons.items()) or "0 (no reasons given)"
    ids = _sort_ids(counts.record_ids.get(total_field, ()))
    note = f"reports excluded: {_ids_text(ids)}" if ids else ""
    return Violation(
        f"{total_field}_reasons",
        f"sum of {total_field} per reason = {total_field}",
        f"{listed} = {sum(reasons.values())}, but {total_field} = {total}",
        ids,
        note,
    )


def _check_negative(counts: PrismaCounts) -> list[Violation]:
    found = []
    for name in COUNT_FIELDS:
        value = counts.count(name)
        if value is not None and value < 0:
            found.append(Violation("non_negative", f"{name} >= 0", f"{name} = {value}"))
    for name in ("databases", "registers", "dbr_excluded_reasons", "other_excluded_reasons"):
        for key, value in getattr(counts, name).items():
            if value < 0:
                found.append(Violation("non_negative", f"{name}[{key!r}] >= 0", f"it is {value}"))
    return found


def _check_studies_reports(counts: PrismaCounts) -> list[Violation]:
    found = []
    for studies_field, reports_field in _STUDY_REPORT_PAIRS:
        studies, reports = counts.count(studies_field), counts.count(reports_field)
        if studies is None or reports is None:
            continue
        # A study is known through at least one report, and one report describes one study.
        if studies > reports:
            found.append(
                Violation(
                    "studies_le_reports",
                    f"{studies_field} <= {reports_field}",
                    f"{studies} > {reports}",
                )
            )
        elif reports > 0 and studies == 0:
            found.append(
                Violation(
                    "studies_for_reports",
                    f"{reports_field} > 0 implies {studies_field} > 0",
                    f"{reports_field} = {reports}, but {studies_field} = 0",
                )
            )
    if counts.has_meta_analysis:
        for part, whole in (
            ("total_studies_ma", "total_studies"),
            ("total_reports_ma", "total_reports"),
        ):
            if (counts.count(part) or 0) > (counts.count(whole) or 0):
                found.append(
                    Violation(
                        "meta_analysis_subset",
                        f"{part} <= {whole}",
                        f"{counts.count(part)} > {counts.count(whole)}",
                    )
                )
    return found


def _check_other_sought(counts: PrismaCounts) -> Violation | None:
    # The other-methods arm has no screening box, so records identified need not all be sought,
    # but more reports than records identified cannot be sought.
    identified = counts.website_results + counts.organisation_results + counts.citations_results
    if counts.other_sought_reports <= identified:
        return None
    return Violation(
        "other_identification",
        "other_sought_reports <= website_results + organisation_results + citations_results",
        f"{counts.other_sought_reports} > {counts.website_results} + "
        f"{counts.organisation_results} + {counts.citations_results} = {identified}",
    )


def _check_ids_match_counts(counts: PrismaCounts) -> list[Violation]:
    found = []
    for name, ids in counts.record_ids.items():
        value = counts.count(name)
        repeated = _sort_ids(i for i, n in Counter(ids).items() if n > 1)
        distinct = len(set(ids))
        if repeated:
            found.append(
                Violation(
                    f"ids:{name}",
                    f"each id listed once in {name}",
                    f"{len(ids)} ids listed, {distinct} distinct",
                    repeated,
                    f"listed more than once: {_ids_text(repeated)}",
                )
            )
        if value is not None and distinct != value:
            found.append(
                Violation(
                    f"ids:{name}",
                    f"number of ids in {name} = {name}",
                    f"{distinct} ids, but {name} = {value}",
                )
            )
    return found


def violations(counts: PrismaCounts) -> list[Violation]:
    """Every PRISMA 2020 equation the counts break; empty when the flow adds up.

    Checked: no negative count; each stage of both arms conserves its items (identified -
    duplicates - automation - other removed = screened; screened - excluded = sought; sought -
    not retrieved = assessed; assessed - excluded = new reports, the other-methods arm adding its
    own assessed and excluded); per-reason exclusions add up to the excluded total; the
    other-methods arm cannot seek more reports than it identified records; totals = new +
    previous; studies <= reports; meta-analysis boxes within the totals; and each box's record
    ids, when given, are distinct and as many as its number.
    """
    found = _check_negative(counts)
    for flow in _FLOWS:
        broken = _check_flow(counts, flow)
        if broken:
            found.append(broken)
    for total_field in ("dbr_excluded", "other_excluded"):
        broken = _check_reasons(counts, total_field)
        if broken:
            found.append(broken)
    broken = _check_other_sought(counts)
    if broken:
        found.append(broken)
    found.extend(_check_studies_reports(counts))
    found.extend(_check_ids_match_counts(counts))
    return found


def check(counts: PrismaCounts) -> None:
    """Raise ``PrismaInconsistent`` naming every broken equation; return quietly otherwise."""
    found = violations(counts)
    if found:
        raise PrismaInconsistent(found)


# --- PRISMA2020 template CSV and JSON ---------------------------------------------------------

# The R package splits the cell on ";" and takes the name up to the first ",", so neither may
# appear inside a name.
_SEPARATORS = re.compile(r"\s*[;,]\s*")


def _safe_name(name: str) -> str:
    return _SEPARATORS.sub(" / ", name.strip())


def format_named_counts(named: Mapping[str, int], total: int) -> str:
    """A breakdown as the PRISMA2020 template writes it: ``"PubMed, 205; Embase, 120"``.

    With no names the cell holds the bare total, which the R package reads as a count without
    reasons. Commas and semicolons inside a name would split it in ``PRISMA_parse_reasons_``, so
    they become " / ".
    """
    if not named:
        return str(total)
    return "; ".join(f"{_safe_name(name)}, {n}" for name, n in named.items())


def parse_named_counts(text: str) -> dict[str, int]:
    """Read a ``"name, n; name, n"`` cell the way the PRISMA2020 R package does.

    Mirrors ``PRISMA_parse_reasons_`` (R/PRISMA_format.R): entries split on ";" plus an optional
    space, the name is the text before the first comma, the number the digits after it. A cell
    with only digits and commas is a bare total and comes back as ``{"": n}``.
    """
    if not re.search(r"[^0-9,]", text):
        return {"": int(text.replace(",", "") or 0)}
    parsed = {}
    for entry in re.split(r"; ?", text):
        name, _, rest = entry.partition(",")
        digits = re.sub(r"[^0-9]", "", rest)
        parsed[name] = int(digits) if digits else 0
    return parsed


def _template_cell(counts: PrismaCounts, name: str, template_n: str) -> str:
    if name == "database_specific_results":
        return format_named_counts(counts.databases, counts.database_results)
    if name == "register_specific_results":
        return format_named_counts(counts.registers, counts.register_results)
    if name in ("dbr_excluded", "other_excluded"):
        return format_named_counts(getattr(counts, f"{name}_reasons"), counts.count(name) or 0)
    if name in COUNT_FIELDS:
        value = counts.count(name)
        # Blank reads as NA in R: "not reported", which 0 would misstate for the meta-analysis.
        return "" if value is None else str(value)
    # Title and phase boxes have no number; keep the template's placeholder.
    return template_n


def template_rows(counts: PrismaCounts) -> list[dict[str, str]]:
    """The template's rows, in its order, with ``n`` filled from checked counts."""
    check(counts)
    return [{**row, "n": _template_cell(counts, row["data"], row["n"])} for row in _TEMPLATE_ROWS]


def to_template_csv(counts: PrismaCounts) -> str:
    """The counts as a PRISMA2020 template CSV that the R package and Shiny app can load.

    Same columns, rows and order as the template; only ``n`` changes. Raises
    ``PrismaInconsistent`` rather than export counts that do not add up. Database, register and
    reason names are typed by users and the file is opened in spreadsheets too, so every cell goes
    through ``neutralise`` like the other downloads (a name starting with "=" gets a quote).
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=TEMPLATE_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(
        {key: neutralise(value) for key, value in row.items()} for row in template_rows(counts)
    )
    return buf.getvalue()


def _breakdown(counts: PrismaCounts, name: str) -> dict[str, int] | None:
    source = {
        "database_specific_results": counts.databases,
        "register_specific_results": counts.registers,
        "dbr_excluded": counts.dbr_excluded_reasons,
        "other_excluded": counts.other_excluded_reasons,
    }.get(name)
    return None if source is None else dict(source)


def _json_count(counts: PrismaCounts, name: str) -> int | None:
    if name == "database_specific_results":
        return counts.database_results
    if name == "register_specific_results":
        return counts.register_results
    if name in PHASE_FIELDS:
        return None
    return counts.count(name)


def to_json_dict(counts: PrismaCounts) -> dict[str, dict[str, Any]]:
    """The counts keyed by the template's field names, in template order, ready for ``json``.

    Each value holds ``n`` (``None`` for the phase labels and an unreported meta-analysis),
    ``breakdown`` (name -> n for the per-database, per-register and per-reason fields, else
    ``None``), ``record_ids`` (``None`` when not given), ``manual`` and, for hand-entered boxes,
    ``entered_by`` and ``entered_at``. Raises ``PrismaInconsistent`` on counts that do not add up.
    """
    check(counts)
    out: dict[str, dict[str, Any]] = {}
    for name in TEMPLATE_FIELDS:
        entry = counts.manual.get(name)
        ids = counts.record_ids.get(name)
        out[name] = {
            "n": _json_count(counts, name),
            "breakdown": _breakdown(counts, name),
            "record_ids": None if ids is None else list(_sort_ids(ids)),
            "manual": entry is not None,
            "entered_by": entry.entered_by if entry else None,
            "entered_at": entry.entered_at if entry else None,
        }
    return out


def to_json(counts: PrismaCounts) -> str:
    """``to_json_dict`` serialised, indented for people reading the download."""
    return json.dumps(to_json_dict(counts), indent=2, ensure_ascii=False)
