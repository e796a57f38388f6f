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

Pure Python and lxml: nothing here touches Django's database or settings, in either process.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NamedTuple

from reviewapp.literature import copyrows, matching
from reviewapp.literature.parsers import (
    FileUnreadable,
    ParsedRecord,
    ParseWarning,
    Rejection,
    parse,
)
from reviewapp.literature.parsers.normalise import surname_of

# Record.title_key's max_length: a key this long may have been cut, so the index keeps it whole.
TITLE_KEY_LENGTH = 255
# Below this size a file is parsed in the importing process: starting an interpreter (about a
# fifth of a second) would cost more than the overlap saves.
PROCESS_MIN_BYTES = 4 * 1024 * 1024
# How long to wait for a child that has sent its last batch to exit.
JOIN_SECONDS = 10


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


def prepared_batches(
    path: str, *, format: str, filename: str, batch_size: int
) -> Iterator[list[Item]]:
    """The file's items in batches of `batch_size`, parsed and prepared in this process."""
    with open(path, "rb") as fileobj:
        batch: list[Item] = []
        for item in parse(fileobj, format=format, filename=filename):
            batch.append(prepare_record(item) if isinstance(item, ParsedRecord) else item)
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def _child(connection, path: str, format: str, filename: str, batch_size: int) -> None:
    try:
        for batch in prepared_batches(
            path, format=format, filename=filename, batch_size=batch_size
        ):
            connection.send(("batch", batch))
        connection.send(("end", None))
    except FileUnreadable as error:
        # The file's fault: the same exception (message, position, line) in the parent.
        connection.send(("unreadable", error))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        connection.send(("fault", traceback.format_exc()))
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> None:
    """The child: `python -c 'from reviewapp.literature.parseproc import main; main()' FD PATH
    FORMAT FILENAME BATCH_SIZE`, sending to the pipe end FD."""
    fd, path, format, filename, batch_size = argv if argv is not None else sys.argv[1:]
    # As in the importing process (services._collector_paused): the parse makes millions of
    # short-lived objects and no cycles worth a collector's passes; this process ends with it.
    gc.disable()
    _child(Connection(int(fd), readable=False), path, format, filename, int(batch_size))


class ProcessBatches:
    """The batches a parser process sends, as an iterator; `process` is the child itself."""

    def __init__(self, connection: Connection, process: subprocess.Popen):
        self.connection = connection
        self.process = process

    def __iter__(self) -> Iterator[list[Item]]:
        while True:
            try:
                kind, payload = self.connection.recv()
            except EOFError:
                with suppress(subprocess.TimeoutExpired):
                    self.process.wait(JOIN_SECONDS)
                raise ParseProcessFailed(
                    f"the parser process stopped before the end of the file (exit code "
                    f"{self.process.returncode})"
                ) from None
            if kind == "batch":
                yield payload
            elif kind == "end":
                return
            elif kind == "unreadable":
                raise payload
            else:
                raise ParseProcessFailed(f"the parser process failed:\n{payload}")


@contextmanager
def batches_in_process(
    path: str, *, format: str, filename: str, batch_size: int
) -> Iterator[ProcessBatches]:
    """`prepared_batches` run in a child process; the block receives them as they come.

    Leaving the block, however it is left, ends the child: an import that fails while the child
    is still parsing does not leave it running.
    """
    # A new interpreter, not multiprocessing's Process: an import runs in a Celery worker's
    # pool process, which multiprocessing forbids to have children, and a fork would share the
    # importer's database connection and inherit its threads (heartbeat, COPY writer) half-way.
    receive_fd, send_fd = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(send_fd), path, format, filename, str(batch_size)],
            pass_fds=(send_fd,),
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": _python_path()},
        )
    except BaseException:
        os.close(receive_fd)
        raise
    finally:
        os.close(send_fd)
    receiver = Connection(receive_fd, writable=False)
    finished = False
    try:
        yield ProcessBatches(receiver, process)
        finished = True
    finally:
        receiver.close()
        if finished:
            # It has sent its last message and is on its way out.
            with suppress(subprocess.TimeoutExpired):
                process.wait(JOIN_SECONDS)
        if process.poll() is None:
            process.kill()
        process.wait()


CHILD = "from reviewapp.literature.parseproc import main; main()"


def _python_path() -> str:
    """PYTHONPATH for the child: where this reviewapp package is found, then the caller's."""
    root = str(Path(__file__).resolve().parents[2])
    inherited = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join([root, inherited]) if inherited else root
