"""``manage.py pool``: a thin wrapper; its JSON equals the library result, bad files give a
CommandError naming file, row and column (never a traceback)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from reviewapp.synthesis.stats import pool, read_effects_csv
from tests.synthesis.reference import bcg_columns

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def bcg_csv(tmp_path):
    labels, (ai, bi, ci, di) = bcg_columns()
    lines = ["study,ai,bi,ci,di"]
    lines += [
        f'"{lab}",{a},{b},{c},{d}' for lab, a, b, c, d in zip(labels, ai, bi, ci, di, strict=True)
    ]
    path = tmp_path / "bcg.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args) -> str:
    out = io.StringIO()
    call_command("pool", *[str(a) for a in args], stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("options", "model", "method", "hksj"),
    [
        (["--model", "random", "--method", "REML"], "random", "REML", False),
        (["--model", "random", "--method", "DL", "--hksj"], "random", "DL", True),
        (["--model", "fixed"], "fixed", "FE", False),
        (["--model", "fixed", "--method", "MH"], "fixed", "MH", False),
    ],
)
def test_json_output_equals_the_library_result(bcg_csv, options, model, method, hksj):
    printed = json.loads(run(bcg_csv, "--measure", "RR", *options, "--json"))
    expected = pool(read_effects_csv(bcg_csv, "RR"), model=model, method=method, hksj=hksj)
    assert printed == json.loads(json.dumps(expected.to_dict()))
    assert ("tval" in printed) == hksj


def test_table_output_is_readable(bcg_csv):
    text = run(bcg_csv, "--measure", "OR", "--model", "random")
    assert "Aronson 1948" in text
    assert "Heterogeneity: tau² =" in text
    assert "Prediction interval" in text
    assert "Back-transformed" in text


def test_plots_are_written(bcg_csv, tmp_path):
    forest, funnel = tmp_path / "forest.svg", tmp_path / "funnel.png"
    run(
        bcg_csv,
        "--measure",
        "RR",
        "--model",
        "random",
        "--json",
        "--plot-forest",
        forest,
        "--plot-funnel",
        funnel,
    )
    assert b"<svg" in forest.read_bytes()
    assert funnel.read_bytes().startswith(PNG_SIGNATURE)


def test_generic_ratio_ci_input(tmp_path):
    path = tmp_path / "gen.csv"
    path.write_text(
        "study,estimate,lower,upper\nA,0.5,0.25,1.0\nB,0.8,0.5,1.28\n", encoding="utf-8"
    )
    printed = json.loads(run(path, "--measure", "GEN", "--model", "fixed", "--ratio", "--json"))
    expected = pool(read_effects_csv(path, "GEN", ratio=True), model="fixed")
    assert printed["estimate_bt"] == pytest.approx(expected.estimate_bt)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("study,ai,bi,ci\nA,1,2,3\n", ["missing column di"]),
        (
            "study,ai,bi,ci,di\nA,1,2,3,4\nB,1,x,3,4\n",
            ["row 3", "column 'bi'", "'x' is not a number"],
        ),
        ("study,ai,bi,ci,di\nA,1,2,3,-4\n", ["row 2", "column 'di'", "must not be negative"]),
    ],
)
def test_bad_csv_gives_command_error_naming_file_row_and_column(tmp_path, text, fragments):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError) as info:
        run(path, "--measure", "OR", "--model", "fixed")
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--measure", "OR", "--model", "random", "--method", "MH"], "needs --model fixed"),
        (["--measure", "MD", "--model", "fixed", "--method", "MH"], "OR, RR or RD only"),
        (["--measure", "OR", "--model", "fixed", "--method", "DL"], "needs --model random"),
        (["--measure", "OR", "--model", "fixed", "--hksj"], "--hksj applies"),
        (["--measure", "OR", "--model", "fixed", "--ratio"], "--ratio applies"),
    ],
)
def test_incompatible_options_give_command_error(bcg_csv, args, fragment):
    with pytest.raises(CommandError, match=fragment):
        run(bcg_csv, *args)


def test_missing_file_gives_command_error(tmp_path):
    with pytest.raises(CommandError, match="file not found"):
        run(tmp_path / "absent.csv", "--measure", "OR", "--model", "fixed")
