"""Subgroups, meta-regression, cumulative meta-analysis, trim-and-fill and correlations (issue 17
point 3), each number checked against metafor's tests and documented examples
(tests/fixtures/reference/metafor-tests.json; see tests/fixtures/README.md)."""

from __future__ import annotations

import numpy as np
import pytest

from reviewapp.synthesis.stats import (
    escalc_correlation,
    escalc_generic,
    factor_design,
    meta_regression,
    pool,
    subgroup_analysis,
)
from reviewapp.synthesis.stats.sensitivity import cumulative, trim_and_fill
from tests.synthesis.reference import (
    assert_matches,
    bcg_effects,
    bcg_study_fields,
    expected,
    metafor_cases,
)


def regression_values(result) -> dict:
    got = result.to_dict()
    for key in ("estimate", "se", "pval", "ci_lb", "ci_ub"):
        got[key] = [c[key] for c in got["coefficients"]]
    got["zval"] = [c.get("zval") for c in got["coefficients"]]
    got["se_tau2"] = None
    return got


def lipsey():
    data = metafor_cases()["lipsey2001"]["data"]
    effects = escalc_generic([str(i) for i in data["id"]], yi=data["yi"], vi=data["vi"])
    return effects, data


@pytest.mark.parametrize("method", ["FE", "DL"])
def test_meta_regression_on_two_moderators_matches_metafor_lipsey2001(method):
    effects, data = lipsey()
    X = np.column_stack([np.ones(10), data["random"], data["intensity"]])
    result = meta_regression(effects, X, ["intrcpt", "random", "intensity"], method=method)
    want = expected(
        "lipsey2001", f'rma(yi, vi, mods = ~ random + intensity, data=dat, method="{method}")'
    )
    assert_matches(regression_values(result), want, tol=1e-4)


def test_subgroup_test_as_a_factor_moderator_and_separate_fits_match_metafor_lipsey2001():
    effects, data = lipsey()
    X, names = factor_design(data["random"])
    result = meta_regression(effects, X, names, method="FE")
    assert_matches(
        result.to_dict(),
        expected("lipsey2001", 'rma(yi, vi, mods = ~ random, data=dat, method="FE")'),
        tol=1e-4,
    )
    separate = subgroup_analysis(effects, data["random"], model="fixed")
    for level in ("0", "1"):
        want = expected("lipsey2001", f'rma(yi, vi, data=dat, method="EE", subset=random=={level})')
        assert_matches(separate.groups[level].to_dict(), want, tol=1e-4)


def test_meta_regression_matches_metafor_bcg_examples():
    effects = bcg_effects("RR")
    ablat, year, alloc = (bcg_study_fields(n) for n in ("ablat", "year", "alloc"))
    ones = np.ones(13)

    reml = meta_regression(effects, np.column_stack([ones, ablat, year]), method="REML")
    got = regression_values(reml)
    got["se_tau2"] = None
    want = dict(expected("bcg_moderators", "rma(yi, vi, mods=cbind(ablat, year)"))
    want.pop("se_tau2")
    assert_matches(got, want)

    dummies, _ = factor_design(alloc)
    X = np.column_stack([dummies, year, ablat])
    partial = meta_regression(effects, X, method="REML", btt=[1, 2])
    assert_matches(
        regression_values(partial), expected("bcg_moderators", "rma(yi, vi, mods = ~ alloc + year")
    )

    factor = meta_regression(effects, dummies, method="REML")
    want = dict(expected("bcg_moderators", "rma(yi, vi, mods = ~ factor(alloc)"))
    want.pop("se_tau2")
    assert_matches(regression_values(factor), want)

    levels = ("alternate", "random", "systematic")
    cells = np.column_stack([[a == lv for a in alloc] for lv in levels]).astype(float)
    cell_means = meta_regression(effects, cells, method="REML")
    assert_matches(
        regression_values(cell_means),
        expected("bcg_moderators", "rma(yi, vi, mods = ~ 0 + factor(alloc)"),
    )
    assert cell_means.R2 == 0.0

    separate = subgroup_analysis(effects, alloc, model="random", method="REML")
    for level, want in expected("bcg_moderators", "rma(yi, vi, data=dat, subset=").items():
        assert_matches(separate.groups[level].to_dict(), want, where=f"{level} ")


