"""Extraction forms as data: the definition's shape, its keys and the columns it exports to.

Pure: no Django here. A definition is JSON stored in an immutable ``FormVersion``::

    {"sections": [
        {"key": "participants", "title": "Participants", "items": [
            {"kind": "field", "key": "participants_mean_age", "label": "Mean age",
             "type": "decimal", "required": true, "help": "", "choices": [], "min": 0, "max": 120},
            {"kind": "group", "key": "outcomes_relapse", "label": "Relapse", "type": "dichotomous",
             "measure": "", "units": "", "required": false, "help": ""}
        ]}
    ]}

Keys are the analyst's column names. They are made once, from the section title and the label,
de-duplicated against every key the form has ever used (and the export's own columns), and then
kept by later versions: two fields with the same label never share a column, a renamed field keeps
its column, and a field whose type changes gets a new one so old and new values never mix.

An effect-data group (one outcome's numbers for meta-analysis) expands to one column per part,
``<group key>__<part>``; field keys never contain ``__``, so the two can never collide.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FIELD_TYPES: dict[str, str] = {
    "text": "Text",
    "long_text": "Long text",
    "integer": "Whole number",
    "decimal": "Decimal number",
    "yes_no": "Yes / no",
    "single_choice": "Single choice",
    "multiple_choice": "Multiple choice",
    "date": "Date",
}

GROUP_TYPES: dict[str, str] = {
    "dichotomous": "Effect data: 2x2 counts (events and totals per arm)",
    "continuous": "Effect data: means with SD and N per arm",
    "proportion": "Effect data: single proportion (events and total)",
    "estimate": "Effect data: estimate with its 95% CI or SE",
    "correlation": "Effect data: correlation coefficient (r and N)",
}

MEASURES: dict[str, str] = {
    "OR": "Odds ratio",
    "RR": "Risk ratio",
    "HR": "Hazard ratio",
    "IRR": "Rate ratio",
    "RD": "Risk difference",
    "MD": "Mean difference",
    "SMD": "Standardised mean difference",
}
# Ratio measures are pooled on the log scale, so their estimate and limits must be positive.
RATIO_MEASURES = frozenset({"OR", "RR", "HR", "IRR"})

# (part, label, value type) of every row of a group, whatever its type.
COMMON_PARTS: tuple[tuple[str, str, str], ...] = (
    ("outcome", "Outcome", "text"),
    ("time_point", "Time point", "text"),
    ("units", "Units", "text"),
)
GROUP_PARTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "dichotomous": (
        ("arm1_label", "Arm 1", "text"),
        ("arm1_events", "Arm 1 events", "integer"),
        ("arm1_total", "Arm 1 total", "integer"),
        ("arm2_label", "Arm 2", "text"),
        ("arm2_events", "Arm 2 events", "integer"),
        ("arm2_total", "Arm 2 total", "integer"),
    ),
    "continuous": (
        ("arm1_label", "Arm 1", "text"),
        ("arm1_mean", "Arm 1 mean", "decimal"),
        ("arm1_sd", "Arm 1 SD", "decimal"),
        ("arm1_n", "Arm 1 N", "integer"),
        ("arm2_label", "Arm 2", "text"),
        ("arm2_mean", "Arm 2 mean", "decimal"),
        ("arm2_sd", "Arm 2 SD", "decimal"),
        ("arm2_n", "Arm 2 N", "integer"),
    ),
    "proportion": (
        ("events", "Events", "integer"),
        ("total", "Total", "integer"),
    ),
    "estimate": (
        ("estimate", "Estimate", "decimal"),
        ("ci_lower", "95% CI lower", "decimal"),
        ("ci_upper", "95% CI upper", "decimal"),
        ("se", "SE", "decimal"),
    ),
    "correlation": (
        ("r", "Correlation (r)", "decimal"),
        ("n", "N", "integer"),
    ),
}
# Exported with every estimate row, from the definition of the entry's own version.
ESTIMATE_META_PARTS: tuple[tuple[str, str, str], ...] = (
    ("measure", "Measure", "text"),
    ("ratio_measure", "Ratio measure (log scale)", "yes_no"),
)
# Parts a complete row must have (submitted entries of required groups); the CI or the SE for an
# estimate is checked on its own.
COMPLETE_PARTS: dict[str, tuple[str, ...]] = {
    "dichotomous": ("arm1_events", "arm1_total", "arm2_events", "arm2_total"),
    "continuous": ("arm1_mean", "arm1_sd", "arm1_n", "arm2_mean", "arm2_sd", "arm2_n"),
    "proportion": ("events", "total"),
    "estimate": ("estimate",),
    "correlation": ("r", "n"),
}

# The export's own columns; no field may take one of these names.
META_COLUMNS: tuple[str, ...] = (
    "study_id",
    "study_label",
    "kind",
    "extractor",
    "decided_by",
    "form_version",
    "revision",
    "submitted_at",
    "outcome_group",
    "outcome_row",
)

KEY_MAX = 60
_NON_WORD = re.compile(r"[^a-z0-9]+")


def slug_key(text: str) -> str:
    """Lower-case ASCII words joined by single underscores (never a double one)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NON_WORD.sub("_", ascii_text.lower()).strip("_")
    return slug[:KEY_MAX].rstrip("_") or "field"


