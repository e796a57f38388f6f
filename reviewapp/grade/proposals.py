"""GRADE: what the data propose for each domain of an outcome's certainty, and the absolute
effects of its summary-of-findings table. Pure: numbers in, judgements and sentences out.

The sources, the GRADE series in the Journal of Clinical Epidemiology (2011) and the GRADE
handbook (Schünemann, Brożek, Guyatt, Oxman, eds., 2013, guidelinedevelopment.org/handbook):
- GRADE 3 (Balshem et al., 64:401-406): randomised trials start High, observational studies Low;
  each serious concern takes one level off, each very serious concern two.
- GRADE 4 (Guyatt et al., 64:407-415), risk of bias: judged across studies, by how much of the
  information (the weight) comes from studies with limitations.
- GRADE 5 (Guyatt et al., 64:1277-1282), publication bias; with Sterne et al. BMJ 2011;343:d4002:
  funnel-plot asymmetry tests only from 10 studies on.
- GRADE 6 (Guyatt et al., 64:1283-1293), imprecision: the CI against the decision threshold
  (RR 0.75 and 1.25 as a rough guide) and the optimal information size (OIS); with GRADE 34
  (Zeng et al. J Clin Epidemiol 2022;146:172-182): two levels when the CI spans appreciable
  benefit and appreciable harm.
- GRADE 7 (Guyatt et al., 64:1294-1302), inconsistency: I², overlapping intervals; the prediction
  interval shows whether the effect in a new setting could lie on the other side of no effect.
- GRADE 9 (Guyatt et al., 64:1311-1316), rating up: a large effect (RR over 2 or under 0.5) one
  level, a very large one (over 5 or under 0.2) two, for observational evidence without serious
  limitations; dose-response and plausible confounding are the reviewer's judgement.
- GRADE 11/12 (Guyatt et al. 2013;66:158-172, 173-183), summary-of-findings tables: absolute
  effects per 1,000 at a stated assumed (baseline) risk.

The thresholds of the proposals below that GRADE leaves to judgement (which share of weight from
high-risk studies, which I²) are this app's, said in the reason of every proposal, so a reviewer
sees what was applied and can disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

# Downgrading domains: no concern, serious (-1), very serious (-2).
NO, SERIOUS, VERY_SERIOUS = "no", "serious", "very_serious"
# Upgrading domains: none, +1, +2.
NONE, PLUS1, PLUS2 = "none", "plus1", "plus2"

DOWNGRADE_LEVELS = {NO: "Not serious", SERIOUS: "Serious (−1)", VERY_SERIOUS: "Very serious (−2)"}
UPGRADE_LEVELS = {NONE: "None", PLUS1: "+1", PLUS2: "+2"}
STEPS = {NO: 0, SERIOUS: -1, VERY_SERIOUS: -2, NONE: 0, PLUS1: 1, PLUS2: 2}

RISK_OF_BIAS = "risk_of_bias"
INCONSISTENCY = "inconsistency"
INDIRECTNESS = "indirectness"
IMPRECISION = "imprecision"
PUBLICATION_BIAS = "publication_bias"
LARGE_EFFECT = "large_effect"
DOSE_RESPONSE = "dose_response"
CONFOUNDING = "confounding"

DOWNGRADING = (RISK_OF_BIAS, INCONSISTENCY, INDIRECTNESS, IMPRECISION, PUBLICATION_BIAS)
UPGRADING = (LARGE_EFFECT, DOSE_RESPONSE, CONFOUNDING)
DOMAIN_NAMES = {
    RISK_OF_BIAS: "Risk of bias",
    INCONSISTENCY: "Inconsistency",
    INDIRECTNESS: "Indirectness",
    IMPRECISION: "Imprecision",
    PUBLICATION_BIAS: "Publication bias",
    LARGE_EFFECT: "Large effect",
    DOSE_RESPONSE: "Dose-response gradient",
    CONFOUNDING: "Plausible confounding would reduce the effect",
}

RANDOMISED, OBSERVATIONAL = "randomised", "observational"
START = {RANDOMISED: 4, OBSERVATIONAL: 2}
CERTAINTY = {4: "High", 3: "Moderate", 2: "Low", 1: "Very low"}

# Risk of bias: consensus judgements of RoB 2, ROBINS-I and QUADAS-2 in three bands.
HIGH_RISK = frozenset({"high", "serious", "critical"})
SOME_RISK = frozenset({"some", "moderate"})
LOW_RISK = frozenset({"low"})
# The app's reading of GRADE 4's "most of the information": shares of the total weight, percent.
HIGH_SHARE_VERY_SERIOUS = 50.0
HIGH_SHARE_SERIOUS = 20.0
NOT_LOW_SHARE_SERIOUS = 50.0
# Inconsistency: the upper bands of the Cochrane Handbook's rough guide to I² (section 10.10.2):
# 50-90% may be substantial, 75-100% considerable.
I2_SERIOUS = 50.0
I2_VERY_SERIOUS = 75.0
# Publication bias: Sterne et al. 2011's minimum number of studies, and the conventional 0.10
# level of the asymmetry test (Egger et al. BMJ 1997;315:629-634).
EGGER_MIN_STUDIES = 10
EGGER_ALPHA = 0.10
# Imprecision: GRADE 6's rough guide for ratio measures (a relative change of 25%).
RATIO_THRESHOLDS = (0.75, 1.25)
# Rating up (GRADE 9): large and very large relative effects.
LARGE, VERY_LARGE = 2.0, 5.0


@dataclass(frozen=True)
class Proposal:
    """What the data suggest for one domain; judgement None when the app has nothing to go on."""

    judgement: str | None
    reason: str


def _num(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def _pct(value: float) -> str:
    return f"{value:.0f}%"


def risk_of_bias(studies: Sequence[tuple[float, str | None]]) -> Proposal:
    """From each pooled study's weight (any scale) and its consensus overall risk of bias
    (None when it has none). GRADE 4: rate down by the share of the information from studies at
    high risk; the shares are of the meta-analysis weights."""
    total = sum(max(w, 0.0) for w, _ in studies)
    if total <= 0:
        return Proposal(None, "No pooled studies with weight; judge the risk of bias yourself.")
    share = {"high": 0.0, "some": 0.0, "low": 0.0, "none": 0.0}
    for weight, judgement in studies:
        band = (
            "high"
            if judgement in HIGH_RISK
            else "some"
            if judgement in SOME_RISK
            else "low"
            if judgement in LOW_RISK
            else "none"
        )
        share[band] += 100.0 * max(weight, 0.0) / total
    if share["none"] >= 100.0 - 1e-9:
        return Proposal(
            None,
            "No pooled study has a consensus risk-of-bias judgement yet; judge it from the "
            "studies' limitations.",
        )
    shares = (
        f"Of the weight, {_pct(share['high'])} comes from studies at high risk of bias, "
        f"{_pct(share['some'])} from studies with some concerns, {_pct(share['low'])} from "
        f"studies at low risk"
        + (f" and {_pct(share['none'])} from studies not assessed" if share["none"] else "")
        + "."
    )
    if share["high"] >= HIGH_SHARE_VERY_SERIOUS:
        return Proposal(
            VERY_SERIOUS,
            f"{shares} Half or more of the information is from studies at high risk.",
        )
    not_low = share["high"] + share["some"] + share["none"]
    if share["high"] >= HIGH_SHARE_SERIOUS:
        return Proposal(
            SERIOUS,
            f"{shares} Studies at high risk carry {_pct(HIGH_SHARE_SERIOUS)} or more of the weight.",
        )
    if not_low >= NOT_LOW_SHARE_SERIOUS:
        return Proposal(
            SERIOUS,
            f"{shares} Most of the information is from studies not at low risk.",
        )
    return Proposal(NO, f"{shares} Most of the information is from studies at low risk.")


def _crosses(lb: float, ub: float, value: float) -> bool:
    return lb < value < ub


def _interval(lb: float, ub: float, digits: int = 2) -> str:
    return f"{_num(lb, digits)} to {_num(ub, digits)}"


def inconsistency(
    *,
    k: int,
    i2: float | None,
    ci: tuple[float, float],
    pi: tuple[float, float] | None,
    null: float,
) -> Proposal:
    """From I² (percent), the CI and the prediction interval (same scale as ``null``: 1 for
    ratios, 0 for differences). GRADE 7: large I² and intervals that do not overlap lower
    certainty; a prediction interval reaching the other side of no effect while the CI does not
    means the direction of the effect in a new setting is uncertain."""
    if k < 2:
        return Proposal(NO, "One study: there is no inconsistency between studies to judge.")
    if i2 is None:
        return Proposal(None, "No I² in the result; judge the consistency from the forest plot.")
    said = f"I² = {_num(i2, 0)}%"
    pi_crosses = pi is not None and _crosses(pi[0], pi[1], null)
    ci_crosses = _crosses(ci[0], ci[1], null)
    if pi is not None:
        said += f"; 95% prediction interval {_interval(*pi)}" + (
            f" includes no effect ({_num(null, 0)})"
            if pi_crosses
            else f" excludes no effect ({_num(null, 0)})"
        )
    else:
        said += " (no prediction interval: fewer than three studies or a common-effect model)"
    if i2 >= I2_VERY_SERIOUS and pi_crosses:
        return Proposal(
            VERY_SERIOUS,
            f"{said}. Considerable heterogeneity (I² {_num(I2_VERY_SERIOUS, 0)}% or more), with "
            "effects in new settings on both sides of no effect.",
        )
    if i2 >= I2_SERIOUS:
        return Proposal(
            SERIOUS, f"{said}. Substantial heterogeneity (I² {_num(I2_SERIOUS, 0)}% or more)."
        )
    if pi_crosses and not ci_crosses:
        return Proposal(
            SERIOUS,
            f"{said}, while the confidence interval does not: the effect may differ in "
            "direction between settings.",
        )
    return Proposal(NO, f"{said}. No important heterogeneity.")


def optimal_information_size(
    *, baseline_risk: float, rrr: float, alpha: float = 0.05, power: float = 0.80
) -> int:
    """Participants (both groups) a single trial would need to detect a relative risk reduction
    ``rrr`` from a control risk ``baseline_risk`` with two-sided ``alpha`` and ``power``.

    GRADE 6 and the GRADE handbook (section 5.2.2.1) take the OIS from the conventional sample
    size of a two-group comparison of proportions:
        n per group = (z_{1-alpha/2} + z_{power})^2 (p0 (1-p0) + p1 (1-p1)) / (p0 - p1)^2,
    p1 = p0 (1 - rrr). Control risk 20%, RRR 25%: 903 per group, 1,806 in all.
    """
    if not 0 < baseline_risk < 1:
        raise ValueError("The baseline risk must be between 0 and 1.")
    if not 0 < rrr < 1:
        raise ValueError("The relative risk reduction must be between 0 and 1.")
    p0 = baseline_risk
    p1 = p0 * (1 - rrr)
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    per_group = z**2 * (p0 * (1 - p0) + p1 * (1 - p1)) / (p0 - p1) ** 2
    return 2 * math.ceil(per_group)


def imprecision(
    *,
    ci: tuple[float, float],
    null: float,
    thresholds: tuple[float, float] | None,
    participants: int | None,
    ois: int | None,
) -> Proposal:
    """From the CI against the decision thresholds (lower and upper, on the CI's scale) and the
    participants against the optimal information size. GRADE 6: rate down when the CI includes
    no effect and an appreciable effect, or when it excludes no effect but the OIS is not met;
    GRADE 34: two levels when the CI includes appreciable benefit and appreciable harm."""
    lb, ub = ci
    said = f"95% CI {_interval(lb, ub)}"
    if thresholds is not None:
        low, high = thresholds
        said += f" against the thresholds {_num(low)} and {_num(high)}"
        if lb < low and ub > high:
            return Proposal(
                VERY_SERIOUS,
                f"{said}: the interval includes both appreciable effects, below {_num(low)} "
                f"and above {_num(high)}.",
            )
        if _crosses(lb, ub, null) and (lb < low or ub > high):
            return Proposal(
                SERIOUS,
                f"{said}: the interval includes no effect ({_num(null, 0)}) and an appreciable "
                "effect.",
            )
    elif _crosses(lb, ub, null):
        return Proposal(
            SERIOUS,
            f"{said} includes no effect ({_num(null, 0)}); no decision threshold is set to say "
            "whether it also includes an appreciable effect.",
        )
    if ois is None or participants is None:
        missing = "the participants" if participants is None else "a baseline risk"
        return Proposal(
            NO,
            f"{said}. The optimal information size is not checked: the assessment lacks {missing}.",
        )
    if participants < ois:
        return Proposal(
            SERIOUS,
            f"{said}, but {participants:,} participants fall short of the optimal information "
            f"size of {ois:,}.",
        )
    return Proposal(
        NO,
        f"{said}; {participants:,} participants meet the optimal information size of {ois:,}.",
    )


def publication_bias(*, k: int, egger_p: float | None) -> Proposal:
    """From the number of studies and Egger's regression test. Sterne et al. 2011: with fewer
    than 10 studies the test cannot tell chance from asymmetry; GRADE 5: suspect publication bias
    when small studies show larger effects."""
    if k < EGGER_MIN_STUDIES:
        return Proposal(
            NO,
            f"{k} stud{'y' if k == 1 else 'ies'}: with fewer than {EGGER_MIN_STUDIES}, Egger's "
            "test has too little power (Sterne et al. 2011). Nothing detected; judge from the "
            "search (unpublished or small industry-funded studies).",
        )
    if egger_p is None:
        return Proposal(None, f"{k} studies but no Egger test in the result; judge it yourself.")
    if egger_p < EGGER_ALPHA:
        return Proposal(
            SERIOUS,
            f"Egger's test p = {_num(egger_p, 3)} with {k} studies (below {EGGER_ALPHA}): small "
            "studies show different effects; publication bias is suspected.",
        )
    return Proposal(
        NO, f"Egger's test p = {_num(egger_p, 3)} with {k} studies: no funnel-plot asymmetry."
    )


def indirectness() -> Proposal:
    return Proposal(
        None,
        "The app cannot see how the studies' populations, interventions, comparators and "
        "outcomes match the review question: judge it.",
    )


def large_effect(
    *,
    ratio: bool,
    estimate: float,
    ci: tuple[float, float],
    design: str,
    rated_down: bool,
) -> Proposal:
    """GRADE 9: a relative effect over 2 (or under 0.5) one level, over 5 (or under 0.2) two,
    for observational evidence with no serious limitation. Judged on the point estimate; the CI
    is said, so a reviewer can be more cautious."""
    if design != OBSERVATIONAL:
        return Proposal(NONE, "Randomised evidence starts High; rating up is for observational.")
    if not ratio:
        return Proposal(None, "Not a ratio measure: judge whether the effect is large yourself.")
    if rated_down:
        return Proposal(
            NONE,
            "Rated down in another domain: GRADE rates up only evidence without serious "
            "limitations.",
        )
    size = max(estimate, 1 / estimate) if estimate > 0 else 0.0
    said = f"Relative effect {_num(estimate)} (95% CI {_interval(*ci)})"
    if size >= VERY_LARGE:
        return Proposal(PLUS2, f"{said}: very large (over 5 or under 0.2).")
    if size >= LARGE:
        return Proposal(PLUS1, f"{said}: large (over 2 or under 0.5).")
    return Proposal(NONE, f"{said}: not large (between 0.5 and 2).")


def dose_response() -> Proposal:
    return Proposal(
        None, "The app has no dose data: judge whether larger exposure shows larger effects."
    )


def confounding() -> Proposal:
    return Proposal(
        None,
        "Judge whether plausible residual confounding would reduce the observed effect (or "
        "suggest a spurious effect where none was found).",
    )


def certainty(design: str, judgements: dict[str, str]) -> tuple[int, str]:
    """Level 1-4 and its name: the design's start (GRADE 3) plus the steps of the judgements."""
    level = START[design] + sum(STEPS.get(j, 0) for j in judgements.values())
    level = min(4, max(1, level))
    return level, CERTAINTY[level]


# --- absolute effects ------------------------------------------------------------------------


@dataclass(frozen=True)
class AbsoluteEffect:
    """Per 1,000: the assumed risk with the comparator, the corresponding risk with the
    intervention and the difference, each with the CI of the relative effect carried over."""

    assumed: float
    corresponding: tuple[float, float, float]
    difference: tuple[float, float, float]

    def text(self) -> str:
        return per_1000_text(*self.difference)


def _risk_with(kind: str, baseline: float, effect: float) -> float:
    if kind == "RR":
        return baseline * effect
    if kind == "OR":
        # GRADE handbook section 5.2.4 / Cochrane Handbook 15.4.4: ACR = OR·ACR0/(1-ACR0+OR·ACR0).
        return effect * baseline / (1 - baseline + effect * baseline)
    if kind == "RD":
        return baseline + effect
    raise ValueError(f"No absolute effect from {kind}.")


def absolute_effect(
    *, kind: str, estimate: float, ci: tuple[float, float], baseline_per_1000: float
) -> AbsoluteEffect:
    """The summary-of-findings columns for a relative effect (RR or OR) or a risk difference at
    an assumed risk per 1,000. RR: difference = baseline (RR - 1) x 1,000; OR: through the
    corresponding risk OR·p0 / (1 - p0 + OR·p0); RD: RD x 1,000 whatever the baseline."""
    if not 0 <= baseline_per_1000 <= 1000:
        raise ValueError("The baseline risk is per 1,000: between 0 and 1,000.")
    p0 = baseline_per_1000 / 1000
    risks = tuple(_risk_with(kind, p0, value) * 1000 for value in (estimate, *ci))
    corresponding = (risks[0], risks[1], risks[2])
    difference = (
        risks[0] - baseline_per_1000,
        risks[1] - baseline_per_1000,
        risks[2] - baseline_per_1000,
    )
    return AbsoluteEffect(baseline_per_1000, corresponding, difference)


def _count(value: float) -> str:
    rounded = round(value)
    if rounded == 0:
        return "0"
    return f"{abs(rounded):,} {'more' if rounded > 0 else 'fewer'}"


def per_1000_text(point: float, lb: float, ub: float) -> str:
    """GRADEpro's wording: '50 fewer per 1,000 (from 80 fewer to 20 fewer)'."""
    return f"{_count(point)} per 1,000 (from {_count(lb)} to {_count(ub)})"
