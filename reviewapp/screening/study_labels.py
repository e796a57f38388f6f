"""Study labels ("van Laarhoven 2020"): the first author's surname, with its particles, and the
year. Pure: no Django.

Authors are stored "Surname, Initials" (literature.parsers.normalise.format_author), so the
surname is what comes before the comma: "van Laarhoven, HWM" is "van Laarhoven", never "van".
A name that could not be split is read as given names first ("Hanneke van Laarhoven"): the last
word with the particles before it. A group author ("EPIC Study Group") is kept whole.
"""

from __future__ import annotations

import re

# Words that belong to the surname that follows them (Dutch, German, French, Spanish,
# Portuguese, Italian, Arabic, Scandinavian usage); compared in lower case.
PARTICLES = frozenset(
    [
        "van",
        "von",
        "der",
        "den",
        "de",
        "del",
        "della",
        "dello",
        "dei",
        "degli",
        "di",
        "da",
        "das",
        "do",
        "dos",
        "du",
        "la",
        "le",
        "les",
        "lo",
        "ten",
        "ter",
        "te",
        "vander",
        "vanden",
        "zu",
        "zum",
        "zur",
        "af",
        "av",
        "bin",
        "ibn",
        "al",
        "el",
        "st",
        "st.",
        "saint",
    ]
)
# A name holding one of these is a group's, not a person's.
GROUP_WORDS = frozenset(
    [
        "group",
        "consortium",
        "collaboration",
        "collaborators",
        "collaborative",
        "committee",
        "investigators",
        "network",
        "society",
        "association",
        "study",
        "trial",
        "team",
        "organization",
        "organisation",
        "council",
        "institute",
        "working",
        "writing",
    ]
)
INITIALS = re.compile(r"^(?:[A-Z]\.?-?){1,4}$")
SUFFIXES = re.compile(r"\s*,?\s*\b(?:Jr|Sr|II|III|IV)\.?$")
MAX_SURNAME = 60


def surname_with_particles(author: str) -> str:
    """The surname of an author as the records store them, particles and apostrophes kept:
    "van Laarhoven, HWM" -> "van Laarhoven", "de la Cruz, M" -> "de la Cruz",
    "O'Brien, J" -> "O'Brien", "Hanneke van Laarhoven" -> "van Laarhoven"."""
    name = " ".join((author or "").split()).strip(" ;,")
    if not name:
        return ""
    if "," in name:
        return name.partition(",")[0].strip()[:MAX_SURNAME]
    name = SUFFIXES.sub("", name)
    words = name.split()
    if any(w.lower().strip(".") in GROUP_WORDS for w in words):
        return name[:MAX_SURNAME]
    if len(words) >= 2 and INITIALS.match(words[-1]):
        # "van Laarhoven HWM", as MEDLINE writes a name.
        return " ".join(words[:-1])[:MAX_SURNAME]
    # Given names first: the last word, with the particles just before it.
    start = len(words) - 1
    while start > 0 and words[start - 1].lower() in PARTICLES:
        start -= 1
    return " ".join(words[start:])[:MAX_SURNAME]


def study_label_base(first_author: str, year: int | None, *, fallback: str) -> str:
    """ "Surname Year" ("van Laarhoven 2020"); ``fallback`` stands in for a missing author."""
    surname = surname_with_particles(first_author) or fallback
    return " ".join(part for part in (surname, str(year or "")) if part)
