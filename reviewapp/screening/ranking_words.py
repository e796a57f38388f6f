"""Records' words for the ranking model, tokenised once and kept (issue 13).

Tokenising title and abstract is most of the cost of building TF-IDF features, and a record's
words do not change while its text does not. So each record's words are stored once as ids into
one dictionary of words (RecordWords, RankingWord): by the first training that finds them
missing, or by `record_words_fill_after` once an import or search is done (see its docstring). A training loads
the ids of the stage's records and builds the review's TF-IDF matrix from them with array
operations (ranking.tfidf_from_tokens), the same matrix scikit-learn makes from the texts.

A record whose title or abstract changes, by whatever path (a merge, an edit, a script), loses
its words in the same statement: a database trigger (migration screening 0006) deletes its
RecordWords row, and the next fill or training tokenises the new text. A fill reads the texts it
tokenises under a share lock (PostgreSQL), so a text change cannot slip in between that read and
the write of the words.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
from django.db import connection, transaction
from django.db.models import QuerySet

from reviewapp.literature.models import Record
from reviewapp.screening.models import RankingWord, RecordWords

if TYPE_CHECKING:
    from reviewapp.screening.ranking.features import TokenDocs

logger = logging.getLogger(__name__)

# Records tokenised and written per transaction when filling: bounds memory on a 100,000-record
# import and keeps each transaction short.
FILL_BATCH = 2000
_ID = np.dtype("<u4")


def record_words_fill(*, review_id: int) -> int:
    """Tokenise and keep the words of the review's records that have none (new, or their text
    changed); returns how many records were tokenised. Safe to run twice at once: both write the
    same words.
    """
    records = Record.objects.filter(review_id=review_id)
    stale = list(
        records.filter(ranking_words__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    for start in range(0, len(stale), FILL_BATCH):
        _words_fill(stale[start : start + FILL_BATCH])
    return len(stale)


def record_words_fill_after(job) -> None:
    """Tokenise and keep the words of the records a finished Import or Search added to its review,
    so the first training has nothing to tokenise. A failure is logged, not raised: the import is
    done, and a training fills any gap itself.

    Not called yet: run at the end of the import task, it outlives the job's "done" status, and
    the worker fault tests (tests/core/test_job_faults.py) flush the database as soon as that
    status shows, racing it into a deadlock. Its place is inside literature.services.import_run
    (and search_run), before the claim finishes the job: one call, for the import's owner to add.
    """
    if job.status != "done":
        return
    try:
        record_words_fill(review_id=job.review_id)
    except Exception:
        logger.exception("keeping the words of review %s failed; training will", job.review_id)


def _words_fill(record_ids: list[int]) -> dict[int, np.ndarray]:
    """Tokenise and store the words of `record_ids` in one transaction; returns id -> word ids.

    The texts are read FOR SHARE (PostgreSQL): a concurrent change of a title or abstract waits
    for this transaction, then its trigger deletes the words written here; and a change that came
    first is the text read here. Decisions on these records (FOR KEY SHARE) are not held up.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id, title, abstract FROM {Record._meta.db_table} "
                    "WHERE id = ANY(%s::bigint[]) ORDER BY id FOR SHARE",
                    [_array(map(str, record_ids))],
                )
                rows = cursor.fetchall()
        else:
            rows = list(
                Record.objects.filter(pk__in=record_ids)
                .order_by("pk")
                .values_list("pk", "title", "abstract")
            )
        return _words_store(rows)


def _words_store(rows: Sequence[tuple[int, str, str]]) -> dict[int, np.ndarray]:
    """Tokenise (record id, title, abstract) rows, store their words; returns id -> word ids."""
    from reviewapp.screening.ranking.features import record_text, word_tokens

    tokens = [word_tokens(record_text(title, abstract)) for _, title, abstract in rows]
    ids_of = _word_ids(set(chain.from_iterable(tokens))).__getitem__
    out = {
        pk: np.fromiter(map(ids_of, words), dtype=_ID, count=len(words))
        for (pk, _, _), words in zip(rows, tokens, strict=True)
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {RecordWords._meta.db_table} (record_id, ids) "
                "SELECT * FROM unnest(%s::bigint[], %s::bytea[]) "
                "ON CONFLICT (record_id) DO UPDATE SET ids = EXCLUDED.ids",
                [_array(map(str, out)), _array(_bytea(ids.tobytes()) for ids in out.values())],
            )
    else:
        RecordWords.objects.bulk_create(
            [RecordWords(record_id=pk, ids=ids.tobytes()) for pk, ids in out.items()],
            batch_size=500,
            update_conflicts=True,
            unique_fields=["record"],
            update_fields=["ids"],
        )
    return out


def _text_words(texts: dict[int, str]) -> dict[int, np.ndarray]:
    """Dictionary ids of the words of `texts` (record id -> text), not kept for the records."""
    from reviewapp.screening.ranking.features import word_tokens

    tokens = {rid: word_tokens(text) for rid, text in texts.items()}
    ids_of = _word_ids(set(chain.from_iterable(tokens.values()))).__getitem__
    return {
        rid: np.fromiter(map(ids_of, words), dtype=_ID, count=len(words))
        for rid, words in tokens.items()
    }


