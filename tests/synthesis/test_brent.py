"""Brent's root finder (brent.py) against scipy's brentq with the tolerances the tau² code uses.

Both are Brent's method; they may round differently, so the roots are compared to far within the
tolerance (eps^0.25, about 1.2e-4), and most are the same float.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from reviewapp.synthesis.stats.brent import brent_root
from reviewapp.synthesis.stats.tau2 import BRENT_RTOL, UNIROOT_TOL


def functions(rng):
    for _ in range(300):
        r, p = rng.uniform(0.01, 50), rng.uniform(0.2, 4)
        hi = r * rng.uniform(1.1, 20)
        yield (lambda t, r=r, p=p: t**p - r**p), hi
        yield (lambda t, r=r: math.exp(t / 10) - math.exp(r / 10)), hi
        yield (lambda t, r=r: math.atan(t - r) + 1e-3 * (t - r) ** 3), hi
        # A decreasing function, as Q(tau²) minus a chi² quantile is.
        yield (lambda t, r=r: 1 / (1 + t) - 1 / (1 + r)), hi


def test_roots_agree_with_scipy():
    rng = np.random.default_rng(1)
    identical = total = 0
    for f, hi in functions(rng):
        ours = brent_root(f, 0.0, hi, xtol=UNIROOT_TOL, rtol=BRENT_RTOL)
        theirs = optimize.brentq(f, 0.0, hi, xtol=UNIROOT_TOL, rtol=BRENT_RTOL, maxiter=1000)
        assert ours == pytest.approx(theirs, rel=1e-10, abs=1e-10)
        identical += ours == theirs
        total += 1
    assert identical > 0.75 * total


def test_exact_root_at_an_end_is_returned():
    assert brent_root(lambda t: t - 2.0, 2.0, 5.0, xtol=1e-12) == 2.0
    assert brent_root(lambda t: t - 5.0, 2.0, 5.0, xtol=1e-12) == 5.0


def test_same_signs_at_both_ends_is_an_error():
    with pytest.raises(ValueError, match="differ in sign"):
        brent_root(lambda t: t * t + 1, -1.0, 1.0, xtol=1e-12)


def test_too_few_steps_is_an_error():
    with pytest.raises(RuntimeError, match="did not converge"):
        brent_root(lambda t: t**3 - 2, 0.0, 100.0, xtol=1e-15, rtol=0.0, maxiter=3)
