"""Bulk inserts for imports: COPY on PostgreSQL, sent while the next batch is parsed.

With `bulk_create`, each batch of an import waits while Django renders one INSERT with every
value as a parameter and PostgreSQL parses, checks and indexes it. `BulkWriter` instead turns the
rows into COPY's text format (cheaper to make and to load) and sends them from a second thread
that shares the caller's connection, so the rows land in the caller's transaction while Python
goes on to the next batch.

The ids of new rows that other rows point at (records, which duplicate links point at) are
reserved from the table's sequence before the rows are sent, so the caller can use them at once.

On other databases (SQLite in development and most tests) `save_new` is `bulk_create`.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from io import BytesIO

from django.db import connections, models

# Batches waiting for the writer thread: enough to keep it busy, few enough to bound memory.
QUEUE_BATCHES = 2
# From the second reservation of a model's ids on, this many times the ids asked for are taken
# at once (see `reserve_ids`).
RESERVE_AHEAD = 8


def _escaped(text: str) -> str:
    # Replaces, not str.translate: translating to longer strings goes character by character.
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _scalar(value: object) -> str:
    """A value in COPY's text format: \\N for NULL, tab, newline and backslash escaped."""
    if value is None:
        return "\\N"
    if value.__class__ is str:
        return _escaped(value)  # type: ignore[arg-type]
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.date):
        return value.isoformat()
    return _escaped(str(value))


def copy_field(value: object) -> str:
    """A value in COPY's text format (NULL, booleans, dates, numbers and text)."""
    return _scalar(value)


def copy_text_field(text: str) -> str:
    """A string in COPY's text format (the common case of `copy_field`, without its checks)."""
    return _escaped(text)


def _json(encoder_class) -> Callable[[object], str]:
    # jsonb stores the same value whether the text escapes non-ASCII characters or not.
    encode = (encoder_class or json.JSONEncoder)(ensure_ascii=False).encode

    def convert(value: object) -> str:
        return "\\N" if value is None else _escaped(encode(value))

    return convert


def _sets_on_save(field: models.Field) -> bool:
    # auto_now_add and the like fill the value in pre_save; plain fields leave it as it is.
    return type(field).pre_save is not models.Field.pre_save


