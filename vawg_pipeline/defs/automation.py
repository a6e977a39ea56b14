"""Jobs, the nightly schedule and the landing-folder sensor.

The UI, the schedule, the sensor and ``vawg-pipeline refresh`` all run the same job over
the same assets: one code path.
"""


import hashlib
import json
from pathlib import Path

import dagster as dg

from vawg_pipeline.defs.ingestion import force_partitions
from vawg_pipeline.defs.resources import LandingFolder
from vawg_pipeline.forces import force_codes
from vawg_pipeline.ingest.landing import scan_landing
from vawg_pipeline.ingest.returns import file_sha256

REFRESH_JOB = "refresh"
REQUESTS_KEY = "#requests"  # in the sensor's cursor, beside the force codes
REPORTED_KEY = "#reported"  # misplaced folders and files already warned about
NIGHTLY_CRON = "0 2 * * *"  # 02:00 UK time, finished long before anyone starts work

refresh_job = dg.define_asset_job(
    REFRESH_JOB,
    selection=dg.AssetSelection.all(),
    description="Ingest every force's newest return, collate the national store, publish "
    "the analysts' snapshot and the suppressed, audited tables.",
)


def all_forces_tags() -> dict[str, str]:
    """Run tags that make one run cover every force partition (a single-run backfill)."""
    codes = force_partitions.get_partition_keys()
    return {
        "dagster/asset_partition_range_start": codes[0],
        "dagster/asset_partition_range_end": codes[-1],
    }


@dg.schedule(
    job=refresh_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="Europe/London",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly refresh of all forces, the national store and the published "
    "outputs, in one run.",
)
def nightly_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    stamp = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"nightly-{stamp}", tags={**all_forces_tags(),
                                                           "vawg/trigger": "nightly"})


@dg.sensor(
    job=refresh_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A new or changed file in a force's landing folder refreshes that force "
    "and everything downstream, once per file version.",
)
def new_return_sensor(context: dg.SensorEvaluationContext, landing: LandingFolder):
    """Cursor: force code -> SHA-256 of the newest file already requested, the number
    of runs requested so far, and the misplaced folders and files already warned about."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    requested = int(seen.pop(REQUESTS_KEY, 0))
    reported = set(seen.pop(REPORTED_KEY, []))
    scan = scan_landing(Path(landing.path), force_codes())
    # Each misplaced folder or file is reported once, when it appears, not every minute.
    for folder in scan.unknown_folders:
        if f"folder:{folder}" not in reported:
            context.log.warning(f"landing folder {folder!r} is not a force code: not ingested")
    for name in scan.stray_files:
        if f"file:{name}" not in reported:
            context.log.warning(f"{name!r} is not in a force's folder "
                                "(incoming/<force-code>/): not ingested")
    misplaced = sorted([f"folder:{f}" for f in scan.unknown_folders]
                       + [f"file:{n}" for n in scan.stray_files])
    changed: dict[str, Path] = {}
    for code, folder in scan.forces.items():
        for name, why in folder.ignored:
            context.log.info(f"{code}: ignored {name}: {why}")
        if folder.current is None:
            continue
        sha = file_sha256(folder.current)
        if seen.get(code) != sha:
            seen[code] = sha
            changed[code] = folder.current
    # A run key names the file version and the request's number: a force that sends an
    # earlier version again (v3, then v2, then the same v3 once more, even copied with
    # its old modification time) gets a run each time, where the content alone would
    # repeat an old key and Dagster would skip the run. A tick evaluated again before
    # its cursor was saved makes the same keys, and no second run.
    requested += bool(changed)
    cursor = json.dumps({**seen, REQUESTS_KEY: requested, REPORTED_KEY: misplaced},
                        sort_keys=True)
    if not changed:
        return dg.SensorResult(run_requests=[], cursor=cursor)

    def version(code: str) -> str:  # the mtime too: a reset cursor restarts the count
        return f"{seen[code][:16]}@{changed[code].stat().st_mtime_ns}#{requested}"

    if len(changed) == 1:
        code, path = next(iter(changed.items()))
        request = dg.RunRequest(
            run_key=f"{code}-{version(code)}", partition_key=code,
            tags={"vawg/trigger": "new-file", "vawg/file": path.name},
        )
    else:
        # Several forces at once (first start, a bulk copy): one run over every force
        # costs less than one run each; unchanged forces are a quick no-op in it.
        versions = ",".join(f"{c}:{version(c)}" for c in sorted(changed))
        request = dg.RunRequest(
            run_key=f"bulk-{hashlib.sha256(versions.encode()).hexdigest()[:16]}",
            tags={**all_forces_tags(), "vawg/trigger": "new-files",
                  "vawg/forces": ",".join(sorted(changed))[:1000]},
        )
    context.log.info(f"new files from: {', '.join(sorted(changed))}")
    return dg.SensorResult(run_requests=[request], cursor=cursor)
