"""Fuzz every parser over the real export fixtures for a fixed time (issue 16 point 2).

    .venv/bin/python bench/fuzz_parsers.py [--seconds 600] [--batch 300]

Runs the properties of tests/literature/test_parsers_fuzz.py and test_parsers_fuzz_formats.py
with random seeds (not the derandomized examples CI sees) in turns until the time is up: any
bytes into every parser; bytes after each format's start; near-valid files from each format's
grammar (RIS, MEDLINE, CSV, PubMed XML, EndNote XML, BibTeX, WoS, Ovid, Cochrane, RefWorks); and
the real fixtures mutated (cut, garbage lines inserted, lines dropped or repeated, wrong
encodings, flipped bytes). The property: records, rejections naming their record, warnings, or
FileUnreadable with a message; never another exception, never a ParserFault. Hypothesis shrinks a
failure to its smallest input, which is printed and saved under test-artifacts/fuzz/.

Prints the date, the machine, how many inputs each property ran and the failures; exits 1 on any.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.literature import test_parsers_fuzz as base  # noqa: E402
from tests.literature import test_parsers_fuzz_formats as formats  # noqa: E402

_STARTS_KEYS = [*formats.STARTS, "ris", "medline"]
# name -> (strategy, check of one drawn example, or the name of a function below)
PROPERTIES = {
    "any bytes, every parser": (st.binary(max_size=4000), "_every_parser"),
    "bytes after a format start": (
        st.tuples(st.sampled_from(sorted(_STARTS_KEYS)), st.binary(max_size=800)),
        "_after_start",
    ),
    "near-valid RIS": (base.ris_files(), lambda d: base._read(base.parse_ris, d)),
    "near-valid MEDLINE": (base.medline_files(), lambda d: base._read(base.parse_medline, d)),
    "near-valid CSV": (base.csv_files(), lambda d: base._read(base.parse_csv, d)),
    "near-valid PubMed XML": (base.pubmed_files(), lambda d: base._read(base.parse_pubmed_xml, d)),
    "near-valid EndNote XML": (
        base.endnote_files(),
        lambda d: base._read(base.parse_endnote_xml, d),
    ),
    "near-valid BibTeX": (formats.bibtex_files(), lambda d: base._read(formats.parse_bibtex, d)),
    "near-valid WoS/Ovid/Cochrane/RefWorks": (
        formats.tagged_files(),
        lambda case: base._read(formats.NEW_PARSERS[case[0]], case[1]),
    ),
    "mutated real fixtures": (formats.mutated_fixtures(), "_mutated"),
}


def _counted(check, counts: dict[str, int], name: str):
    def property_holds(example) -> None:
        counts[name] += 1
        check(example)

    return property_holds


def _every_parser(data: bytes) -> None:
    for parser in formats._PARSER_OF.values():
        base._read(parser, data)
    base._auto(data)


_STARTS = {**formats.STARTS, "ris": b"TY  - JOUR\n", "medline": b"PMID- 1\n"}


def _after_start(case: tuple[str, bytes]) -> None:
    data = _STARTS[case[0]] + case[1]
    base._read(formats._PARSER_OF[case[0]], data)
    base._auto(data)


def _mutated(case: tuple[str, bytes]) -> None:
    base._read(formats._PARSER_OF[case[0]], case[1])
    base._auto(case[1])


def run(seconds: float, batch: int) -> int:
    counts = dict.fromkeys(PROPERTIES, 0)
    failures: list[tuple[str, str]] = []
    rng = random.Random()
    deadline = time.monotonic() + seconds
    names = list(PROPERTIES)
    turn = 0
    while time.monotonic() < deadline:
        name = names[turn % len(names)]
        turn += 1
        strategy, check = PROPERTIES[name]
        if isinstance(check, str):
            check = globals()[check]

        test = settings(
            max_examples=batch,
            deadline=None,
            database=None,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
        )(given(strategy)(_counted(check, counts, name)))
        try:
            seed(rng.getrandbits(64))(test)()
        except Exception:  # noqa: BLE001 - a property failed: report it and keep fuzzing
            failures.append((name, traceback.format_exc()))
            out = ROOT / "test-artifacts" / "fuzz"
            out.mkdir(parents=True, exist_ok=True)
            (out / f"failure-{len(failures)}.txt").write_text(failures[-1][1])
    total = sum(counts.values())
    print(f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print(f"time: {seconds:.0f} s, batch {batch} examples per turn, {turn} turns")
    for name, count in counts.items():
        print(f"  {name}: {count:,} inputs")
    print(f"total: {total:,} inputs, {len(failures)} failures")
    for name, text in failures:
        print(f"--- failure in {name}:\n{text}")
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--batch", type=int, default=300)
    args = parser.parse_args()
    sys.exit(run(args.seconds, args.batch))


if __name__ == "__main__":
    main()
