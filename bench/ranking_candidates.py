"""Candidate ranking models against the parity preset elas_u4, on every labelled set.

    .venv/bin/python bench/ranking_candidates.py CANDIDATE [CANDIDATE ...] \
        [--data ../shared/fixtures/labelled] [--seeds 3] [--every 5]

A screening study for issue 19 point 1, cheaper than bench/prioritisation_bench.py: the same
priors per seed (``priors_draw``), but the model retrains after every ``--every`` labels (5 by
default) so that seven sets and several candidates fit on a shared two-core machine. elas_u4 is
run under the same schedule as the reference; a candidate that looks better here must then be
made a preset and confirmed by prioritisation_bench.py (retrain after every label, ASReview
beside it) before it may become the default. Candidates:

- ``u4``: elas_u4 itself (TF-IDF word 1-2-grams, sublinear tf, max_df 0.95; LinearSVC C=0.11;
  balanced weights ratio 9.8).
- ``kw``: u4's words plus the record's keywords (MeSH terms in the Cohen sets), each keyword one
  token, as a second TF-IDF block weighted 0.7, rows renormalised.
- ``char``: u4's words plus character 3-5-grams within words (scikit-learn's char_wb).
- ``title2``: the title counted twice (title weighting).
- ``ens``: rank average of u4's SVM and a logistic regression (C=10, balanced) on u4's features.
- ``lr``: that logistic regression alone.
- ``bal``: u4 with balance ratio 1 (scikit-learn's class_weight="balanced") instead of 9.8.
- ``kwlow``: ``kw`` with the keyword block weighted 0.25 instead of 0.7.
- ``mindf2``: u4 with min_df 2 (terms seen in one record only dropped).
- ``nbsvm``: rank average of u4's SVM and ASReview's naive Bayes (alpha 3.822, balance ratio
  1.2, the ``nb`` preset's classifier) on u4's features.
Names combine: ``charkw`` is both blocks.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.naive_bayes import MultinomialNB  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from reviewapp.screening.ranking import rrf, wss  # noqa: E402
from reviewapp.screening.ranking.balance import balanced_sample_weight  # noqa: E402
from reviewapp.screening.ranking.study import labelled_paths, priors_draw  # noqa: E402

U4 = {"ngram_range": (1, 2), "sublinear_tf": True, "max_df": 0.95}


def features(rows: list[dict], kind: str) -> sp.csr_matrix:
    titles = [r.get("title") or "" for r in rows]
    abstracts = [r.get("abstract") or "" for r in rows]
    texts = [f"{t} {a}" for t, a in zip(titles, abstracts, strict=True)]
    if "title2" in kind:
        words = [f"{t} {t} {a}" for t, a in zip(titles, abstracts, strict=True)]
    else:
        words = texts
    params = {**U4, "min_df": 2} if "mindf2" in kind else U4
    blocks = [TfidfVectorizer(**params).fit_transform(words)]
    if "char" in kind:
        char = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, max_df=0.95
        )
        blocks.append(char.fit_transform(texts))
    if "kw" in kind:
        keywords = [
            [k.strip().lower() for k in (r.get("keywords") or "").split(";") if k.strip()]
            for r in rows
        ]
        if any(keywords):
            vectoriser = TfidfVectorizer(analyzer=lambda x: x, sublinear_tf=True, max_df=0.95)
            weight = 0.25 if "kwlow" in kind else 0.7
            blocks.append(vectoriser.fit_transform(keywords) * weight)
    if len(blocks) == 1:
        return blocks[0].tocsr()
    matrix = sp.hstack(blocks).tocsr()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return (sp.diags(1 / norms) @ matrix).tocsr()


def scorer(kind: str, seed: int):
    ratio = 1.0 if "bal" in kind else 9.8

    def svm(x, idx, y):
        model = LinearSVC(C=0.11, random_state=seed)
        model.fit(x[idx], y, sample_weight=balanced_sample_weight(y, ratio))
        return np.asarray(x @ model.coef_.ravel()).ravel()

    def nb(x, idx, y):
        model = MultinomialNB(alpha=3.822)
        model.fit(x[idx], y, sample_weight=balanced_sample_weight(y, 1.2))
        return model.predict_proba(x)[:, 1]

    def lr(x, idx, y):
        model = LogisticRegression(C=10, solver="liblinear", random_state=seed)
        model.fit(x[idx], y, sample_weight=balanced_sample_weight(y, 1.0))
        return np.asarray(x @ model.coef_.ravel()).ravel()

    def rank_mean(*parts):
        def score(x, idx, y):
            return sum(np.argsort(np.argsort(part(x, idx, y))) for part in parts) / len(parts)

        return score

    if "ens" in kind:
        return rank_mean(svm, lr)
    if "nbsvm" in kind:
        return rank_mean(svm, nb)
    return lr if "lr" in kind else svm


def simulate_matrix(x, y: np.ndarray, priors: list[int], score, every: int) -> list[int]:
    """simulate()'s loop on a ready matrix, labelling the top ``every`` per retrain."""
    order = list(priors)
    unlabelled = np.ones(len(y), dtype=bool)
    unlabelled[priors] = False
    left = int(y[unlabelled].sum())
    while unlabelled.any():
        candidates = np.flatnonzero(unlabelled)
        if left == 0:
            order.extend(candidates.tolist())
            break
        labelled = np.asarray(order)
        if y[labelled].min() == y[labelled].max():
            batch = candidates[:every]
        else:
            scores = score(x, labelled, y[labelled])
            batch = candidates[np.argsort(-scores[candidates], kind="stable")[:every]]
        order.extend(int(i) for i in batch)
        unlabelled[batch] = False
        left -= int(y[batch].sum())
    return order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("candidates", nargs="+")
    parser.add_argument("--data", default=str(ROOT.parent.parent / "shared/fixtures/labelled"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--every", type=int, default=5)
    args = parser.parse_args()
    for kind in args.candidates:
        started = time.perf_counter()
        result = {}
        for path in labelled_paths(args.data):
            with open(path, newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.DictReader(handle))
            y = np.asarray([int(r.get("label_included") or r["included"]) for r in rows])
            x = features(rows, kind)
            values = []
            for seed in range(args.seeds):
                priors = priors_draw(y.tolist(), seed)
                order = simulate_matrix(x, y, priors, scorer(kind, seed), args.every)
                after = y[order[len(priors) :]]
                values.append((wss(after, 0.95), rrf(after, 0.10)))
            result[path.stem] = values
            wss_mean = statistics.mean(v[0] for v in values)
            print(f"{kind} {path.stem} {x.shape} WSS@95 {wss_mean:.3f}", flush=True)
        seconds = time.perf_counter() - started
        print("RESULT", kind, json.dumps(result), f"{seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
