"""Time the parsers alone (no database) on 20,000 generated records per format.

    .venv/bin/python bench/parse_bench.py [--records 20000] [--seed 20240607] [--repeat 3]

The import benchmark (`import_bench.py`) measures a whole import against a bare lxml parse; this
one isolates the parse loop so a change to the parsers (checks, caps, warnings) can be measured
before and after without PostgreSQL's share blurring it. Data: the PubMed XML and RIS files of
`import_bench.generate` (same seed, same generator), and a MEDLINE and a CSV file written from
the records parsed out of the XML, so every text format gets the same 20,000 records.

Each parser is run `--repeat` times in this process over the whole file, consuming every item;
the best wall time and its CPU time are reported (the machine is shared, so the best run is the
one least disturbed by other work).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_bench import generate  # noqa: E402

from reviewapp.literature.parsers import (  # noqa: E402
    ParsedRecord,
    parse_csv,
    parse_medline,
    parse_pubmed_xml,
    parse_ris,
)


def medline_write(records: list[ParsedRecord], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(f"PMID- {record.pmid or '1'}\n")
            fh.write(f"TI  - {record.title}\n")
            if record.abstract:
                fh.write(f"AB  - {record.abstract.replace(chr(10), ' ')}\n")
            for author in record.authors:
                fh.write(f"AU  - {author.replace(',', '')}\n")
            fh.write(f"DP  - {record.year or 2000}\n")
            fh.write(f"JT  - {record.journal}\n")
            if record.doi:
                fh.write(f"LID - {record.doi} [doi]\n")
            for term in record.mesh_terms:
                fh.write(f"MH  - {term}\n")
            fh.write("\n")


def csv_write(records: list[ParsedRecord], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Title", "Abstract", "Authors", "Year", "Journal", "DOI", "PMID"])
        for r in records:
            writer.writerow(
                [r.title, r.abstract, "; ".join(r.authors), r.year, r.journal, r.doi, r.pmid]
            )


def timed(parser, path: Path, repeat: int) -> tuple[float, float, int]:
    best = (float("inf"), 0.0, 0)
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        with path.open("rb") as fh:
            count = sum(1 for _ in parser(fh))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if wall < best[0]:
            best = (wall, cpu, count)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=20240607)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start; "
        f"{args.records} records, seed {args.seed}, best of {args.repeat}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        gen = generate(directory, records=args.records, seed=args.seed, dup_rate=1.0, ris_share=1.0)
        with gen.xml_path.open("rb") as fh:
            parsed = [item for item in parse_pubmed_xml(fh) if isinstance(item, ParsedRecord)]
        medline_path, csv_path = directory / "bench.nbib", directory / "bench.csv"
        medline_write(parsed, medline_path)
        csv_write(parsed, csv_path)
        print(f"{'format':<12} {'items':>7} {'best wall s':>12} {'cpu s':>7} {'MB':>7}")
        for name, function, path in [
            ("pubmed-xml", parse_pubmed_xml, gen.xml_path),
            ("ris", parse_ris, gen.ris_path),
            ("medline", parse_medline, medline_path),
            ("csv", parse_csv, csv_path),
        ]:
            wall, cpu, count = timed(function, path, args.repeat)
            size = path.stat().st_size / 1e6
            print(f"{name:<12} {count:>7} {wall:>12.2f} {cpu:>7.2f} {size:>7.1f}")
        print(f"load average {os.getloadavg()[0]:.2f} at the end (the machine may be shared)")


if __name__ == "__main__":
    main()
