"""The duplicate index alone (no parser, no database) as an import grows: work per record by tenth.

    .venv/bin/python bench/dedup_index_bench.py [--records 1000000] [--seed 20240607]

An import checks every new record against `DuplicateIndex` and files it there, so the index
grows with the file. Its fuzzy tier scores the titles of the blocks a record falls in, and the
blocks of common phrases fill up (to MAX_BLOCK) as the import goes on: this is where an
importer's time per record can grow with the file's size. The bench feeds the XML records of
`import_bench.xml_items` (same generator, seed and planted duplicates as the import benchmark,
in file order, without writing the file) through `DuplicateIndex.check` and reports, for each
tenth of the records, the CPU time per record and the titles scored per record, twice in one
run: scoring a block title by title (the reference, `SCORE_IN_ONE_CALL` set out of reach) and
as the app does. Both must give the same links.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_bench import Generator, corpus_load, machine, xml_items  # noqa: E402

from reviewapp.literature import matching  # noqa: E402
from reviewapp.literature.matching import DuplicateIndex, MatchRecord  # noqa: E402

ONE_CALL_AS_SHIPPED = matching.SCORE_IN_ONE_CALL


class _CountingFuzz:
    """rapidfuzz's fuzz with its per-title `ratio` calls counted (the one-call path passes
    `ratio` to rapidfuzz as its scorer, which then calls it once per title too)."""

    def __init__(self, real):
        self.real = real
        self.calls = 0

    def ratio(self, *args, **kwargs):
        self.calls += 1
        return self.real.ratio(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def records_of(count: int, seed: int) -> list[MatchRecord]:
    gen = Generator(seed, corpus_load())
    _, items, _ = xml_items(gen, records=count, planted_xml=round(count * 0.08))
    return [
        MatchRecord(
            position,
            article.pmid,
            article.doi,
            article.title,
            article.year,
            article.authors[0][0] if article.authors else "",
        )
        for position, (_, article, _) in enumerate(items, start=1)
    ]


def run(records: list[MatchRecord], *, one_call_from: int, count: bool) -> dict:
    """Feed every record through a fresh index; CPU per record and titles scored per tenth."""
    matching.SCORE_IN_ONE_CALL = one_call_from
    real = matching.fuzz
    counting = _CountingFuzz(real)
    if count:
        matching.fuzz = counting
    index = DuplicateIndex()
    tenth = len(records) // 10
    tenths, links = [], []
    try:
        for part in range(10):
            chunk = records[part * tenth : (part + 1) * tenth if part < 9 else len(records)]
            scored, started = counting.calls, time.process_time()
            for record in chunk:
                link = index.check(record)
                if link is not None:
                    links.append(link)
            seconds = time.process_time() - started
            tenths.append(
                {
                    "us": seconds / len(chunk) * 1e6,
                    "scored": (counting.calls - scored) / len(chunk),
                    "saturated": len(index._saturated),
                }
            )
    finally:
        matching.fuzz = real
        matching.SCORE_IN_ONE_CALL = ONE_CALL_AS_SHIPPED
    return {"tenths": tenths, "links": links}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240607)
    args = parser.parse_args()
    started = time.monotonic()
    records = records_of(args.records, args.seed)
    made = time.monotonic() - started
    # Counted separately: counting wraps every score in a Python call, which would blur the time.
    reference = run(records, one_call_from=10**12, count=False)
    shipped = run(records, one_call_from=ONE_CALL_AS_SHIPPED, count=False)
    counted = run(records, one_call_from=ONE_CALL_AS_SHIPPED, count=True)
    same = reference["links"] == shipped["links"] == counted["links"]
    m = machine()
    print(
        f"## The duplicate index as an import grows (bench/dedup_index_bench.py), {dt.date.today()}"
    )
    print()
    print(
        f"{args.records:,} generated XML records (import_bench's generator, seed {args.seed}, made "
        f"in {made:.0f} s), checked and filed in file order. Machine: {m['nproc']} CPUs, "
        f"{m['cpu']}, {m['ram_gb']} GB RAM, Python {m['python']}. CPU time per record by tenth "
        f"of the records; titles scored per record (the fuzzy tier's work); blocks saturated "
        f"(dropped at {matching.MAX_BLOCK} records) by the tenth's end."
    )
    print()
    print(
        "| tenth | title by title (reference), us/record | one call per crowded block (app), "
        "us/record | ratio | titles scored per record | blocks saturated |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for part, (ref, app, cnt) in enumerate(
        zip(reference["tenths"], shipped["tenths"], counted["tenths"], strict=True), start=1
    ):
        print(
            f"| {part} | {ref['us']:.1f} | {app['us']:.1f} | {app['us'] / ref['us']:.2f} | "
            f"{cnt['scored']:.1f} | {cnt['saturated']} |"
        )
    total_ref = sum(t["us"] for t in reference["tenths"]) / 10
    total_app = sum(t["us"] for t in shipped["tenths"]) / 10
    print()
    print(
        f"Mean over the records: reference {total_ref:.1f} us, app {total_app:.1f} us "
        f"({total_app / total_ref:.2f}x); last tenth over first: reference "
        f"{reference['tenths'][-1]['us'] / reference['tenths'][0]['us']:.2f}x, app "
        f"{shipped['tenths'][-1]['us'] / shipped['tenths'][0]['us']:.2f}x; heaviest tenth over "
        f"first: reference {max(t['us'] for t in reference['tenths']) / reference['tenths'][0]['us']:.2f}x, "
        f"app {max(t['us'] for t in shipped['tenths']) / shipped['tenths'][0]['us']:.2f}x. "
        f"Links: {len(shipped['links']):,}, the same both ways: {'yes' if same else 'NO'}."
    )
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
