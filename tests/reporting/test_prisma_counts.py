"""PRISMA 2020 arithmetic: the boxes add up, broken counts are named, exports follow the template."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import pytest

from reviewapp.reporting import prisma
from reviewapp.reporting.prisma import (
    ManualEntry,
    PrismaCounts,
    PrismaInconsistent,
    check,
    format_named_counts,
    parse_named_counts,
    to_json,
    to_json_dict,
    to_template_csv,
    violations,
)
from tests.reporting import REFERENCE_REASONS, TEMPLATE_PATH, reference_counts


def read_fixture() -> tuple[list[str], list[dict[str, str]]]:
    with TEMPLATE_PATH.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def read_export(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or []), list(reader)


def rules(counts: PrismaCounts) -> set[str]:
    return {v.rule for v in violations(counts)}


def full_counts() -> PrismaCounts:
    """An update with every arm used; boxes chosen by hand to add up."""
    return PrismaCounts(
        databases={"PubMed": 120, "Embase": 80},
        registers={"ClinicalTrials.gov": 10},
        duplicates=50,
        excluded_automatic=5,
        excluded_other=5,
        records_screened=150,
        records_excluded=110,
        dbr_sought_reports=40,
        dbr_notretrieved_reports=4,
        dbr_assessed=36,
        dbr_excluded=20,
        dbr_excluded_reasons={"Wrong design": 12, "Wrong population": 8},
        website_results=3,
        organisation_results=2,
        citations_results=10,
        other_sought_reports=8,
        other_notretrieved_reports=1,
        other_assessed=7,
        other_excluded=4,
        other_excluded_reasons={"Wrong design": 4},
        new_studies=17,
        new_reports=19,
        previous_studies=6,
        previous_reports=8,
        total_studies=23,
        total_reports=27,
        total_studies_ma=20,
        total_reports_ma=24,
        manual={
            "previous_studies": ManualEntry("olivia", "2024-05-01T10:00:00+00:00"),
            "citations_results": ManualEntry("ravi", "2024-05-02"),
        },
    )


# --- invariants -------------------------------------------------------------------------------


def test_reference_case_adds_up():
    counts = reference_counts()
    assert violations(counts) == []
    check(counts)
    assert counts.database_results == 205
    assert counts.records_screened - counts.records_excluded == counts.dbr_sought_reports
    assert counts.dbr_assessed - counts.dbr_excluded == counts.new_reports == 35


def test_full_update_with_other_methods_adds_up():
    counts = full_counts()
    assert violations(counts) == []
    assert counts.uses_other_methods
    assert counts.has_previous


def test_screened_off_by_one_names_equation_numbers_and_record():
    good = reference_counts()
    ids = dict(good.record_ids)
    ids["records_screened"] = [*ids["records_screened"], 999]
    bad = dataclasses.replace(good, records_screened=206, record_ids=ids)

    with pytest.raises(PrismaInconsistent) as info:
        check(bad)

    message = str(info.value)
    assert (
        "database_results + register_results - duplicates - excluded_automatic - excluded_other"
        " = records_screened" in message
    )
    assert "205 + 0 - 0 - 0 - 0 = 205, but records_screened = 206" in message
    assert "999" in message
    identification = next(v for v in info.value.violations if v.rule == "identification")
    assert identification.record_ids == (999,)
    # The extra record also breaks the next stage down.
    assert "records_screened - records_excluded = dbr_sought_reports" in message


def test_record_missing_from_every_box_after_a_stage_is_named():
    good = reference_counts()
    ids = dict(good.record_ids)
    ids["records_excluded"] = [i for i in ids["records_excluded"] if i != 17]
    bad = dataclasses.replace(good, records_excluded=139, record_ids=ids)

    screening = next(v for v in violations(bad) if v.rule == "screening")

    assert screening.record_ids == (17,)
    assert "in no box after it: 17" in str(screening)


def test_record_counted_in_two_boxes_is_named():
    good = reference_counts()
    ids = dict(good.record_ids)
    ids["dbr_excluded"] = [*ids["dbr_excluded"], 180]
    reasons = {**REFERENCE_REASONS, "Wrong population": 10}
    bad = dataclasses.replace(good, dbr_excluded=29, dbr_excluded_reasons=reasons, record_ids=ids)

    eligibility = next(v for v in violations(bad) if v.rule == "eligibility")

    assert eligibility.record_ids == (180,)
    assert "more than one" in str(eligibility)


def test_reason_sum_not_matching_excluded_total_is_named():
    reasons = {**REFERENCE_REASONS, "Wrong population": 8}
    bad = dataclasses.replace(reference_counts(), dbr_excluded_reasons=reasons)

    with pytest.raises(PrismaInconsistent) as info:
        check(bad)

    (violation,) = info.value.violations
    assert violation.rule == "dbr_excluded_reasons"
    assert "sum of dbr_excluded per reason = dbr_excluded" in str(info.value)
    assert "= 27, but dbr_excluded = 28" in str(info.value)
    assert violation.record_ids == tuple(range(143, 171))


def test_excluded_reports_without_reasons_break_the_reason_sum():
    bad = dataclasses.replace(reference_counts(), dbr_excluded_reasons={})
    assert rules(bad) == {"dbr_excluded_reasons"}


def test_negative_count_is_a_violation():
    bad = dataclasses.replace(
        reference_counts(with_ids=False), dbr_notretrieved_reports=-1, dbr_assessed=66
    )
    found = violations(bad)
    assert any(v.rule == "non_negative" and "dbr_notretrieved_reports" in v.equation for v in found)


def test_negative_per_database_count_is_a_violation():
    bad = dataclasses.replace(
        reference_counts(with_ids=False), databases={"PubMed": 210, "Embase": -5}
    )
    assert "non_negative" in rules(bad)


def test_other_methods_chain_is_checked():
    counts = full_counts()
    assert "other_retrieval" in rules(dataclasses.replace(counts, other_assessed=6))
    assert "other_excluded_reasons" in rules(
        dataclasses.replace(counts, other_excluded_reasons={"Wrong design": 3})
    )


def test_other_methods_reports_join_the_new_studies():
    # Dropping the other arm's included reports leaves new_reports three too high.
    counts = dataclasses.replace(full_counts(), other_assessed=4, other_sought_reports=5)
    assert "eligibility" in rules(counts)


def test_other_methods_cannot_seek_more_reports_than_records_found():
    counts = dataclasses.replace(
        full_counts(), citations_results=2, website_results=0, organisation_results=0
    )
    assert rules(counts) == {"other_identification"}


def test_totals_add_previous_version():
    counts = full_counts()
    assert "total_studies" in rules(dataclasses.replace(counts, total_studies=17))
    assert "total_reports" in rules(dataclasses.replace(counts, total_reports=19))


def test_studies_cannot_outnumber_reports():
    counts = dataclasses.replace(
        full_counts(), new_studies=20, total_studies=26, total_studies_ma=20
    )
    assert "studies_le_reports" in rules(counts)


def test_reports_need_at_least_one_study():
    counts = dataclasses.replace(reference_counts(with_ids=False), new_studies=0, total_studies=0)
    assert "studies_for_reports" in rules(counts)


def test_meta_analysis_within_totals():
    counts = dataclasses.replace(full_counts(), total_studies_ma=24, total_reports_ma=26)
    assert rules(counts) == {"meta_analysis_subset"}


def test_meta_analysis_boxes_come_in_pairs():
    with pytest.raises(ValueError, match="both"):
        dataclasses.replace(full_counts(), total_reports_ma=None)


def test_record_ids_must_match_the_box_count():
    good = reference_counts()
    ids = {**good.record_ids, "records_excluded": list(range(1, 140)) + [1]}
    found = violations(dataclasses.replace(good, record_ids=ids))
    messages = [str(v) for v in found if v.rule == "ids:records_excluded"]
    assert any("listed more than once: 1" in m for m in messages)
    assert any("139 ids, but records_excluded = 140" in m for m in messages)


def test_unknown_box_names_are_rejected():
    with pytest.raises(ValueError, match="not PRISMA boxes"):
        PrismaCounts(record_ids={"records_screend": [1]})
    with pytest.raises(ValueError, match="not PRISMA boxes"):
        PrismaCounts(manual={"studies": ManualEntry("a", "b")})


def test_counts_must_be_integers():
    with pytest.raises(TypeError):
        PrismaCounts(records_screened=2.0)
    with pytest.raises(TypeError):
        PrismaCounts(databases={"PubMed": True})


def test_manual_boxes_are_flagged():
    counts = full_counts()
    assert counts.is_manual("previous_studies")
    assert not counts.is_manual("records_screened")


# --- template CSV ------------------------------------------------------------------------------


def test_embedded_template_is_the_fixture():
    columns, rows = read_fixture()
    assert list(prisma.TEMPLATE_COLUMNS) == columns
    assert list(prisma._TEMPLATE_ROWS) == rows


def test_csv_keeps_the_template_columns_and_row_order():
    fixture_columns, fixture_rows = read_fixture()
    columns, rows = read_export(to_template_csv(full_counts()))

    assert (
        columns
        == fixture_columns
        == ["data", "node", "box", "description", "boxtext", "tooltips", "url", "n"]
    )
    assert [r["data"] for r in rows] == [r["data"] for r in fixture_rows]
    for row, fixture_row in zip(rows, fixture_rows, strict=True):
        assert {k: v for k, v in row.items() if k != "n"} == {
            k: v for k, v in fixture_row.items() if k != "n"
        }


@pytest.mark.parametrize("make", [reference_counts, full_counts])
def test_csv_round_trips_every_field(make):
    counts = make()
    _, rows = read_export(to_template_csv(counts))
    cells = {r["data"]: r["n"] for r in rows if r["data"] != "NA"}

    assert set(cells) == set(prisma.TEMPLATE_FIELDS)
    for name in prisma.COUNT_FIELDS:
        if name in ("dbr_excluded", "other_excluded"):
            reasons = getattr(counts, f"{name}_reasons")
            assert parse_named_counts(cells[name]) == (reasons or {"": counts.count(name)})
        elif counts.count(name) is None:
            assert cells[name] == ""
        else:
            assert int(cells[name]) == counts.count(name), name
    assert parse_named_counts(cells["database_specific_results"]) == counts.databases
    expected_registers = counts.registers or {"": 0}
    assert parse_named_counts(cells["register_specific_results"]) == expected_registers
    for phase in prisma.PHASE_FIELDS:
        assert cells[phase] == "0"


def test_reference_csv_cells_follow_the_r_package_conventions():
    _, rows = read_export(to_template_csv(reference_counts()))
    cells = {r["data"]: r["n"] for r in rows}
    assert cells["database_specific_results"] == "PubMed, 205"
    assert cells["dbr_excluded"] == (
        "Not a randomised controlled trial, 12; Wrong population, 9; "
        "No outcome of interest reported, 7"
    )
    assert cells["total_studies_ma"] == ""


def test_names_with_separators_survive_the_r_parser():
    named = {"Wrong population, adults; or children": 3, "Other": 2}
    cell = format_named_counts(named, 5)
    parsed = parse_named_counts(cell)
    assert list(parsed.values()) == [3, 2]
    assert "," not in next(iter(parsed)) and ";" not in next(iter(parsed))


def test_csv_refuses_inconsistent_counts():
    bad = dataclasses.replace(reference_counts(), records_excluded=139)
    with pytest.raises(PrismaInconsistent):
        to_template_csv(bad)


# --- JSON --------------------------------------------------------------------------------------


def test_json_keys_are_the_template_fields():
    _, fixture_rows = read_fixture()
    template_fields = [r["data"] for r in fixture_rows if r["data"] != "NA"]
    data = json.loads(to_json(full_counts()))
    assert list(data) == template_fields


def test_json_carries_breakdowns_ids_and_manual_flags():
    data = to_json_dict(full_counts())
    assert data["database_results"]["n"] == 200
    assert data["database_specific_results"]["breakdown"] == {"PubMed": 120, "Embase": 80}
    assert data["dbr_excluded"] == {
        "n": 20,
        "breakdown": {"Wrong design": 12, "Wrong population": 8},
        "record_ids": None,
        "manual": False,
        "entered_by": None,
        "entered_at": None,
    }
    assert data["previous_studies"]["manual"] is True
    assert data["previous_studies"]["entered_by"] == "olivia"
    assert data["identification"]["n"] is None

    reference = to_json_dict(reference_counts())
    assert reference["records_screened"]["record_ids"] == list(range(1, 206))
    assert reference["total_studies_ma"]["n"] is None


def test_json_refuses_inconsistent_counts():
    bad = dataclasses.replace(reference_counts(), new_reports=34)
    with pytest.raises(PrismaInconsistent):
        to_json(bad)


def test_csv_neutralises_a_name_that_a_spreadsheet_would_run():
    counts = dataclasses.replace(
        reference_counts(),
        databases={'=HYPERLINK("http://evil.example")': 205},
    )
    _, rows = read_export(to_template_csv(counts))
    cells = {r["data"]: r["n"] for r in rows}
    assert cells["database_specific_results"] == '\'=HYPERLINK("http://evil.example"), 205'
    # Counts and the template's own text are untouched.
    assert cells["records_screened"] == str(reference_counts().records_screened)
