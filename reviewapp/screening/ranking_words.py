"""Records' words for the ranking model, tokenised once and kept (issue 13).

Tokenising title and abstract is most of the cost of building TF-IDF features, and a record's
words do not change while its text does not. So each record's words are stored once as ids into
one dictionary of words (RecordWords, RankingWord): after an import, by a task the import queues
(`record_words_fill_later`), or at the first training that finds them missing. A training loads
the ids of the stage's records and builds the review's TF-IDF matrix from them with array
operations (ranking.tfidf_from_tokens), the same matrix scikit-learn makes from the texts.

Each RecordWords row carries the MD5 of the text it was made from, and the loader compares it
with the MD5 of the record's current text in the same query: a record whose title or abstract
changed in any way (a merge, an edit, a script) is tokenised again, never ranked on stale words.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
from django.db import connection, transaction
from django.db.models import Case, F, QuerySet, TextField, Value, When
from django.db.models.functions import MD5, Concat
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from reviewapp.literature.models import Record
from reviewapp.screening.models import RankingWord, RecordWords

if TYPE_CHECKING:
    from reviewapp.screening.ranking.features import TokenDocs

logger = logging.getLogger(__name__)

# Records tokenised and written per transaction when filling: bounds memory on a 100,000-record
# import and keeps each transaction short.
FILL_BATCH = 2000
_ID = np.dtype("<u4")


def _current_md5():
    """SQL for the MD5 of a record's ranked text (ranking.record_text: title, space, abstract);
    title and abstract are never NULL, so no COALESCE is needed to match the Python side."""
    return MD5(Concat(F("title"), Value(" "), F("abstract"), output_field=TextField()))


def _kept_ids():
    """The record's stored word ids, or NULL when it has none or its text changed since."""
    return Case(
        When(ranking_words__text_md5=_current_md5(), then=F("ranking_words__ids")), default=None
    )


def record_words_fill(*, review_id: int) -> int:
    """Tokenise and keep the words of the review's records that have none or whose text changed
    since; returns how many records were tokenised. Safe to run twice at once: both write the
    same words.
    """
    records = Record.objects.filter(review_id=review_id)
    stale = list(
        records.annotate(kept=_kept_ids())
        .filter(kept__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(stale), FILL_BATCH):
        _words_store(_texts_of(stale[start : start + FILL_BATCH]))
    return len(stale)


def record_words_fill_later(*, review_id: int) -> None:
    """Queue record_words_fill for the review once the current transaction commits (the import
    task calls this). If the broker cannot be reached nothing is lost: the first training fills
    the gaps itself.
    """

    def send() -> None:
        from reviewapp.screening.tasks import record_words_fill_task

        try:
            record_words_fill_task.delay(review_id)
        except (OperationalError, RedisError, OSError):
            logger.warning("could not queue the word fill of review %s; training will", review_id)

    transaction.on_commit(send)


def record_words_fill_after(job) -> None:
    """Queue the word fill of the review of a finished Import or Search (the one call the
    import and search tasks make, after their records are committed)."""
    if job.status == "done":
        record_words_fill_later(review_id=job.review_id)


def _texts_of(record_ids: list[int]) -> list[tuple[int, str, str]]:
    return list(
        Record.objects.filter(pk__in=record_ids)
        .order_by("pk")
        .values_list("pk", "title", "abstract")
    )


def _words_store(rows: Sequence[tuple[int, str, str]]) -> dict[int, np.ndarray]:
    """Tokenise (record id, title, abstract) rows, store their words; returns id -> word ids."""
    from reviewapp.screening.ranking.features import record_text, word_tokens

    texts = [record_text(title, abstract) for _, title, abstract in rows]
    tokens = [word_tokens(text) for text in texts]
    ids_of = _word_ids(set(chain.from_iterable(tokens))).__getitem__
    out = {
        pk: np.fromiter(map(ids_of, words), dtype=_ID, count=len(words))
        for (pk, _, _), words in zip(rows, tokens, strict=True)
    }
    stored = [
        (pk, hashlib.md5(text.encode("utf-8")).hexdigest(), out[pk].tobytes())
        for (pk, _, _), text in zip(rows, texts, strict=True)
    ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {RecordWords._meta.db_table} (record_id, text_md5, ids) "
                "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::bytea[]) "
                "ON CONFLICT (record_id) DO UPDATE "
                "SET text_md5 = EXCLUDED.text_md5, ids = EXCLUDED.ids",
                [
                    _array(str(pk) for pk, _, _ in stored),
                    _array(md5 for _, md5, _ in stored),
                    _array(_bytea(ids) for _, _, ids in stored),
                ],
            )
    else:
        RecordWords.objects.bulk_create(
            [RecordWords(record_id=pk, text_md5=md5, ids=ids) for pk, md5, ids in stored],
            batch_size=500,
            update_conflicts=True,
            unique_fields=["record"],
            update_fields=["text_md5", "ids"],
        )
    return out


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


def stage_words(records: QuerySet[Record]) -> tuple[list[int], TokenDocs, int]:
    """The words of `records` (ordered by id) as TokenDocs, tokenising the ones that have none or
    whose text changed; returns (record ids, docs, how many were tokenised now).
    """
    from reviewapp.screening.ranking.features import TokenDocs

    rows = list(records.order_by("id").annotate(kept=_kept_ids()).values_list("id", "kept"))
    record_ids = [rid for rid, _ in rows]
    missing = [rid for rid, kept in rows if kept is None]
    fresh: dict[int, np.ndarray] = {}
    for start in range(0, len(missing), FILL_BATCH):
        fresh.update(_words_store(_texts_of(missing[start : start + FILL_BATCH])))
    blobs = [bytes(kept) if kept is not None else fresh[rid].tobytes() for rid, kept in rows]
    lengths = np.fromiter((len(b) // 4 for b in blobs), dtype=np.int64, count=len(blobs))
    indptr = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    global_ids = np.frombuffer(b"".join(blobs), dtype=_ID).astype(np.int64)
    # Renumber the dictionary ids this review uses as 0..n-1 (ascending, as `words` is read).
    used = np.flatnonzero(np.bincount(global_ids)) if len(global_ids) else global_ids
    local = np.empty(int(used[-1]) + 1 if len(used) else 0, dtype=np.int64)
    local[used] = np.arange(len(used))
    words = _words_of(used)
    return record_ids, TokenDocs(local[global_ids], indptr, words), len(missing)


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
