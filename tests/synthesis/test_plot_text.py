"""The forest and funnel plots in words (their text alternatives), from a real pooled result:
the BCG vaccine trials (metafor's dat.bcg; Colditz et al. JAMA 1994), 13 studies."""

from reviewapp.synthesis.stats import pool
from reviewapp.synthesis.stats.bias import rank_correlation_test, regression_test
from reviewapp.synthesis.stats.plot_text import forest_plot_text, funnel_plot_text
from tests.synthesis.reference import bcg_effects


def _pooled():
    return pool(bcg_effects("RR"), model="random", method="REML").to_dict()


def test_the_forest_plot_in_words_gives_studies_pooled_estimate_and_heterogeneity():
    pooled = _pooled()
    text = forest_plot_text(pooled)
    # metafor: rma(measure="RR", ...) on dat.bcg gives exp(-0.7145) = 0.49 [0.34, 0.70], I² 92.2%.
    assert text.startswith("Forest plot of 13 studies. Study estimates range from 0.20 to 1.56.")
    assert "Pooled risk ratio (random-effects model): 0.49, 95% CI 0.34 to 0.70, p < 0.001." in text
    assert "Heterogeneity: I² = 92.2%, tau² = 0.313, Q = 152.23 (df = 12, p < 0.001)." in text


def test_the_funnel_plot_in_words_gives_the_asymmetry_tests_when_run():
    effects = bcg_effects("RR")
    pooled = _pooled()
    extra = {
        "egger": regression_test(effects, method="REML").to_dict(),
        "rank_test": rank_correlation_test(effects).to_dict(),
    }
    text = funnel_plot_text(pooled, extra)
    assert text.startswith("Funnel plot of 13 studies: each study's estimate against its")
    assert "Egger's regression test for asymmetry: z = " in text
    assert "Rank correlation test: Kendall's tau = " in text
    assert funnel_plot_text(pooled, {}).endswith("No test for asymmetry was run for this analysis.")


def test_one_study_reads_as_one_study_without_heterogeneity():
    pooled = {"k": 1, "measure": "OR", "model": "fixed", "estimate_bt": 2.0, "ci_lb_bt": 1.1}
    pooled |= {"ci_ub_bt": 3.5, "pval": 0.02, "studies": [{"yi_bt": 2.0}]}
    text = forest_plot_text(pooled)
    assert text == (
        "Forest plot of 1 study. Pooled odds ratio (common-effect model): 2.00, "
        "95% CI 1.10 to 3.50, p = 0.020."
    )
