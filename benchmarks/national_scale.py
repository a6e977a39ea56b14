"""National-scale benchmark: a million rows across 44 returns, against the read limit.

    .venv/bin/python benchmarks/national_scale.py                  # 1,000,000 rows
    .venv/bin/python benchmarks/national_scale.py --rows 100000 --repeats 3
    .venv/bin/python benchmarks/national_scale.py --scaling 100000,300000,1000000

Times, side by side on the same files (each measurement in a fresh process, so peak
memory is that measurement's own):
  1. read limit   just reading every file with the fastest reader (fastexcel), one
                  process, one file after another;
  2. naive path   pandas.read_excel (default engine), concatenated, written to DuckDB;
  3. full refresh vawg-pipeline's refresh job through Dagster, as the nightly schedule
                  runs it: every force, the national store, snapshot, published outputs;
  4. resubmission the Met's file replaced, then the sensor's run for that partition and
                  everything downstream (and a small force's, for the fixed overhead).
Reports medians, peak RSS (the process tree, sampled), the ratios 3/1, 2/3 and 4/3, and
rows/second per stage, as a table and as JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIG_FORCE = "metropolitan"
SMALL_FORCE = "city-of-london"
MET_SHARE = 0.2  # the Met is about a fifth of the national rows


# --- the corpus ---------------------------------------------------------------------


def force_rows(total: int) -> dict[str, int]:
    """Rows per force: the Met a fifth, the rest by headcount."""
    from vawg_pipeline.forces import load_forces

    forces = load_forces()
    others = [f for f in forces if f.code != BIG_FORCE]
    rest = total - int(total * MET_SHARE)
    weight = sum(f.approx_officers for f in others)
    rows = {f.code: max(50, round(rest * f.approx_officers / weight)) for f in others}
    rows[BIG_FORCE] = total - sum(rows.values())
    return rows


def _write_one(args: tuple[str, str, int, int]) -> str:
    import numpy as np

    from vawg_pipeline.sample.generator import write_large_return

    folder, code, n_rows, seed = args
    path = Path(folder) / code / "return.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_large_return(path, n_rows, np.random.default_rng(seed), force_code=code)
    stamp = time.mktime((2022, 5, 3, 9, 0, 0, 0, 0, -1))
    os.utime(path, (stamp, stamp))
    return str(path)


def build_corpus(workdir: Path, total: int) -> Path:
    """44 valid .xlsx returns (cached: re-used when the same size was built before)."""
    incoming = workdir / f"corpus-{total}" / "incoming"
    done = incoming.parent / "complete"
    if done.exists():
        return incoming
    sizes = force_rows(total)
    jobs = [(str(incoming), code, n, i) for i, (code, n) in enumerate(sorted(
        sizes.items(), key=lambda kv: -kv[1]))]
    print(f"writing the corpus: {total:,} rows in {len(jobs)} returns ...", flush=True)
    started = time.perf_counter()
    # A second version of the two resubmitting forces' returns (new content, same size).
    versions = incoming.parent / "versions"
    jobs += [(str(versions), code, sizes[code], 1000 + i)
             for i, code in enumerate((BIG_FORCE, SMALL_FORCE))]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(_write_one, jobs))
    done.write_text(json.dumps(sizes))
    print(f"  written in {time.perf_counter() - started:.0f} s", flush=True)
    return incoming


def corpus_files(incoming: Path) -> list[Path]:
    return sorted(incoming.glob("*/*.xlsx"))


# --- measurements (each runs in its own process) ------------------------------------


def measure_read_limit(incoming: Path) -> dict:
    import fastexcel

    rows = 0
    for path in corpus_files(incoming):
        reader = fastexcel.read_excel(str(path))
        for name in reader.sheet_names:
            # The eager load is fastexcel's fastest path (~8% faster than load_sheet +
            # to_arrow here): the limit is the fastest read there is.
            rows += reader.load_sheet_eager(name).num_rows
    return {"rows": rows}


def measure_naive(incoming: Path, workdir: Path) -> dict:
    import duckdb
    import pandas as pd

    frames = [pd.read_excel(path) for path in corpus_files(incoming)]
    frame = pd.concat(frames, ignore_index=True)
    target = workdir / "naive.duckdb"
    target.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    con.execute("CREATE TABLE cases AS SELECT * FROM frame")
    con.close()
    return {"rows": len(frame)}


def _environment(incoming: Path, state: Path) -> None:
    """The run's settings: this measurement's store and outputs, the shared instance.

    The Dagster instance (``DAGSTER_HOME``) lives beside the states and is created once
    before any timing, as on a server where the nightly run finds it already there; the
    store, published outputs and feedback are each measurement's own.
    """
    os.environ.update({
        "VAWG_INCOMING": str(incoming),
        "VAWG_WAREHOUSE": str(state / "warehouse" / "vawg.duckdb"),
        "VAWG_PUBLISHED": str(state / "published" / "vawg_published.duckdb"),
        "VAWG_FEEDBACK": str(state / "feedback"),
        "VAWG_PSEUDONYM_KEY": "benchmark-key",
        "DAGSTER_HOME": str(state.parent / "dagster_home"),
    })


def prepare_instance(workdir: Path) -> None:
    """Create the shared Dagster instance, with the settings ``vawg-pipeline`` writes.

    The package's bytecode is compiled too, as an installed package's is: with
    ``PYTHONDONTWRITEBYTECODE`` set (as in some containers), every timed process would
    otherwise compile the project's modules again (~0.1 s).
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "vawg_pipeline")],
                   check=True, cwd=REPO)
    home = workdir / "dagster_home"
    code = ("import os, sys; os.environ['DAGSTER_HOME'] = sys.argv[1]; "
            "from vawg_pipeline.cli import _instance; _instance()")
    subprocess.run([sys.executable, "-c", code, str(home)], check=True, cwd=REPO)