class BulkWriter:
    """Insert model instances in bulk inside the current transaction; use as a context manager.

    Leaving the block waits for every queued batch to be written and raises the writer's error
    if there was one. Leaving it with an exception drops the batches not yet sent (the
    transaction is about to be rolled back) and waits for the one being sent, so nothing is
    written after the rollback.
    """

    def __init__(self, *, using: str = "default"):
        self.connection = connections[using]
        self.copy = self.connection.vendor == "postgresql"
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._stop = threading.Event()
        # psycopg2 lets go of its connection while COPY reads the data, so another statement
        # could slip into the middle of a COPY; both threads take this lock to use it.
        self._lock = threading.Lock()
        self._sequences: dict[type[models.Model], str] = {}
        # Ids taken from a sequence and not handed out yet, ascending.
        self._spare: dict[type[models.Model], list[int]] = {}

    def __enter__(self) -> BulkWriter:
        if self.copy and self.connection.in_atomic_block:
            # Foreign keys are deferred to the commit by default, where 100,000 records' checks
            # ran one after the other once every row was in. Checked as each COPY lands, they
            # run on the database's core while this thread parses the next batch.
            with self.connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None:
            self._stop.set()
            self._drain()
        self._finish()
        if exc_type is None:
            self._raise_if_failed()

    def save_new(self, model: type[models.Model], objs: Sequence[models.Model]) -> None:
        """Insert `objs`, new instances of `model`. Afterwards those of a model that others
        point at have their primary key (links, which nothing points at, may not)."""
        if not objs:
            return
        if not self.copy:
            # The typed way to reach any model's manager; for the models saved here it is objects.
            model._default_manager.bulk_create(objs)
            return
        self._raise_if_failed()
        # What bulk_create would fill in first (Record: its number in the review).
        prepare = getattr(model._default_manager, "prepare_new", None)
        if prepare is not None:
            prepare(objs)
        if objs[0].pk is None and model._meta.related_objects:
            for obj, pk in zip(objs, self.reserve_ids(model, len(objs)), strict=True):
                obj.pk = pk
        # Rows become text on this thread, not the writer's: the writer then needs the
        # interpreter only for an instant per batch and never waits long for it.
        self.send(*self._copy_text(model, objs))

    def reserve_ids(self, model: type[models.Model], count: int) -> list[int]:
        """`count` new primary keys of `model`, ascending (PostgreSQL only)."""
        self._raise_if_failed()
        try:
            return self._reserve_ids(model, count)
        except Exception:
            # A failed COPY aborts the transaction; its error is the one worth reporting.
            self._finish()
            self._raise_if_failed()
            raise

    def copy_statement(self, model: type[models.Model], columns: Sequence[str]) -> str:
        """The COPY statement for rows of `model` given as text in the order of `columns`."""
        quote = self.connection.ops.quote_name
        return (
            f"COPY {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
            "FROM STDIN"
        )

    def send(self, statement: str, data: bytes) -> None:
        """Queue rows already in COPY's text format (see `copy_statement`, `copy_field`)."""
        self._raise_if_failed()
        self._start()
        while True:
            try:
                self._queue.put((statement, data), timeout=0.5)
                break
            except queue.Full:
                self._raise_if_failed()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hold the connection for the caller's own queries (none may run during a COPY)."""
        with self._lock:
            yield

    # --- internals --------------------------------------------------------------------------

    def _reserve_ids(self, model: type[models.Model], count: int) -> list[int]:
        # Asking the sequence waits for the COPY under way (the connection is shared), which
        # kept this thread and the database taking turns, batch after batch. A writer asked a
        # second time is writing a large batch stream: it takes several batches' ids at once,
        # and the batches in between go on without waiting. Ids left over when the writer ends
        # are a gap in the sequence, as a rolled-back insert leaves.
        spare = self._spare.get(model)
        if spare is None:
            spare = self._spare[model] = self._next_ids(model, count)
        elif len(spare) < count:
            spare += self._next_ids(model, count * RESERVE_AHEAD - len(spare))
        ids, self._spare[model] = spare[:count], spare[count:]
        return ids

    def _next_ids(self, model: type[models.Model], count: int) -> list[int]:
        table, column = model._meta.db_table, model._meta.pk.column
        with self._lock, self.connection.cursor() as cursor:
            if model not in self._sequences:
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
                self._sequences[model] = cursor.fetchone()[0]
            cursor.execute(
                "SELECT nextval(%s) FROM generate_series(1, %s)", [self._sequences[model], count]
            )
            return sorted(row[0] for row in cursor.fetchall())

    def _copy_text(self, model: type[models.Model], objs: Sequence[models.Model]):
        """The COPY statement for `objs` and their rows in COPY's text format."""
        fields = [
            f for f in model._meta.concrete_fields if not (f.primary_key and objs[0].pk is None)
        ]
        filled = [f for f in fields if _sets_on_save(f)]
        values_of = operator.attrgetter(*(f.attname for f in fields))
        converters = [
            _json(f.encoder) if isinstance(f, models.JSONField) else _scalar for f in fields
        ]
        lines = []
        for obj in objs:
            for field in filled:
                field.pre_save(obj, add=True)
            lines.append(
                "\t".join(
                    [convert(v) for convert, v in zip(converters, values_of(obj), strict=True)]
                )
            )
        lines.append("")
        columns = ", ".join(self.connection.ops.quote_name(f.column) for f in fields)
        table = self.connection.ops.quote_name(model._meta.db_table)
        # Bytes, made here: psycopg2 would otherwise encode a copy on the writer thread, and
        # multi-megabyte buffers allocated on one thread and freed on another fragment the heap.
        return f"COPY {table} ({columns}) FROM STDIN", "\n".join(lines).encode()

    def _start(self) -> None:
        if self._thread is None:
            self.connection.ensure_connection()
            self._raw = self.connection.connection
            self._thread = threading.Thread(target=self._run, name="bulk-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._stop.is_set() or self._error is not None:
                continue
            statement, data = item
            try:
                # Django's wrapper turns psycopg2's errors into django.db's (IntegrityError, ...).
                with self._lock, self.connection.wrap_database_errors, self._raw.cursor() as cursor:
                    # One read of the whole text: psycopg2 takes the interpreter lock for each
                    # read, and waiting for it 8 KB at a time made imports several times slower.
                    cursor.copy_expert(statement, BytesIO(data), size=len(data) + 1)
            except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                self._error = error

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def _finish(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
