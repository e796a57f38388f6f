"""Every analysis in tests/fixtures/reference/pooling-bcg.json (metafor 3.8-1 on the BCG trials)
reproduced within the file's stated tolerances.

Expected values are read from that file only; the tolerances come from its "about" key (see
``reference.tolerance``), never finer than the file's own rounding. Published values (metafor
manual, README, tests against Stata metan) are checked to the precision they were printed with.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from reviewapp.synthesis.stats import (
    factor_design,
    i2_ci_higgins_thompson,
    leave_one_out,
    mantel_haenszel,
    meta_regression,
    peto,
    pool,
    prediction_interval,
    random_effects_mh_dl,
    rank_correlation_test,
    regression_test,
    subgroup_analysis,
)
from tests.synthesis.reference import (
    analyses,
    bcg,
    bcg_effects,
    close,
    published_tolerance,
    rounding_tolerance,
    tolerance,
)

EFFECT_MEASURES = {"logRR": "RR", "logOR": "OR", "RD": "RD"}

# Names in the reference file -> keys of our result dictionaries.
ALIASES = {
    "RR": "estimate_bt",
    "OR": "estimate_bt",
    "RR_ci_lb": "ci_lb_bt",
    "RR_ci_ub": "ci_ub_bt",
    "OR_ci_lb": "ci_lb_bt",
    "OR_ci_ub": "ci_ub_bt",
    "RR_pi_lb_z": "pi_lb_bt",
    "RR_pi_ub_z": "pi_ub_bt",
    "pred": "estimate",
    "zval_metafor": "zval",
    "Q_MH": "Q",
    "I2_Q": "I2",
}
PAIRS = {
    "ci": ("ci_lb", "ci_ub"),
    "pi": ("pi_lb", "pi_ub"),
    "RR_ci": ("ci_lb_bt", "ci_ub_bt"),
    "OR_ci": ("ci_lb_bt", "ci_ub_bt"),
    "RR_pi": ("pi_lb_bt", "pi_ub_bt"),
    "tau2_ci": ("tau2_ci_lb", "tau2_ci_ub"),
}


def result_values(result) -> dict:
    values = result.to_dict()
    values.update(result.extra)
    values["tau"] = math.sqrt(result.tau2)
    return values


def resolve(values: dict, key: str):
    if key in PAIRS:
        return [values[k] for k in PAIRS[key]]
    if key in values:
        return values[key]
    return values[ALIASES[key]]  # KeyError: an expected value this suite does not know


def compare(values: dict, expected: dict, context: str, *, published: bool = False, default=None):
    """Compare every expected value; return the mismatches as readable lines."""
    problems = []
    checked = 0
    for key, exp in expected.items():
        got = resolve(values, key)
        exp_list = exp if isinstance(exp, list) else [exp]
        got_list = got if isinstance(got, list) else [got]
        assert len(exp_list) == len(got_list), f"{context} {key}: length differs"
        for i, (g, e) in enumerate(zip(got_list, exp_list, strict=True)):
            tol = published_tolerance(e) if published else tolerance(key, e, default=default)
            checked += 1
            if not close(g, e, tol):
                problems.append(f"{context} {key}[{i}]: got {g!r}, expected {e!r} (tol {tol:g})")
    assert checked, f"{context}: nothing compared"
    return problems


def pooled(measure: str, method: str, *, hksj: bool = False):
    model = "fixed" if method == "FE" else "random"
    return pool(bcg_effects(measure), model=model, method=method, hksj=hksj)


def check_published(analysis: dict, values: dict) -> list[str]:
    problems = []
    for block in ("published", "published_predict", "published_confint"):
        if block not in analysis:
            continue
        pub = analysis[block]["values"]
        # Stata metan's MH risk-difference variance differs by design (see the file's note).
        pub = {k: v for k, v in pub.items() if "Stata" not in k}
        if pub and all(isinstance(v, dict) for v in pub.values()):
            for method, vals in pub.items():
                problems += compare(values[method], vals, f"{block}:{method}", published=True)
        else:
            problems += compare(values, pub, block, published=True)
    return problems


def _pooled_analysis(analysis: dict) -> list[str]:
    """logRR_<method> and logRR_<method>_HKSJ: rma(measure="RR", method=..., test=...)."""
    match = re.fullmatch(r"logRR_([A-Z]+)(_HKSJ)?", analysis["id"])
    method, hksj = match.group(1), bool(match.group(2))
    result = pooled("RR", method, hksj=hksj)
    values = result_values(result)
    expected = dict(analysis["expected"])
    problems = []
    if "notes" in analysis and "2e-5 on estimate" in analysis["notes"]:
        # the file asks for 2e-5 on the PM estimate
        problems += compare(values, {"estimate": expected.pop("estimate")}, "PM", default=2e-5)
    problems += compare(values, expected, analysis["id"])
    problems += _expected_extra(analysis, result, values)
    problems += check_published(analysis, values)
    return problems


def _expected_extra(analysis: dict, result, values: dict) -> list[str]:
    extra = analysis.get("expected_extra", {})
    if not extra:
        return []
    fixed = result_values(pooled("RR", "FE"))
    derived = dict(values)
    for key in extra:
        if key.startswith("pi_t_km1"):
            derived[key] = list(
                prediction_interval(result.estimate, result.se, result.tau2, result.k, kind="t_km1")
            )
        elif key.startswith("pi_t_km2"):
            derived[key] = list(
                prediction_interval(result.estimate, result.se, result.tau2, result.k, kind="t_km2")
            )
        elif key.startswith("I2_Q_based"):
            derived[key] = fixed["I2"]
        elif key.startswith("H2_Q_based"):
            derived[key] = fixed["H2"]
        elif key.startswith("I2_CI_Higgins_Thompson"):
            derived[key] = list(i2_ci_higgins_thompson(result.Q, result.k))
    return compare(derived, extra, f"{analysis['id']} expected_extra")


def _methods_by_key(analysis: dict, measure: str) -> list[str]:
    """logOR_FE_DL_REML and RD_FE_DL: expected values keyed by method."""
    values = {m: result_values(pooled(measure, m)) for m in analysis["expected"]}
    problems = []
    for method, expected in analysis["expected"].items():
        problems += compare(values[method], expected, f"{analysis['id']}:{method}")
    problems += check_published(analysis, values)
    return problems


def _mantel_haenszel(analysis: dict) -> list[str]:
    """MH_<measure>: rma.mh(measure=...)."""
    measure = analysis["id"].split("_")[1]
    values = result_values(mantel_haenszel(bcg_effects(measure)))
    if "Cochran" in values:
        # metafor 3.8-1, which wrote this file, printed Cochran's statistic (divisor N) as "CMH";
        # metafor 4 calls it Cochran's and prints the conditional (N-1) one as CMH, as we do.
        values["CMH"], values["CMH_p"] = values["Cochran"], values["Cochran_p"]
    return compare(values, analysis["expected"], analysis["id"]) + check_published(analysis, values)


def _peto(analysis: dict) -> list[str]:
    values = result_values(peto(bcg_effects("OR")))
    return compare(values, analysis["expected"], analysis["id"]) + check_published(analysis, values)


def _revman(analysis: dict) -> list[str]:
    values = result_values(random_effects_mh_dl(bcg_effects("RR")))
    return compare(values, analysis["expected"], analysis["id"])


def _q_profile(analysis: dict) -> list[str]:
    """Q-profile CI of tau² and the I²/H² bounds metafor derives from it (REML model)."""
    values = result_values(pooled("RR", "REML"))
    values["I2_ci(tau2-based, from QP bounds, REML)"] = [values["I2_ci_lb"], values["I2_ci_ub"]]
    values["H2_ci"] = [values["H2_ci_lb"], values["H2_ci_ub"]]
    return compare(values, analysis["expected"], analysis["id"], default=analysis["tolerance_abs"])


def _bias_tests(analysis: dict) -> list[str]:
    effects = bcg_effects("RR")
    problems = []
    for name, expected in analysis["expected"].items():
        if name.startswith("egger_classic_lm"):
            r = regression_test(effects, model="lm")
            values = {
                "t": r.stat,
                "df": r.df,
                "p": r.pval,
                "intercept_in_y/se_on_1/se_regression": r.slope,
                "se_intercept": r.slope_se,
            }
        elif name.startswith("metafor_regtest_default"):
            r = regression_test(effects, model="rma", method="REML")
            values = {"z": r.stat, "p": r.pval, "limit_estimate": r.limit_estimate}
        elif name.startswith("metafor_regtest_FE_model"):
            r = regression_test(effects, model="rma", method="FE")
            values = {"z": r.stat, "p": r.pval}
        elif name.startswith("begg_rank_correlation"):
            r = rank_correlation_test(effects)
            values = {"tau": r.tau, "pval": r.pval}
        else:
            raise KeyError(name)
        problems += compare(values, expected, name)
    return problems


def _leave_one_out(analysis: dict) -> list[str]:
    effects = bcg_effects("RR")
    problems = []
    for method, arrays in analysis["expected"].items():
        loo = leave_one_out(effects, model="random", method=method)
        assert loo.omitted == effects.labels
        for key, expected in arrays.items():
            got = [result_values(r)[key] for r in loo.results]
            problems += compare({key: got}, {key: expected}, f"leave1out {method}")
    return problems


def _subgroups(analysis: dict) -> list[str]:
    effects = bcg_effects("RR")
    alloc = [s["alloc"] for s in bcg()["inputs"]["studies"]]
    problems = []
    for method in ("DL", "REML", "FE"):
        model = "fixed" if method == "FE" else "random"
        sg = subgroup_analysis(effects, alloc, model=model, method=method)
        for group, result in sg.groups.items():
            expected = analysis["expected"][f"{method}_{group}"]
            problems += compare(result_values(result), expected, f"subgroup {method} {group}")
        key = (
            "test_subgroup_diff_FE"
            if method == "FE"
            else f"test_subgroup_diff_{method}_separate_tau2"
        )
        values = {"Q_between": sg.Q_between, "df": sg.df, "p": sg.pval}
        problems += compare(values, analysis["expected"][key], key)
    covered = {f"{m}_{g}" for m in ("DL", "REML", "FE") for g in set(alloc)}
    covered |= {
        "test_subgroup_diff_FE",
        "test_subgroup_diff_DL_separate_tau2",
        "test_subgroup_diff_REML_separate_tau2",
    }
    assert set(analysis["expected"]) == covered

    metareg = analysis["expected_metaregression"]
    X, names = factor_design(alloc)
    fit = meta_regression(effects, X, names, method="REML")
    values = {"QM": fit.QM, "df": fit.QM_df[0], "QMp": fit.QM_p, "tau2": fit.tau2, "R2": fit.R2}
    problems += compare(values, metareg["REML_factor_alloc_QM"], "metareg factor(alloc)")
    ablat = np.array([s["ablat"] for s in bcg()["inputs"]["studies"]], dtype=float)
    fit = meta_regression(
        effects, np.column_stack([np.ones(len(ablat)), ablat]), ["intrcpt", "ablat"]
    )
    values = {
        "b": list(fit.beta),
        "se": list(fit.se),
        "pval": list(fit.pval),
        "tau2": fit.tau2,
        "QM": fit.QM,
        "QE": fit.QE,
        "R2": fit.R2,
        "I2": fit.I2,
    }
    problems += compare(values, metareg["REML_ablat"], "metareg ablat")
    assert set(metareg) == {"REML_factor_alloc_QM", "REML_ablat"}
    return problems


HANDLERS = {
    "logOR_FE_DL_REML": lambda a: _methods_by_key(a, "OR"),
    "RD_FE_DL": lambda a: _methods_by_key(a, "RD"),
    "MH_RR": _mantel_haenszel,
    "MH_OR": _mantel_haenszel,
    "MH_RD": _mantel_haenszel,
    "Peto_OR": _peto,
    "RR_RevMan5_style_MH_then_DL": _revman,
    "tau2_CI_QProfile": _q_profile,
    "egger_and_rank_tests": _bias_tests,
    "leave_one_out": _leave_one_out,
    "subgroups_by_alloc": _subgroups,
}


def handler_for(analysis_id: str):
    if re.fullmatch(r"logRR_[A-Z]+(_HKSJ)?", analysis_id):
        return _pooled_analysis
    return HANDLERS[analysis_id]


@pytest.mark.parametrize("analysis_id", list(analyses()))
def test_analysis_matches_metafor_reference(analysis_id):
    """pooling-bcg.json analysis <analysis_id> within the file's tolerances."""
    problems = handler_for(analysis_id)(analyses()[analysis_id])
    assert not problems, "\n".join(problems)


def test_every_reference_analysis_has_a_check():
    """New entries in pooling-bcg.json must not pass silently unchecked."""
    for analysis_id in analyses():
        assert handler_for(analysis_id) is not None


@pytest.mark.parametrize("name", list(bcg()["effect_sizes"]))
def test_effect_sizes_match_metafor_escalc(name):
    """pooling-bcg.json effect_sizes: escalc() yi and vi per trial, within tolerance_abs."""
    entry = bcg()["effect_sizes"][name]
    effects = bcg_effects(EFFECT_MEASURES[name])
    for field in ("yi", "vi"):
        got = getattr(effects, field)
        for i, expected in enumerate(entry[field]):
            tol = max(entry["tolerance_abs"], rounding_tolerance(expected))
            assert abs(got[i] - expected) <= tol, f"{name} {field}[{i}]"