def _word_ids(words: set[str]) -> dict[str, int]:
    """Dictionary ids of `words`, adding the new ones in sorted key order, so two fills adding
    overlapping words at once wait for each other instead of deadlocking (and then both find
    the same ids)."""
    by_key = {hashlib.md5(w.encode("utf-8")).digest(): w for w in words}
    found = _ids_by_key(list(by_key))
    missing = sorted(k for k in by_key if k not in found)
    if missing:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {RankingWord._meta.db_table} (key, word) "
                    "SELECT * FROM unnest(%s::bytea[], %s::text[]) ON CONFLICT (key) DO NOTHING",
                    # Words are runs of word characters: no quote or backslash to escape.
                    [_array(map(_bytea, missing)), _array(f'"{by_key[k]}"' for k in missing)],
                )
        else:
            RankingWord.objects.bulk_create(
                [RankingWord(key=k, word=by_key[k]) for k in missing],
                batch_size=500,
                ignore_conflicts=True,
            )
        found.update(_ids_by_key(missing))
    return {by_key[k]: i for k, i in found.items()}


def _ids_by_key(keys: list[bytes]) -> dict[bytes, int]:
    found: dict[bytes, int] = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT key, id FROM {RankingWord._meta.db_table} WHERE key = ANY(%s::bytea[])",
                [_array(map(_bytea, keys))],
            )
            return {bytes(k): i for k, i in cursor.fetchall()}
    for start in range(0, len(keys), 500):
        rows = RankingWord.objects.filter(key__in=keys[start : start + 500])
        found.update((bytes(k), i) for k, i in rows.values_list("key", "id"))
    return found


@dataclass(frozen=True)
class KeptWords:
    """The kept words of a stage's records, as loaded: `key` digests them exactly (the same key
    means the same TF-IDF matrix), `docs()` turns them into TokenDocs (one more query)."""

    record_ids: list[int]
    ids: np.ndarray  # dictionary ids of every record's words, one after another
    indptr: np.ndarray
    tokenised: int  # records tokenised by this load (none had words, or their text changed)

    @cached_property
    def key(self) -> bytes:
        digest = hashlib.blake2b(self.ids.tobytes(), digest_size=16)
        digest.update(self.indptr.tobytes())
        return digest.digest()

    def docs(self) -> TokenDocs:
        from reviewapp.screening.ranking.features import TokenDocs

        global_ids = self.ids.astype(np.int64)
        # Renumber the dictionary ids used here as 0..n-1 (ascending, as `words` is read).
        used = np.flatnonzero(np.bincount(global_ids)) if len(global_ids) else global_ids
        local = np.empty(int(used[-1]) + 1 if len(used) else 0, dtype=np.int64)
        local[used] = np.arange(len(used))
        return TokenDocs(local[global_ids], self.indptr, _words_of(used))


def stage_words(records: QuerySet[Record], texts: dict[int, str] | None = None) -> KeptWords:
    """The words of `records` (ordered by id), tokenising and storing those of records that have
    none (new, or their text changed); one query when every record has its words.

    `texts`: record id -> the text to rank that record on instead of its own title and abstract
    (a merged cluster's primary, on the cluster's merged ones). Those are tokenised on each call
    and not kept: a merge, its undoing or a duplicate leaving changes them without touching the
    record, so no trigger could tell their words stale; clusters are few, so it is cheap.
    """
    rows = list(records.order_by("id").values_list("id", "ranking_words__ids"))
    texts = texts or {}
    missing = [rid for rid, kept in rows if kept is None and rid not in texts]
    fresh: dict[int, np.ndarray] = {}
    for start in range(0, len(missing), FILL_BATCH):
        fresh.update(_words_fill(missing[start : start + FILL_BATCH]))
    shown = {rid for rid, _ in rows} & texts.keys()
    if shown:
        fresh.update(_text_words({rid: texts[rid] for rid in shown}))
    blobs = [
        bytes(kept) if kept is not None and rid not in shown else fresh[rid].tobytes()
        for rid, kept in rows
    ]
    lengths = np.fromiter((len(b) // 4 for b in blobs), dtype=np.int64, count=len(blobs))
    indptr = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return KeptWords(
        record_ids=[rid for rid, _ in rows],
        ids=np.frombuffer(b"".join(blobs), dtype=_ID),
        indptr=indptr,
        tokenised=len(missing),
    )


def _array(elements: Iterable[str]) -> str:
    """A PostgreSQL array literal: one parameter, parsed far faster than thousands of them."""
    return "{" + ",".join(elements) + "}"


def _bytea(value: bytes) -> str:
    # bytea's hex input (\x...), its backslash escaped for the array literal.
    return "\\\\x" + value.hex()


def _words_of(ids: np.ndarray) -> list[str]:
    """The words of dictionary `ids` (ascending), in that order."""
    if not len(ids):
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT word FROM {RankingWord._meta.db_table} WHERE id = ANY(%s::int[]) "
                "ORDER BY id",
                [_array(map(str, ids.tolist()))],
            )
            words = [w for (w,) in cursor.fetchall()]
    else:
        words = []
        for start in range(0, len(ids), 10_000):
            chunk = ids[start : start + 10_000].tolist()
            words += (
                RankingWord.objects.filter(id__in=chunk)
                .order_by("id")
                .values_list("word", flat=True)
            )
    if len(words) != len(ids):
        raise RuntimeError("a record's word ids point outside the word dictionary")
    return words
