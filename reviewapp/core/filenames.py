"""Names of uploaded files, made safe to store, show and send back in a download header.

A browser or a script chooses the name of an upload; it may carry directories (`../../etc/passwd`),
control characters, CR/LF (a header injection once put in Content-Disposition), quotes, markup or
thousands of characters. `upload_name_clean` keeps a readable name: the last path component,
without control or format characters, quotes or characters Windows refuses, spaces collapsed, at
most `max_length` characters with the extension kept. Pure: no Django import.
"""

from __future__ import annotations

import re
import unicodedata

# Characters not allowed in file names on common systems, plus quotes and the markup brackets.
_REFUSED = re.compile(r'[\\/:*?"<>|\'`]')
_SPACES = re.compile(r"\s+")
MAX_LENGTH = 120


def upload_name_clean(
    name: str | None, *, default: str = "file", max_length: int = MAX_LENGTH
) -> str:
    """A readable, harmless file name for `name` as a client gave it; `default` if nothing is left."""
    text = unicodedata.normalize("NFC", name or "")
    # Directories: whichever separator the client's system uses.
    text = re.split(r"[\\/]", text)[-1]
    # Control (Cc: NUL, CR, LF, ...) and format (Cf: bidirectional overrides that disguise
    # "evil‮fdp.exe") characters go; other separators become spaces.
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            kept.append(" " if char in "\t\r\n" else "")
        elif category in ("Zl", "Zp"):
            kept.append(" ")
        else:
            kept.append(char)
    text = _REFUSED.sub("_", "".join(kept))
    text = _SPACES.sub(" ", text).strip(" .")  # no hidden files, no "..", no trailing dots
    if not text:
        return default
    if len(text) > max_length:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 16 and stem:
            text = stem[: max_length - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            text = text[:max_length].rstrip(" .")
    return text or default
