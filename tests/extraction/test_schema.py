"""Form definitions as data: stable, unique column names; versions; effect-data columns."""

from reviewapp.extraction.schema import (
    META_COLUMNS,
    columns_union,
    definition_build,
    definition_check,
    definition_columns,
    slug_key,
)
from tests.extraction.helpers import definition_sample


def test_keys_are_the_slug_of_section_and_label():
    definition = definition_sample()
    keys = [c.key for c in definition_columns(definition) if c.group is None]
    assert keys[:3] == ["study_design_country", "study_design_design", "participants_mean_age"]


def test_two_fields_with_the_same_label_never_share_a_column():
    definition, errors = definition_build(
        [
            {"section": "Arm", "label": "Dose", "type": "text"},
            {"section": "Arm", "label": "Dose", "type": "text"},
            {"section": "Arm!", "label": "Dose?", "type": "integer"},
        ]
    )
    assert not errors
    keys = [c.key for c in definition_columns(definition)]
    assert keys == ["arm_dose", "arm_dose_2", "arm_dose_3"]
    assert len(set(keys)) == len(keys)


def test_a_field_cannot_take_an_export_column_name():
    definition, _ = definition_build([{"section": "Study", "label": "ID", "type": "text"}])
    (column,) = definition_columns(definition)
    assert column.key == "study_id_2"
    assert column.key not in META_COLUMNS


def test_slugs_are_ascii_and_never_hold_a_double_underscore():
    assert slug_key("Évolution  de l'EDSS __ (points)") == "evolution_de_l_edss_points"
    assert slug_key("!!!") == "field"


def test_a_kept_field_keeps_its_column_when_its_label_changes():
    v1, _ = definition_build([{"section": "Study", "label": "Country", "type": "text"}])
    v2, errors = definition_build(
        [
            {
                "key": "study_country",
                "section": "Study",
                "label": "Country of recruitment",
                "type": "text",
            }
        ],
        previous=[v1],
    )
    assert not errors
    assert [c.key for c in definition_columns(v2)] == ["study_country"]


def test_a_field_whose_type_changes_gets_a_new_column():
    v1, _ = definition_build([{"section": "Study", "label": "Year", "type": "text"}])
    v2, _ = definition_build(
        [{"key": "study_year", "section": "Study", "label": "Year", "type": "integer"}],
        previous=[v1],
    )
    assert [c.key for c in definition_columns(v2)] == ["study_year_2"]


def test_a_removed_fields_column_is_not_reused_by_a_new_field():
    v1, _ = definition_build([{"section": "Study", "label": "Country", "type": "text"}])
    v2, _ = definition_build(
        [{"section": "Study", "label": "Setting", "type": "text"}], previous=[v1]
    )
    v3, _ = definition_build(
        [{"section": "Study", "label": "Country", "type": "text"}], previous=[v1, v2]
    )
    assert [c.key for c in definition_columns(v3)] == ["study_country_2"]


def test_effect_groups_expand_to_one_column_per_part():
    definition = definition_sample()
    keys = [c.key for c in definition_columns(definition) if c.group == "outcomes_relapse"]
    assert keys == [
        "outcomes_relapse__outcome",
        "outcomes_relapse__time_point",
        "outcomes_relapse__units",
        "outcomes_relapse__arm1_label",
        "outcomes_relapse__arm1_events",
        "outcomes_relapse__arm1_total",
        "outcomes_relapse__arm2_label",
        "outcomes_relapse__arm2_events",
        "outcomes_relapse__arm2_total",
    ]
    estimate = [
        c.key for c in definition_columns(definition) if c.group == "outcomes_time_to_relapse"
    ]
    assert estimate[-2:] == [
        "outcomes_time_to_relapse__measure",
        "outcomes_time_to_relapse__ratio_measure",
    ]


def test_the_union_of_versions_keeps_old_columns_in_place_and_adds_new_ones():
    v1, _ = definition_build(
        [
            {"section": "Study", "label": "Country", "type": "text"},
            {"section": "Study", "label": "Year", "type": "integer"},
        ]
    )
    v2, _ = definition_build(
        [
            {"key": "study_year", "section": "Study", "label": "Year", "type": "integer"},
            {"section": "Study", "label": "Funding", "type": "text"},
        ],
        previous=[v1],
    )
    assert [c.key for c in columns_union([v1, v2])] == [
        "study_country",
        "study_year",
        "study_funding",
    ]


def test_the_definition_check_names_each_problem():
    errors = definition_check(
        {
            "sections": [
                {
                    "key": "a",
                    "title": "A",
                    "items": [
                        {
                            "kind": "field",
                            "key": "a_x",
                            "label": "X",
                            "type": "single_choice",
                            "choices": ["only"],
                        },
                        {
                            "kind": "field",
                            "key": "a_y",
                            "label": "Y",
                            "type": "integer",
                            "min": 5,
                            "max": 1,
                        },
                        {
                            "kind": "group",
                            "key": "a_z",
                            "label": "Z",
                            "type": "estimate",
                            "measure": "",
                        },
                        {"kind": "field", "key": "a_x", "label": "X again", "type": "text"},
                    ],
                },
                {"key": "b", "title": "", "items": []},
            ]
        }
    )
    assert "X: a choice field needs at least two choices." in errors
    assert "Y: the minimum (5) is above the maximum (1)." in errors
    assert any(e.startswith("Z: an estimate needs its measure") for e in errors)
    assert "X again: the column name 'a_x' is used twice." in errors
    assert "Section 2 has no title." in errors


def test_the_sample_definition_is_valid():
    assert definition_check(definition_sample()) == []
