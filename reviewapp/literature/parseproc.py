"""Parsing an import's file in a second process, while this one matches and writes the records.

An import of a large PubMed XML file ran on one core: lxml's parse, the record fields, the COPY
text and the duplicate matching all took the interpreter lock in turn, and the database waited
for each batch (issue 13: 3.5-4.6x a bare lxml parse, against 3x asked). Here a child process
parses the file and turns each record into a `PreparedRecord`: its row as COPY text (all but
its id, number and time) and the few fields the duplicate index reads. The importing process
numbers the rows, matches them against the index (which must see every record in order) and
sends them, so parsing, matching and PostgreSQL's COPY run on separate cores at once. (The
index's keys are made by the importing process: made by the parser too, they left it the
slowest of the three.)

Batches come back in file order through a pipe; the child waits in sending a batch until this
process takes it, so it is at most one batch ahead and memory stays flat. What the parser would
have raised is raised here: FileUnreadable (and ParserFault) with the same message, after the complete batches before
it; anything else that stops the child (a fault in this module, the process killed) raises
`ParseProcessFailed`, an internal error, and the caller's transaction keeps nothing.

A large PubMed XML file is parsed by two such processes, one for each half (`Split`): one
parser process was the slowest of the three parts, at two to three times the bare parse, while
the importer and PostgreSQL left part of their core idle. The second process starts at a
record's first byte near the middle, behind a copy of the file's prolog, counts the records and
lines before it, and writes its batches to a spool file while the importer takes the first
half's; the importer then reads the spool. It gives its records the positions and lines they
have in the file, so rejections and a break read as in one process. Whenever the halves do not
fit together (the first one ended early or broke, or did not hold the records the second one
counted), the rest of the file is read again by one process, from the whole file, skipping what
was already taken: slower then, but the same items.

Pure Python and lxml: nothing here touches Django's database or settings, in either process.
"""

from __future__ import annotations

import gc
import io
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

from reviewapp.literature import copyrows, matching
from reviewapp.literature.parsers import (
    FileUnreadable,
    ParsedRecord,
    ParseWarning,
    Rejection,
    parse,
    parse_pubmed_xml,
)
from reviewapp.literature.parsers.normalise import surname_of

logger = logging.getLogger(__name__)

# Record.title_key's max_length: a key this long may have been cut, so the index keeps it whole.
TITLE_KEY_LENGTH = 255
# Below this size a file is parsed in the importing process: starting an interpreter (about a
# fifth of a second) would cost more than the overlap saves.
PROCESS_MIN_BYTES = 4 * 1024 * 1024
# How long to wait for a child that has sent its last batch to exit.
JOIN_SECONDS = 10
# From this size a PubMed XML file is parsed in two halves, by two processes (see above).
SPLIT_MIN_BYTES = 32 * 1024 * 1024
# How far past the middle the second half's first record is looked for.
SPLIT_WINDOW = 8 * 1024 * 1024
RECORD_START = b"<PubmedArticle>"
RECORD_STARTS = (RECORD_START, b"<PubmedBookArticle>")
RECORD_ENDS = (b"</PubmedArticle>", b"</PubmedBookArticle>")
ROOT_START = b"<PubmedArticleSet"
ROOT_END = b"</PubmedArticleSet>\n"
# The halves, as a half's process is told which one it reads.
FIRST, SECOND = "first", "second"


class PreparedRecord(NamedTuple):
    """A parsed record made ready for the database in the process that parsed it.

    `content`: its Record row's content columns as COPY text (`copyrows.record_content`);
    `match`: what the duplicate index needs of it, with id 0 until the record has one.
    """

    position: int
    content: str
    match: matching.MatchRecord


class ParseProcessFailed(RuntimeError):
    """The parser process stopped without finishing the file, for a reason not in the file."""


def prepare_record(parsed: ParsedRecord) -> PreparedRecord:
    """The per-record work of an import that needs no database: the row text, and the fields
    the duplicate index reads with the title key made once for both."""
    key = matching.title_key(parsed.title)
    return PreparedRecord(
        position=parsed.position,
        content=copyrows.record_content(parsed, title_key=key[:TITLE_KEY_LENGTH]),
        match=matching.MatchRecord(
            0,
            parsed.pmid,
            parsed.doi,
            parsed.title,
            parsed.year,
            surname_of(parsed.authors[0]) if parsed.authors else "",
            key,
        ),
    )


