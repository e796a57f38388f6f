"""Risk-of-bias figures as robvis draws them: valid SVG with its text as text, PNG bytes, each
judgement with its colour-blind-safe colour and its symbol, and no study left out."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from reviewapp.riskofbias.figures import (
    COLOURS,
    RobRow,
    summary_plot,
    summary_shares,
    traffic_light_plot,
)

DOMAINS = [
    ("D1", "Randomisation process"),
    ("D2", "Deviations from intended interventions"),
    ("D3", "Missing outcome data"),
    ("D4", "Measurement of the outcome"),
    ("D5", "Selection of the reported result"),
]
LEVELS = ("low", "some", "high")
ROWS = [
    RobRow("Polman 2006", ["low", "low", "some", "low", "low"], "some", weight=942),
    RobRow("Rudick 2006", ["low", "high", "low", "low", "some"], "high", weight=1171),
    RobRow("Smith 2001", ["low", None, "low", "low", "low"], None, weight=100),
]


def svg_text(svg: bytes) -> str:
    root = ET.fromstring(svg)
    return " ".join("".join(el.itertext()) for el in root.iter() if el.tag.endswith("text"))


def test_traffic_light_names_every_study_domain_and_judgement():
    svg = traffic_light_plot(ROWS, DOMAINS, LEVELS, fmt="svg", title="RoB 2: Relapse")
    text = svg_text(svg)
    for label in ("Polman 2006", "Rudick 2006", "Smith 2001", "Overall", "RoB 2: Relapse"):
        assert label in text
    assert "D2: Deviations from intended interventions" in text
    # robvis's symbols, so the table reads without colour, and the key names each level used.
    for symbol in ("+", "-", "X"):
        assert symbol in text
    assert "Some concerns" in text and "Critical" not in text
    for level in LEVELS:
        assert COLOURS[level].lower().encode() in svg.lower()


def test_summary_bars_weight_the_studies():
    """Weighted by participants (robvis's weighted = TRUE): for D2, Polman's 942 low against
    Rudick's 1171 high; Smith, not judged there, is left out of that bar."""
    svg = summary_plot(ROWS, DOMAINS, LEVELS, fmt="svg")
    text = svg_text(svg)
    assert "Overall risk of bias" in text and "Missing outcome data" in text
    shares = summary_shares(ROWS, len(DOMAINS), LEVELS)
    assert shares[1]["low"] == pytest.approx(100 * 942 / 2113)
    assert shares[1]["high"] == pytest.approx(100 * 1171 / 2113)
    assert shares[0] == {"low": 100.0, "some": 0.0, "high": 0.0}
    # Overall: Smith has no overall judgement yet.
    assert shares[5]["some"] == pytest.approx(100 * 942 / 2113)
    unweighted = summary_shares(ROWS, len(DOMAINS), LEVELS, weighted=False)
    assert unweighted[1] == {"low": 50.0, "some": 0.0, "high": 50.0}


def test_png_and_an_empty_table():
    assert traffic_light_plot([], DOMAINS, LEVELS, fmt="png").startswith(b"\x89PNG\r\n\x1a\n")
    assert "No consensus judgements yet" in svg_text(traffic_light_plot([], DOMAINS, LEVELS))
    assert summary_plot(ROWS, DOMAINS, LEVELS, fmt="png").startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="use svg or png"):
        summary_plot(ROWS, DOMAINS, LEVELS, fmt="pdf")
