"""Starter forms a review may begin from: plain builder rows, checked by the same schema as any
form a user builds (tests/extraction/test_starters.py saves each one).

Pure data; no Django. Each row is what ``schema.definition_build`` reads: ``section``, ``label``,
``type`` and the options that apply to that type.
"""

from __future__ import annotations

from typing import Any

ARM_HELP = "As the report names it, e.g. 'Natalizumab continued'."

RCT_OUTCOMES: list[dict[str, Any]] = [
    {
        "section": "Trial",
        "label": "Trial registration",
        "type": "text",
        "help": "Registry and number, e.g. NCT01234567.",
    },
    {
        "section": "Trial",
        "label": "Design",
        "type": "single_choice",
        "choices": ["Parallel group", "Cluster randomised", "Crossover"],
        "required": True,
    },
    {"section": "Trial", "label": "Country", "type": "text"},
    {
        "section": "Arms",
        "label": "Intervention arm",
        "type": "text",
        "required": True,
        "help": ARM_HELP,
    },
    {
        "section": "Arms",
        "label": "Comparator arm",
        "type": "text",
        "required": True,
        "help": ARM_HELP,
    },
    {
        "section": "Arms",
        "label": "Randomised to intervention (n)",
        "type": "integer",
        "min": 0,
        "required": True,
    },
    {
        "section": "Arms",
        "label": "Randomised to comparator (n)",
        "type": "integer",
        "min": 0,
        "required": True,
    },
    {
        "section": "Arms",
        "label": "Analysis population",
        "type": "single_choice",
        "choices": ["Intention to treat", "Modified intention to treat", "Per protocol"],
    },
    {
        "section": "Outcomes",
        "label": "Binary outcome",
        "type": "dichotomous",
        "help": "Events and totals per arm, one row per outcome and time point.",
    },
    {
        "section": "Outcomes",
        "label": "Continuous outcome",
        "type": "continuous",
        "help": "Mean, SD and N per arm, one row per outcome and time point.",
    },
    {
        "section": "Outcomes",
        "label": "Effect estimate",
        "type": "estimate",
        "measure": "RR",
        "help": "The adjusted estimate as reported, with its 95% CI (or its SE).",
    },
    {"section": "Notes", "label": "Notes", "type": "long_text"},
]

COHORT_CHARACTERISTICS: list[dict[str, Any]] = [
    {
        "section": "Study",
        "label": "Design",
        "type": "single_choice",
        "choices": ["Prospective cohort", "Retrospective cohort", "Registry-based cohort"],
        "required": True,
    },
    {"section": "Study", "label": "Country", "type": "text", "required": True},
    {"section": "Study", "label": "Setting", "type": "text", "help": "e.g. tertiary MS centres."},
    {
        "section": "Study",
        "label": "Recruitment period",
        "type": "text",
        "help": "e.g. 2010 to 2016.",
    },
    {
        "section": "Participants",
        "label": "Participants (n)",
        "type": "integer",
        "min": 0,
        "required": True,
    },
    {
        "section": "Participants",
        "label": "Age (years)",
        "type": "decimal",
        "min": 0,
        "max": 120,
    },
    {
        "section": "Participants",
        "label": "Age is reported as",
        "type": "single_choice",
        "choices": ["Mean", "Median"],
    },
    {
        "section": "Participants",
        "label": "Women (%)",
        "type": "decimal",
        "min": 0,
        "max": 100,
    },
    {
        "section": "Participants",
        "label": "Follow-up (months)",
        "type": "decimal",
        "min": 0,
        "help": "Median or mean, as reported.",
    },
    {"section": "Exposure", "label": "Exposure definition", "type": "long_text", "required": True},
    {"section": "Exposure", "label": "Comparison group", "type": "text"},
    {"section": "Outcome", "label": "Outcome definition", "type": "long_text", "required": True},
    {
        "section": "Outcome",
        "label": "Outcome ascertained by",
        "type": "multiple_choice",
        "choices": ["Clinical assessment", "Medical records", "Registry", "Self-report"],
    },
    {
        "section": "Outcome",
        "label": "Adjusted for",
        "type": "long_text",
        "help": "The confounders the main analysis adjusts for.",
    },
]

STARTERS: dict[str, dict[str, Any]] = {
    "rct-outcomes": {
        "name": "RCT outcome form",
        "description": (
            "Arms, numbers randomised, events or means with SD per arm, and an effect estimate "
            "with its 95% CI."
        ),
        "items": RCT_OUTCOMES,
    },
    "cohort-characteristics": {
        "name": "Cohort characteristics form",
        "description": (
            "Design, country, participants, age, sex, follow-up, exposure and outcome definitions."
        ),
        "items": COHORT_CHARACTERISTICS,
    },
}
