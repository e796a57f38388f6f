"""Back-transformations from the analysis scale to the display scale (metafor ``transf.*``)."""

from __future__ import annotations

import numpy as np

__all__ = ["back_transform", "harmonic_mean", "ipft", "pft"]

TRANSFORMS = ("none", "exp", "ilogit", "ipft", "ztor")


def pft(p: np.ndarray | float, n: np.ndarray | float) -> np.ndarray:
    """Freeman-Tukey double arcsine of a proportion p with sample size n (metafor ``transf.pft``)."""
    x = np.asarray(p, dtype=float) * n
    return 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))


def ipft(t: np.ndarray | float, n: np.ndarray | float) -> np.ndarray:
    """Inverse Freeman-Tukey transformation of Miller (1978), as metafor ``transf.ipft``.

    Values beyond the transforms of 0 and 1 are clamped to 0 and 1.
    """
    t = np.asarray(t, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sin(2 * t)
        z = 0.5 * (1 - np.sign(np.cos(2 * t)) * np.sqrt(1 - (s + (s - 1 / s) / n) ** 2))
    z = np.where(t > pft(1.0, n), 1.0, z)
    z = np.where(t < pft(0.0, n), 0.0, z)
    return z


def harmonic_mean(ni: np.ndarray) -> float:
    """Harmonic mean of the sample sizes, the n metafor ``transf.ipft.hm`` uses for pooled values."""
    return float(1 / np.mean(1 / np.asarray(ni, dtype=float)))


def back_transform(values, transform: str, n: float | np.ndarray | None = None) -> np.ndarray:
    """Map analysis-scale values to the display scale.

    ``exp`` for log ratios (metafor ``exp``), ``ilogit`` for logit proportions
    (``transf.ilogit``), ``ipft`` for Freeman-Tukey proportions with sample size ``n``
    (``transf.ipft``; ``ztor`` for Fisher's z of a correlation (``transf.ztor``); pass the harmonic mean of the study sizes for pooled values, as
    ``transf.ipft.hm`` does). ``none`` returns the values unchanged.
    """
    values = np.asarray(values, dtype=float)
    if transform == "none":
        return values
    if transform == "exp":
        return np.exp(values)
    if transform == "ilogit":
        # scipy.special.expit's formula without scipy's import cost (see distributions.py).
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(-values))
    if transform == "ztor":
        return np.tanh(values)
    if transform == "ipft":
        if n is None:
            raise ValueError("The Freeman-Tukey back-transformation needs the sample size.")
        return ipft(values, n)
    raise ValueError(f"Unknown transform {transform!r}; use one of {TRANSFORMS}.")
