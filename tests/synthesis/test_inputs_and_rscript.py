"""Extracted effect data mapped to pooling columns, and the R script that reproduces an analysis."""

import csv
import io

import pytest

from reviewapp.synthesis.inputs import InputError, metafor_csv, rows_layout, stats_row
from reviewapp.synthesis.rscript import r_script
from reviewapp.synthesis.stats.io import effects_from_rows


def test_two_by_two_counts_become_events_and_non_events():
    parts = {"arm1_events": "4", "arm1_total": "123", "arm2_events": 11, "arm2_total": 139}
    row = stats_row("dichotomous", "RR", "Aronson 1948", parts)
    assert row == {"study": "Aronson 1948", "ai": "4", "bi": "119", "ci": "11", "di": "128"}
    effects = effects_from_rows([row], "RR")
    assert effects.k == 1


def test_means_sds_and_ns_map_to_metafor_names():
    parts = {
        "arm1_mean": 2.5,
        "arm1_sd": 1.1,
        "arm1_n": 30,
        "arm2_mean": 3,
        "arm2_sd": 1,
        "arm2_n": 31,
    }
    row = stats_row("continuous", "SMD", "Trial A", parts)
    assert (row["m1i"], row["sd1i"], row["n1i"], row["m2i"], row["n2i"]) == (
        "2.5",
        "1.1",
        "30",
        "3",
        "31",
    )


def test_an_estimate_with_its_ci_or_its_se_is_kept_as_given():
    with_ci = stats_row("estimate", "GEN", "S", {"estimate": 0.8, "ci_lower": 0.6, "ci_upper": 1.1})
    with_se = stats_row("estimate", "GEN", "S", {"estimate": -0.2, "se": 0.1})
    assert set(with_ci) == {"study", "estimate", "lower", "upper"}
    assert set(with_se) == {"study", "yi", "sei"}
    with pytest.raises(InputError, match="one kind"):
        rows_layout([with_ci, with_se])


def test_a_missing_number_names_the_study_and_the_part():
    with pytest.raises(InputError, match="Clerico 2014: 'arm2 total' is missing"):
        stats_row(
            "dichotomous",
            "OR",
            "Clerico 2014",
            {"arm1_events": 1, "arm1_total": 9, "arm2_events": 2},
        )


def test_a_measure_the_data_cannot_give_is_refused():
    with pytest.raises(InputError, match="SMD cannot be computed from dichotomous"):
        stats_row("dichotomous", "SMD", "S", {})


def test_the_r_script_runs_the_same_model_on_the_exported_csv():
    script = r_script(
        title="Relapse after stopping natalizumab",
        csv_name="analysis.csv",
        measure="RR",
        model="random",
        method="REML",
        hksj=True,
        columns=["study", "ai", "bi", "ci", "di"],
    )
    assert 'read.csv("analysis.csv"' in script
    assert 'escalc(measure="RR", ai=ai, bi=bi, ci=ci, di=di' in script and "drop00=TRUE" in script
    assert 'rma(yi, vi, data=dat, method="REML", test="knha"' in script
    assert "predict(res, transf=exp)" in script
    assert "confint(res)" in script and "regtest(res)" in script


def test_the_r_script_uses_mantel_haenszel_and_log_ratios_when_asked():
    mh = r_script(
        title="t",
        csv_name="a.csv",
        measure="OR",
        model="fixed",
        method="MH",
        hksj=False,
        columns=["study", "ai", "bi", "ci", "di"],
    )
    assert 'rma.mh(ai=ai, bi=bi, ci=ci, di=di, data=dat, measure="OR"' in mh
    assert "regtest" not in mh  # not defined for rma.mh objects
    gen = r_script(
        title="t",
        csv_name="a.csv",
        measure="GEN",
        model="random",
        method="DL",
        hksj=False,
        columns=["study", "estimate", "lower", "upper"],
        ratio_gen=True,
    )
    assert "dat$yi <- log(dat$estimate)" in gen
    assert "(log(dat$upper) - log(dat$lower)) / (2 * qnorm(0.975))" in gen


def test_the_metafor_csv_neutralises_a_study_label_that_a_spreadsheet_would_run():
    rows = [
        {
            "study": '=HYPERLINK("http://evil.example","x")',
            "estimate": "-0.5",
            "lower": "-0.9",
            "upper": "-0.1",
        },
        {"study": "@SUM(1)", "estimate": "0.2", "lower": "-1e-05", "upper": "+0.4"},
        {"study": "-2+3", "estimate": "1", "lower": ".5", "upper": "2"},
    ]
    written = list(csv.DictReader(io.StringIO(metafor_csv(rows).decode())))
    assert [r["study"] for r in written] == [
        '\'=HYPERLINK("http://evil.example","x")',
        "'@SUM(1)",
        "'-2+3",
    ]
    # Numbers stay numbers, so R's read.csv still reads the columns as numeric.
    assert [(r["estimate"], r["lower"], r["upper"]) for r in written] == [
        ("-0.5", "-0.9", "-0.1"),
        ("0.2", "-1e-05", "+0.4"),
        ("1", ".5", "2"),
    ]