Item = PreparedRecord | Rejection | ParseWarning


def _batched(items, batch_size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(prepare_record(item) if isinstance(item, ParsedRecord) else item)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def prepared_batches(
    path: str, *, format: str, filename: str, batch_size: int
) -> Iterator[list[Item]]:
    """The file's items in batches of `batch_size`, parsed and prepared in this process."""
    with open(path, "rb") as fileobj:
        yield from _batched(parse(fileobj, format=format, filename=filename), batch_size)


# --- two halves -------------------------------------------------------------------------------


class _Spliced(io.RawIOBase):
    """The file's bytes from `start` to `end`, with `head` before them and `tail` after them, as
    one seekable binary stream."""

    def __init__(self, path: str, start: int, end: int, head: bytes = b"", tail: bytes = b""):
        self._file = open(path, "rb")  # noqa: SIM115 - closed with the stream
        self._start = start
        self._parts: list[tuple[bytes | None, int]] = [
            (head, len(head)),
            (None, end - start),
            (tail, len(tail)),
        ]
        self._size = sum(size for _data, size in self._parts)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        part_start = 0
        for data, size in self._parts:
            at = self._position + done
            if done < len(view) and part_start <= at < part_start + size:
                begin = at - part_start
                count = min(size - begin, len(view) - done)
                if data is None:
                    self._file.seek(self._start + begin)
                    count = self._file.readinto(view[done : done + count]) or 0
                else:
                    view[done : done + count] = data[begin : begin + count]
                done += count
            part_start += size
        self._position += done
        return done

    def close(self) -> None:
        self._file.close()
        super().close()


def _count_in(path: str, end: int, patterns: tuple[bytes, ...]) -> list[int]:
    """How often each pattern occurs in the file's first `end` bytes, read in chunks."""
    counts = [0] * len(patterns)
    tails = [b""] * len(patterns)
    with open(path, "rb") as fileobj:
        left = end
        while left > 0:
            chunk = fileobj.read(min(left, 16 * 1024 * 1024))
            if not chunk:
                break
            left -= len(chunk)
            for index, pattern in enumerate(patterns):
                # An occurrence across two chunks is found with the previous chunk's last bytes,
                # too few to hold a whole one by themselves.
                data = tails[index] + chunk
                counts[index] += data.count(pattern)
                tails[index] = data[len(data) - len(pattern) + 1 :] if len(pattern) > 1 else b""
    return counts


def _line_ends(counts: list[int]) -> int:
    """Line ends as libxml2 counts them, from the counts of LF, CR and CRLF."""
    lf, cr, crlf = counts
    return lf + cr - crlf


class Split(NamedTuple):
    """Where a PubMed XML file is cut in two: `offset`, the first byte of a record near the
    middle that follows another record's end; `prolog`, the file up to the end of its root's
    start tag, which the second half is read behind."""

    path: str
    offset: int
    prolog: bytes

    @classmethod
    def find(cls, path: str) -> Split | None:
        """The file's split, or None when it has none (no root start tag in its first 64 kB, no
        record start just after another record's end in the window past the middle)."""
        size = os.path.getsize(path)
        with open(path, "rb") as fileobj:
            head = fileobj.read(64 * 1024)
            root = head.find(ROOT_START)
            close = head.find(b">", root) if root >= 0 else -1
            if close < 0:
                return None
            middle = max(size // 2, close + 1)
            fileobj.seek(middle)
            window = fileobj.read(SPLIT_WINDOW)
        at = window.find(RECORD_START)
        while at >= 0:
            if window[:at].rstrip().endswith(RECORD_ENDS):
                return cls(path, middle + at, head[: close + 1])
            at = window.find(RECORD_START, at + 1)
        return None

    def stream(self, part: str) -> io.BufferedReader:
        """The first half, closed by the root's end tag, or the second behind the prolog."""
        if part == FIRST:
            raw = _Spliced(self.path, 0, self.offset, tail=ROOT_END)
        else:
            raw = _Spliced(self.path, self.offset, os.path.getsize(self.path), head=self.prolog)
        return io.BufferedReader(raw, buffer_size=1024 * 1024)

    def before(self) -> tuple[int, int]:
        """The records before the second half, as start tags (one hidden in a comment makes
        the halves disagree, and the rest is read again in one process), and how many lines
        further on in the file the second half's lines are than behind the prolog."""
        counts = _count_in(self.path, self.offset, (*RECORD_STARTS, b"\n", b"\r", b"\r\n"))
        prolog = [self.prolog.count(end) for end in (b"\n", b"\r", b"\r\n")]
        return sum(counts[:2]), _line_ends(counts[2:]) - _line_ends(prolog)


# --- the child processes ----------------------------------------------------------------------


def _send_outcome(connection, send_batches) -> None:
    """Run `send_batches`, then tell the parent how it ended (the end, or why not)."""
    try:
        send_batches()
        connection.send(("end", None))
    except FileUnreadable as error:
        # The file's fault: the same exception (message, position, line) in the parent.
        connection.send(("unreadable", error))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        connection.send(("fault", traceback.format_exc()))
    finally:
        connection.close()


def _child(connection, path: str, format: str, filename: str, batch_size: int) -> None:
    def send_batches():
        for batch in prepared_batches(
            path, format=format, filename=filename, batch_size=batch_size
        ):
            connection.send(("batch", batch))

    _send_outcome(connection, send_batches)


def _half_child(
    connection, path: str, filename: str, batch_size: int, part: str, offset: int, spool: str
) -> None:
    """A half of a PubMed XML file: the first sends its batches through the pipe; the second
    first sends the records it starts after, then writes its batches to `spool` and sends each
    one's length, so it runs ahead of the importer, which takes the first half meanwhile."""

    def send_batches():
        found = Split.find(path)
        if found is None or found.offset != offset:
            raise ParseProcessFailed(f"the file changed: no record starts at byte {offset}")
        before = (0, 0) if part == FIRST else found.before()
        with ExitStack() as stack:
            stream = stack.enter_context(found.stream(part))
            out = stack.enter_context(open(spool, "wb")) if part == SECOND else None
            if part == SECOND:
                # The spool exists from now on, for the parent to open.
                connection.send(("start", before[0]))
            items = parse_pubmed_xml(stream, filename=filename, before=before)
            for batch in _batched(items, batch_size):
                if out is None:
                    connection.send(("batch", batch))
                else:
                    data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
                    out.write(data)
                    out.flush()
                    connection.send(("spooled", len(data)))

    _send_outcome(connection, send_batches)


def main(argv: list[str] | None = None) -> None:
    """The child: `python -c 'from reviewapp.literature.parseproc import main; main()' FD PATH
    FORMAT FILENAME BATCH_SIZE [PART OFFSET SPOOL]`, sending to the pipe end FD."""
    args = argv if argv is not None else sys.argv[1:]
    fd, path, format, filename, batch_size = args[:5]
    # As in the importing process (services._collector_paused): the parse makes millions of
    # short-lived objects and no cycles worth a collector's passes; this process ends with it.
    gc.disable()
    connection = Connection(int(fd), readable=False)
    if len(args) > 5:
        part, offset, spool = args[5:]
        _half_child(connection, path, filename, int(batch_size), part, int(offset), spool)
    else:
        _child(connection, path, format, filename, int(batch_size))


# --- the importing process's side --------------------------------------------------------------


def _messages(connection: Connection, process: subprocess.Popen) -> Iterator[tuple[str, Any]]:
    """The child's messages until its last; raises what it reports, or that it died."""
    while True:
        try:
            kind, payload = connection.recv()
        except EOFError:
            with suppress(subprocess.TimeoutExpired):
                process.wait(JOIN_SECONDS)
            raise ParseProcessFailed(
                f"the parser process stopped before the end of the file (exit code "
                f"{process.returncode})"
            ) from None
        if kind == "end":
            return
        if kind == "unreadable":
            raise payload
        if kind == "fault":
            raise ParseProcessFailed(f"the parser process failed:\n{payload}")
        yield kind, payload


class ProcessBatches:
    """The batches a parser process sends, as an iterator; `process` is the child itself."""

    def __init__(self, connection: Connection, process: subprocess.Popen):
        self.connection = connection
        self.process = process

    def __iter__(self) -> Iterator[list[Item]]:
        for _kind, batch in _messages(self.connection, self.process):
            yield batch


class _Children:
    """The parser processes of one import; leaving, however it is left, ends them all."""

    def __init__(self) -> None:
        self.started: list[tuple[Connection, subprocess.Popen]] = []

    def start(self, *args: str) -> tuple[Connection, subprocess.Popen]:
        # A new interpreter, not multiprocessing's Process: an import runs in a Celery worker's
        # pool process, which multiprocessing forbids to have children, and a fork would share
        # the importer's database connection and inherit its threads (heartbeat, COPY writer).
        receive_fd, send_fd = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(send_fd), *args],
                pass_fds=(send_fd,),
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": _python_path()},
            )
        except BaseException:
            os.close(receive_fd)
            raise
        finally:
            os.close(send_fd)
        started = (Connection(receive_fd, writable=False), process)
        self.started.append(started)
        return started

    def end(self, finished: bool) -> None:
        for receiver, process in self.started:
            receiver.close()
            if finished:
                # It has sent its last message and is on its way out.
                with suppress(subprocess.TimeoutExpired):
                    process.wait(JOIN_SECONDS)
            if process.poll() is None:
                process.kill()
            process.wait()


