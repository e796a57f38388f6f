"""Risk-of-bias tools as built-in extraction forms, and assessments read back from entries.

Pure: no Django. A tool becomes ordinary builder rows (``tool_items``), so a risk-of-bias form
is an extraction form and inherits its versions, dual assessment, blinding, comparison and
consensus. Each domain is a section: its signalling questions (single choice), then
"Judgement" (blank = accept the algorithm's proposal) and "Support for judgement". An entry's
data is read back by section title and label (``assessment_read``), never by generated key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reviewapp.riskofbias.algorithms import (
    ANSWERS,
    JUDGEMENTS,
    NOS_SCALES,
    QN,
    QU,
    QY,
    TOOLS,
    JudgementError,
    NosScore,
    Proposal,
    nos_score,
    propose,
    quadas2_overall,
    rob2_overall,
    robins_i_overall,
)

# What the assessor chooses from, per tool.
TOOL_CHOICES: dict[str, str] = {
    "rob2": "RoB 2 - randomised trials, effect of assignment (per result)",
    "rob2-adherence": "RoB 2 - randomised trials, effect of adhering (per result)",
    "robins-i": "ROBINS-I - non-randomised studies of interventions",
    "quadas-2": "QUADAS-2 - diagnostic accuracy studies",
    "nos-cohort": "Newcastle-Ottawa Scale - cohort studies",
    "nos-case-control": "Newcastle-Ottawa Scale - case-control studies",
}
PER_RESULT = frozenset({"rob2", "rob2-adherence"})

JUDGEMENT_LABEL = "Judgement"
SUPPORT_LABEL = "Support for judgement"
APPLICABILITY_LABEL = "Applicability concerns"
OVERALL = "Overall"
OVERALL_APPLICABILITY = "Overall applicability concerns"
JUDGEMENT_HELP = (
    "Leave blank to accept the algorithm's proposal. A different judgement needs its reason in "
    "'Support for judgement'."
)
_QUADAS_TEXT = {QY: "Yes", QN: "No", QU: "Unclear"}
_BY_LABEL = {label: code for code, label in JUDGEMENTS.items()}


def tool_name(tool: str) -> str:
    if tool in TOOLS:
        return TOOLS[tool].name
    return NOS_SCALES[tool].name


def section_title(domain_key: str, domain_name: str) -> str:
    return f"{domain_key} {domain_name}"


def _answer_text(tool: str, code: str) -> str:
    return _QUADAS_TEXT[code] if tool == "quadas-2" else ANSWERS[code]


def _key(*parts: str) -> str:
    # Short, stable column names an analyst can read: d1_1_2, d1_judgement, s1, overall_support.
    return "_".join(p.replace(".", "_").lower() for p in parts if p)


def tool_definition(tool: str) -> dict[str, Any]:
    """The form definition of a tool (the schema's JSON), keys fixed so that every review's
    RoB 2 columns are named alike."""
    sections: dict[str, dict[str, Any]] = {}
    for row in tool_items(tool):
        title = row["section"]
        section = sections.setdefault(
            title, {"key": _key(title.split(" ")[0]), "title": title, "items": []}
        )
        item = {
            "kind": "field",
            "key": row["key"],
            "label": row["label"],
            "type": row["type"],
            "required": False,
            "help": row.get("help", ""),
            "choices": list(row.get("choices", [])),
            "min": None,
            "max": None,
        }
        section["items"].append(item)
    return {"sections": list(sections.values())}


def tool_items(tool: str) -> list[dict[str, Any]]:
    """The builder rows of a tool's form, in the order the assessor answers them."""
    if tool in NOS_SCALES:
        return _nos_items(tool)
    if tool not in TOOLS:
        raise JudgementError(f"No risk-of-bias tool {tool!r}")
    spec = TOOLS[tool]
    rows: list[dict[str, Any]] = []
    for domain in spec.domains:
        section = section_title(domain.key, domain.name)
        for question in domain.questions:
            rows.append(
                {
                    "key": _key(domain.key, question.id),
                    "section": section,
                    "label": f"{question.id} {question.text}",
                    "type": "single_choice",
                    "choices": [_answer_text(tool, code) for code in question.answers],
                    "help": question.asked_if,
                }
            )
        rows.append(
            {
                "key": _key(domain.key, "judgement"),
                "section": section,
                "label": JUDGEMENT_LABEL,
                "type": "single_choice",
                "choices": [JUDGEMENTS[j] for j in domain.judgements],
                "help": JUDGEMENT_HELP if domain.questions else "",
            }
        )
        rows.append(
            {
                "key": _key(domain.key, "support"),
                "section": section,
                "label": SUPPORT_LABEL,
                "type": "long_text",
            }
        )
        if domain.applicability:
            rows.append(
                {
                    "key": _key(domain.key, "applicability"),
                    "section": section,
                    "label": APPLICABILITY_LABEL,
                    "type": "single_choice",
                    "choices": [JUDGEMENTS[j] for j in domain.judgements],
                }
            )
    overall_help = "Leave blank to accept the judgement that follows from the domains."
    rows.append(
        {
            "key": "overall_judgement",
            "section": OVERALL,
            "label": JUDGEMENT_LABEL,
            "type": "single_choice",
            "choices": [JUDGEMENTS[j] for j in spec.overall],
            "help": overall_help,
        }
    )
    rows.append(
        {"key": "overall_support", "section": OVERALL, "label": SUPPORT_LABEL, "type": "long_text"}
    )
    if tool == "quadas-2":
        rows.append(
            {
                "key": "overall_applicability",
                "section": OVERALL,
                "label": OVERALL_APPLICABILITY,
                "type": "single_choice",
                "choices": [JUDGEMENTS[j] for j in spec.overall],
            }
        )
    return rows


def _star_text(code: str, text: str, star: bool) -> str:
    return f"{code}) {text}" + (" *" if star else "")


def _nos_items(tool: str) -> list[dict[str, Any]]:
    scale = NOS_SCALES[tool]
    titles = {key: label for key, label, _ in scale.sections}
    rows: list[dict[str, Any]] = []
    for item in scale.items:
        rows.append(
            {
                "key": _key(item.key, ""),
                "section": titles[item.section],
                "label": f"{item.key} {item.text}",
                "type": "multiple_choice" if item.multiple else "single_choice",
                "choices": [_star_text(*option) for option in item.options],
                "help": "* earns a star." + (" Tick each that applies." if item.multiple else ""),
            }
        )
    for key, label, _max in scale.sections:
        rows.append(
            {
                "key": _key(key, "support"),
                "section": label,
                "label": SUPPORT_LABEL,
                "type": "long_text",
            }
        )
    return rows


# --- reading an entry back ---------------------------------------------------------------------


@dataclass
class DomainAssessment:
    key: str
    name: str
    proposal: Proposal
    chosen: str | None  # the assessor's own judgement, if given
    support: str
    judgement: str | None  # what stands: chosen, or the proposal
    judgement_input: str = ""  # the input's name, to attach a message to
    applicability: str | None = None
    answers: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def overridden(self) -> bool:
        return bool(
            self.chosen and self.proposal.judgement and self.chosen != self.proposal.judgement
        )

    @property
    def label(self) -> str:
        return JUDGEMENTS[self.judgement] if self.judgement else "Not yet judged"


@dataclass
class Assessment:
    tool: str
    domains: list[DomainAssessment]
    overall: DomainAssessment | None
    overall_applicability: str | None = None
    nos: NosScore | None = None
    support: dict[str, str] = field(default_factory=dict)  # NOS: per section

    @property
    def errors(self) -> dict[str, str]:
        found = {d.judgement_input: d.error for d in self.domains if d.error}
        if self.overall and self.overall.error:
            found[self.overall.judgement_input] = self.overall.error
        return found

    def incomplete(self) -> dict[str, str]:
        """What a submitted assessment still lacks: a judgement in every domain (from the
        algorithm or the assessor), and an answer to every Newcastle-Ottawa item."""
        found = {}
        for d in self.domains:
            if d.judgement is None:
                needs = f"answer {d.proposal.needs} or " if d.proposal.needs else ""
                found[d.judgement_input] = f"{d.key} {d.name}: {needs}choose a judgement."
        if self.nos is not None:
            for key in self.nos.unanswered:
                found[_key(key, "")] = f"{key}: choose an option (an item without a star too)."
        return found


def _keys(definition: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (section["title"], item["label"]): item["key"]
        for section in definition.get("sections", [])
        for item in section.get("items", [])
    }


def _judged(
    tool: str, domain: str, proposal: Proposal, chosen_text: Any, support: str, key: str
) -> DomainAssessment:
    chosen = _BY_LABEL.get(chosen_text) if isinstance(chosen_text, str) else None
    judgement, error = chosen or proposal.judgement, ""
    if chosen and proposal.judgement and chosen != proposal.judgement and not support.strip():
        error = (
            f"The algorithm proposes {JUDGEMENTS[proposal.judgement]}; write in 'Support for "
            f"judgement' why you judge it {JUDGEMENTS[chosen]}, or leave the judgement blank."
        )
    return DomainAssessment(domain, "", proposal, chosen, support, judgement, key, error=error)


def assessment_read(tool: str, definition: Mapping[str, Any], data: Mapping[str, Any] | None):
    """An entry of a tool's form as domains with their answers, proposals and judgements."""
    values = (data or {}).get("values") or {}
    keys = _keys(definition)

    def value(section: str, label: str) -> Any:
        key = keys.get((section, label))
        return values.get(key) if key else None

    if tool in NOS_SCALES:
        return _nos_read(tool, definition, values, keys)
    spec = TOOLS[tool]
    answer_codes = {
        (_QUADAS_TEXT[c] if tool == "quadas-2" else ANSWERS[c]): c
        for c in (_QUADAS_TEXT if tool == "quadas-2" else ANSWERS)
    }
    domains = []
    for domain in spec.domains:
        section = section_title(domain.key, domain.name)
        answers = {}
        for question in domain.questions:
            text = value(section, f"{question.id} {question.text}")
            if isinstance(text, str) and text in answer_codes:
                answers[question.id] = answer_codes[text]
        proposal = propose(tool, domain.key, answers)
        support = value(section, SUPPORT_LABEL) or ""
        assessed = _judged(
            tool,
            domain.key,
            proposal,
            value(section, JUDGEMENT_LABEL),
            str(support),
            keys.get((section, JUDGEMENT_LABEL), ""),
        )
        assessed.name, assessed.answers = domain.name, answers
        if domain.applicability:
            assessed.applicability = _BY_LABEL.get(value(section, APPLICABILITY_LABEL) or "")
        domains.append(assessed)
    judgements = {d.key: d.judgement for d in domains}
    if tool in ("rob2", "rob2-adherence"):
        overall_proposal = rob2_overall(judgements)
    elif tool == "robins-i":
        overall_proposal = robins_i_overall(judgements)
    else:
        overall_proposal = quadas2_overall(judgements)
    overall = _judged(
        tool,
        "overall",
        overall_proposal,
        value(OVERALL, JUDGEMENT_LABEL),
        str(value(OVERALL, SUPPORT_LABEL) or ""),
        keys.get((OVERALL, JUDGEMENT_LABEL), ""),
    )
    overall.name = "Overall"
    applicability = None
    if tool == "quadas-2":
        applicability = _BY_LABEL.get(value(OVERALL, OVERALL_APPLICABILITY) or "")
        if applicability is None:
            applicability = quadas2_overall({d.key: d.applicability for d in domains[:3]}).judgement
    return Assessment(tool, domains, overall, applicability)


def _nos_read(tool, definition, values, keys) -> Assessment:
    scale = NOS_SCALES[tool]
    titles = {key: label for key, label, _ in scale.sections}
    answers: dict[str, Any] = {}
    for item in scale.items:
        key = keys.get((titles[item.section], f"{item.key} {item.text}"))
        given = values.get(key) if key else None
        codes = {_star_text(*o): o[0] for o in item.options}
        if isinstance(given, list):
            answers[item.key] = [codes[g] for g in given if g in codes]
        elif isinstance(given, str) and given in codes:
            answers[item.key] = codes[given]
    support = {
        label: str(values.get(keys.get((label, SUPPORT_LABEL), "")) or "")
        for _k, label, _m in scale.sections
    }
    return Assessment(tool, [], None, nos=nos_score(scale, answers), support=support)