def test_cumulative_by_year_matches_metafor_cumul():
    result = cumulative(bcg_effects("RR"), bcg_study_fields("year"), model="random", method="REML")
    rows = expected("bcg_cumul", "res <- rma")["rows"]
    assert [r["k"] for r in result.rows()] == [r["k"] for r in rows]
    for got, want in zip(result.rows(), rows, strict=True):
        got = {**got, "zval": got["zval"]}
        assert_matches(got, want, tol=5e-4, where=f"k={want['k']} ")
    assert result.labels[0] == "Aronson 1948" and result.labels[-1] == "TPT Madras 1980"


@pytest.mark.parametrize(
    ("call", "model", "estimator"),
    [
        ('trimfill(rma(yi, vi, data=dat, method="EE"))', "fixed", "L0"),
        ('trimfill(rma(yi, vi, data=dat, method="EE"), estimator="R0")', "fixed", "R0"),
        ("trimfill(rma(yi, vi, data=dat))", "random", "L0"),
    ],
)
def test_trim_and_fill_matches_metafor(call, model, estimator):
    taf = trim_and_fill(bcg_effects("RR"), model=model, estimator=estimator)
    want = dict(expected("bcg_trimfill", call))
    assert taf.side == want.pop("side")
    got = {**taf.result.to_dict(), "k0": taf.k0, "se_k0": taf.se_k0, "p_k0": taf.p_k0}
    got["filled_yi"], got["filled_vi"] = list(taf.filled_yi), list(taf.filled_vi)
    got["k"] = taf.result.k
    tol = {key: 5e-8 for key in ("filled_yi", "filled_vi")}
    for key in tol:
        if key in want:
            assert_matches(got, {key: want.pop(key)}, tol=tol[key])
    assert_matches(got, want)
    assert [s.label for s in taf.result.studies][-taf.k0 :] == [
        f"Filled {i + 1}" for i in range(taf.k0)
    ]


def test_trim_and_fill_with_nothing_missing_returns_the_original_model():
    effects = escalc_generic(
        list("abcdef"),
        yi=[0.05, -0.12, 0.31, -0.2, 0.1, 0.0],
        vi=[0.1, 0.05, 0.2, 0.15, 0.02, 0.08],
    )
    for model in ("fixed", "random"):
        taf = trim_and_fill(effects, model=model)
        assert taf.k0 == 0
        assert taf.result.estimate == pytest.approx(pool(effects, model=model).estimate)
        assert taf.result.k == 6


def test_correlations_as_metafor_escalc():
    data = metafor_cases()["mcdaniel1994_cor"]["data"]
    for measure in ("COR", "ZCOR"):
        effects = escalc_correlation(measure, data["study"], data["ri"], data["ni"])
        want = expected("mcdaniel1994_cor", f'escalc(measure="{measure}"')
        assert_matches({"yi": list(effects.yi), "vi": list(effects.vi)}, want, tol=5e-5)


def test_fisher_z_pooling_matches_metafor_molloy2014():
    data = metafor_cases()["molloy2014_zcor"]["data"]
    labels = [f"{a}, {y}" for a, y in zip(data["authors"], data["year"], strict=True)]
    effects = escalc_correlation("ZCOR", labels, data["ri"], data["ni"])
    result = pool(effects, model="random", method="REML")
    got = {**result.to_dict(), "zval": result.stat}
    assert_matches(got, expected("molloy2014_zcor", 'dat <- escalc(measure="ZCOR"'))
    assert_matches(got, expected("molloy2014_zcor", "predict(res"))


def test_bad_correlations_are_named():
    with pytest.raises(ValueError, match="between -1 and 1"):
        escalc_correlation("COR", ["a"], [1.2], [20])
    with pytest.raises(ValueError, match="at least 4"):
        escalc_correlation("ZCOR", ["a"], [0.2], [3])
