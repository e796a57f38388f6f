"""Forest and funnel plots: valid SVG with the study labels as text, PNG bytes, no pyplot state."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import matplotlib
import pytest

from reviewapp.synthesis.stats import pool, subgroup_analysis
from reviewapp.synthesis.stats.plots import forest_plot, funnel_plot
from tests.synthesis.reference import bcg, bcg_effects

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def svg_text(svg: bytes) -> str:
    root = ET.fromstring(svg)
    return " ".join("".join(el.itertext()) for el in root.iter() if el.tag.endswith("text"))


@pytest.fixture(scope="module")
def effects():
    return bcg_effects("RR")


@pytest.fixture(scope="module")
def result(effects):
    return pool(effects, model="random", method="REML")


def test_forest_svg_is_valid_xml_with_labels_and_heterogeneity_line(effects, result):
    text = svg_text(forest_plot(result, "svg"))
    for label in effects.labels:
        assert label in text
    assert "Heterogeneity: τ² = " in text and "I² = 92%" in text and "df = 12" in text
    assert "Prediction interval" in text
    assert "Risk ratio" in text


def test_forest_png_starts_with_png_signature(result):
    assert forest_plot(result, "png").startswith(PNG_SIGNATURE)


def test_subgroup_forest_shows_groups_and_test_for_differences(effects):
    alloc = [s["alloc"] for s in bcg()["inputs"]["studies"]]
    text = svg_text(forest_plot(subgroup_analysis(effects, alloc), "svg"))
    for group in ("random", "alternate", "systematic"):
        assert group in text
    assert "Subtotal" in text and "Test for subgroup differences" in text


def test_funnel_plot_renders_in_both_formats(effects, result):
    svg = funnel_plot(effects, result, "svg")
    assert "Standard error" in svg_text(svg)
    assert funnel_plot(effects, result, "png").startswith(PNG_SIGNATURE)


def test_rendering_leaves_no_pyplot_figures_or_changed_rc_params(effects, result):
    import matplotlib.pyplot as plt

    before_figs = plt.get_fignums()
    before_rc = matplotlib.rcParams["svg.fonttype"]
    forest_plot(result, "svg")
    funnel_plot(effects, result, "png")
    assert plt.get_fignums() == before_figs
    assert matplotlib.rcParams["svg.fonttype"] == before_rc


def test_unknown_format_is_refused(result):
    with pytest.raises(ValueError, match="svg or png"):
        forest_plot(result, "pdf")