def key_unique(base: str, used: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``... whichever is free; the result is added to ``used``."""
    candidate, n = base, 1
    while candidate in used or candidate in META_COLUMNS:
        n += 1
        candidate = f"{base}_{n}"
    used.add(candidate)
    return candidate


def definition_keys(definition: Mapping[str, Any]) -> dict[str, str]:
    """Key -> type of every field and group of a definition."""
    return {
        item["key"]: item["type"]
        for section in definition.get("sections", [])
        for item in section.get("items", [])
    }


def items_of(definition: Mapping[str, Any]) -> Iterable[tuple[dict, dict]]:
    """(section, item) for every item, in order."""
    for section in definition.get("sections", []):
        for item in section.get("items", []):
            yield section, item


def _text_list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.splitlines()
    return [str(v).strip() for v in value or [] if str(v).strip()]


def _number_or_none(value: Any, label: str, what: str, errors: list[str]) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors.append(f"{label}: the {what} must be a number (got '{value}').")
        return None
    return int(number) if number.is_integer() else number


def definition_build(
    items: Sequence[Mapping[str, Any]], *, previous: Sequence[Mapping[str, Any]] = ()
) -> tuple[dict, list[str]]:
    """A definition from the builder's rows, in order, and the errors that stop it being saved.

    Each row has ``section`` (title), ``label``, ``type`` (a field or group type), and optionally
    ``key`` (kept from an earlier version), ``required``, ``help``, ``choices`` (list or lines),
    ``min``, ``max``, ``measure`` and ``units``. ``previous`` are the definitions of the form's
    earlier versions: a row may keep a key only if one of them had it with the same type.
    """
    errors: list[str] = []
    earlier: dict[str, str] = {}
    for definition in previous:
        earlier.update(definition_keys(definition))
    used = set(earlier)
    kept: set[str] = set()
    sections: dict[str, dict] = {}
    section_keys: set[str] = set()
    for position, row in enumerate(items, start=1):
        label = str(row.get("label") or "").strip()
        kind_type = str(row.get("type") or "").strip()
        section_title = str(row.get("section") or "").strip() or "General"
        if not label:
            errors.append(f"Row {position}: give the field a label.")
            continue
        if kind_type not in FIELD_TYPES and kind_type not in GROUP_TYPES:
            errors.append(f"{label}: '{kind_type}' is not a field type.")
            continue
        if section_title not in sections:
            sections[section_title] = {
                "key": key_unique(slug_key(section_title), section_keys),
                "title": section_title,
                "items": [],
            }
        key = str(row.get("key") or "").strip()
        if key and earlier.get(key) == kind_type and key not in kept:
            kept.add(key)
        else:
            key = key_unique(slug_key(f"{section_title} {label}"), used)
        item: dict[str, Any] = {
            "kind": "group" if kind_type in GROUP_TYPES else "field",
            "key": key,
            "label": label,
            "type": kind_type,
            "required": bool(row.get("required")),
            "help": str(row.get("help") or "").strip(),
        }
        if item["kind"] == "field":
            item["choices"] = _text_list(row.get("choices"))
            item["min"] = _number_or_none(row.get("min"), label, "minimum", errors)
            item["max"] = _number_or_none(row.get("max"), label, "maximum", errors)
        else:
            item["measure"] = str(row.get("measure") or "").strip()
            item["units"] = str(row.get("units") or "").strip()
        sections[section_title]["items"].append(item)
    definition = {"sections": list(sections.values())}
    return definition, errors + definition_check(definition)


def definition_check(definition: Any) -> list[str]:
    """Everything wrong with a definition, as sentences; an empty list means it can be saved."""
    if not isinstance(definition, Mapping) or not isinstance(definition.get("sections"), list):
        return ["A form definition is an object with a list of sections."]
    errors: list[str] = []
    seen: set[str] = set()
    for s_index, section in enumerate(definition["sections"], start=1):
        if not isinstance(section, Mapping) or not str(section.get("title") or "").strip():
            errors.append(f"Section {s_index} has no title.")
            continue
        items = section.get("items")
        if not isinstance(items, list) or not items:
            errors.append(f"Section '{section['title']}' has no fields.")
            continue
        for item in items:
            errors.extend(_item_errors(item, seen))
    return errors


def _item_errors(item: Any, seen: set[str]) -> list[str]:
    if not isinstance(item, Mapping):
        return ["Every item of a section is an object."]
    label = str(item.get("label") or "").strip() or "(no label)"
    key = str(item.get("key") or "")
    errors = []
    if not label or label == "(no label)":
        errors.append("A field has no label.")
    if not key or slug_key(key) != key or key in META_COLUMNS:
        errors.append(f"{label}: '{key}' cannot be a column name.")
    elif key in seen:
        errors.append(f"{label}: the column name '{key}' is used twice.")
    seen.add(key)
    kind, kind_type = item.get("kind"), item.get("type")
    if kind == "field":
        if kind_type not in FIELD_TYPES:
            errors.append(f"{label}: '{kind_type}' is not a field type.")
        choices = item.get("choices") or []
        if kind_type in ("single_choice", "multiple_choice"):
            if len(choices) < 2:
                errors.append(f"{label}: a choice field needs at least two choices.")
            elif len(set(choices)) != len(choices):
                errors.append(f"{label}: each choice may appear only once.")
        low, high = item.get("min"), item.get("max")
        if low is not None and high is not None and low > high:
            errors.append(f"{label}: the minimum ({low}) is above the maximum ({high}).")
        if (low is not None or high is not None) and kind_type not in ("integer", "decimal"):
            errors.append(f"{label}: only number fields have a minimum or maximum.")
    elif kind == "group":
        if kind_type not in GROUP_TYPES:
            errors.append(f"{label}: '{kind_type}' is not an effect data type.")
        measure = item.get("measure") or ""
        if kind_type == "estimate" and measure not in MEASURES:
            errors.append(f"{label}: an estimate needs its measure, one of {', '.join(MEASURES)}.")
        if kind_type != "estimate" and measure:
            errors.append(f"{label}: only an estimate has a measure.")
    else:
        errors.append(f"{label}: an item is either a field or an effect data group.")
    return errors


def group_parts(item: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """The parts of one row of a group, in column order (entered parts only)."""
    return COMMON_PARTS + GROUP_PARTS[item["type"]]


@dataclass(frozen=True, slots=True)
class Column:
    """One export column. ``group`` is the group key for outcome columns, else None."""

    key: str
    label: str
    section: str
    type: str
    group: str | None = None
    part: str | None = None


def definition_columns(definition: Mapping[str, Any]) -> list[Column]:
    """The export columns of one version, in the form's order."""
    columns: list[Column] = []
    for section, item in items_of(definition):
        title = section["title"]
        if item["kind"] == "field":
            columns.append(Column(item["key"], item["label"], title, item["type"]))
            continue
        parts = group_parts(item)
        if item["type"] == "estimate":
            parts = parts + ESTIMATE_META_PARTS
        for part, part_label, value_type in parts:
            columns.append(
                Column(
                    f"{item['key']}__{part}",
                    f"{item['label']}: {part_label}",
                    title,
                    value_type,
                    group=item["key"],
                    part=part,
                )
            )
    return columns


def columns_union(definitions: Sequence[Mapping[str, Any]]) -> list[Column]:
    """The columns of several versions, oldest first.

    Each column keeps the place where it first appeared, so a new version never moves an
    existing column; its label and section come from the newest version that has it. Columns
    are then grouped by section, sections in order of first appearance.
    """
    order: list[str] = []
    latest: dict[str, Column] = {}
    for definition in definitions:
        for column in definition_columns(definition):
            if column.key not in latest:
                order.append(column.key)
            latest[column.key] = column
    sections: dict[str, list[Column]] = {}
    for key in order:
        column = latest[key]
        sections.setdefault(column.section, []).append(column)
    return [column for columns in sections.values() for column in columns]