def _run_job(partition: str | None) -> dict:
    """The refresh job as the schedule (all forces) or the sensor (one force) runs it."""
    import dagster as dg

    from vawg_pipeline.definitions import defs
    from vawg_pipeline.defs.automation import REFRESH_JOB, all_forces_tags

    job = defs.resolve_job_def(REFRESH_JOB)
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=dg.DagsterInstance.get(),
        tags={} if partition else all_forces_tags(),
        partition_key=partition,
        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
    )
    seconds = time.perf_counter() - started
    steps: dict[str, float] = {}
    stages: dict[str, float] = {}
    seen: set[tuple[str, str | None]] = set()
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS":
            steps[event.step_key] = event.event_specific_data.duration_ms / 1000
        materialization = getattr(event.event_specific_data, "materialization", None)
        # A partition range records one materialization per partition, each with its
        # force's own stage times: summed over the partitions.
        if materialization is None or (event.step_key, materialization.partition) in seen:
            continue
        seen.add((event.step_key, materialization.partition))
        for key, value in materialization.metadata.items():
            if key.startswith("seconds per stage"):
                for stage, s in value.value.items():
                    stages[stage] = stages.get(stage, 0.0) + float(s)
    return {"success": result.success, "seconds_in_job": seconds, "steps": steps,
            "ingest_stages": stages}


def measure_refresh(incoming: Path, state: Path) -> dict:
    _environment(incoming, state)
    return _run_job(None)


def measure_resubmission(incoming: Path, state: Path, force: str) -> dict:
    """The sensor's run for ``force`` after its file changed (swapped in beforehand)."""
    _environment(incoming, state)
    return _run_job(force)


def resubmit(incoming: Path, force: str, when: float) -> None:
    """Swap the force's live return with its other version: new content, new mtime.

    Done by the harness before the timed run: writing a file is the force's work.
    """
    live = incoming / force / "return.xlsx"
    other = incoming.parent / "versions" / force / "return.xlsx"
    spare = other.with_suffix(".swap")
    os.replace(live, spare)
    os.replace(other, live)
    os.replace(spare, other)
    os.utime(live, (when, when))


# --- the harness --------------------------------------------------------------------


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * page
        except OSError:
            pass
        todo.extend(children.get(pid, []))
    return total


