"""Pure meta-analysis statistics: effect sizes, pooling, heterogeneity, bias tests, plots.

No Django imports here; results match R metafor (Viechtbauer 2010) conventions. See
``tests/synthesis`` for the checks against metafor 3.8-1 on the BCG trials.
"""

# Exports resolve on first use (PEP 562), so that importing one module of the package does not
# import them all: the bias tests and plots pull in scipy.stats and matplotlib (a second and
# more), which `manage.py pool` and the web pages that only pool need not load.
_EXPORTS = {
    "EffectSizes": "reviewapp.synthesis.stats.effect_sizes",
    "ExcludedStudy": "reviewapp.synthesis.stats.effect_sizes",
    "MEASURES": "reviewapp.synthesis.stats.io",
    "PoolResult": "reviewapp.synthesis.stats.results",
    "PoolingInputError": "reviewapp.synthesis.stats.io",
    "StudyDataError": "reviewapp.synthesis.stats.effect_sizes",
    "StudyRow": "reviewapp.synthesis.stats.results",
    "TAU2_METHODS": "reviewapp.synthesis.stats.tau2",
    "escalc_binary": "reviewapp.synthesis.stats.effect_sizes",
    "escalc_correlation": "reviewapp.synthesis.stats.effect_sizes",
    "escalc_generic": "reviewapp.synthesis.stats.effect_sizes",
    "escalc_means": "reviewapp.synthesis.stats.effect_sizes",
    "escalc_proportion": "reviewapp.synthesis.stats.effect_sizes",
    "factor_design": "reviewapp.synthesis.stats.subgroups",
    "i2_ci_higgins_thompson": "reviewapp.synthesis.stats.pooling",
    "leave_one_out": "reviewapp.synthesis.stats.subgroups",
    "mantel_haenszel": "reviewapp.synthesis.stats.pooling",
    "meta_regression": "reviewapp.synthesis.stats.subgroups",
    "peto": "reviewapp.synthesis.stats.pooling",
    "pool": "reviewapp.synthesis.stats.pooling",
    "prediction_interval": "reviewapp.synthesis.stats.pooling",
    "q_profile_ci": "reviewapp.synthesis.stats.tau2",
    "random_effects_mh_dl": "reviewapp.synthesis.stats.pooling",
    "rank_correlation_test": "reviewapp.synthesis.stats.bias",
    "read_effects_csv": "reviewapp.synthesis.stats.io",
    "regression_test": "reviewapp.synthesis.stats.bias",
    "rma_uni": "reviewapp.synthesis.stats.pooling",
    "subgroup_analysis": "reviewapp.synthesis.stats.subgroups",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


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
    "escalc_correlation",
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
