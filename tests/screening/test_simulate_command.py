"""``manage.py simulate_screening``: JSON output and the errors it names."""

import csv
import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

NSAIDS = Path(__file__).resolve().parent.parent / "fixtures" / "labelled" / "Cohen_2006_NSAIDS.csv"


def _run(*args):
    out = StringIO()
    call_command("simulate_screening", *map(str, args), stdout=out)
    return out.getvalue()


def _small_csv(tmp_path, rows, fieldnames=("title", "abstract", "label_included")):
    path = tmp_path / "review.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(fieldnames)
        writer.writerows(rows)
    return path


def test_json_has_every_row_once_priors_first_and_the_metrics(tmp_path):
    # The first 150 records of Cohen's NSAIDS review (row 10 is an include, row 0 an exclude).
    with open(NSAIDS, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:150]
    path = _small_csv(tmp_path, [(r["title"], r["abstract"], r["label_included"]) for r in rows])
    result = json.loads(_run(path, "--prior-idx", 10, 0, "--seed", 2, "--json"))
    assert result["order"][:2] == [10, 0]
    assert sorted(result["order"]) == list(range(150))
    assert 0 < result["wss95"] <= 1
    assert 0 < result["rrf10"] <= 1
    assert result["seconds"] > 0
    assert result["preset"] == "elas_u4"


def test_plain_output_names_the_metrics(tmp_path):
    path = _small_csv(
        tmp_path, [("cats purr", "", 1), ("dogs bark", "", 0), ("cats nap", "", 1), ("dogs", "", 0)]
    )
    out = _run(path, "--prior-idx", 0, 1, "--preset", "nb")
    assert "WSS@95" in out
    assert "order: 0 1 2 3" in out
    # Every stopping rule is named with where it stops; the oracle is the first 95% recall
    # (both includes, the second at record 3).
    assert re.search(r"oracle \(first 95% recall\) +stops after +3 records, recall 1\.000", out)
    for name in ("Callaghan & Müller-Hansen test", "rank then random sample", "knee", "target"):
        assert name in out


def test_included_column_is_accepted(tmp_path):
    path = _small_csv(
        tmp_path,
        [("cats", "purr", 1), ("dogs", "bark", 0), ("cats", "nap", 1)],
        fieldnames=("title", "abstract", "included"),
    )
    assert json.loads(_run(path, "--prior-idx", 0, 1, "--json"))["order"] == [0, 1, 2]


def test_missing_column_is_named(tmp_path):
    path = _small_csv(tmp_path, [("cats", 1)], fieldnames=("title", "label_included"))
    with pytest.raises(CommandError, match=r"review\.csv: missing column\(s\) abstract"):
        _run(path, "--prior-idx", 0)


def test_missing_label_column_is_named(tmp_path):
    path = _small_csv(tmp_path, [("cats", "purr")], fieldnames=("title", "abstract"))
    with pytest.raises(CommandError, match="missing label column.*label_included"):
        _run(path, "--prior-idx", 0)


def test_label_other_than_0_or_1_names_row_and_column(tmp_path):
    path = _small_csv(tmp_path, [("cats", "purr", 1), ("dogs", "bark", "yes")])
    with pytest.raises(CommandError, match=r"row 1 \(line 3\), column label_included.*'yes'"):
        _run(path, "--prior-idx", 0)


def test_prior_row_out_of_range_is_named(tmp_path):
    path = _small_csv(tmp_path, [("cats", "purr", 1), ("dogs", "bark", 0)])
    with pytest.raises(
        CommandError, match=r"review\.csv: prior row 2 is out of range; rows are 0..1"
    ):
        _run(path, "--prior-idx", 0, 2)


@pytest.mark.parametrize(("priors", "missing"), [((0, 2), "exclude"), ((1,), "include")])
def test_priors_without_an_include_and_an_exclude_are_refused(tmp_path, priors, missing):
    path = _small_csv(tmp_path, [("cats", "purr", 1), ("dogs", "bark", 0), ("cats", "nap", 1)])
    with pytest.raises(CommandError, match=f"hold no {missing}"):
        _run(path, "--prior-idx", *priors)


def test_unreadable_file_is_named(tmp_path):
    with pytest.raises(CommandError, match="nothing.csv: cannot read"):
        _run(tmp_path / "nothing.csv", "--prior-idx", 0)
