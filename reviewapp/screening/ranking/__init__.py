"""Screening prioritisation: a pure active-learning model in ASReview's parts, no Django.

Features (:mod:`.features`), classifier (:mod:`.classifiers`), balancer (:mod:`.balance`) and
query strategy (:mod:`.query`) are combined by :class:`Ranker` according to a named
:mod:`preset <.presets>`; :func:`simulate` replays a labelled review, :mod:`.metrics` scores an
order and :mod:`.stopping` says when screening may stop. Sources: van de Schoot et al. 2021
(Nat Mach Intell 3:125-133) for the model, Cohen et al. 2006 (JAMIA 13:206-219) for WSS,
Callaghan & Müller-Hansen 2020 (Syst Rev 9:273) for the stopping test.
"""

from reviewapp.screening.ranking.features import record_text, record_texts, tfidf_features
from reviewapp.screening.ranking.io import LabelledData, LabelledDataError, labelled_csv_read
from reviewapp.screening.ranking.metrics import recall_at, rrf, wss
from reviewapp.screening.ranking.presets import DEFAULT_PRESET, PRESETS, Preset, preset_get
from reviewapp.screening.ranking.ranker import Ranker
from reviewapp.screening.ranking.simulation import SimulationResult, simulate
from reviewapp.screening.ranking.stopping import (
    RecallEstimate,
    StoppingTest,
    recall_estimate,
    stopping_test,
)

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "LabelledData",
    "LabelledDataError",
    "Preset",
    "Ranker",
    "RecallEstimate",
    "SimulationResult",
    "StoppingTest",
    "labelled_csv_read",
    "preset_get",
    "recall_at",
    "recall_estimate",
    "record_text",
    "record_texts",
    "rrf",
    "simulate",
    "stopping_test",
    "tfidf_features",
    "wss",
]
