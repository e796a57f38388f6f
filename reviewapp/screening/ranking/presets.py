"""Named model settings for screening prioritisation, each with the place it comes from.

A preset fixes the four parts of an active-learning model as ASReview LAB splits them (van de
Schoot et al. 2021, Nat Mach Intell 3:125-133): feature extraction, classifier, balancer and
query strategy. Keeping them as data lets every stored ranking name the settings that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_PRESET", "PRESETS", "Preset", "preset_get"]


@dataclass(frozen=True)
class Preset:
    """Settings of one ranking model.

    ``features`` are keyword arguments of scikit-learn's ``TfidfVectorizer``; ``classifier`` is
    ``"svm"`` (``LinearSVC``) or ``"nb"`` (``MultinomialNB``) with ``classifier_params``;
    ``balance_ratio`` is the ratio of ASReview's "balanced" sample weighting (see
    :func:`reviewapp.screening.ranking.balance.balanced_sample_weight`).
    """

    name: str
    source: str
    features: dict[str, Any] = field(default_factory=dict)
    classifier: str = "svm"
    classifier_params: dict[str, Any] = field(default_factory=dict)
    balance_ratio: float | None = None
    query: str = "max"


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="elas_u4",
            source=(
                "ASReview LAB 2.x/3.x default 'ELAS u4' (asreview/models/models.py, "
                "AI_MODEL_CONFIGURATIONS; parameters optimised by the ASReview team on the "
                "SYNERGY datasets): TF-IDF on title+abstract, ngram 1-2, sublinear tf, "
                "max_df 0.95; linear SVM, squared hinge, C=0.11; balanced weights ratio 9.8; "
                "query max."
            ),
            features={"ngram_range": (1, 2), "sublinear_tf": True, "min_df": 1, "max_df": 0.95},
            classifier="svm",
            classifier_params={"loss": "squared_hinge", "C": 0.11},
            balance_ratio=9.8,
        ),
        Preset(
            name="nb",
            source=(
                "ASReview LAB 2.x/3.x 'ELAS u3', the successor of the ASReview v1 default "
                "(TF-IDF + Naive Bayes alpha 3.822 + 'double' balance); ASReview 2 replaced the "
                "deprecated 'double' resampling by balanced weights with ratio 1.2 "
                "(asreview/models/models.py). TF-IDF unigrams with English stop words."
            ),
            features={"stop_words": "english"},
            classifier="nb",
            classifier_params={"alpha": 3.822},
            balance_ratio=1.2,
        ),
    )
}

DEFAULT_PRESET = "elas_u4"


def preset_get(name: str) -> Preset:
    """Return the preset called ``name``; ValueError naming the known presets otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}"
        ) from None
