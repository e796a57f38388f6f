"""Keyword highlighting for titles and abstracts. Pure: no Django here.

Keywords are matched case-insensitively at the start of a word; a phrase matches across any
whitespace; a trailing * matches any word ending (random* -> random, randomised, randomly).
"""

from __future__ import annotations

import re
from functools import lru_cache

INCLUDE, EXCLUDE = "include", "exclude"


def _pattern(keyword: str) -> str | None:
    keyword = keyword.strip()
    prefix = keyword.endswith("*")
    keyword = keyword.rstrip("*").strip()
    if not keyword:
        return None
    words = [re.escape(w) for w in keyword.split()]
    body = r"\s+".join(words)
    # After the keyword, either more word characters (prefix) or a word boundary; the boundary
    # before it is the whole pattern's (`_compiled`).
    return body + (r"\w*" if prefix else r"(?!\w)")


@lru_cache(maxsize=64)
def _compiled(
    include: tuple[str, ...], exclude: tuple[str, ...]
) -> tuple[re.Pattern, list[str]] | None:
    alternatives = []
    # Longer keywords first, so "randomised controlled" wins over "randomised".
    keyed = [(k, INCLUDE) for k in include] + [(k, EXCLUDE) for k in exclude]
    keyed.sort(key=lambda item: -len(item[0]))
    groups = []
    for keyword, kind in keyed:
        pattern = _pattern(keyword)
        if pattern:
            alternatives.append(f"({pattern})")
            groups.append(kind)
    if not alternatives:
        return None
    # One look-behind for all keywords: each alternative carrying its own made the engine try
    # every keyword at every character (0.3-0.5 ms for an abstract with a dozen keywords, paid
    # for each record a reviewer is shown), where now it tries them only at a word's start.
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})", re.IGNORECASE), groups


def segments(
    text: str, include: tuple[str, ...] | list[str], exclude: tuple[str, ...] | list[str]
) -> list[tuple[str, str | None]]:
    """Split text into (piece, kind) where kind is "include", "exclude" or None (no keyword)."""
    if not text:
        return []
    compiled = _compiled(tuple(include or ()), tuple(exclude or ()))
    if compiled is None:
        return [(text, None)]
    pattern, kinds = compiled
    result: list[tuple[str, str | None]] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() == match.end():
            continue
        if match.start() > position:
            result.append((text[position : match.start()], None))
        if match.lastindex is None:
            # Every alternative of the pattern is a group, so a match always has one.
            raise AssertionError("keyword match without a group")
        kind = kinds[match.lastindex - 1]
        result.append((match.group(0), kind))
        position = match.end()
    if position < len(text):
        result.append((text[position:], None))
    return result
