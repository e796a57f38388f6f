"""``pool`` with the analyses a reviewer reports (issue 17 point 3): subgroups, moderators,
cumulative, trim-and-fill and leave-one-out flags, their JSON equal to the library results and
checked against metafor's documented values on the BCG trials."""

from __future__ import annotations

import csv
import json

import pytest

from reviewapp.synthesis.stats.cli import PoolCommandError, main, pool_command
from tests.synthesis.reference import assert_matches, bcg, expected

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def bcg_full(tmp_path):
    path = tmp_path / "bcg.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["study", "ai", "bi", "ci", "di", "year", "ablat", "alloc"])
        for s in bcg()["inputs"]["studies"]:
            writer.writerow(
                [f"{s['author']} {s['year']}", s["tpos"], s["tneg"], s["cpos"], s["cneg"]]
                + [s["year"], s["ablat"], s["alloc"]]
            )
    return path


def options(path, **extra):
    base = {
        "csv_file": str(path),
        "measure": "RR",
        "model": "random",
        "method": None,
        "hksj": False,
        "ratio": False,
        "json": True,
        "plot_forest": None,
        "plot_funnel": None,
        "subgroup": None,
        "moderators": None,
        "cumulative": None,
        "trim_and_fill": None,
        "leave_one_out": False,
    }
    base.update(extra)
    return base


def test_every_analysis_in_one_run_matches_metafor(bcg_full):
    out = json.loads(
        pool_command(
            options(
                bcg_full,
                subgroup="alloc",
                moderators="ablat,year",
                cumulative="year",
                trim_and_fill="L0",
                leave_one_out=True,
            )
        )
    )
    moderator_test = out["subgroups"]["moderator_test"]
    assert_matches(moderator_test, {"QM": 1.7675, "QM_p": 0.4132, "tau2": 0.3615})
    for level, want in expected("bcg_moderators", "rma(yi, vi, data=dat, subset=").items():
        assert_matches(out["subgroups"]["groups"][level], want)
    reg = out["meta_regression"]
    assert [c["name"] for c in reg["coefficients"]] == ["intrcpt", "ablat", "year"]
    assert_matches(reg, {"QM": 12.2043, "QE": 28.3251, "tau2": 0.1108, "R2": 64.63})
    rows = expected("bcg_cumul", "res <- rma")["rows"]
    assert [r["estimate"] for r in out["cumulative"]["cumulative"]] == pytest.approx(
        [r["estimate"] for r in rows], abs=5e-4
    )
    taf = out["trim_and_fill"]
    assert (taf["k0"], taf["side"]) == (1, "right")
    assert taf["result"]["estimate"] == pytest.approx(-0.6571, abs=5e-5)
    assert len(out["leave_one_out"]["leave_one_out"]) == 13


def test_a_categorical_moderator_becomes_dummies_as_r_factor(bcg_full):
    out = json.loads(pool_command(options(bcg_full, moderators="alloc,year,ablat")))
    reg = out["meta_regression"]
    assert [c["name"] for c in reg["coefficients"]] == [
        "intrcpt",
        "allocrandom",
        "allocsystematic",
        "year",
        "ablat",
    ]
    want = expected("bcg_moderators", "rma(yi, vi, mods = ~ alloc + year")
    assert [c["estimate"] for c in reg["coefficients"]] == pytest.approx(want["estimate"], abs=5e-5)


def test_text_report_and_plots(bcg_full, tmp_path):
    forest, funnel = tmp_path / "forest.png", tmp_path / "funnel.svg"
    text = pool_command(
        options(
            bcg_full,
            json=False,
            model="fixed",
            subgroup="alloc",
            trim_and_fill="R0",
            plot_forest=str(forest),
            plot_funnel=str(funnel),
        )
    )
    assert "Test for subgroup differences (one tau², metafor mods = ~ factor): QM" in text
    # metafor trimfill(rma(yi, vi, method="EE"), estimator="R0"): 4 missing, p = 0.0312
    assert (
        "Trim-and-fill (R0): 4 studies missing on the right side (SE = 3.1623, p = 0.03125)" in text
    )
    assert forest.read_bytes().startswith(PNG_SIGNATURE)
    svg = funnel.read_text(encoding="utf-8")
    assert "Filled by trim-and-fill" in svg


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"subgroup": "country"}, "missing column 'country'"),
        ({"method": "MH", "model": "fixed", "moderators": "ablat"}, "--moderators needs"),
        ({"method": "PETO", "model": "fixed", "measure": "OR", "trim_and_fill": "L0"}, "--trim"),
    ],
)
def test_bad_analysis_options_are_named(bcg_full, extra, fragment):
    with pytest.raises(PoolCommandError, match=fragment):
        pool_command(options(bcg_full, **extra))


def test_an_empty_moderator_cell_names_its_row(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("study,yi,vi,dose\nA,0.1,0.02,1\nB,0.3,0.03,\nC,0.2,0.05,3\n", encoding="utf-8")
    with pytest.raises(PoolCommandError, match="row 3, column 'dose': cell is empty"):
        pool_command(options(path, measure="GEN", moderators="dose", method="DL"))


def test_the_plain_tool_takes_the_flags(bcg_full, capsys):
    assert main([str(bcg_full), "--measure", "RR", "--model", "fixed", "--subgroup", "alloc"]) == 0
    assert "Test for subgroup differences" in capsys.readouterr().out


def test_excluding_high_risk_of_bias_pools_the_rest_as_metafor_does(tmp_path):
    """Trials not randomly allocated judged at high risk: what is left is metafor's
    rma(yi, vi, data=dat, subset=alloc=="random") (pooling-bcg.json, subgroups_by_alloc)."""
    path = tmp_path / "bcg-rob.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["study", "ai", "bi", "ci", "di", "rob"])
        for s in bcg()["inputs"]["studies"]:
            writer.writerow(
                [f"{s['author']} {s['year']}", s["tpos"], s["tneg"], s["cpos"], s["cneg"]]
                + ["Low" if s["alloc"] == "random" else "High"]
            )
    out = json.loads(pool_command(options(path, exclude_high_risk="rob")))
    sensitivity = out["excluding_high_risk"]
    assert len(sensitivity["excluded"]) == 6
    want = next(a for a in bcg()["analyses"] if a["id"] == "subgroups_by_alloc")["expected"]
    assert_matches(sensitivity["result"], want["REML_random"], tol=1e-4)
    text = pool_command(options(path, exclude_high_risk="rob", json=False))
    assert "Excluding high risk of bias (6 studies:" in text


def test_excluding_high_risk_names_an_empty_judgement(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("study,yi,vi,rob\nA,0.1,0.02,low\nB,0.3,0.03,\nC,0.2,0.05,high\n")
    with pytest.raises(PoolCommandError, match="row 3, column 'rob': cell is empty"):
        pool_command(options(path, measure="GEN", exclude_high_risk="rob", method="DL"))
