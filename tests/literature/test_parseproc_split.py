"""A large PubMed XML file parsed by two processes, one per half (reviewapp.literature.parseproc):
the importer receives exactly what one process reading the whole file gives, in file order, with
the same positions, lines, rejections and break, and falls back to one process whenever the
halves do not fit together."""

from __future__ import annotations

import pickle
from contextlib import contextmanager
from pathlib import Path

import pytest

from reviewapp.literature import parseproc, services
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.parsers import FileUnreadable, Rejection
from reviewapp.reviews.services import review_create
from tests.literature.test_import_parse_process import _import, _pubmed_file, _stored


@pytest.fixture(autouse=True)
def split_small_files(monkeypatch):
    monkeypatch.setattr(parseproc, "SPLIT_MIN_BYTES", 0)


def _in_one_process(path: Path) -> tuple[list, str]:
    """Every item before a break too (batches of one), and the break's message."""
    items, error = [], ""
    try:
        for batch in parseproc.prepared_batches(
            str(path), format="pubmed-xml", filename=path.name, batch_size=1
        ):
            items += batch
    except FileUnreadable as exc:
        error = str(exc)
    return items, error


def _in_halves(path: Path) -> tuple[list, str, int]:
    """The items, the error and how many parser processes were started."""
    items, error = [], ""
    with parseproc.batches_in_process(
        str(path), format="pubmed-xml", filename=path.name, batch_size=40
    ) as batches:
        assert isinstance(batches, parseproc.SplitBatches)
        try:
            for batch in batches:
                items += batch
        except FileUnreadable as exc:
            error = str(exc)
        started = len(batches.children.started)
    return items, error, started


def _same(one: list, halves: list) -> bool:
    # Pickled: PreparedRecord, Rejection and their fields compared whole.
    return [pickle.dumps(i) for i in one] == [pickle.dumps(i) for i in halves]


def _with_rejections(path: Path, count: int, *, crlf: bool = False) -> Path:
    """`count` articles; every 37th has no title and every 53rd an impossible year."""
    text = _pubmed_file(path, count).read_text(encoding="utf-8")
    parts = text.split("<PubmedArticle>")
    for n in range(1, len(parts)):
        if n % 37 == 0:
            start = parts[n].index("<ArticleTitle>") + len("<ArticleTitle>")
            parts[n] = parts[n][:start] + parts[n][parts[n].index("</ArticleTitle>") :]
        elif n % 53 == 0:
            parts[n] = parts[n].replace("<Year>", "<Year>1", 1)
    text = "<PubmedArticle>".join(parts)
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("crlf", [False, True], ids=["LF", "CRLF"])
def test_the_halves_give_what_one_process_gives(tmp_path, crlf):
    path = _with_rejections(tmp_path / "articles.xml", 600, crlf=crlf)
    split = parseproc.Split.find(str(path))
    assert split is not None and 0.4 < split.offset / path.stat().st_size < 0.6

    one, one_error = _in_one_process(path)
    halves, error, started = _in_halves(path)

    assert started == 2  # no fallback: the halves fitted together
    assert error == one_error == ""
    assert len(halves) == 600
    assert _same(one, halves)
    rejected = [item for item in halves if isinstance(item, Rejection)]
    # Rejections from both halves, named by their place in the whole file.
    assert [r.position for r in rejected] == sorted(
        {*range(37, 601, 37), *range(53, 601, 53)} - set(range(37 * 53, 601, 37 * 53))
    )
    last = rejected[-1]
    assert last.reason.startswith(f"record {last.position} (line {last.line}): ")
    lines = path.read_bytes().split(b"\n" if not crlf else b"\r\n")
    assert lines[last.line - 1].lstrip().startswith(b"<PubmedArticle>")


