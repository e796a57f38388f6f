"""Spreadsheet formula injection: every text cell starting with a trigger is written as text."""

import pytest

from reviewapp.extraction.exports import neutralise


@pytest.mark.parametrize(
    "text", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", '=HYPERLINK("http://x","y")']
)
def test_text_starting_with_a_formula_trigger_gets_a_leading_quote(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["Italy", "1=1", " =1", "", "'already"])
def test_other_text_is_left_alone(value):
    assert neutralise(value) == value


@pytest.mark.parametrize("value", [-0.5, -3, 0, 2.5, None, True])
def test_numbers_are_never_changed(value):
    assert neutralise(value) == value
