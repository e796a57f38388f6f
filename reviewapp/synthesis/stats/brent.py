"""Brent's root finder, as R's ``uniroot`` (which metafor calls) runs it.

Why not ``scipy.optimize.brentq``: importing scipy.optimize takes longer than pooling a thousand
studies, and ``manage.py pool`` would pay that on every run (issue 13 item 7). This is Brent's
method as published (R. P. Brent, *Algorithms for Minimization without Derivatives*, 1973,
chapter 4, procedure ``zero``; G. E. Forsythe, M. A. Malcolm and C. B. Moler, *Computer Methods
for Mathematical Computations*, 1977, ``zeroin``): bisection, secant and inverse quadratic
interpolation, keeping a bracket of the root. tests/synthesis/test_brent.py checks it against
scipy's brentq over many functions.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

__all__ = ["brent_root"]

EPS = sys.float_info.epsilon


def brent_root(
    f: Callable[[float], float],
    lower: float,
    upper: float,
    *,
    xtol: float,
    rtol: float = 4 * EPS,
    maxiter: int = 1000,
) -> float:
    """A root of ``f`` in [lower, upper], where ``f(lower)`` and ``f(upper)`` differ in sign.

    Stops when the bracket is within ``(xtol + rtol * |x|) / 2`` of the current best point ``x``
    (R's zeroin: ``tol / 2 + 2 * EPSILON * |b|`` with the default ``rtol``). Raises ValueError
    when the ends have the same sign and RuntimeError after ``maxiter`` steps.
    """
    a, b = float(lower), float(upper)
    fa, fb = float(f(a)), float(f(b))
    if fa == 0:
        return a
    if fb == 0:
        return b
    if (fa > 0) == (fb > 0):
        raise ValueError("f(lower) and f(upper) must differ in sign.")
    # b is the best point so far, c the other end of the bracket, a the previous b.
    c, fc = a, fa
    step = prev_step = b - a
    for _ in range(maxiter):
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol = (xtol + rtol * abs(b)) / 2
        half = (c - b) / 2
        if abs(half) <= tol or fb == 0:
            return b
        if abs(prev_step) >= tol and abs(fa) > abs(fb):
            # Interpolate: secant through a and b, or inverse quadratic through a, b and c.
            s = fb / fa
            if a == c:
                p, q = 2 * half * s, 1 - s
            else:
                qa, r = fa / fc, fb / fc
                p = s * (2 * half * qa * (qa - r) - (b - a) * (r - 1))
                q = (qa - 1) * (r - 1) * (s - 1)
            if p > 0:
                q = -q
            else:
                p = -p
            # Accept it only if it falls well inside the bracket and shrinks fast enough.
            if 2 * p < min(3 * half * q - abs(tol * q), abs(prev_step * q)):
                prev_step, step = step, p / q
            else:
                prev_step = step = half
        else:
            prev_step = step = half
        a, fa = b, fb
        b += step if abs(step) > tol else math.copysign(tol, half)
        fb = float(f(b))
        if (fb > 0) == (fc > 0):
            # The root is between a and b now.
            c, fc = a, fa
            step = prev_step = b - a
    raise RuntimeError(f"Brent's method did not converge in {maxiter} steps.")
