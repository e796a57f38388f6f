"""Access to the metafor reference file ``tests/fixtures/reference/pooling-bcg.json``.

The file holds metafor 3.8-1 results for the 13 BCG trials (Colditz et al. 1994; metadat
``dat.bcg``) and states its tolerances in its "about" key; they are parsed from there, not copied.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path

from reviewapp.synthesis.stats import escalc_binary

REFERENCE_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "reference" / "pooling-bcg.json"


@cache
def reference() -> dict:
    return json.loads(REFERENCE_PATH.read_text(encoding="utf-8"))


@cache
def tolerances() -> dict:
    about = reference()["about"]
    return json.loads(re.search(r"Tolerances: (\{.*\})", about).group(1))


def bcg() -> dict:
    return next(d for d in reference()["datasets"] if d["id"] == "bcg")


def analyses() -> dict[str, dict]:
    return {a["id"]: a for a in bcg()["analyses"]}


def bcg_columns() -> tuple[list[str], list[list[int]]]:
    studies = bcg()["inputs"]["studies"]
    labels = [f"{s['author']} {s['year']}" for s in studies]
    counts = [[s[c] for s in studies] for c in ("tpos", "tneg", "cpos", "cneg")]
    return labels, counts


def bcg_effects(measure: str):
    labels, counts = bcg_columns()
    return escalc_binary(measure, labels, *counts)


def rounding_tolerance(value: float) -> float:
    """Half a unit in the last place the file reports.

    The file rounds plain numbers to 6 decimals and gives 10 significant digits in scientific
    notation; a tolerance finer than that rounding cannot be met by any implementation.
    """
    text = repr(float(value))
    if "e" in text:
        exponent = int(text.split("e")[1])
        return 0.5 * 10 ** (exponent - 9)
    return 0.5e-6


def published_tolerance(value: float) -> float:
    """Half a unit in the last printed decimal of a published (rounded) value."""
    text = repr(float(value))
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
    return 0.5 * 10**-decimals + 1e-12


def is_pvalue(key: str) -> bool:
    key = key.lower()
    return key in ("p", "pval", "qmp") or key.endswith("_p") or key.endswith("p_value")


def is_i2(key: str) -> bool:
    return key.startswith("I2")


def tolerance(key: str, expected: float, *, default: float | None = None) -> float:
    """The file's stated tolerance for ``key``, never finer than the file's own rounding."""
    tol = tolerances()
    if default is None:
        default = tol["default_abs"]
    if is_pvalue(key):
        stated = tol["pval_rel"] * abs(expected)
    elif is_i2(key):
        stated = tol["I2_abs_percent"]
    elif key.startswith("tau2"):
        # iterative estimators: abs 1e-4 or rel 1e-5, whichever is larger
        stated = max(default, 1e-5 * abs(expected))
    else:
        stated = default
    return max(stated, rounding_tolerance(expected))


def close(got: float | None, expected: float, tol: float) -> bool:
    return got is not None and math.isfinite(got) and abs(got - expected) <= tol


METAFOR_TESTS_PATH = REFERENCE_PATH.parent / "metafor-tests.json"


@cache
def metafor_cases() -> dict[str, dict]:
    """Expected values from metafor's tests and documented examples, by case id."""
    cases = json.loads(METAFOR_TESTS_PATH.read_text(encoding="utf-8"))["cases"]
    return {case["id"]: case for case in cases}


def expected(case_id: str, r_call_start: str) -> dict:
    """The expected values of the analysis of a case whose R call starts with ``r_call_start``."""
    case = metafor_cases()[case_id]
    return next(a["expected"] for a in case["analyses"] if a["r"].startswith(r_call_start))


def bcg_study_fields(name: str) -> list:
    """One column of the BCG trials (year, ablat, alloc...), in the data order."""
    return [s[name] for s in bcg()["inputs"]["studies"]]


def assert_matches(got: dict, want: dict, *, tol: float | None = None, where: str = "") -> None:
    """Every expected number is matched within ``tol``, or half a unit in its last printed digit."""
    problems = []
    for key, value in want.items():
        if isinstance(value, str):
            continue
        values = value if isinstance(value, list) else [value]
        have = got[key] if isinstance(got[key], list | tuple) else [got[key]]
        have = [float(h) for h in have]
        assert len(have) == len(values), f"{where}{key}: {have} vs {values}"
        for h, v in zip(have, values, strict=True):
            limit = tol if tol is not None else published_tolerance(v)
            if not (math.isfinite(h) and abs(h - v) <= limit):
                problems.append(f"{where}{key}: got {h!r}, metafor {v!r} (tolerance {limit:g})")
    assert not problems, "\n".join(problems)
