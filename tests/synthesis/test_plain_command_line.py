"""``pool`` and ``simulate_screening`` run as plain command-line tools, without a server's
settings (issue 17 point 6): ``python -m reviewapp.synthesis.stats``, ``python -m
reviewapp.screening.ranking`` and ``manage.py`` with neither DJANGO_DEBUG nor a secret key print
what the Django commands print."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.own_services import SECRET_KEY
from tests.synthesis.reference import bcg_columns

ROOT = Path(__file__).resolve().parents[2]
NSAIDS = ROOT / "tests" / "fixtures" / "labelled" / "Cohen_2006_NSAIDS.csv"


def run(argv: list[str], *, settings: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    if settings:
        env["DJANGO_SECRET_KEY"] = SECRET_KEY
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def bcg_csv(tmp_path):
    labels, (ai, bi, ci, di) = bcg_columns()
    lines = ["study,ai,bi,ci,di"]
    lines += [
        f'"{s}",{a},{b},{c},{d}' for s, a, b, c, d in zip(labels, ai, bi, ci, di, strict=True)
    ]
    path = tmp_path / "bcg.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "options",
    [
        ["--measure", "RR", "--model", "random", "--json"],
        ["--measure", "OR", "--model", "fixed", "--method", "MH"],
    ],
)
def test_pool_runs_without_settings_with_the_same_output(bcg_csv, options):
    django = run(["manage.py", "pool", str(bcg_csv), *options], settings=True)
    plain = run(["-m", "reviewapp.synthesis.stats", str(bcg_csv), *options], settings=False)
    bare_manage = run(["manage.py", "pool", str(bcg_csv), *options], settings=False)
    assert django.returncode == plain.returncode == bare_manage.returncode == 0, plain.stderr
    assert plain.stdout == django.stdout == bare_manage.stdout
    assert "Aronson 1948" in plain.stdout


def test_pool_errors_without_settings_name_the_file_row_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("study,ai,bi,ci,di\nA,1,2,3,-4\n", encoding="utf-8")
    for argv in (
        ["-m", "reviewapp.synthesis.stats", str(path), "--measure", "OR", "--model", "fixed"],
        ["manage.py", "pool", str(path), "--measure", "OR", "--model", "fixed"],
    ):
        done = run(argv, settings=False)
        assert done.returncode == 1
        assert "row 2, column 'di'" in done.stderr and "must not be negative" in done.stderr
        assert "DJANGO_SECRET_KEY" not in done.stderr
    helped = run(["-m", "reviewapp.synthesis.stats", "--help"], settings=False)
    assert helped.returncode == 0 and "--measure" in helped.stdout


def test_simulate_screening_runs_without_settings_with_the_same_output(tmp_path):
    with open(NSAIDS, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:80]
    path = tmp_path / "review.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["title", "abstract", "label_included"])
        writer.writerows((r["title"], r["abstract"], r["label_included"]) for r in rows)
    options = [str(path), "--prior-idx", "10", "0", "--seed", "2"]
    django = run(["manage.py", "simulate_screening", *options], settings=True)
    plain = run(["-m", "reviewapp.screening.ranking", *options], settings=False)
    bare_manage = run(["manage.py", "simulate_screening", *options], settings=False)
    assert django.returncode == plain.returncode == bare_manage.returncode == 0, plain.stderr

    def without_timing(text: str) -> str:
        # The run time (seconds) differs between runs; everything else is the same.
        return "\n".join(
            line.split("  ")[0] if "WSS@95" in line else line for line in text.splitlines()
        )

    assert without_timing(plain.stdout) == without_timing(django.stdout)
    assert without_timing(bare_manage.stdout) == without_timing(django.stdout)
    assert "order: 10 0 " in plain.stdout
    bad = run(["-m", "reviewapp.screening.ranking", str(path), "--prior-idx", "0"], settings=False)
    assert bad.returncode == 1 and "error" in bad.stderr
