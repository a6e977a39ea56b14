"""``vawg-pipeline``: the same Dagster job the UI and the nightly schedule run, headless.

    vawg-pipeline refresh [--strict] [--with-sample]   ingest, collate, publish
    vawg-pipeline sample --out DIR [--seed N]         write realistic sample returns
    vawg-pipeline withdraw FORCE                      remove a force's rows, then refresh
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from pathlib import Path

DEFAULT_DAGSTER_HOME = "data/dagster_home"


# The Dagster instance's settings (dagster.yaml), also in the repository's
# data/dagster_home/ so that `dagster dev` started first has them too.
INSTANCE_SETTINGS = (
    "telemetry:\n  enabled: false\n"
    # Runs whose worker dies (OOM, host restart) are retried by the daemon; a step's own
    # failure is retried by the assets' RetryPolicy, not the whole run.
    "run_retries:\n  enabled: true\n  max_retries: 2\n"
    "  retry_on_asset_or_op_failure: false\n"
    # One writer at a time per pool (vawg_warehouse, vawg_published).
    "concurrency:\n  pools:\n    default_limit: 1\n"
)


def _instance():
    """The Dagster instance: DAGSTER_HOME if set, else a persistent local one in data/."""
    import dagster as dg

    from vawg_pipeline.privacy import make_owner_only_dir

    home = os.environ.get("DAGSTER_HOME")
    if not home:
        home = str(Path(DEFAULT_DAGSTER_HOME).resolve())
        os.environ["DAGSTER_HOME"] = home
    # Owner-only, also when it came from a clone (0755): the event log is not for all. A
    # shared home owned by someone else keeps its mode.
    with contextlib.suppress(PermissionError):
        make_owner_only_dir(Path(home))
    if not (Path(home) / "dagster.yaml").exists():
        (Path(home) / "dagster.yaml").write_text(INSTANCE_SETTINGS, encoding="utf-8")
    return dg.DagsterInstance.get()


def _resources():
    from vawg_pipeline.definitions import defs

    # Resolve EnvVar-configured fields, as a run would, for use outside a run.
    resolved = {name: resource.process_config_and_initialize()
                for name, resource in defs.resources.items()}
    return defs, resolved


def run_refresh(strict: bool = False) -> int:
    """Run the refresh job over every force in one run; print a summary."""
    from vawg_pipeline.defs.automation import REFRESH_JOB, all_forces_tags

    defs, resources = _resources()
    job = defs.resolve_job_def(REFRESH_JOB)
    result = job.execute_in_process(
        instance=_instance(), tags={**all_forces_tags(), "vawg/trigger": "cli"},
        raise_on_error=False,
        # The full event log is in the instance (and the UI); the console gets warnings.
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    refused = print_summary(resources)
    if not result.success:
        failed = [e for e in result.all_events if e.is_step_failure]
        for event in failed:
            error = event.step_failure_data.error if event.step_failure_data else None
            message = error.message.strip() if error else ""
            print(f"FAILED step {event.step_key}: {message}", file=sys.stderr)
        print("The run failed; the store, snapshot and published release are as they were "
              "before the failing step.", file=sys.stderr)
        return 1
    if refused and strict:
        print(f"--strict: {len(refused)} force(s) have a refused newest file", file=sys.stderr)
        return 2
    return 0


def print_summary(resources) -> list[str]:
    """Print where everything is and what happened; return forces with a refused file."""
    from vawg_pipeline.store import queries
    from vawg_pipeline.store.national import SNAPSHOT_NAME

    store = resources["store"]
    if not store.store_path().exists():
        print("No national store was written.")
        return []
    with store.reader() as con:
        accepted = con.execute(
            "SELECT count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_stored), 0), "
            "coalesce(sum(rows_quarantined), 0) FROM submissions WHERE status = 'accepted'"
        ).fetchone()
        refused = queries.refused_newest(con)
        forces = con.execute("SELECT count(*) FROM forces").fetchone()[0]
    print("vawg-pipeline refresh")
    print(f"  forces with an accepted return: {accepted[0]} of {forces}")
    print(f"  rows read {accepted[1]}, stored {accepted[2]}, quarantined {accepted[3]}")
    print(f"  forces whose newest file was refused: {len(refused)}")
    for row in refused.itertuples():
        print(f"    {row.force_code}: {row.error or row.file_name}")
    print(f"  national store:    {store.store_path().resolve()}")
    snapshot = store.store_path().with_name(SNAPSHOT_NAME)
    if snapshot.exists():
        print(f"  analysts' snapshot: {snapshot.resolve()}")
    published = resources.get("published")
    if published is not None and published.published_path().exists():
        print(f"  published outputs: {published.published_path().resolve()}")
    feedback = resources.get("feedback")
    if feedback is not None and feedback.root().exists():
        print(f"  force feedback:    {feedback.root().resolve()}")
    return sorted(set(refused["force_code"]))


def write_sample(out: Path, seed: int, scale: float) -> None:
    from vawg_pipeline.sample.generator import write_sample_returns

    manifest = write_sample_returns(Path(out), seed=seed, scale=scale)
    print(f"Wrote sample returns for {len(manifest.forces)} forces to {Path(out).resolve()}")


def _landing_has_returns(root: Path) -> bool:
    return root.is_dir() and any(p.is_file() for p in root.rglob("*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vawg-pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    refresh = commands.add_parser("refresh", help="ingest, collate and publish (one run)")
    refresh.add_argument("--strict", action="store_true",
                         help="exit non-zero when a force's newest file was refused")
    refresh.add_argument("--with-sample", action="store_true",
                         help="first write sample returns if the landing folder is empty")
    sample = commands.add_parser("sample", help="write realistic sample returns")
    sample.add_argument("--out", type=Path, required=True)
    sample.add_argument("--seed", type=int, default=2021)
    sample.add_argument("--scale", type=float, default=1.0)
    withdraw = commands.add_parser("withdraw", help="remove a force's return, then refresh")
    withdraw.add_argument("force")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", module="dagster")  # beta/preview notices

    if args.command == "sample":
        write_sample(args.out, args.seed, args.scale)
        return 0
    if args.command == "refresh":
        if args.with_sample:
            _, resources = _resources()
            landing = resources["landing"].root()
            if not _landing_has_returns(landing):
                write_sample(landing, 2021, 1.0)
        return run_refresh(strict=args.strict)
    if args.command == "withdraw":
        from vawg_pipeline.forces import force_by_code
        from vawg_pipeline.store import national

        try:
            force_by_code(args.force)
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 2
        _, resources = _resources()
        with resources["store"].connection() as con:
            removed = national.withdraw_force(con, args.force)
        print(f"Withdrew {args.force}: {removed} rows removed from the national store.")
        return run_refresh()
    return 2


if __name__ == "__main__":
    sys.exit(main())
