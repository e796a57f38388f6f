"""``manage.py pool`` runs before Django starts (issue 13 item 7) and prints exactly what the
Django command prints: the same numbers, text and JSON, and for every error the same message and
exit code, because the fast path hands errors to the Django command (stats/cli.py: fast_main)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from reviewapp.synthesis.stats.cli import fast_main
from tests.own_services import SECRET_KEY
from tests.synthesis.reference import bcg_columns

ROOT = Path(__file__).resolve().parents[2]

# What manage.py does once its fast path has declined: the Django command, nothing else.
DJANGO_PATH = (
    "import os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'reviewapp.settings'); "
    "sys.argv = ['manage.py', *sys.argv[1:]]; "
    "from django.core.management import execute_from_command_line; "
    "execute_from_command_line(sys.argv)"
)
# manage.py as users run it, reporting afterwards whether Django or Celery was imported.
FAST_PATH = """
import runpy, sys
sys.argv = ["manage.py", *sys.argv[1:]]
try:
    runpy.run_path("manage.py", run_name="__main__")
finally:
    sys.stderr.write(f"modules: {sorted({'django', 'celery'} & set(sys.modules))}\\n")
"""


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


def both_ways(*args) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    argv = ["pool", *[str(a) for a in args]]
    # The Django command reads the settings, which refuse to start without a secret key when
    # DEBUG is off (as in production and CI); the fast path reads no settings at all.
    env = {**os.environ, "DJANGO_SECRET_KEY": SECRET_KEY}
    run = [
        subprocess.run(
            [sys.executable, "-c", code, *argv],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        for code in (DJANGO_PATH, FAST_PATH)
    ]
    return run[0], run[1]


@pytest.mark.parametrize(
    "options",
    [
        ["--measure", "RR", "--model", "random", "--json"],
        ["--measure", "rr", "--model", "RANDOM", "--method", "dl", "--hksj"],
        ["--measure", "OR", "--model", "random", "--method", "PM"],
        ["--measure", "OR", "--model", "fixed", "--method", "MH", "--json"],
        ["--measure", "OR", "--model", "fixed", "--method", "PETO"],
        ["--measure", "RD", "--model", "random", "--method", "SJ", "--json"],
    ],
)
def test_the_fast_path_prints_what_the_django_command_prints_without_starting_django(
    bcg_csv, options
):
    django, fast = both_ways(bcg_csv, *options)
    assert django.returncode == fast.returncode == 0, (django.stderr, fast.stderr)
    assert fast.stdout == django.stdout
    assert "Aronson 1948" in fast.stdout
    assert fast.stderr == "modules: []\n"


def test_the_generic_ratio_input_prints_the_same_both_ways(tmp_path):
    path = tmp_path / "gen.csv"
    path.write_text(
        "study,estimate,lower,upper\nA,0.5,0.25,1.0\nB,0.8,0.5,1.28\n", encoding="utf-8"
    )
    django, fast = both_ways(path, "--measure", "GEN", "--model", "fixed", "--ratio")
    assert django.returncode == fast.returncode == 0
    assert fast.stdout == django.stdout
    assert "Back-transformed" in fast.stdout


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
def test_a_bad_file_gives_the_same_error_naming_file_row_and_column_both_ways(
    tmp_path, text, fragments
):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    django, fast = both_ways(path, "--measure", "OR", "--model", "fixed")
    assert django.returncode == fast.returncode == 1
    assert fast.stdout == django.stdout == ""
    message = django.stderr
    assert message.startswith(f"CommandError: {path}")
    for fragment in fragments:
        assert fragment in message
    # The fast path declined and the Django command wrote the error: the same bytes.
    assert fast.stderr == message + "modules: ['celery', 'django']\n"


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["missing.csv", "--measure", "OR", "--model", "fixed"], 1, "missing.csv: file not found"),
        (["{csv}", "--measure", "OR", "--model", "random", "--method", "MH"], 1, "needs --model"),
        (["{csv}", "--measure", "OR", "--model", "fixed", "--plot-forest", "f.pdf"], 1, ".svg"),
        (["{csv}", "--measure", "XX", "--model", "fixed"], 2, "invalid choice: 'XX'"),
        (["{csv}", "--model", "fixed"], 2, "the following arguments are required: --measure"),
        (["{csv}", "--measure", "OR", "--model", "fixed", "--bogus"], 2, "unrecognized"),
    ],
)
def test_bad_options_give_the_same_error_and_exit_code_both_ways(bcg_csv, args, code, fragment):
    args = [a.replace("{csv}", str(bcg_csv)) for a in args]
    django, fast = both_ways(*args)
    assert django.returncode == fast.returncode == code
    assert fragment in django.stderr
    assert fast.stdout == django.stdout == ""
    assert fast.stderr.startswith(django.stderr)


def test_django_options_and_help_go_to_the_django_command(bcg_csv):
    django, fast = both_ways("--help")
    assert django.returncode == fast.returncode == 0
    assert fast.stdout == django.stdout
    assert "--settings" in fast.stdout and "--plot-forest" in fast.stdout
    django, fast = both_ways(bcg_csv, "--measure", "RR", "--model", "fixed", "-v", "2")
    assert django.returncode == fast.returncode == 0
    assert fast.stdout == django.stdout
    assert "modules: ['celery', 'django']" in fast.stderr


def test_fast_main_writes_nothing_when_it_declines(tmp_path):
    out = io.StringIO()
    path = tmp_path / "bad.csv"
    path.write_text("study,ai\nA,1\n", encoding="utf-8")
    assert fast_main([str(path), "--measure", "OR", "--model", "fixed"], out.write) is False
    assert fast_main(["--h"], out.write) is False  # an abbreviation: Django's parser decides
    assert out.getvalue() == ""


def test_fast_main_writes_what_call_command_writes(bcg_csv, tmp_path):
    forest = tmp_path / "forest.svg"
    args = [str(bcg_csv), "--measure", "OR", "--model", "random", "--plot-forest", str(forest)]
    fast = io.StringIO()
    assert fast_main(args, fast.write) is True
    assert b"<svg" in forest.read_bytes()
    django = io.StringIO()
    call_command("pool", *args, stdout=django)
    assert fast.getvalue() == django.getvalue()


def test_an_estimator_that_does_not_converge_is_an_error_naming_the_file_both_ways(tmp_path):
    """REML does not converge on these five trials (tests/synthesis/test_convergence.py): a
    message with the way out, as a CommandError, not a traceback."""
    from tests.synthesis.test_convergence import POOL_FAILS

    path = tmp_path / "trials.csv"
    rows = [f"T{i},{a},{n1 - a},{c},{n2 - c}" for i, ((a, n1), (c, n2)) in enumerate(POOL_FAILS)]
    path.write_text("study,ai,bi,ci,di\n" + "\n".join(rows) + "\n", encoding="utf-8")
    django, fast = both_ways(path, "--measure", "RR", "--model", "random")
    assert django.returncode == fast.returncode == 1
    assert django.stderr.startswith(f"CommandError: {path}: Fisher scoring for REML did not")
    assert "Another --method (DL, PM or ML) may converge." in django.stderr
    assert "Traceback" not in django.stderr + fast.stderr
    ok, _ = both_ways(path, "--measure", "RR", "--model", "random", "--method", "DL")
    assert ok.returncode == 0, ok.stderr
