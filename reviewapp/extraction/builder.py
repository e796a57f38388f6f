"""The form builder's draft: sections of field cards, as the page sends them and draws them.

Pure: no Django here. The page posts, in document order, one ``item`` value per section
(``s:<uid>``) and per field card (``f:<uid>``); a card belongs to the section before it, and each
card's inputs are named ``<uid>-<input>``. So moving a card in the page (by the script, or by the
server's own move buttons when there is no script) needs no renumbering: the order of the markers
is the order of the form.

``draft_items`` turns a draft into the rows ``schema.definition_build`` reads. Blank cards (no
label, help, choices, limits or units) and sections left without cards are dropped, so saving
never makes an empty field; options that do not apply to a card's type (a measure on anything
but an estimate, choices on a number...) are ignored rather than refused, because the page hides
them. Every problem names its section and field and is also kept on the card it concerns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reviewapp.extraction.schema import (
    FIELD_TYPES,
    GROUP_TYPES,
    definition_build,
    items_of,
)

UID = re.compile(r"^[a-z][a-z0-9]{0,23}$")
MAX_CARDS = 500
LIMITS = {"title": 200, "label": 300, "help": 500, "choices": 5000, "units": 100}
CHOICE_TYPES = frozenset({"single_choice", "multiple_choice"})
NUMBER_TYPES = frozenset({"integer", "decimal"})


class MultiValue(Protocol):
    """What a Django QueryDict offers: ``get`` and ``getlist``."""

    def get(self, key: str, default: Any = ...) -> Any: ...

    def getlist(self, key: str) -> list[Any]: ...


class Problem(str):
    """A sentence naming what is wrong, with ``anchor``: the id of the input it concerns (empty
    for the whole form), so a summary can link to it."""

    anchor: str

    def __new__(cls, text: str, anchor: str = "") -> Problem:
        problem = super().__new__(cls, text)
        problem.anchor = anchor
        return problem


@dataclass
class FieldCard:
    uid: str
    key: str = ""
    label: str = ""
    type: str = "text"
    required: bool = False
    help: str = ""
    choices: str = ""  # one per line, as typed
    min: str = ""
    max: str = ""
    measure: str = ""
    units: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def is_group(self) -> bool:
        return self.type in GROUP_TYPES

    def is_blank(self) -> bool:
        """Nothing typed: the card is dropped, whatever its type or required box says."""
        return not any(
            s.strip() for s in (self.label, self.help, self.choices, self.min, self.max, self.units)
        )

    def row(self, section_title: str) -> dict[str, Any]:
        """The row ``definition_build`` reads, with only the options that apply to the type."""
        row: dict[str, Any] = {
            "key": self.key,
            "section": section_title,
            "label": self.label.strip(),
            "type": self.type,
            "required": self.required,
            "help": self.help.strip(),
        }
        if self.type in CHOICE_TYPES:
            row["choices"] = self.choices
        if self.type in NUMBER_TYPES:
            row["min"], row["max"] = self.min.strip(), self.max.strip()
        if self.type in GROUP_TYPES:
            row["units"] = self.units.strip()
        if self.type == "estimate":
            row["measure"] = self.measure
        return row


@dataclass
class SectionCard:
    uid: str
    title: str = ""
    fields: list[FieldCard] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Draft:
    sections: list[SectionCard] = field(default_factory=list)

    def uids(self) -> set[str]:
        found = set()
        for section in self.sections:
            found.add(section.uid)
            found.update(card.uid for card in section.fields)
        return found

    def new_uid(self, prefix: str) -> str:
        used, n = self.uids(), 1
        while f"{prefix}{n}" in used:
            n += 1
        return f"{prefix}{n}"

    def cards(self) -> Iterable[FieldCard]:
        for section in self.sections:
            yield from section.fields

    def is_blank(self) -> bool:
        return all(card.is_blank() for card in self.cards()) and not any(
            s.title.strip() for s in self.sections
        )


def draft_empty() -> Draft:
    """A new form: one untitled section with one empty card."""
    return Draft([SectionCard("s1", fields=[FieldCard("f1")])])


def draft_from_items(items: Sequence[Mapping[str, Any]]) -> Draft:
    """A draft from builder rows (each with its ``section`` title), e.g. a starter template."""
    draft = Draft()
    by_title: dict[str, SectionCard] = {}
    for n, row in enumerate(items, start=1):
        title = str(row.get("section") or "")
        if title not in by_title:
            by_title[title] = SectionCard(f"s{len(by_title) + 1}", title=title)
            draft.sections.append(by_title[title])
        by_title[title].fields.append(
            FieldCard(
                uid=f"f{n}",
                key=str(row.get("key") or ""),
                label=str(row.get("label") or ""),
                type=str(row.get("type") or "text"),
                required=bool(row.get("required")),
                help=str(row.get("help") or ""),
                choices="\n".join(_lines(row.get("choices"))),
                min=_text(row.get("min")),
                max=_text(row.get("max")),
                measure=str(row.get("measure") or ""),
                units=str(row.get("units") or ""),
            )
        )
    return draft


def draft_from_definition(definition: Mapping[str, Any] | None) -> Draft:
    """The draft of a saved version (every card keeps its column name)."""
    rows = [{**item, "section": section["title"]} for section, item in items_of(definition or {})]
    return draft_from_items(rows) if rows else draft_empty()


def draft_from_post(post: MultiValue) -> Draft:
    """The draft as the page sent it; unknown or repeated markers are ignored."""
    draft = Draft()
    seen: set[str] = set()
    for marker in post.getlist("item")[: MAX_CARDS * 2]:
        kind, _, uid = str(marker).partition(":")
        if not UID.match(uid) or uid in seen:
            continue
        seen.add(uid)
        if kind == "s":
            draft.sections.append(SectionCard(uid, title=_get(post, f"{uid}-title")))
        elif kind == "f":
            if not draft.sections:
                draft.sections.append(SectionCard(draft.new_uid("s")))
            draft.sections[-1].fields.append(
                FieldCard(
                    uid=uid,
                    key=_get(post, f"{uid}-key").strip(),
                    label=_get(post, f"{uid}-label"),
                    type=_get(post, f"{uid}-type").strip(),
                    required=bool(_get(post, f"{uid}-required")),
                    help=_get(post, f"{uid}-help"),
                    choices=_get(post, f"{uid}-choices"),
                    min=_get(post, f"{uid}-min"),
                    max=_get(post, f"{uid}-max"),
                    measure=_get(post, f"{uid}-measure").strip(),
                    units=_get(post, f"{uid}-units"),
                )
            )
    return draft


def draft_apply(draft: Draft, op: str) -> str:
    """Apply one of the page's buttons (used when there is no script) and return the uid to
    bring into view: ``add-section``, ``add-field:<section>``, ``up:<uid>``, ``down:<uid>``,
    ``remove:<uid>``. An op naming nothing in the draft changes nothing."""
    verb, _, uid = op.partition(":")
    if verb == "add-section":
        section = SectionCard(draft.new_uid("s"))
        draft.sections.append(section)
        card = FieldCard(draft.new_uid("f"))
        section.fields.append(card)
        return section.uid
    for s_index, section in enumerate(draft.sections):
        if section.uid == uid:
            return _section_op(draft, verb, s_index)
        for f_index, card in enumerate(section.fields):
            if card.uid == uid:
                return _card_op(draft, verb, s_index, f_index)
    return ""


def _section_op(draft: Draft, verb: str, index: int) -> str:
    sections = draft.sections
    section = sections[index]
    if verb == "add-field":
        card = FieldCard(draft.new_uid("f"))
        section.fields.append(card)
        return card.uid
    if verb == "up" and index > 0:
        sections[index - 1], sections[index] = sections[index], sections[index - 1]
    elif verb == "down" and index < len(sections) - 1:
        sections[index + 1], sections[index] = sections[index], sections[index + 1]
    elif verb == "remove":
        del sections[index]
        return sections[min(index, len(sections) - 1)].uid if sections else ""
    return section.uid


def _card_op(draft: Draft, verb: str, s_index: int, index: int) -> str:
    """Cards move within their section, and past its ends into the section before or after."""
    sections = draft.sections
    cards = sections[s_index].fields
    card = cards[index]
    if verb == "up":
        if index > 0:
            cards[index - 1], cards[index] = cards[index], cards[index - 1]
        elif s_index > 0:
            sections[s_index - 1].fields.append(cards.pop(index))
    elif verb == "down":
        if index < len(cards) - 1:
            cards[index + 1], cards[index] = cards[index], cards[index + 1]
        elif s_index < len(sections) - 1:
            sections[s_index + 1].fields.insert(0, cards.pop(index))
    elif verb == "remove":
        cards.pop(index)
        if cards:
            return cards[min(index, len(cards) - 1)].uid
        return sections[s_index].uid
    return card.uid


def draft_items(
    draft: Draft, *, previous: Sequence[Mapping[str, Any]] = ()
) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows to save, in order, and every problem as a sentence naming section and field.

    Problems are also written onto the cards and sections (``errors``) so the page can show each
    one beside what it concerns. ``previous`` are the definitions of the form's versions, so a
    card's column name is checked as the save will check it.
    """
    rows: list[dict[str, Any]] = []
    problems: list[str] = []  # Problem, where one input is at fault
    titles: set[str] = set()
    for s_number, section in enumerate(draft.sections, start=1):
        section.errors = []
        kept = [card for card in section.fields if not card.is_blank()]
        for card in section.fields:
            card.errors = []
        if not kept:
            continue
        title = section.title.strip()
        name = f'Section "{title}"' if title else f"Section {s_number}"
        if not title:
            section.errors.append("Give this section a title.")
        elif title.casefold() in titles:
            section.errors.append(
                f'Another section is already called "{title}": give each section its own title.'
            )
        elif len(title) > LIMITS["title"]:
            section.errors.append(f"The title is longer than {LIMITS['title']} characters.")
        titles.add(title.casefold())
        problems.extend(Problem(f"{name}: {e}", f"{section.uid}-title") for e in section.errors)
        for c_number, card in enumerate(kept, start=1):
            label = card.label.strip()
            card.errors = _card_errors(card)
            what = f'field "{label}"' if label else f"field {c_number} (no label)"
            problems.extend(
                Problem(f"{name}, {what}: {e}", f"{card.uid}-label") for e in card.errors
            )
            rows.append(card.row(title))
    if not rows and not problems:
        problems.append("The form has no fields yet: add one, or start from a template.")
    if rows and not problems:
        # What only the whole form can tell (e.g. a column name used twice in a pasted form).
        _definition, errors = definition_build(rows, previous=previous)
        problems.extend(errors)
    return rows, problems


def _card_errors(card: FieldCard) -> list[str]:
    label = card.label.strip()
    errors = []
    if not label:
        errors.append("give the field a label.")
    for name, limit in LIMITS.items():
        value = getattr(card, name, None)
        if isinstance(value, str) and len(value) > limit:
            errors.append(f"the {name} is longer than {limit} characters.")
    if card.type not in FIELD_TYPES and card.type not in GROUP_TYPES:
        errors.append("choose what kind of field this is.")
        return errors
    if not label:
        return errors
    # The schema's own checks of one item (choices, limits, measure), without its label prefix.
    _definition, item_errors = definition_build([card.row("Section")])
    prefix = f"{label}: "
    errors.extend(e[len(prefix) :] if e.startswith(prefix) else e for e in item_errors)
    return errors


def _get(post: MultiValue, name: str) -> str:
    value = post.get(name, "")
    return value if isinstance(value, str) else ""


def _lines(value: Any) -> list[str]:
    if isinstance(value, str):
        return [line for line in value.splitlines() if line.strip()]
    return [str(v) for v in value or []]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