@pytest.mark.parametrize("half", ["first", "second"])
def test_a_break_in_either_half_is_reported_as_by_one_process(tmp_path, half):
    path = _pubmed_file(tmp_path / "articles.xml", 600)
    data = path.read_bytes()
    if half == "first":
        # A mismatched tag a quarter of the way in; the rest of the file is whole.
        at = data.index(b"</Volume>", len(data) // 4)
        path.write_bytes(data[:at] + b"</Issue>" + data[at:])
    else:
        # Cut three quarters of the way in, inside a record of the second half.
        path.write_bytes(data[: len(data) * 3 // 4])
    split = parseproc.Split.find(str(path))
    assert split is not None

    one, one_error = _in_one_process(path)
    halves, error, started = _in_halves(path)

    assert "the XML breaks off in record" in one_error
    assert error == one_error
    # The complete batches before the break: what one process gives, from the start. (The
    # import keeps none of them, as the break fails it.)
    assert halves and _same(one[: len(halves)], halves)
    # The first half's break is told apart from a bad cut by reading the rest in one process;
    # the second half's is reported by the second process, at the file's record and lines.
    assert started == (3 if half == "first" else 2)


def test_halves_that_do_not_fit_together_are_read_again_in_one_process(tmp_path):
    path = _pubmed_file(tmp_path / "articles.xml", 600)
    # A record start inside a comment of the first half: the second half counts one record too
    # many before it, so its positions would be wrong.
    text = path.read_text(encoding="utf-8").replace(
        "<PubmedArticle>", "<!-- <PubmedArticle> --><PubmedArticle>", 1
    )
    path.write_text(text, encoding="utf-8")

    one, one_error = _in_one_process(path)
    halves, error, started = _in_halves(path)

    assert started == 3
    assert error == one_error == ""
    assert _same(one, halves)


def test_a_file_with_nowhere_to_cut_is_read_by_one_process(tmp_path):
    path = _pubmed_file(tmp_path / "one.xml", 1)
    assert parseproc.Split.find(str(path)) is None
    with parseproc.batches_in_process(
        str(path), format="pubmed-xml", filename=path.name, batch_size=40
    ) as batches:
        assert isinstance(batches, parseproc.ProcessBatches)
        assert sum(len(batch) for batch in batches) == 1


@pytest.mark.parametrize("halves", [False, True], ids=["one process", "two halves"])
def test_the_children_are_ended_when_the_import_stops_reading(tmp_path, monkeypatch, halves):
    if not halves:
        monkeypatch.setattr(parseproc, "SPLIT_MIN_BYTES", 1 << 40)
    path = _pubmed_file(tmp_path / "articles.xml", 600)
    with parseproc.batches_in_process(
        str(path), format="pubmed-xml", filename=path.name, batch_size=2
    ) as batches:
        next(iter(batches))
        if isinstance(batches, parseproc.SplitBatches):
            processes = [process for _receiver, process in batches.children.started]
        else:
            processes = [batches.process]
    assert len(processes) == (2 if halves else 1)
    assert all(process.poll() is not None for process in processes)


def test_line_ends_are_counted_as_libxml2_counts_them(tmp_path):
    path = tmp_path / "ends.bin"
    # Chunks of 16 MiB: a CRLF and a record start across the first chunk's end.
    chunk = 16 * 1024 * 1024
    data = b"x" * (chunk - 1) + b"\r\n" + b"a\rb\nc\r\n" + b"<PubmedArt" + b"icle>"
    data = b"<PubmedArticle>" + data[len(b"<PubmedArticle>") :]
    path.write_bytes(data)
    counts = parseproc._count_in(str(path), len(data), (b"<PubmedArticle>", b"\n", b"\r", b"\r\n"))
    assert counts == [2, 3, 3, 2]
    assert parseproc._line_ends(counts[1:]) == 4


def test_an_import_read_in_halves_stores_what_one_process_stores(owner, tmp_path, monkeypatch):
    path = _with_rejections(tmp_path / "articles.xml", 1200)
    one = review_create(title="One process", slug="one-process", owner=owner)
    halves = review_create(title="Two halves", slug="two-halves", owner=owner)
    kinds = []
    real = services.batches_in_process

    @contextmanager
    def noted(*args, **kwargs):
        with real(*args, **kwargs) as batches:
            kinds.append(type(batches))
            yield batches

    monkeypatch.setattr(services, "PROCESS_MIN_BYTES", 0)
    monkeypatch.setattr(services, "batches_in_process", noted)
    monkeypatch.setattr(parseproc, "SPLIT_MIN_BYTES", 1 << 40)
    imp_one = _import(one, owner, path)
    monkeypatch.setattr(parseproc, "SPLIT_MIN_BYTES", 0)
    imp_halves = _import(halves, owner, path)

    assert kinds == [parseproc.ProcessBatches, parseproc.SplitBatches]
    assert imp_halves.status == imp_one.status == JobStatus.DONE, imp_halves.error
    counts = ("count_read", "count_imported", "count_duplicates", "count_rejected")
    assert [getattr(imp_halves, c) for c in counts] == [getattr(imp_one, c) for c in counts]
    assert imp_halves.count_rejected > 0 and imp_halves.rejections == imp_one.rejections
    # The same rows, numbers, positions and duplicate links, across the cut too.
    assert _stored(imp_halves) == _stored(imp_one)


def test_a_second_half_process_that_dies_leaves_the_rest_to_one_process(tmp_path):
    path = _with_rejections(tmp_path / "articles.xml", 600)
    one, _error = _in_one_process(path)
    items = []
    with parseproc.batches_in_process(
        str(path), format="pubmed-xml", filename=path.name, batch_size=40
    ) as batches:
        batches.second[1].kill()
        for batch in batches:
            items += batch
        started = len(batches.children.started)
    assert started == 3
    assert _same(one, items)
