"""Pure meta-analysis statistics: effect sizes, pooling, heterogeneity, bias tests, plots.

No Django imports here; results match R metafor (Viechtbauer 2010) conventions. See
``tests/synthesis`` for the checks against metafor 3.8-1 on the BCG trials.
"""

from reviewapp.synthesis.stats.bias import rank_correlation_test, regression_test
from reviewapp.synthesis.stats.effect_sizes import (
    EffectSizes,
    ExcludedStudy,
    StudyDataError,
    escalc_binary,
    escalc_generic,
    escalc_means,
    escalc_proportion,
)
from reviewapp.synthesis.stats.io import MEASURES, PoolingInputError, read_effects_csv
from reviewapp.synthesis.stats.pooling import (
    i2_ci_higgins_thompson,
    mantel_haenszel,
    peto,
    pool,
    prediction_interval,
    random_effects_mh_dl,
    rma_uni,
)
from reviewapp.synthesis.stats.results import PoolResult, StudyRow
from reviewapp.synthesis.stats.subgroups import (
    factor_design,
    leave_one_out,
    meta_regression,
    subgroup_analysis,
)
from reviewapp.synthesis.stats.tau2 import TAU2_METHODS, q_profile_ci

__all__ = [
    "MEASURES",
    "TAU2_METHODS",
    "EffectSizes",
    "ExcludedStudy",
    "PoolResult",
    "PoolingInputError",
    "StudyDataError",
    "StudyRow",
    "escalc_binary",
    "escalc_generic",
    "escalc_means",
    "escalc_proportion",
    "factor_design",
    "i2_ci_higgins_thompson",
    "leave_one_out",
    "mantel_haenszel",
    "meta_regression",
    "peto",
    "pool",
    "prediction_interval",
    "q_profile_ci",
    "random_effects_mh_dl",
    "rank_correlation_test",
    "read_effects_csv",
    "regression_test",
    "rma_uni",
    "subgroup_analysis",
]
