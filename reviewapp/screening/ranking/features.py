"""Text features for ranking: TF-IDF over title and abstract.

The vectoriser is fitted once on every record of the review (labelled or not), as ASReview does:
the vocabulary and idf weights then do not move between retrains, so a retrain only refits the
classifier on rows of a matrix computed once.

Tokenising is the costly part of TF-IDF (about 90% of scikit-learn's ``fit_transform`` on 20,000
abstracts with bigrams), and a record's words never change while its text does not, so the app
keeps each record's words (:func:`word_tokens`) and builds the review's matrix from them with
:func:`tfidf_from_tokens`: the same matrix as :func:`tfidf_features` on the texts, bit for bit
(same columns, same order of entries within each row, same floating-point values), from array
operations only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import (
    ENGLISH_STOP_WORDS,
    TfidfTransformer,
    TfidfVectorizer,
)

__all__ = [
    "TokenDocs",
    "record_text",
    "record_texts",
    "tfidf_features",
    "tfidf_from_tokens",
    "tokens_from_texts",
    "tokens_supported",
    "word_tokens",
]

# scikit-learn's default word analyser: lowercase, then this pattern (TfidfVectorizer's defaults,
# which every preset keeps).
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
# TfidfVectorizer settings tfidf_from_tokens reproduces; any other key (a custom token pattern,
# max_features, char n-grams...) needs the texts.
_SUPPORTED = {"ngram_range", "stop_words", "min_df", "max_df", "sublinear_tf", "norm", "use_idf"}
_SUPPORTED |= {"smooth_idf"}


def record_text(title: str | None, abstract: str | None) -> str:
    """The text a record is ranked on: title and abstract joined by a space.

    Missing parts count as empty, as in ASReview's ``TextMerger`` (title and abstract columns,
    separator " ").
    """
    return f"{title or ''} {abstract or ''}"


def record_texts(titles: Iterable[str | None], abstracts: Iterable[str | None]) -> list[str]:
    """:func:`record_text` for parallel sequences of titles and abstracts."""
    return [record_text(t, a) for t, a in zip(titles, abstracts, strict=True)]


def tfidf_features(texts: Sequence[str], params: dict[str, Any] | None = None) -> sp.csr_matrix:
    """Fit scikit-learn's TF-IDF (Salton & Buckley 1988 weighting) on ``texts``; one row each.

    ``params`` are ``TfidfVectorizer`` keyword arguments (a preset's ``features``). With
    ``max_df`` below 1 and very few records every term can be pruned; then the vectoriser is
    refitted without the pruning so a tiny review still gets features instead of an error.
    """
    params = dict(params or {})
    if not texts:
        return sp.csr_matrix((0, 0))
    try:
        return TfidfVectorizer(**params).fit_transform(texts).tocsr()
    except ValueError:
        # Empty vocabulary: all records blank, or max_df/min_df pruned everything on a handful
        # of records. An all-zero matrix keeps the ranker working (it then keeps plain order).
        params.pop("max_df", None)
        params.pop("min_df", None)
        try:
            return TfidfVectorizer(**params).fit_transform(texts).tocsr()
        except ValueError:
            return sp.csr_matrix((len(texts), 1))


def word_tokens(text: str) -> list[str]:
    """The words scikit-learn's TF-IDF sees in ``text`` (lowercased, two or more word
    characters), in order; n-grams and stop words are applied later, per preset."""
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class TokenDocs:
    """Documents as word ids: document ``i`` is ``ids[indptr[i]:indptr[i + 1]]``, each id an
    index into ``words`` (distinct strings)."""

    ids: np.ndarray
    indptr: np.ndarray
    words: Sequence[str]

    @property
    def n_docs(self) -> int:
        return len(self.indptr) - 1


def tokens_from_texts(texts: Sequence[str]) -> TokenDocs:
    """:func:`word_tokens` of every text, as a :class:`TokenDocs`."""
    vocabulary: dict[str, int] = {}
    ids: list[int] = []
    indptr = [0]
    for text in texts:
        ids.extend(vocabulary.setdefault(w, len(vocabulary)) for w in word_tokens(text))
        indptr.append(len(ids))
    return TokenDocs(
        np.asarray(ids, dtype=np.int64), np.asarray(indptr, dtype=np.int64), list(vocabulary)
    )


def tokens_supported(params: dict[str, Any] | None) -> bool:
    """Whether :func:`tfidf_from_tokens` reproduces ``TfidfVectorizer(**params)``."""
    params = params or {}
    lo, hi = params.get("ngram_range", (1, 1))
    return set(params) <= _SUPPORTED and 1 <= lo <= hi <= 2


def tfidf_from_tokens(docs: TokenDocs, params: dict[str, Any] | None = None) -> sp.csr_matrix:
    """:func:`tfidf_features` of the texts ``docs`` were tokenised from, from their words.

    Equal to it bit for bit, fallbacks included, for the settings :func:`tokens_supported`
    accepts (TypeError otherwise).
    """
    params = dict(params or {})
    if not tokens_supported(params):
        raise TypeError(f"TF-IDF settings {sorted(params)} need the texts, not their words")
    if docs.n_docs == 0:
        return sp.csr_matrix((0, 0))
    try:
        return _tfidf_from_tokens(docs, params)
    except ValueError:
        params.pop("max_df", None)
        params.pop("min_df", None)
        try:
            return _tfidf_from_tokens(docs, params)
        except ValueError:
            return sp.csr_matrix((docs.n_docs, 1))


def _tfidf_from_tokens(docs: TokenDocs, params: dict[str, Any]) -> sp.csr_matrix:
    """The steps of ``TfidfVectorizer.fit_transform`` (scikit-learn 1.9: CountVectorizer's
    ``_count_vocab``, ``_limit_features``, ``_sort_features``, then TfidfTransformer), with
    the dictionary of n-gram strings replaced by integer keys.

    The layout scikit-learn produces, which this reproduces: column ids are first given in order
    of first appearance (documents in order; within a document its unigrams, then its bigrams,
    each in text order), each row holds one entry per distinct term sorted by that id, terms in
    more than max_df or fewer than min_df documents are dropped, and finally the columns are
    renamed to the terms' alphabetical order without reordering the entries.
    """
    n_docs = docs.n_docs
    n_words = len(docs.words)
    lo, hi = params.get("ngram_range", (1, 1))
    ids = np.asarray(docs.ids, dtype=np.int64)
    lengths: np.ndarray = np.diff(np.asarray(docs.indptr, dtype=np.int64))
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)

    stop = _stop_words(params.get("stop_words"))
    if stop:
        is_stop = np.fromiter((w in stop for w in docs.words), dtype=bool, count=n_words)
        keep = ~is_stop[ids]
        ids, doc = ids[keep], doc[keep]

    # A term's integer key sorts as its string does: tokens hold only word characters, all above
    # the space that joins a bigram, so "a b" sorts by (a, b) and right after the unigram "a".
    # Unigram a -> rank(a) * (W + 1); bigram a b -> rank(a) * (W + 1) + rank(b) + 1.
    rank = np.empty(n_words, dtype=np.int64)
    rank[sorted(range(n_words), key=docs.words.__getitem__)] = np.arange(n_words)
    r = rank[ids] * (n_words + 1)
    parts = []  # (keys, their documents), unigrams before bigrams
    if lo == 1:
        parts.append((r, doc))
    if hi == 2:
        same = doc[:-1] == doc[1:]
        parts.append((r[:-1][same] + rank[ids[1:][same]] + 1, doc[:-1][same]))
    # The analyser's stream: per document its unigrams, then its bigrams.
    per_doc = [np.bincount(d, minlength=n_docs) for _, d in parts]
    starts = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(sum(per_doc), out=starts[1:])
    keys = np.empty(int(starts[-1]), dtype=np.int64)
    docs_of = np.empty_like(keys)
    before = np.zeros(n_docs, dtype=np.int64)  # this part's slots start after earlier parts'
    for (k, d), counts in zip(parts, per_doc, strict=True):
        first = np.zeros(n_docs, dtype=np.int64)
        np.cumsum(counts[:-1], out=first[1:])
        dest = (starts[:-1] + before - first)[d] + np.arange(len(k))
        keys[dest], docs_of[dest] = k, d
        before += counts
    if not len(keys):
        raise ValueError("empty vocabulary; perhaps the documents only contain stop words")

    # Terms (groups of equal keys, numbered alphabetically) and their first appearance.
    order, sorted_keys = _sort_with_positions(keys)
    new_term = np.empty(len(keys), dtype=bool)
    new_term[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new_term[1:])
    term_starts = np.flatnonzero(new_term)
    term_of = np.empty(len(keys), dtype=np.int64)
    term_of[order] = np.cumsum(new_term) - 1
    first_seen = order[term_starts]  # positions ascend within a run of equal keys
    n_terms = len(term_starts)
    # scikit-learn's first id of each term: its rank by first appearance.
    is_first = np.zeros(len(keys), dtype=bool)
    is_first[first_seen] = True
    appearance = (np.cumsum(is_first) - 1)[first_seen]
    by_appearance = np.empty(n_terms, dtype=np.int64)
    by_appearance[appearance] = np.arange(n_terms)

    # One entry per (document, term) with its count, sorted by first-appearance id in each row.
    pair = docs_of * n_terms + appearance[term_of]
    pair.sort()
    distinct = np.empty(len(pair), dtype=bool)
    distinct[0] = True
    np.not_equal(pair[1:], pair[:-1], out=distinct[1:])
    bounds = np.flatnonzero(distinct)
    counts = np.diff(np.append(bounds, len(pair))).astype(np.float64)
    entry_doc, entry_id = np.divmod(pair[bounds], n_terms)

    # _limit_features: document frequencies bound by max_df and min_df.
    max_df, min_df = params.get("max_df", 1.0), params.get("min_df", 1)
    # Counts as given, shares of the documents otherwise (exact as floats below 2**53).
    high = float(max_df if isinstance(max_df, Integral) else max_df * n_docs)
    low = float(min_df if isinstance(min_df, Integral) else min_df * n_docs)
    if high < low:
        raise ValueError("max_df corresponds to < documents than min_df")
    dfs = np.bincount(entry_id, minlength=n_terms)
    kept_id = (dfs <= high) & (dfs >= low)
    if not kept_id.any():
        raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
    keep = kept_id[entry_id]
    if not keep.all():
        entry_doc, entry_id, counts = entry_doc[keep], entry_id[keep], counts[keep]
    # _sort_features: columns renamed to alphabetical order among the kept terms.
    kept_alpha = kept_id[appearance]
    column = np.cumsum(kept_alpha) - 1
    n_columns = int(kept_alpha.sum())
    index_dtype = np.int32 if len(counts) <= np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n_docs + 1, dtype=index_dtype)
    np.cumsum(np.bincount(entry_doc, minlength=n_docs), out=indptr[1:])
    counts_matrix = sp.csr_array(
        (counts, column[by_appearance[entry_id]].astype(index_dtype), indptr),
        shape=(n_docs, n_columns),
    )
    tfidf = TfidfTransformer(
        norm=params.get("norm", "l2"),
        use_idf=params.get("use_idf", True),
        smooth_idf=params.get("smooth_idf", True),
        sublinear_tf=params.get("sublinear_tf", False),
    )
    return tfidf.fit(counts_matrix).transform(counts_matrix, copy=False).tocsr()


def _sort_with_positions(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions, sorted keys): ``keys`` sorted, equal keys by ascending position.

    Packing key and position into one integer lets numpy sort values (vectorised) instead of
    argsorting, several times faster on millions of keys; wider keys take the stable argsort.
    """
    position_bits = max(1, (len(keys) - 1).bit_length())
    if int(keys.max()).bit_length() + position_bits <= 63:
        packed = (keys << position_bits) | np.arange(len(keys), dtype=np.int64)
        packed.sort()
        return packed & ((1 << position_bits) - 1), packed >> position_bits
    order = np.argsort(keys, kind="stable")
    return order, keys[order]


def _stop_words(stop_words) -> frozenset[str]:
    # CountVectorizer's _check_stop_list.
    if stop_words is None:
        return frozenset()
    if stop_words == "english":
        return ENGLISH_STOP_WORDS
    if isinstance(stop_words, str):
        raise ValueError(f"not a built-in stop list: {stop_words}")
    return frozenset(stop_words)
