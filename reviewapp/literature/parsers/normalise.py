"""The one place where identifiers, text, years and author names are normalised.

Every parser and the duplicate matcher (`reviewapp.literature.matching`) use these functions, so
a DOI read from RIS and one read from PubMed XML compare equal.

Conventions:

- PMID: digits only, without leading zeros ("PMID: 012345" -> "12345"); "" when absent.
- DOI: lower case, starting "10.", with resolver prefixes (https://doi.org/, http://dx.doi.org/,
  "doi:") and trailing punctuation removed; "" when no DOI can be found.
- PMCID: "PMC" followed by digits ("pmc 123" -> "PMC123").
- Text (titles, abstracts): plain text. Inline HTML (<i>, <b>, <sup>, ...) and MathML are reduced
  to their text; HTML entities are decoded; runs of whitespace become one space.
- Structured abstracts: a list of `AbstractSection(label, text)` and a flattened text
  "LABEL: text\\n\\nLABEL: text" (an unlabelled abstract is one section with label "").
- Authors: "Surname, Initials" with initials run together and no dots ("Adler, DG",
  "Beane Freeman, LE", "de Hoon, MJ"). A name that cannot be split safely (a group author such as
  "WHO Collaborating Group") is kept as given.
- Year: the first plausible four-digit year (1800..2100) in the field, so "1998 Dec-1999 Jan" is
  1998, "Spring 2019" and "2019///" are 2019; None when there is none (callers reject the record
  when a year field was present but held no plausible year).
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import unquote

from .base import AbstractSection

# --- identifiers -------------------------------------------------------------------------------

_DOI_RE = re.compile(r"10\.\d{4,9}/\S+", re.IGNORECASE)
_DOI_PREFIX_RE = re.compile(
    r"^(?:https?://(?:dx\.|www\.)?doi\.org/|doi\.org/|doi:\s*|doi\s+)", re.IGNORECASE
)
# Characters that end a DOI found inside running text or a URL query string.
_DOI_STOP_RE = re.compile(r"[\s\"<>&]|\[doi\]")
_PMID_RE = re.compile(r"^\s*(?:pmid|pubmed|medline)?\s*(?:id)?\s*[:#]?\s*0*(\d{1,9})\s*$", re.I)
_PMCID_RE = re.compile(r"\bPMC\s*(\d{1,9})\b", re.IGNORECASE)
_PMID_IN_URL_RE = re.compile(
    r"(?:pubmed\.ncbi\.nlm\.nih\.gov/|ncbi\.nlm\.nih\.gov/pubmed/|europepmc\.org/(?:abstract|article)/MED/)"
    r"(\d{1,9})",
    re.IGNORECASE,
)


def normalise_pmid(value: object) -> str:
    """Return the PMID as digits only ("PMID: 12345" -> "12345"), or "" if it is not a PMID."""
    if value is None:
        return ""
    if type(value) is str and len(value) <= 9 and value.isascii() and value.isdigit():
        # What the expression below makes of it, without the expression (PubMed XML's PMIDs).
        return value.lstrip("0")
    match = _PMID_RE.match(str(value))
    if not match:
        return ""
    digits = match.group(1).lstrip("0")
    return digits


# A DOI that `normalise_doi` returns in lower case and otherwise as it is: nothing to unquote,
# strip or cut off, no prefix, ending in a letter or digit (PubMed XML's, nearly all of them).
_PLAIN_DOI_RE = re.compile(r"10\.\d{4,9}/[^\s\"<>&%\[]*[0-9A-Za-z]")


def normalise_doi(value: object) -> str:
    """Return the DOI in lower case without resolver prefix or trailing punctuation, or ""."""
    if value is None:
        return ""
    if type(value) is str and _PLAIN_DOI_RE.fullmatch(value) and not value.lower().endswith(".pdf"):
        return value.lower()
    text = unquote(str(value)).strip()
    text = _DOI_PREFIX_RE.sub("", text)
    match = _DOI_RE.search(text)
    if not match:
        return ""
    doi = _DOI_STOP_RE.split(match.group(0))[0]
    # A DOI may legitimately contain brackets, but a trailing one is the sentence's, not the DOI's,
    # unless the DOI opened it (as in "10.1016/0005-2795(76)90109-4").
    while doi and doi[-1] in ".,;:'\")]}":
        if doi[-1] == ")" and doi.count("(") >= doi.count(")"):
            break
        if doi[-1] == "]" and doi.count("[") >= doi.count("]"):
            break
        doi = doi[:-1]
    # A ".pdf" ending is a file name's (a link to the full text pasted where the DOI goes), not
    # the DOI's: no registrant ends DOIs with it, and keeping it makes a DOI that resolves nowhere.
    if doi.lower().endswith(".pdf"):
        return normalise_doi(doi[:-4])
    return doi.lower()


_DOI_URL_RE = re.compile(r"^\s*(?:https?://)?(?:dx\.|www\.)?doi\.org/(.+)$", re.IGNORECASE)


def doi_from_url(url: str) -> str:
    """The DOI of a doi.org link ("https://doi.org/10.1000/xyz" -> "10.1000/xyz"), or "".

    Only a resolver link names a DOI: a publisher's or a full-text link that happens to contain
    "10.xxxx/..." in its path (".../pdf/10.1000/xyz.pdf", "...?doi=10.1000/xyz&file=x.pdf") is a
    file's address, whose tail is not the DOI, so it gives none.
    """
    match = _DOI_URL_RE.match(url or "")
    return normalise_doi(match.group(1)) if match else ""


def find_doi(text: str) -> str:
    """Return the first DOI found anywhere in `text` (a URL, a note, a query string), or ""."""
    if not text:
        return ""
    decoded = unquote(text)
    match = _DOI_RE.search(decoded)
    return normalise_doi(match.group(0)) if match else ""


def normalise_pmcid(value: object) -> str:
    """Return "PMC" followed by digits ("pmc 123" -> "PMC123"), or ""."""
    if value is None:
        return ""
    text = str(value).strip()
    if text.isdigit():
        return "PMC" + text.lstrip("0")
    match = _PMCID_RE.search(text)
    return "PMC" + match.group(1).lstrip("0") if match else ""


def find_pmcid(text: str) -> str:
    """Return the first PMCID mentioned in `text` (for example in a PMC URL), or ""."""
    match = _PMCID_RE.search(text or "")
    return "PMC" + match.group(1).lstrip("0") if match else ""


def find_pmid_in_url(text: str) -> str:
    """Return the PMID of a PubMed or Europe PMC (MED) URL, or ""."""
    match = _PMID_IN_URL_RE.search(text or "")
    return match.group(1).lstrip("0") if match else ""


# --- text --------------------------------------------------------------------------------------

# Only tags that publishers and databases put into titles and abstracts; anything else that looks
# like a tag ("p<0.05 and >3") is text and stays.
_INLINE_TAG_RE = re.compile(
    r"</?(?:i|b|u|em|strong|sup|sub|sc|small|big|span|font|br|p|div|italic|bold|inf"
    r"|mml:[a-z]+|math|m:[a-z]+)(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_SPACE_RE = re.compile(r"\s+")
# C0/C1 control characters (tab, CR and LF are allowed) and the replacement character, which is
# what a decoder leaves behind when the bytes were not in the encoding it assumed.
_BAD_CHAR_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")


# ASCII's printable characters, the ones `str.isprintable` accepts below U+0080.
_ASCII_PRINTABLE = bytes(range(0x20, 0x7F))
# From this length on `printable` beats `str.isprintable` (measured crossover about 60).
PRINTABLE_SCAN = 64


def printable(text: str) -> bool:
    """`text.isprintable()`, faster for a long text (3-4 times on a 3,500-character abstract).

    That method looks every character up in Unicode's tables (some 4 ns a character here; an
    abstract passes through it twice, 5% of a PubMed XML parse's instructions). Here the
    printable ASCII bytes are deleted from the UTF-8 text in one C loop; what is left (controls
    and non-ASCII characters, each still whole) is usually nothing, else a few characters for
    the lookup.
    """
    if len(text) < PRINTABLE_SCAN:
        return text.isprintable()
    rest = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_PRINTABLE)
    return not rest or rest.decode("utf-8", "surrogatepass").isprintable()


def plain_text(value: object) -> str:
    """Return `value` as one line of plain text: markup stripped, entities decoded, spaces collapsed."""
    if value is None:
        return ""
    text = str(value)
    if "<" in text:
        text = _INLINE_TAG_RE.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    # Every whitespace character but the plain space is unprintable, so printable text without
    # double spaces has nothing to collapse (the usual case, and much cheaper than the regex).
    if printable(text) and "  " not in text:
        return text.strip()
    return _SPACE_RE.sub(" ", text).strip()


def bad_character(text: str) -> str:
    """Describe the first character that cannot be in clean text (U+FFFD, a control), or ""."""
    # Every character the pattern looks for but U+FFFD is a control, which isprintable() rejects:
    # its C loop clears a clean record's text (nearly all of them) several times faster.
    if not text or (printable(text) and "\ufffd" not in text):
        return ""
    match = _BAD_CHAR_RE.search(text)
    if not match:
        return ""
    char = match.group(0)
    if char == "\ufffd":
        return "U+FFFD (a character that was lost when the file was saved in another encoding)"
    return f"control character U+{ord(char):04X}"


# An ALL-CAPS label at the start of the text or after a sentence end, as in MEDLINE's flattened
# structured abstracts ("BACKGROUND: ... RESULTS: ...").
_LABEL_RE = re.compile(r"(?:^|(?<=[.?!)\]])\s+)([A-Z][A-Z0-9 ,/&'-]{2,60}[A-Z]):\s+")


def split_structured_abstract(text: str) -> list[AbstractSection]:
    """Split a flattened abstract into labelled sections when it is clearly structured.

    A text is structured when it starts with an ALL-CAPS label followed by a colon and has at
    least two such labels; otherwise it is returned as one unlabelled section.
    """
    text = plain_text(text)
    if not text:
        return []
    matches = list(_LABEL_RE.finditer(text))
    if len(matches) < 2 or matches[0].start() != 0:
        return [AbstractSection(label="", text=text)]
    sections = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        sections.append(
            AbstractSection(label=match.group(1).strip(), text=text[match.end() : end].strip())
        )
    return sections


def flatten_abstract(sections: list[AbstractSection]) -> str:
    """Join sections as "LABEL: text" paragraphs separated by a blank line."""
    parts = []
    for section in sections:
        if not section.text and not section.label:
            continue
        parts.append(f"{section.label}: {section.text}" if section.label else section.text)
    return "\n\n".join(parts)


# --- years -------------------------------------------------------------------------------------

YEAR_MIN = 1800
YEAR_MAX = 2100
_YEAR_RE = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def parse_year(value: object) -> int | None:
    """Return the first plausible year (1800..2100) written as four digits in `value`, or None."""
    if value is None:
        return None
    for match in _YEAR_RE.finditer(str(value)):
        year = int(match.group(1))
        if YEAR_MIN <= year <= YEAR_MAX:
            return year
    return None


# --- authors -----------------------------------------------------------------------------------

# Capital letters beyond ASCII count too: "Fluge Ø.", "Lønning P.E." (Scopus) must split.
_INITIALS_RE = re.compile(r"^(?:[^\W\d_]\.?-?){1,4}$")


def _is_initials(token: str) -> bool:
    return bool(_INITIALS_RE.match(token)) and re.sub(r"[.\-]", "", token).isupper()


def _initials_of(given: str) -> str:
    """Initials of given names: "Malgorzata A." -> "MA", "J-P" -> "JP", "D.G." -> "DG"."""
    given = given.replace(".", " ").replace("-", " ")
    initials = []
    for part in given.split():
        if part.isupper() and len(part) <= 4 and part.isalpha():
            # Already initials run together ("DG"), as MEDLINE and Web of Science write them.
            initials.append(part)
        else:
            initials.append(part[0].upper())
    return "".join(initials)


def format_author(name: str) -> str:
    """Return an author as "Surname, Initials"; a name that cannot be split is returned as given.

    Accepts "Surname, Given Names", "Surname, G.N.", "Surname GN" (MEDLINE AU, Embase) and
    "Surname G.N.".
    """
    name = plain_text(name).strip(" ;")
    if not name:
        return ""
    if "," in name:
        surname, _, given = name.partition(",")
        surname, given = surname.strip(), given.strip()
        if given == "null":
            # Lens.org writes an unknown given name as "null" ("van den Hoven, null"), and the
            # tools its exports pass through keep it: a placeholder, not the initial N.
            given = ""
        if not given:
            return surname
        # Suffixes such as "Jr" are not initials.
        given = re.sub(r"\b(?:Jr|Sr|II|III|IV)\b\.?", "", given).strip()
        return f"{surname}, {_initials_of(given)}" if given else surname
    parts = name.split()
    # Initials may come spaced ("Brownstein C D", as EPPI-Reviewer writes them): take every
    # trailing one, leaving at least one word for the surname.
    surname_words = len(parts)
    while surname_words > 1 and _is_initials(parts[surname_words - 1]):
        surname_words -= 1
    if surname_words < len(parts):
        initials = "".join(parts[surname_words:]).replace(".", "").replace("-", "")
        return f"{' '.join(parts[:surname_words])}, {initials}"
    return name


def surname_of(author: str) -> str:
    """The surname part of an author formatted by `format_author` (the whole name if unsplit)."""
    return author.partition(",")[0].strip()


_AND = re.compile(r"\s+and\s+")


def split_author_list(value: str) -> list[str]:
    """Split a one-cell author list ("Liu R., Adler D.G." or "Wiklund, I; Smith, J") into names."""
    value = (value or "").strip()
    if not value:
        return []
    if ";" in value:
        return [part.strip() for part in value.split(";") if part.strip()]
    joined = _AND.split(value)
    if len(joined) > 1 and all("," in part for part in joined):
        # BibTeX's "Yang, Z. and Jiang, B." (Rayyan's CSV; abstrackr's, with line breaks): each
        # part is a whole "Surname, Given" name. "Smith, J and Jones" stays one cell below.
        return [part.strip() for part in joined if part.strip()]
    pieces = [part.strip() for part in value.split(",") if part.strip()]
    # "Liu R., Adler D.G.": every piece is a name and most end with initials (Scopus also writes
    # "Ma Ch.L.", "Hudson Jr. J."), so commas separate authors. Otherwise the comma separates
    # surname and given names of a single author ("Wiklund, I", "Van Berg, Jan Piet").
    if (
        len(pieces) > 1
        and all(len(p.split()) >= 2 for p in pieces)
        and 2 * sum(_is_initials(p.split()[-1]) for p in pieces) > len(pieces)
    ):
        return pieces
    return [value]


def format_authors(names: list[str]) -> list[str]:
    """Format every name with `format_author`, dropping empty ones."""
    return [formatted for formatted in (format_author(n) for n in names) if formatted]


def strip_accents(text: str) -> str:
    """Remove diacritics ("Grošelj" -> "Groselj") so spellings from different sources agree."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


__all__ = [
    "YEAR_MAX",
    "YEAR_MIN",
    "bad_character",
    "find_doi",
    "doi_from_url",
    "find_pmcid",
    "find_pmid_in_url",
    "flatten_abstract",
    "format_author",
    "format_authors",
    "normalise_doi",
    "normalise_pmcid",
    "normalise_pmid",
    "parse_year",
    "plain_text",
    "split_author_list",
    "split_structured_abstract",
    "strip_accents",
    "surname_of",
]
