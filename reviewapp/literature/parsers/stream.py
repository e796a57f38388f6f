"""Opening an uploaded file for a parser: a seekable binary stream, a first look, the text encoding.

Encoding rule for the text formats (RIS, MEDLINE, CSV):

1. A byte-order mark decides: UTF-8 with BOM (the BOM is dropped) or UTF-16.
2. Otherwise the whole file is read once, in chunks, as UTF-8. If it decodes, it is UTF-8.
3. If it does not, the file is UTF-8 with a few broken records when it holds more valid UTF-8
   multi-byte sequences than stray bytes; it is then decoded as UTF-8 and each broken spot
   becomes U+FFFD, so only the records that contain one are rejected (the field is named).
4. Otherwise the whole file is decoded as Windows-1252 (which older Windows exports use), with
   the five bytes cp1252 leaves undefined read as Latin-1 (C1 controls, which reject their record).

The first pass costs one extra sequential read but no memory: the file is never held whole.
XML formats declare their own encoding and are decoded by lxml.
"""

from __future__ import annotations

import codecs
import io
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO

from .base import FileUnreadable, ParseWarning

HEAD_SIZE = 8192
_CHUNK = 1 << 20
_SPOOL_MAX = 16 * 1024 * 1024

_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx or Word .docx file is one)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office file (.xls or .doc)"),
    (b"{\\rtf", "an RTF document"),
)
_VALID_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_HIGH_BYTES = bytes(range(128, 256))
LATIN1_FALLBACK = "reviewapp-latin1-fallback"


def _latin1_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error(LATIN1_FALLBACK, _latin1_fallback)


def as_seekable(fileobj: BinaryIO | bytes) -> BinaryIO:
    """Return a seekable binary stream for `fileobj`, spooling a non-seekable one to a temp file."""
    if isinstance(fileobj, bytes | bytearray):
        return io.BytesIO(fileobj)
    if isinstance(fileobj, io.TextIOBase):
        raise TypeError("parsers read binary file objects; open the file with mode 'rb'")
    seekable = getattr(fileobj, "seekable", None)
    if seekable is not None and seekable():
        return fileobj
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MAX)  # noqa: SIM115 - closed by GC
    shutil.copyfileobj(fileobj, spool)
    spool.seek(0)
    return spool  # type: ignore[return-value]


def read_head(stream: BinaryIO, size: int = HEAD_SIZE) -> bytes:
    """Read up to `size` bytes and put the stream back where it was."""
    start = stream.tell()
    head = stream.read(size)
    stream.seek(start)
    if not isinstance(head, bytes):
        raise TypeError("parsers read binary file objects; open the file with mode 'rb'")
    return head


def check_head(head: bytes) -> None:
    """Raise FileUnreadable when the file is empty or is clearly not a text export."""
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise FileUnreadable("the file is empty")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise FileUnreadable(
                f"this is {what}, not a literature export; export the records as RIS, "
                "PubMed XML, MEDLINE (.nbib), EndNote XML or CSV"
            )
    is_utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if b"\x00" in head and not is_utf16:
        raise FileUnreadable(
            "the file contains binary data (NUL bytes), not text; it is not a literature export"
        )


def decode_head(head: bytes) -> str:
    """Decode the first bytes for format detection (BOM-aware, never fails)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # An odd cut could split a code unit; drop the last byte when it would.
        return head[: len(head) // 2 * 2].decode("utf-16", errors="replace")
    return head.decode("utf-8-sig", errors="replace")


def choose_encoding(stream: BinaryIO) -> tuple[str, str]:
    """Return (encoding, errors) for the text of `stream` following the module's rule."""
    start = stream.tell()
    try:
        bom = stream.read(4)
        if bom.startswith(codecs.BOM_UTF8):
            return "utf-8-sig", "replace"
        if bom.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16", "replace"
        stream.seek(start)
        decoder = codecs.getincrementaldecoder("utf-8")()
        valid = invalid = 0
        strict = True
        while chunk := stream.read(_CHUNK):
            if strict:
                try:
                    decoder.decode(chunk)
                    continue
                except UnicodeDecodeError:
                    strict = False
            stripped, sequences = _VALID_MULTIBYTE.subn(b"", chunk)
            valid += sequences
            invalid += len(stripped) - len(stripped.translate(None, _HIGH_BYTES))
        if strict:
            try:
                decoder.decode(b"", final=True)
                # "replace" never triggers here; it only keeps a file edited meanwhile from crashing.
                return "utf-8", "replace"
            except UnicodeDecodeError:
                # Only the last character is cut short: a truncated UTF-8 file.
                return "utf-8", "replace"
        if valid > invalid:
            return "utf-8", "replace"
        return "cp1252", LATIN1_FALLBACK
    finally:
        stream.seek(start)


_LONE_CR = re.compile(rb"\r(?!\n)")
# A field line (RIS "TI  - ", "1. TI  - ", MEDLINE "PMID- ") right after a line end of each kind.
_TAG = rb"(?:\d+\.\s*)?[A-Z][A-Z0-9]{1,3} {0,3}- "
_TAG_AFTER_LF = re.compile(rb"(?<!\r)\n" + _TAG)
_TAG_AFTER_CRLF = re.compile(rb"\r\n" + _TAG)


