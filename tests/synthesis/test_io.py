"""Reading pooling CSV files: layouts per measure and error messages naming file, row, column."""

from __future__ import annotations

import numpy as np
import pytest

from reviewapp.synthesis.stats import (
    PoolingInputError,
    escalc_binary,
    escalc_generic,
    escalc_means,
    escalc_proportion,
    read_effects_csv,
)


def write(tmp_path, text, name="studies.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_binary_csv_gives_the_same_effects_as_escalc(tmp_path):
    path = write(tmp_path, "study,ai,bi,ci,di\nA,4,119,11,128\nB,6,300,29,274\n")
    effects = read_effects_csv(path, "OR")
    expected = escalc_binary("OR", ["A", "B"], [4, 6], [119, 300], [11, 29], [128, 274])
    np.testing.assert_allclose(effects.yi, expected.yi)
    assert effects.labels == ("A", "B")


def test_means_and_proportion_layouts(tmp_path):
    means = write(tmp_path, "study,m1i,sd1i,n1i,m2i,sd2i,n2i\nA,5,2,20,4,2.5,22\n", "m.csv")
    got = read_effects_csv(means, "SMD")
    assert got.yi[0] == pytest.approx(
        escalc_means("SMD", ["A"], [5], [2], [20], [4], [2.5], [22]).yi[0]
    )
    props = write(tmp_path, "study,xi,ni\nA,0,20\nB,5,40\n", "p.csv")
    got = read_effects_csv(props, "PLO")
    np.testing.assert_allclose(got.yi, escalc_proportion("PLO", ["A", "B"], [0, 5], [20, 40]).yi)


@pytest.mark.parametrize(
    ("text", "ratio", "kwargs"),
    [
        ("study,yi,sei\nA,0.2,0.1\n", False, {"yi": [0.2], "sei": [0.1]}),
        ("study,yi,vi\nA,0.2,0.01\n", False, {"yi": [0.2], "vi": [0.01]}),
        (
            "study,estimate,lower,upper\nA,0.5,0.25,1\n",
            True,
            {"estimate": [0.5], "lower": [0.25], "upper": [1.0]},
        ),
        (
            "study,estimate,lower,upper\nA,0.5,0.1,0.9\n",
            False,
            {"estimate": [0.5], "lower": [0.1], "upper": [0.9]},
        ),
    ],
)
def test_generic_layouts(tmp_path, text, ratio, kwargs):
    got = read_effects_csv(write(tmp_path, text), "GEN", ratio=ratio)
    expected = escalc_generic(["A"], ratio=ratio, **kwargs)
    assert got.yi[0] == pytest.approx(expected.yi[0])
    assert got.vi[0] == pytest.approx(expected.vi[0])
    assert got.transform == expected.transform


@pytest.mark.parametrize(
    ("text", "row", "column", "fragment"),
    [
        ("study,ai,bi,ci\nA,1,2,3\n", None, None, "missing column di"),
        ("study,ai,bi,ci,di\nA,1,2,3,4\nB,1,two,3,4\n", 3, "bi", "'two' is not a number"),
        ("study,ai,bi,ci,di\nA,1,2,3,4\nB,1,,3,4\n", 3, "bi", "cell is empty"),
        ("study,ai,bi,ci,di\nA,1,2,3,4\n\nB,-1,2,3,4\n", 4, "ai", "must not be negative"),
        ("study,ai,bi,ci,di\nA,1,2,3,4\nA,1,2,3,4\nA,-1,2,3,4\n", 4, "ai", "must not be negative"),
        ("study,ai,bi,ci,di\n,1,2,3,4\n", 2, "study", "study label is empty"),
        ("ai,bi,ci,di\n1,2,3,4\n", None, None, "missing column 'study'"),
        ("study,ai,bi,ci,di\n", None, None, "no studies"),
        ("", None, None, "empty"),
        ("study,ai,bi,ci,di\nA,1,2,3,4,5\n", 2, None, "more cells"),
    ],
)
def test_bad_csv_errors_name_file_row_and_column(tmp_path, text, row, column, fragment):
    path = write(tmp_path, text)
    with pytest.raises(PoolingInputError) as info:
        read_effects_csv(path, "OR")
    message = str(info.value)
    assert str(path) in message
    assert fragment in message
    assert info.value.row == row
    assert info.value.column == column
    if row is not None:
        assert f"row {row}" in message
    if column is not None:
        assert repr(column) in message


def test_generic_without_a_known_layout_lists_the_options(tmp_path):
    with pytest.raises(PoolingInputError, match="yi and sei"):
        read_effects_csv(write(tmp_path, "study,estimate,se\nA,1,2\n"), "GEN")


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(PoolingInputError, match="file not found"):
        read_effects_csv(tmp_path / "nope.csv", "OR")


def test_byte_order_mark_and_spaces_in_header_are_tolerated(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_text("\ufeffstudy, xi, ni\nA,3,10\n", encoding="utf-8")
    assert read_effects_csv(path, "PR").yi[0] == pytest.approx(0.3)
