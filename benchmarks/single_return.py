"""One big return, stage by stage: reading, normalising, validating, storing.

    .venv/bin/python benchmarks/single_return.py --rows 100000 --repeats 3

Writes one valid .xlsx return (cached), then ingests it into a fresh national store
several times and reports the median seconds and rows/second of each stage.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from vawg_pipeline.ingest.returns import ingest_return
from vawg_pipeline.privacy import PseudonymKey
from vawg_pipeline.sample.generator import write_large_return
from vawg_pipeline.store import national


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/vawg-benchmark"))
    args = parser.parse_args()

    path = args.workdir / f"single-{args.rows}" / "return.xlsx"
    if not path.exists():
        print(f"writing a {args.rows:,}-row return ...", flush=True)
        write_large_return(path, args.rows, np.random.default_rng(1))
    key = PseudonymKey(b"benchmark-key")
    runs: list[dict[str, float]] = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = ingest_return(path, "metropolitan", key)
        stages = dict(result.seconds)
        with tempfile.TemporaryDirectory() as tmp:
            con = national.open_store(Path(tmp) / "vawg.duckdb", key)
            before = time.perf_counter()
            national.replace_force_return(con, result)
            con.close()
            stages["store"] = time.perf_counter() - before
        stages["total"] = time.perf_counter() - started
        runs.append(stages)
    rows = result.rows_read
    print(f"{rows:,} rows of .xlsx, median of {args.repeats}")
    print(f"{'stage':<14}{'seconds':>9}{'rows/s':>12}")
    for stage in runs[0]:
        seconds = statistics.median(r[stage] for r in runs)
        print(f"{stage:<14}{seconds:>9.2f}{rows / seconds:>12,.0f}")


if __name__ == "__main__":
    main()
