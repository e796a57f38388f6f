"""Entries checked against their form, with one clear message per input."""

from reviewapp.extraction.validation import entries_compare, entry_clean, flatten
from tests.extraction.helpers import definition_sample, entry_sample


def _clean(raw, complete=True):
    return entry_clean(definition_sample(), raw, complete=complete)


def _one_row(group, **parts):
    return {"values": {}, "outcomes": [{"group": group, **parts}]}


def test_a_complete_entry_is_typed():
    cleaned = _clean(entry_sample())
    assert cleaned.errors == {}
    values = cleaned.data["values"]
    assert values["participants_mean_age"] == 38.5
    assert values["participants_number"] == 120
    assert values["participants_women_only"] is False
    assert values["participants_subtypes"] == ["RRMS"]
    assert values["participants_recruited_from"] == "2012-03-01"
    relapse = cleaned.data["outcomes"][0]
    assert relapse["arm1_events"] == 12 and relapse["arm2_total"] == 38
    assert cleaned.data["outcomes"][2]["estimate"] == 2.1


def test_events_above_the_total_are_refused_with_both_numbers():
    cleaned = _clean(
        _one_row("outcomes_relapse", arm1_events="12", arm1_total="10"), complete=False
    )
    assert cleaned.errors == {
        "outcomes_relapse__0__arm1_events": "Arm 1 events (12) cannot exceed arm 1 total (10)."
    }


def test_a_proportion_cannot_have_more_events_than_its_total():
    cleaned = _clean(_one_row("outcomes_rebound", events="9", total="4"), complete=False)
    assert (
        cleaned.errors["outcomes_rebound__0__events"] == "Events (9) cannot exceed the total (4)."
    )


def test_a_standard_deviation_must_be_positive():
    cleaned = _clean(_one_row("outcomes_edss_change", arm1_sd="0", arm2_sd="-1.2"), complete=False)
    assert cleaned.errors == {
        "outcomes_edss_change__0__arm1_sd": "Arm 1 SD must be positive (got 0).",
        "outcomes_edss_change__0__arm2_sd": "Arm 2 SD must be positive (got -1.2).",
    }


def test_a_standard_error_must_be_positive():
    cleaned = _clean(_one_row("outcomes_time_to_relapse", estimate="1.2", se="0"), complete=False)
    assert cleaned.errors == {"outcomes_time_to_relapse__0__se": "SE must be positive (got 0)."}


def test_the_confidence_interval_must_contain_the_estimate():
    cleaned = _clean(
        _one_row("outcomes_time_to_relapse", estimate="0.8", ci_lower="0.9", ci_upper="1.5"),
        complete=False,
    )
    assert cleaned.errors == {
        "outcomes_time_to_relapse__0__estimate": (
            "The 95% CI (0.9 to 1.5) does not contain the estimate (0.8)."
        )
    }


def test_a_ratio_measure_must_be_positive():
    cleaned = _clean(
        _one_row("outcomes_time_to_relapse", estimate="-0.2", ci_lower="-1", ci_upper="1"),
        complete=False,
    )
    assert cleaned.errors["outcomes_time_to_relapse__0__estimate"] == (
        "A hazard ratio must be positive (got -0.2)."
    )


def test_both_confidence_limits_or_neither():
    cleaned = _clean(
        _one_row("outcomes_time_to_relapse", estimate="1.1", ci_lower="0.9"), complete=False
    )
    assert cleaned.errors == {
        "outcomes_time_to_relapse__0__ci_upper": "Give both limits of the 95% CI, or neither."
    }


def test_numbers_outside_the_fields_range_are_refused():
    cleaned = _clean(
        {"values": {"participants_mean_age": "130", "participants_number": "0"}}, complete=False
    )
    assert cleaned.errors == {
        "participants_mean_age": "Mean age must be at most 120 (got 130).",
        "participants_number": "Number must be at least 1 (got 0).",
    }


def test_values_of_the_wrong_type_say_what_was_typed():
    cleaned = _clean(
        {
            "values": {
                "participants_number": "12.5",
                "participants_mean_age": "about 40",
                "participants_women_only": "perhaps",
                "participants_recruited_from": "March 2012",
                "study_design_design": "Survey",
            }
        },
        complete=False,
    )
    assert cleaned.errors == {
        "participants_number": "Number must be a whole number (got '12.5').",
        "participants_mean_age": "Mean age must be a number (got 'about 40').",
        "participants_women_only": "Women only must be yes or no (got 'perhaps').",
        "participants_recruited_from": "Recruited from must be a date written YYYY-MM-DD (got 'March 2012').",
        "study_design_design": "Design: 'Survey' is not one of the choices.",
    }


def test_required_fields_are_enforced_only_when_submitting():
    assert _clean({"values": {}}, complete=False).errors == {}
    assert _clean({"values": {}}, complete=True).errors == {
        "study_design_country": "Country is required.",
        "study_design_design": "Design is required.",
    }


def test_a_decimal_comma_is_read_as_a_decimal_point():
    cleaned = _clean({"values": {"participants_mean_age": "38,5"}}, complete=False)
    assert cleaned.data["values"]["participants_mean_age"] == 38.5


def test_empty_outcome_rows_are_dropped_and_the_outcome_is_named_after_its_group():
    raw = {
        "values": {},
        "outcomes": [
            {"group": "outcomes_relapse", "outcome": "", "arm1_events": ""},
            {"group": "outcomes_edss_change", "arm1_mean": "0.4"},
        ],
    }
    cleaned = _clean(raw, complete=False)
    assert cleaned.data["outcomes"] == [
        {
            "group": "outcomes_edss_change",
            "arm1_mean": 0.4,
            "outcome": "EDSS change",
            "units": "points",
        }
    ]


def test_a_row_of_a_group_the_form_does_not_have_is_reported():
    cleaned = _clean({"values": {}, "outcomes": [{"group": "gone", "events": "1"}]}, complete=False)
    assert "gone__form" in cleaned.errors


def test_the_comparison_marks_only_differing_inputs():
    definition = definition_sample()
    a = entry_clean(definition, entry_sample(), complete=True).data
    b = entry_clean(
        definition,
        entry_sample(participants_mean_age="38.50", participants_number="118"),
        complete=True,
    ).data
    b["outcomes"][0]["arm1_events"] = 13
    compared = {c.key: c for c in entries_compare(definition, [a, b])}
    differing = sorted(k for k, c in compared.items() if c.differs)
    assert differing == ["outcomes_relapse__0__arm1_events", "participants_number"]
    assert compared["participants_number"].values == (120, 118)
    assert compared["outcomes_relapse__0__arm1_events"].label == "Relapse #1: Arm 1 events"


def test_an_outcome_row_only_one_extractor_gave_differs():
    definition = definition_sample()
    a = entry_clean(definition, entry_sample(), complete=True).data
    b = {"values": a["values"], "outcomes": a["outcomes"][:1] + a["outcomes"][2:]}
    differing = {c.key for c in entries_compare(definition, [a, b]) if c.differs}
    assert "outcomes_relapse__1__arm1_events" in differing


def test_flatten_names_match_the_error_keys():
    definition = definition_sample()
    data = entry_clean(definition, entry_sample(), complete=True).data
    flat = flatten(definition, data)
    assert flat["outcomes_relapse__1__time_point"] == "12 months"
