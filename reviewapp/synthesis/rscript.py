"""An R script that reproduces an analysis with metafor, for checking outside the app. Pure.

The script reads the CSV exported beside it (the same rows the app pooled) and runs the same
model: escalc() for the effect sizes with metafor's defaults that the app also uses, then rma(),
rma.mh() or rma.peto(), with forest and funnel plots and the bias tests.
"""

from __future__ import annotations

BINARY = ("OR", "RR", "RD")
MEANS = ("MD", "SMD")
PROPORTIONS = ("PR", "PLO", "PFT")
CORRELATIONS = ("COR", "ZCOR")
RATIO = ("OR", "RR")
TRANSFORMS = {"PLO": "transf.ilogit", "PFT": "transf.ipft.hm", "ZCOR": "transf.ztor"}


def _escalc(measure: str, ratio_gen: bool, columns: set[str]) -> str:
    if measure in BINARY:
        # The app leaves out studies with no events (or only events) in both arms for ratio
        # measures, as rma.mh does; drop00 makes escalc do the same.
        drop = ", drop00=TRUE" if measure in RATIO else ""
        return (
            f'dat <- escalc(measure="{measure}", ai=ai, bi=bi, ci=ci, di=di, data=dat, '
            f"slab=study{drop})"
        )
    if measure in MEANS:
        return (
            f'dat <- escalc(measure="{measure}", m1i=m1i, sd1i=sd1i, n1i=n1i, '
            "m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat, slab=study)"
        )
    if measure in PROPORTIONS:
        return f'dat <- escalc(measure="{measure}", xi=xi, ni=ni, data=dat, slab=study)'
    if measure in CORRELATIONS:
        return f'dat <- escalc(measure="{measure}", ri=ri, ni=ni, data=dat, slab=study)'
    if {"estimate", "lower", "upper"} <= columns:
        log = "log" if ratio_gen else ""
        return "\n".join(
            [
                f"dat$yi <- {log}(dat$estimate)",
                f"dat$vi <- (({log}(dat$upper) - {log}(dat$lower)) / (2 * qnorm(0.975)))^2",
            ]
        )
    if "sei" in columns:
        return "dat$vi <- dat$sei^2"
    return "# yi and vi are read from the CSV as they are"


def _model(measure: str, model: str, method: str, hksj: bool) -> str:
    if model == "fixed" and method == "MH":
        return (
            f'res <- rma.mh(ai=ai, bi=bi, ci=ci, di=di, data=dat, measure="{measure}", slab=study)'
        )
    if model == "fixed" and method == "PETO":
        return "res <- rma.peto(ai=ai, bi=bi, ci=ci, di=di, data=dat, slab=study)"
    if model == "fixed":
        return 'res <- rma(yi, vi, data=dat, method="EE", slab=study)'
    test = ', test="knha"' if hksj else ""
    return f'res <- rma(yi, vi, data=dat, method="{method}"{test}, slab=study)'


def r_script(
    *,
    title: str,
    csv_name: str,
    measure: str,
    model: str,
    method: str,
    hksj: bool,
    columns: list[str],
    ratio_gen: bool = False,
) -> str:
    """The R code, as text, for the analysis described by the arguments."""
    transf = ""
    if measure in RATIO or (measure == "GEN" and ratio_gen):
        transf = ", transf=exp"
    elif measure in TRANSFORMS:
        transf = f", transf={TRANSFORMS[measure]}"
        if measure == "PFT":
            transf += ", targs=list(ni=dat$ni)"
    is_rma_uni = not (model == "fixed" and method in ("MH", "PETO"))
    lines = [
        f"# {title}",
        "# Reproduces the reviewapp analysis with R's metafor package (Viechtbauer 2010,",
        "# J Stat Softw 36(3)). Run from the folder holding the CSV:  Rscript analysis.R",
        'if (!requireNamespace("metafor", quietly=TRUE)) install.packages("metafor")',
        "library(metafor)",
        "",
        f'dat <- read.csv("{csv_name}", stringsAsFactors=FALSE)',
        _escalc(measure, ratio_gen, set(columns)),
        _model(measure, model, method, hksj),
        "print(res)",
        f"print(predict(res{transf}))",
    ]
    if is_rma_uni and model == "random":
        lines.append("print(confint(res))")
    if is_rma_uni:
        lines += ["print(regtest(res))", "print(ranktest(res))"]
    lines += [
        'pdf("forest.pdf", width=8, height=2 + 0.3 * nrow(dat))',
        f"forest(res{transf}, header=TRUE)",
        "dev.off()",
    ]
    if is_rma_uni:
        lines += ['pdf("funnel.pdf")', "funnel(res)", "dev.off()"]
    return "\n".join(lines) + "\n"
