"""Real data as it comes (issue 17 point 4), checked against metafor's own tests and examples.

Expected values: tests/fixtures/reference/metafor-tests.json (metafor's test suite and
documentation examples; see tests/fixtures/README.md).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reviewapp.synthesis.stats import (
    escalc_binary,
    escalc_generic,
    meta_regression,
    pool,
    read_effects_csv,
)
from reviewapp.synthesis.stats.cli import format_table, pool_command
from reviewapp.synthesis.stats.pooling import mantel_haenszel, peto
from tests.synthesis.reference import (
    analyses,
    assert_matches,
    bcg_effects,
    bcg_study_fields,
    expected,
    metafor_cases,
)

TWINS_CSV = (
    "study,ai,bi,ci,di\nSmith 2001,4,119,11,128\nSmith 2001,6,300,29,274\nJones,3,228,11,209\n"
)
DISTINCT_CSV = TWINS_CSV.replace("Smith 2001,6", "Smith 2001b,6")


@pytest.mark.parametrize("measure", ["OR", "RR", "RD"])
@pytest.mark.parametrize(
    ("model", "method"), [("fixed", "FE"), ("fixed", "MH"), ("random", "REML"), ("random", "DL")]
)
def test_two_studies_sharing_a_label_are_two_studies(measure, model, method):
    twins = pool(read_effects_csv(text=TWINS_CSV, measure=measure), model=model, method=method)
    distinct = pool(
        read_effects_csv(text=DISTINCT_CSV, measure=measure), model=model, method=method
    )
    assert twins.k == 3
    assert [s.label for s in twins.studies] == ["Smith 2001", "Smith 2001", "Jones"]
    assert twins.estimate == pytest.approx(distinct.estimate, abs=1e-12)
    assert twins.se == pytest.approx(distinct.se, abs=1e-12)
    assert [s.weight for s in twins.studies] == pytest.approx([s.weight for s in distinct.studies])


def test_shared_labels_with_a_study_without_events_keep_counts_in_place():
    # The double-zero "Smith 2001" is excluded from the OR but its twin is not: Peto and MH must
    # take the twin's counts, not the first row carrying the label.
    text = "study,ai,bi,ci,di\nSmith 2001,0,50,0,50\nSmith 2001,6,300,29,274\nJones,3,228,11,209\n"
    effects = read_effects_csv(text=text, measure="OR")
    assert effects.k == 2
    reference = escalc_binary("OR", ["A", "B"], [6, 3], [300, 228], [29, 11], [274, 209])
    for fit in (mantel_haenszel, peto):
        got, want = fit(effects), fit(reference)
        assert got.estimate == pytest.approx(want.estimate, abs=1e-12)
        assert [s.weight for s in got.studies] == pytest.approx([s.weight for s in want.studies])


def test_an_error_in_a_shared_label_names_its_own_row():
    text = "study,ai,bi,ci,di\nSmith 2001,4,119,11,128\nSmith 2001,-6,300,29,274\n"
    with pytest.raises(ValueError) as info:
        read_effects_csv(text=text, measure="OR")
    assert info.value.row == 3
    assert info.value.column == "ai"


def test_mantel_haenszel_matches_metafor_rothman2008():
    data = metafor_cases()["rothman2008_mh"]["data"]
    for measure in ("RD", "RR", "OR"):
        effects = escalc_binary(
            measure, data["study"], data["ai"], data["bi"], data["ci"], data["di"]
        )
        result = mantel_haenszel(effects, level=0.90, correct=False)
        got = {**result.to_dict(), **result.extra}
        assert_matches(
            got,
            expected(
                "rothman2008_mh",
                f'rma.mh(ai=ai, bi=bi, ci=ci, di=di, data=dat, measure="{measure}"',
            ),
            where=measure + " ",
        )


def test_the_field_labelled_cmh_is_metafors_cmh_on_bcg():
    """metafor's CMH has the conditional variance (N-1); its Cochran statistic uses N. The
    3.8-1 reference file gives the N version under the old name, which is now 'Cochran'."""
    result = mantel_haenszel(bcg_effects("OR"))
    old_cmh = analyses()["MH_OR"]["expected"]["CMH"]
    assert result.extra["Cochran"] == pytest.approx(old_cmh, abs=1e-5)
    assert result.extra["CMH"] < result.extra["Cochran"]


def test_mh_risk_difference_without_any_events_is_zero_as_metafor():
    data = metafor_cases()["zero_events_rd"]["data"]
    effects = escalc_binary("RD", data["study"], data["ai"], data["bi"], data["ci"], data["di"])
    result = pool(effects, model="fixed", method="MH")
    assert result.estimate == expected("zero_events_rd", "rma.mh")["estimate"]
    assert result.se == 0.0
    assert (result.ci_lb, result.ci_ub) == (0.0, 0.0)
    assert math.isnan(result.stat) and math.isnan(result.pval)
    out = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert out["zval"] is None and out["pval"] is None
    assert "no events" in out["notes"][0]
    table = format_table(result)
    assert "z = NA, p = NA" in table
    assert "Note: The standard error is 0" in table


def test_common_effect_meta_regression_reports_r2_as_metafor():
    effects = bcg_effects("RR")
    X = np.column_stack([np.ones(13), bcg_study_fields("ablat"), bcg_study_fields("year")])
    result = meta_regression(effects, X, ["intrcpt", "ablat", "year"], method="FE")
    got = result.to_dict()
    got.update(
        estimate=[c["estimate"] for c in got["coefficients"]],
        se=[c["se"] for c in got["coefficients"]],
    )
    assert_matches(
        got, expected("bcg_moderators", 'rma(yi, vi, mods = ~ ablat + year, data=dat, method="FE")')
    )


def test_common_effect_r2_is_zero_when_all_estimates_are_equal():
    effects = escalc_generic(list("abcd"), yi=[0.2] * 4, vi=[0.1, 0.2, 0.3, 0.4])
    X = np.column_stack([np.ones(4), [1.0, 2.0, 3.0, 5.0]])
    assert meta_regression(effects, X, method="FE").R2 == 0.0


@pytest.mark.parametrize("method", ["REML", "DL"])
def test_hksj_dropped_for_one_study_is_said(method, tmp_path):
    effects = escalc_generic(["only"], yi=[0.3], sei=[0.2])
    result = pool(effects, model="random", method=method, hksj=True)
    assert result.test == "z"
    assert result.notes and "HKSJ" in result.notes[0]
    assert "HKSJ" in result.to_dict()["notes"][0]
    path = tmp_path / "one.csv"
    path.write_text("study,yi,sei\nonly,0.3,0.2\n", encoding="utf-8")
    options = {
        "csv_file": str(path),
        "measure": "GEN",
        "model": "random",
        "method": method,
        "hksj": True,
        "ratio": False,
        "json": False,
        "plot_forest": None,
        "plot_funnel": None,
    }
    text = pool_command(options)
    assert "Note: HKSJ adjustment not applied" in text
    assert "with HKSJ" not in text
    # with two studies HKSJ is applied and nothing is said
    assert pool(escalc_generic(["a", "b"], yi=[0.3, 0.1], sei=[0.2, 0.1]), hksj=True).notes == ()