class SplitBatches:
    """The batches of a file parsed in two halves, in file order (see the module docstring)."""

    def __init__(self, children: _Children, split: Split, args: tuple[str, ...], spool: str):
        self.children = children
        self.args = args
        self.spool = spool
        self.first = children.start(*args, FIRST, str(split.offset), "")
        self.second = children.start(*args, SECOND, str(split.offset), spool)

    def __iter__(self) -> Iterator[list[Item]]:
        taken = 0
        try:
            for _kind, batch in _messages(*self.first):
                taken = _last_position(batch, taken)
                yield batch
        except FileUnreadable:
            # A break in the first half, or a cut that was not where it seemed: one process
            # reads the whole file and says which.
            yield from self._rest(taken, "the first half of the file could not be read alone")
            return
        try:
            messages = _messages(*self.second)
            kind, records_before = next(messages)
            if kind != "start" or records_before != taken:
                yield from self._rest(
                    taken,
                    f"the first half held {taken} records, the second counted {records_before}",
                )
                return
            with open(self.spool, "rb") as spooled:
                for _kind, size in messages:
                    batch = pickle.loads(spooled.read(size))  # noqa: S301 - our child's batches
                    taken = _last_position(batch, taken)
                    yield batch
        except ParseProcessFailed as error:
            # Not the file's fault (its spool's disk full, the process killed): one process
            # reads on, and fails the same way only if the fault is in the parser.
            yield from self._rest(taken, f"the second half's process failed: {error}")

    def _rest(self, taken: int, why: str) -> Iterator[list[Item]]:
        """The items after the first `taken`, read by one process from the whole file."""
        logger.warning(
            "%s: %s; reading on from record %d in one process", self.args[2], why, taken + 1
        )
        for _receiver, process in self.children.started:
            if process.poll() is None:
                process.kill()
        for _kind, batch in _messages(*self.children.start(*self.args)):
            rest = [item for item in batch if item.position is None or item.position > taken]
            if rest:
                yield rest


