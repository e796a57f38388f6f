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


ANTIHISTAMINES = NSAIDS.with_name("Cohen_2006_Antihistamines.csv")


def _folder_of_small_sets(tmp_path, n=120):
    """The first ``n`` records of each Cohen fixture, in a folder of their own."""
    folder = tmp_path / "sets"
    folder.mkdir()
    for source in (NSAIDS, ANTIHISTAMINES):
        with open(source, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))[:n]
        with open(folder / source.name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(("title", "abstract", "label_included"))
            writer.writerows((r["title"], r["abstract"], r["label_included"]) for r in rows)
    (folder / "notes.txt").write_text("not a labelled set")
    return folder


def test_folder_with_seeds_prints_a_row_per_set_and_each_rule(tmp_path):
    folder = _folder_of_small_sets(tmp_path)
    out = _run(folder, "--seeds", 2)
    assert "seeds 0..1" in out
    for name in ("Cohen_2006_NSAIDS", "Cohen_2006_Antihistamines"):
        row = re.search(rf"^\| {name} \| 120 \((\d+)\) \| 2 \| (.*) \|$", out, re.MULTILINE)
        assert row, out
        assert re.fullmatch(r"[\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+", row[2])
        for label in ("oracle (first 95% recall)", "Callaghan & Müller-Hansen test", "knee"):
            assert re.search(rf"^\| {name} \| {re.escape(label)}[^|]* \| \d+ \| ", out, re.M)
    assert "mean over datasets" in out


def test_folder_json_has_one_run_per_set_and_seed_with_the_same_priors_per_seed(tmp_path):
    folder = _folder_of_small_sets(tmp_path)
    runs = json.loads(_run(folder, "--seeds", 2, "--seed", 3, "--json"))
    assert [(r["dataset"], r["seed"]) for r in runs] == [
        ("Cohen_2006_Antihistamines", 3),
        ("Cohen_2006_Antihistamines", 4),
        ("Cohen_2006_NSAIDS", 3),
        ("Cohen_2006_NSAIDS", 4),
    ]
    for run in runs:
        labels = {}
        with open(folder / f"{run['dataset']}.csv", newline="", encoding="utf-8") as handle:
            labels = [int(r["label_included"]) for r in csv.DictReader(handle)]
        include, exclude = run["priors"]
        assert (labels[include], labels[exclude]) == (1, 0)
        assert run["order"][:2] == run["priors"]
        assert sorted(run["order"]) == list(range(120))
        # Recall can only grow with the share screened; every rule stops inside the review.
        assert run["recall10"] <= run["recall25"] <= 1
        assert set(run["stops"]) >= {"oracle", "cmh", "knee", "budget", "target"}
        for screened, recall in run["stops"].values():
            assert 1 <= screened <= 120 and 0 <= recall <= 1
    # The priors come from the seed alone, so a rerun draws the same rows.
    again = json.loads(_run(folder, "--seeds", 1, "--seed", 3, "--json"))
    assert again[0]["priors"] == runs[0]["priors"]


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_is_written_in_the_format_its_name_gives(tmp_path, suffix):
    folder = _folder_of_small_sets(tmp_path, n=80)
    plot = tmp_path / f"curves{suffix}"
    out = _run(folder, "--seeds", 1, "--plot", plot)
    assert f"plot written to {plot}" in out
    head = plot.read_bytes()[:200]
    if suffix == ".png":
        assert head.startswith(b"\x89PNG")
    else:
        assert b"<svg" in plot.read_bytes() and b"Cohen_2006_NSAIDS" in plot.read_bytes()


def test_plot_of_another_format_is_refused_before_simulating(tmp_path):
    with pytest.raises(CommandError, match=r"--plot curves\.pdf: give a file ending in \.png"):
        _run(NSAIDS, "--seeds", 1, "--plot", "curves.pdf")


def test_prior_rows_with_a_folder_are_refused(tmp_path):
    folder = _folder_of_small_sets(tmp_path, n=20)
    with pytest.raises(CommandError, match="--prior-idx names rows of one file"):
        _run(folder, "--prior-idx", 0, 1)


def test_empty_folder_is_named(tmp_path):
    with pytest.raises(CommandError, match="no .csv files in this folder"):
        _run(tmp_path, "--seeds", 1)


def test_set_without_an_include_is_named(tmp_path):
    path = _small_csv(tmp_path, [("cats", "purr", 0), ("dogs", "bark", 0)])
    with pytest.raises(CommandError, match=r"review\.csv: need at least one include"):
        _run(path, "--seeds", 1)


def test_plain_command_line_runs_without_django(tmp_path):
    # python -m reviewapp.screening.ranking: the same table, no settings needed.
    import subprocess
    import sys

    folder = _folder_of_small_sets(tmp_path, n=60)
    done = subprocess.run(
        [sys.executable, "-m", "reviewapp.screening.ranking", str(folder), "--seeds", "1"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert "| Cohen_2006_NSAIDS | 60 (" in done.stdout
