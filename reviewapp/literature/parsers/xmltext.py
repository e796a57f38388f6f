"""Shared XML machinery: streaming records out of a big file, and element text as plain text.

Streaming: `iter_records` runs `lxml.etree.iterparse` over the binary stream, yields each record
element once it is complete, then clears it and drops it from its parent, so memory stays flat
however many records the file holds. External entities and DTDs are never loaded.

Broken XML: records completed before the break are yielded; then FileUnreadable is raised naming
the record and line where the file broke (a truncated download, invalid bytes). The importer
therefore keeps what was read and reports the rest as lost. An undeclared namespace prefix (PubMed
once sent "mml:" without declaring it) is not a break: lxml reports it, the text is still read.

Text: `inline_text` turns an element holding inline markup (<i>, <b>, <u>, <sup>, <sub>, MathML,
EndNote's <style> wrappers) into plain text; digits and signs in <sup>/<sub> become Unicode
super/subscripts ("m<sup>2</sup>" -> "m²"), MathML becomes a linear form ("√s=13 TeV").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from .base import FileUnreadable
from .normalise import PRINTABLE_SCAN, plain_text, printable
from .stream import as_seekable, check_head, decode_head, read_head

_SUPER = str.maketrans("0123456789+-=()n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿ")
_SUB = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
_SUPER_OK = set("0123456789+-=()n")
_SUB_OK = set("0123456789+-=()")

_PROLOG = re.compile(r"^(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)", re.S)
_ELEMENT = re.compile(r"^<([A-Za-z_][\w.:-]*)")
_NCBI_ERROR = re.compile(r"<ERROR>(.*?)</ERROR>", re.S)
_MESSAGE_LINE = re.compile(r"\bline (\d+)\b")


def local_name(tag: object) -> str:
    """Tag without namespace URI or prefix: "{...MathML}math" and "mml:math" are both "math"."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _script(text: str, table: dict, allowed: set[str]) -> str:
    stripped = text.strip()
    if stripped and set(stripped) <= allowed:
        return stripped.translate(table)
    return text


def _math_text(element: etree._Element) -> str:
    name = local_name(element.tag)
    children = [child for child in element if isinstance(child.tag, str)]
    if name in {"annotation", "annotation-xml"}:
        return ""
    if name == "mspace":
        return " "
    if name in {"msup", "msub"} and len(children) == 2:
        base, script = _math_text(children[0]), _math_text(children[1])
        if name == "msup":
            return base + _script(script, _SUPER, _SUPER_OK)
        return base + _script(script, _SUB, _SUB_OK)
    if name == "msqrt":
        inner = "".join(_math_text(child) for child in children)
        return "√" + (inner if len(inner) <= 1 else f"({inner})")
    if name == "mfrac" and len(children) == 2:
        return f"{_math_text(children[0])}/{_math_text(children[1])}"
    text = (element.text or "").strip() + "".join(_math_text(child) for child in children)
    return f" {text} " if name == "mtext" else text


def _inline(element: etree._Element) -> str:
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            name = local_name(child.tag)
            if name == "math":
                parts.append(_math_text(child))
            elif name == "sup":
                parts.append(_script(_inline(child), _SUPER, _SUPER_OK))
            elif name == "sub":
                parts.append(_script(_inline(child), _SUB, _SUB_OK))
            else:
                parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def inline_text(element: etree._Element | None) -> str:
    """Plain text of `element` with inline markup resolved (see module docstring); "" for None."""
    if element is None:
        return ""
    if not len(element):
        # Most fields are short plain text without markup: at fifty fields per record, skipping
        # the walk and plain_text's work (see its fast case) is worth the repetition.
        text = element.text
        if not text:
            return ""
        if (
            "<" not in text
            and "&" not in text
            and "  " not in text
            and (text.isprintable() if len(text) < PRINTABLE_SCAN else printable(text))
        ):
            return text.strip()
        return plain_text(text)
    return plain_text(_inline(element))


def root_name(head: bytes) -> str:
    """Name of the first element in the file's first bytes, or "" when it does not start as XML."""
    text = decode_head(head).lstrip("\ufeff")
    while True:
        match = _PROLOG.match(text)
        if not match or not match.group(0):
            break
        text = text[match.end() :]
    match = _ELEMENT.match(text)
    return match.group(1) if match else ""


def check_root(head: bytes, expected: set[str], label: str) -> None:
    """Raise FileUnreadable unless the file's root element is one of `expected`."""
    check_head(head)
    root = root_name(head)
    if root in expected:
        return
    text = decode_head(head)
    if not root:
        start = text.strip()[:60]
        raise FileUnreadable(f"this is not {label}: it is not XML (it starts with {start!r})")
    if root.lower() == "html":
        raise FileUnreadable(
            f"this is a web page (HTML), not {label}; the server probably sent an error page "
            "instead of the records"
        )
    error = _NCBI_ERROR.search(text)
    if error:
        raise FileUnreadable(
            f"NCBI replied with an error instead of records: {error.group(1).strip()}"
        )
    raise FileUnreadable(f"this is not {label}: the XML's root element is <{root}>")


def iter_records(
    fileobj: BinaryIO,
    *,
    record_tags: tuple[str, ...],
    root_tags: set[str],
    label: str,
    before: tuple[int, int] = (0, 0),
) -> Iterator[tuple[int, etree._Element]]:
    """Yield (position, element) for each complete record element, clearing it afterwards.

    `before`: (records, lines) to add to the stream's positions and line numbers when it is a
    later part of a file (see parseproc): the records before its first one, and how many lines
    further on in the file its lines are. A break is reported at the file's line; the caller
    shifts its elements' `sourceline`.
    """
    records_before, lines_before = before
    stream = as_seekable(fileobj)
    check_root(read_head(stream), root_tags, label)
    events = etree.iterparse(
        stream,
        events=("end",),
        tag=record_tags,
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=True,
    )
    position = records_before
    try:
        for _event, element in events:
            position += 1
            yield position, element
            element.clear(keep_tail=False)
            # Cleared elements still sit in the tree; drop the ones already done.
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as error:
        # The iterparse's own log: the exception's log can hold entries of earlier parses in this
        # thread (lxml keeps a thread-global log), which would blame this file for their faults.
        fatal = [entry for entry in events.error_log if entry.level == etree.ErrorLevels.FATAL]
        if not fatal:
            return
        first = fatal[0]
        # libxml2's message may name other lines of the stream ("... Volume line 3111"): the
        # file's lines too.
        message = (
            _MESSAGE_LINE.sub(lambda m: f"line {int(m.group(1)) + lines_before}", first.message)
            if lines_before
            else first.message
        )
        raise FileUnreadable(
            f"the XML breaks off in record {position + 1} (line {first.line + lines_before}): "
            f"{message}; "
            f"the {position} record(s) before it were read, the rest of the file could not be. "
            "Download or export the file again."
        ) from error
