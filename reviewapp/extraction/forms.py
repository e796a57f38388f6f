"""The form settings, and the entry form drawn from a definition (and read back from POST)."""

from __future__ import annotations

from typing import Any

from django import forms

from reviewapp.extraction.schema import (
    GROUP_TYPES,
    MEASURES,
    group_parts,
    items_of,
)
from reviewapp.extraction.starters import STARTERS
from reviewapp.extraction.validation import flatten, row_key

MAX_ROWS_PER_GROUP = 200
LINE_STARTS = frozenset({"arm1_label", "arm2_label", "estimate", "events"})


class FormSettingsForm(forms.Form):
    name = forms.CharField(max_length=200)
    extractors_required = forms.TypedChoiceField(
        choices=[(1, "One extractor per study"), (2, "Two independent extractors, then consensus")],
        coerce=int,
        initial=1,
    )


class FormCreateForm(FormSettingsForm):
    starter = forms.ChoiceField(
        label="Start from",
        required=False,
        choices=[("", "An empty form")]
        + [(slug, starter["name"]) for slug, starter in STARTERS.items()],
        help_text="A starter form is saved as version 1; change anything in the builder.",
    )


def builder_initial(definition: dict | None) -> list[dict]:
    """The builder's rows for an existing definition."""
    rows = []
    for section, item in items_of(definition or {}):
        row = {
            "key": item["key"],
            "section": section["title"],
            "label": item["label"],
            "type": item["type"],
            "required": item.get("required", False),
            "help": item.get("help", ""),
        }
        if item["kind"] == "field":
            row["choices"] = "\n".join(item.get("choices") or [])
            row["min"] = "" if item.get("min") is None else item["min"]
            row["max"] = "" if item.get("max") is None else item["max"]
        else:
            row["measure"] = item.get("measure", "")
            row["units"] = item.get("units", "")
        rows.append(row)
    return rows


# --- the entry form -------------------------------------------------------------------------


def show(value: Any) -> Any:
    """A stored value as the text an input shows (lists stay lists for checkboxes)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


def value_text(value: Any) -> str:
    """A stored value as a reader of the comparison reads it: Yes/No, a list joined, a dash for
    nothing."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    shown = show(value)
    return str(shown)


def entry_raw_from_post(definition: dict, post) -> dict:
    """The entry as the browser sent it, in the shape ``entry_clean`` reads."""
    values: dict[str, Any] = {}
    outcomes: list[dict] = []
    for _section, item in items_of(definition):
        key = item["key"]
        if item["kind"] == "field":
            values[key] = post.getlist(key) if item["type"] == "multiple_choice" else post.get(key)
            continue
        try:
            rows = min(int(post.get(f"{key}__rows", "0")), MAX_ROWS_PER_GROUP)
        except ValueError:
            rows = 0
        for index in range(rows):
            row = {"group": key}
            for part, _label, _type in group_parts(item):
                row[part] = post.get(row_key(key, index, part), "")
            outcomes.append(row)
    return {"values": values, "outcomes": outcomes}


def entry_sections(
    definition: dict, data: dict | None, errors: dict[str, str] | None = None, *, blank_rows=1
) -> list[dict]:
    """Everything the entry template draws: per section, its fields and its groups' rows,
    each input with its value and its message."""
    errors = errors or {}
    flat = flatten(definition, data or {})
    row_counts: dict[str, int] = {}
    for row in (data or {}).get("outcomes") or []:
        row_counts[row["group"]] = row_counts.get(row["group"], 0) + 1
    sections: list[dict] = []
    current: dict | None = None
    for section, item in items_of(definition):
        if current is None or current["key"] != section["key"]:
            current = {"key": section["key"], "title": section["title"], "items": []}
            sections.append(current)
        key = item["key"]
        if item["kind"] == "field":
            value = show(flat.get(key))
            current["items"].append(
                {
                    "kind": "field",
                    "name": key,
                    "label": item["label"],
                    "type": item["type"],
                    "help": item.get("help", ""),
                    "required": item.get("required", False),
                    "min": item.get("min"),
                    "max": item.get("max"),
                    "value": value,
                    "choices": [
                        {
                            "value": c,
                            "selected": c in value if isinstance(value, list) else c == value,
                        }
                        for c in item.get("choices") or []
                    ],
                    "error": errors.get(key, ""),
                }
            )
            continue
        parts = group_parts(item)
        count = max(row_counts.get(key, 0) + blank_rows, 1)
        rows = []
        for index in range(count):
            cells = []
            for part, label, value_type in parts:
                name = row_key(key, index, part)
                cells.append(
                    {
                        "name": name,
                        "label": label,
                        "type": value_type,
                        # Each arm (or the estimate, or the counts) starts its own line.
                        "new_line": part in LINE_STARTS,
                        "value": show(flat.get(name)),
                        "placeholder": item.get("units", "") if part == "units" else "",
                        "error": errors.get(name, ""),
                    }
                )
            rows.append({"number": index + 1, "cells": cells})
        current["items"].append(
            {
                "kind": "group",
                "key": key,
                "label": item["label"],
                "type_label": GROUP_TYPES[item["type"]],
                "measure": MEASURES.get(item.get("measure", ""), ""),
                "units": item.get("units", ""),
                "help": item.get("help", ""),
                "required": item.get("required", False),
                "parts": [label for _p, label, _t in parts],
                "rows": rows,
                "row_count": count,
                "error": errors.get(f"{key}__form", ""),
            }
        )
    return sections