def run_measurement(kind: str, *args: str) -> dict:
    """Run one measurement in a fresh process; wall time and peak tree RSS around it."""
    command = [sys.executable, __file__, "--measure", kind, *args]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_bytes(process.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    stop.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"measurement {kind} failed (exit {process.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result.update({"wall_seconds": seconds, "peak_rss_bytes": peak})
    return result


def _median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def benchmark(total: int, repeats: int, naive_repeats: int, workdir: Path) -> dict:
    incoming = build_corpus(workdir, total)
    prepare_instance(workdir)
    rows = sum(json.loads((incoming.parent / "complete").read_text()).values())
    report: dict = {"rows": rows, "forces": len(corpus_files(incoming)), "repeats": repeats,
                    "cores": os.cpu_count()}

    def series(kind: str, n: int, *args: str, fresh_state: bool = False) -> list[dict]:
        out = []
        for i in range(n):
            if kind == "resubmission":
                resubmit(incoming, args[-1], time.time() - 3600 + i)
            extra = list(args)
            if fresh_state:
                state = workdir / f"state-{total}-{kind}-{i}"
                subprocess.run(["rm", "-rf", str(state)], check=True)
                extra.append(str(state))
            print(f"  {kind} {i + 1}/{n} ...", end="", flush=True)
            result = run_measurement(kind, *extra)
            print(f" {result['wall_seconds']:.1f} s", flush=True)
            out.append(result)
        return out

    read = series("read_limit", repeats, str(incoming))
    naive = series("naive", naive_repeats, str(incoming), str(workdir)) if naive_repeats \
        else []
    refresh = series("refresh", repeats, str(incoming), fresh_state=True)
    # Resubmissions run on the state the last full refresh left.
    state = workdir / f"state-{total}-refresh-{repeats - 1}"
    resubmit_big = series("resubmission", repeats, str(incoming), str(state), BIG_FORCE)
    resubmit_small = series("resubmission", repeats, str(incoming), str(state), SMALL_FORCE)

    def summary(results: list[dict]) -> dict:
        return {"median_seconds": _median(results, "wall_seconds"),
                "peak_rss_mib": max(r["peak_rss_bytes"] for r in results) / 2**20,
                "runs": [round(r["wall_seconds"], 2) for r in results]}

    report["read_limit"] = summary(read)
    report["naive"] = summary(naive) if naive else None
    report["refresh"] = summary(refresh)
    report["resubmit_met"] = summary(resubmit_big)
    report["resubmit_small_force"] = summary(resubmit_small)
    r1 = report["read_limit"]["median_seconds"]
    r3 = report["refresh"]["median_seconds"]
    report["ratios"] = {
        "refresh / read limit (target <= 1.5)": r3 / r1,
        "naive / refresh (target >= 10)": (report["naive"]["median_seconds"] / r3)
        if naive else None,
        "Met resubmission / refresh (target <= 0.5)":
            report["resubmit_met"]["median_seconds"] / r3,
    }
    # Rows per second per stage, from the median refresh run's own timings.
    middle = sorted(refresh, key=lambda r: r["wall_seconds"])[len(refresh) // 2]
    stages = dict(middle["ingest_stages"])
    for step, seconds in middle["steps"].items():
        stages[f"step {step}"] = seconds
    report["stages_seconds"] = stages
    report["rows_per_second"] = {k: rows / v for k, v in stages.items() if v > 0}
    return report


def print_report(report: dict) -> None:
    print(f"\n{report['rows']:,} rows in {report['forces']} returns, {report['cores']} cores, "
          f"median of {report['repeats']}")
    print(f"{'measurement':<34}{'median s':>10}{'peak RSS MiB':>14}  runs")
    for key, label in [("read_limit", "1 read limit (fastexcel)"),
                       ("naive", "2 naive (pandas.read_excel)"),
                       ("refresh", "3 full refresh (Dagster)"),
                       ("resubmit_met", "4 Met resubmitted"),
                       ("resubmit_small_force", "4b small force resubmitted")]:
        item = report.get(key)
        if item:
            print(f"{label:<34}{item['median_seconds']:>10.2f}{item['peak_rss_mib']:>14.0f}"
                  f"  {item['runs']}")
    print()
    for label, value in report["ratios"].items():
        if value is not None:
            print(f"{label:<50}{value:>8.2f}")
    print("\nstage (median refresh run)                 seconds      rows/s")
    for stage, seconds in report["stages_seconds"].items():
        rate = report["rows_per_second"].get(stage, 0)
        print(f"  {stage:<40}{seconds:>9.2f}{rate:>12,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-repeats", type=int, default=1,
                        help="the naive path is slow: one run by default (0 to skip)")
    parser.add_argument("--scaling", default="",
                        help="comma-separated sizes to show growth, e.g. 100000,300000,1000000")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/vawg-benchmark"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results.json")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        kind, *rest = args.measure
        paths = [Path(p) for p in rest[:2]]
        if kind == "read_limit":
            result = measure_read_limit(paths[0])
        elif kind == "naive":
            result = measure_naive(paths[0], paths[1])
        elif kind == "refresh":
            result = measure_refresh(paths[0], paths[1])
        else:
            result = measure_resubmission(paths[0], paths[1], rest[2])
        print(json.dumps(result))
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.scaling.split(",") if s] or [args.rows]
    reports = []
    for total in sizes:
        report = benchmark(total, args.repeats,
                           args.naive_repeats if total == max(sizes) else 0, args.workdir)
        print_report(report)
        reports.append(report)
    if len(reports) > 1:
        print("\ngrowth with rows:")
        for r in reports:
            print(f"  {r['rows']:>9,} rows  refresh {r['refresh']['median_seconds']:7.2f} s  "
                  f"peak {r['refresh']['peak_rss_mib']:6.0f} MiB  "
                  f"read limit {r['read_limit']['median_seconds']:6.2f} s")
    args.out.write_text(json.dumps(reports, indent=2))
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