def _lines(chunk: bytes, end: int) -> int:
    """Line ends in chunk[:end], counted as a text reader with universal newlines counts them."""
    crlf = chunk.count(b"\r\n", 0, end)
    return chunk.count(b"\n", 0, end) + chunk.count(b"\r", 0, end) - crlf


def structure_warnings(stream: BinaryIO, *, line_ends: bool = True) -> list[ParseWarning]:
    """Warnings about the file as a whole, from one pass over its bytes.

    - a byte-order mark after the start: files were joined into one (each kept its BOM);
    - a lone CR among other line ends: a line break nobody sees in an editor, which splits a
      line (a CSV header, a field) in two;
    - with `line_ends` (RIS, MEDLINE), fields that start after Windows (CRLF) line ends in one
      part of the file and after Unix (LF) ones in another: files joined, or edited by hand. An
      LF inside a field of a CRLF file is not counted: exporters write multi-line abstracts so.

    The records are still read (the BOM is skipped, every line end is one); the warning points
    the user at the line where the odd part starts, where records are often damaged. A UTF-16
    file is not scanned (its bytes are not ASCII-compatible).
    """
    start = stream.tell()
    found: dict[str, int] = {}
    # Whether any line ends with LF (alone or in CRLF): a lone CR is then mixed with them.
    other_ends = False
    try:
        if stream.read(4).startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return []
        stream.seek(start)
        lines_before = 0
        at_start = True
        while chunk := stream.read(_CHUNK):
            if chunk.endswith(b"\r"):
                chunk += stream.read(1)
            cr = chunk.count(b"\r")
            crlf = chunk.count(b"\r\n") if cr else 0
            lf = chunk.count(b"\n") - crlf
            cr -= crlf
            # A pattern is searched only in a chunk that holds its kind of line end: a regex scan
            # that finds nothing reads the whole chunk, the counts above cost far less.
            searches = [("bom", None, True), ("cr", _LONE_CR, cr > 0)]
            if line_ends:
                searches += [("lf", _TAG_AFTER_LF, lf > 0), ("crlf", _TAG_AFTER_CRLF, crlf > 0)]
            for name, pattern, present in searches:
                if name in found or not present:
                    continue
                if pattern is None:
                    index = chunk.find(codecs.BOM_UTF8, 3 if at_start else 0)
                else:
                    match = pattern.search(chunk)
                    # A lone CR: the line it ends. A field: its own line, after the line end.
                    ends = {"cr": 0, "lf": 1, "crlf": 2}[name]
                    index = -1 if match is None else match.start() + ends
                if index >= 0:
                    found[name] = lines_before + _lines(chunk, index) + 1
            other_ends = other_ends or crlf + lf > 0
            lines_before += crlf + lf + cr
            at_start = False
    finally:
        stream.seek(start)
    warnings = []
    if "bom" in found:
        line = found["bom"]
        warnings.append(
            ParseWarning(
                reason=f"line {line} holds a second byte-order mark (U+FEFF), as at the start of "
                f"a file: several files were probably joined into one; check the records around "
                f"line {line}",
                line=line,
            )
        )
    if "cr" in found and other_ends:
        line = found["cr"]
        warnings.append(
            ParseWarning(
                reason=f"line {line} ends with a lone carriage return (CR) while the other lines "
                "end with LF or CRLF: the line is split in two there, although an editor shows "
                f"one line; check the record or header at line {line}",
                line=line,
            )
        )
    if "lf" in found and "crlf" in found:
        line = max(found["lf"], found["crlf"])
        first, then = (
            ("Windows (CRLF)", "Unix (LF)")
            if found["crlf"] < found["lf"]
            else ("Unix (LF)", "Windows (CRLF)")
        )
        warnings.append(
            ParseWarning(
                reason=f"the file mixes line ends: {first} first, then {then} from line {line}; "
                f"files joined together or edited by hand look like this, so check the records "
                f"around line {line}",
                line=line,
            )
        )
    return warnings


@contextmanager
def text_stream(
    fileobj: BinaryIO | bytes, *, newline: str | None = None, line_ends: bool = True
) -> Iterator[tuple[io.TextIOWrapper, list[ParseWarning]]]:
    """Open `fileobj` as text per the module's encoding rule; the caller's file is left open.

    Gives the text and the file's `structure_warnings` (`line_ends` is passed on to it).
    """
    stream = as_seekable(fileobj)
    check_head(read_head(stream))
    encoding, errors = choose_encoding(stream)
    warnings = structure_warnings(stream, line_ends=line_ends)
    wrapper = io.TextIOWrapper(stream, encoding=encoding, errors=errors, newline=newline)
    try:
        yield wrapper, warnings
    finally:
        # Detach so closing the wrapper (or collecting it) does not close the caller's file.
        with suppress(ValueError):
            wrapper.detach()