def _last_position(batch: list[Item], taken: int) -> int:
    for item in reversed(batch):
        if item.position is not None:
            return item.position
    return taken


@contextmanager
def batches_in_process(
    path: str, *, format: str, filename: str, batch_size: int
) -> Iterator[ProcessBatches | SplitBatches]:
    """`prepared_batches` run in a child process, or for a large PubMed XML file in two; the
    block receives them as they come.

    Leaving the block, however it is left, ends the children: an import that fails while a
    child is still parsing does not leave it running.
    """
    args = (path, format, filename, str(batch_size))
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0  # the child says why it cannot read the file
    split = Split.find(path) if format == "pubmed-xml" and size >= SPLIT_MIN_BYTES else None
    children = _Children()
    finished = False
    # The spool beside the file: where there was room for the file, there is for its second
    # half's rows (the system's temporary directory may be a small one in a container).
    beside = os.path.dirname(os.path.abspath(path))
    spool_parent = beside if os.access(beside, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix=".parse-", dir=spool_parent) as spool_dir:
        try:
            if split is None:
                yield ProcessBatches(*children.start(*args))
            else:
                yield SplitBatches(children, split, args, os.path.join(spool_dir, "second"))
            finished = True
        finally:
            children.end(finished)


CHILD = "from reviewapp.literature.parseproc import main; main()"


def _python_path() -> str:
    """PYTHONPATH for the child: where this reviewapp package is found, then the caller's."""
    root = str(Path(__file__).resolve().parents[2])
    inherited = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join([root, inherited]) if inherited else root
