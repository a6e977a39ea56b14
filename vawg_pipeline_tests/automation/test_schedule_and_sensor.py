"""The nightly schedule and the landing-folder sensor, evaluated as the daemon would."""

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from vawg_pipeline.defs.automation import NIGHTLY_CRON, new_return_sensor, nightly_refresh
from vawg_pipeline.defs.ingestion import force_partitions
from vawg_pipeline.defs.resources import LandingFolder
from vawg_pipeline.forces import force_codes
from vawg_pipeline_tests.automation.conftest import land, tmp_defs
from vawg_pipeline_tests.conftest import good_row, set_received

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def test_nightly_schedule_covers_every_force_in_one_run_request() -> None:
    assert nightly_refresh.cron_schedule == NIGHTLY_CRON
    assert nightly_refresh.execution_timezone == "Europe/London"
    assert nightly_refresh.default_status == dg.DefaultScheduleStatus.RUNNING
    when = dt.datetime(2024, 3, 31, 2, 0, tzinfo=ZoneInfo("Europe/London"))  # clocks change
    context = dg.build_schedule_context(scheduled_execution_time=when)
    request = nightly_refresh(context)
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == "nightly-2024-03-31"
    codes = force_partitions.get_partition_keys()
    assert codes == force_codes() and len(codes) == 44
    # The range runs from the first to the last partition key: every force.
    assert request.tags[RANGE_START] == codes[0]
    assert request.tags[RANGE_END] == codes[-1]
    assert codes.index(request.tags[RANGE_END]) - codes.index(request.tags[RANGE_START]) \
        == len(codes) - 1


def test_the_schedules_tags_materialize_every_partition_in_one_run(tmp_path: Path) -> None:
    land(tmp_path, "kent", "kent.xlsx", [good_row(i) for i in range(5)])
    land(tmp_path, "essex", "essex.xlsx", [good_row(i) for i in range(3)])
    request = nightly_refresh(dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2024, 5, 1, 2, 0, tzinfo=dt.UTC)))
    instance = dg.DagsterInstance.ephemeral()
    job = tmp_defs(tmp_path).resolve_job_def("refresh")
    result = job.execute_in_process(instance=instance, tags=request.tags)
    assert result.success
    runs = instance.get_runs()
    assert len(runs) == 1
    materialized = instance.get_materialized_partitions(dg.AssetKey("force_returns"))
    assert materialized == set(force_codes())
    # Everything downstream ran in that same run.
    keys = {e.asset_key for e in result.get_asset_materialization_events()}
    assert {dg.AssetKey("national_store"), dg.AssetKey("analyst_snapshot"),
            dg.AssetKey("force_feedback")} <= keys


def _evaluate(root: Path, cursor: str | None) -> dg.SensorResult:
    """One tick with a fresh context, as after a daemon restart: only the cursor survives."""
    context = dg.build_sensor_context(
        cursor=cursor, resources={"landing": LandingFolder(path=str(root / "incoming"))})
    return new_return_sensor(context)


def test_sensor_requests_a_force_once_per_file_version(tmp_path: Path) -> None:
    (tmp_path / "incoming").mkdir()
    first = _evaluate(tmp_path, None)
    assert first.run_requests == []

    land(tmp_path, "kent", "Return v1.xlsx", [good_row(i) for i in range(3)])
    result = _evaluate(tmp_path, first.cursor)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.partition_key == "kent"
    assert request.tags["vawg/file"] == "Return v1.xlsx"
    assert RANGE_START not in request.tags
    cursor = result.cursor
    assert json.loads(cursor)["#requests"] == 1
    assert set(json.loads(cursor)) == {"kent", "#requests", "#reported"}

    # Same file, next tick (new context, the stored cursor): nothing to do.
    again = _evaluate(tmp_path, cursor)
    assert again.run_requests == []
    assert again.cursor == cursor

    # A lock file appearing (someone opened the workbook) is not a new return.
    (tmp_path / "incoming" / "kent" / "~$Return v1.xlsx").write_bytes(b"lock")
    (tmp_path / "incoming" / "kent" / ".~lock.Return v1.xlsx#").write_bytes(b"lock")
    assert _evaluate(tmp_path, cursor).run_requests == []

    # Changed content (the same name re-saved, newer): a new request, a new run key.
    land(tmp_path, "kent", "Return v1.xlsx", [good_row(i) for i in range(4)],
         when=dt.datetime(2022, 6, 1))
    changed = _evaluate(tmp_path, cursor)
    assert len(changed.run_requests) == 1
    assert changed.run_requests[0].partition_key == "kent"
    assert changed.run_requests[0].run_key != request.run_key
    assert _evaluate(tmp_path, changed.cursor).run_requests == []


def test_an_earlier_version_sent_again_gets_a_run_of_its_own(tmp_path: Path) -> None:
    """v3, then v2 again, then v3 again: three runs. Keyed on content alone, the third
    would repeat the first's run key and Dagster would skip it."""
    (tmp_path / "incoming").mkdir()
    cursor = _evaluate(tmp_path, None).cursor
    keys = []
    v3 = land(tmp_path, "kent", "v3.xlsx", [good_row(i) for i in range(3)],
              when=dt.datetime(2022, 6, 1))
    v3_bytes = v3.read_bytes()
    for step in ("v3", "v2", "v3 again"):
        if step == "v2":
            land(tmp_path, "kent", "v2.xlsx", [good_row(i) for i in range(2)],
                 when=dt.datetime(2022, 6, 2))
        elif step == "v3 again":  # the very same bytes and time (cp -p), the newest file
            v3.write_bytes(v3_bytes)
            set_received(v3, dt.datetime(2022, 6, 1))
            set_received(tmp_path / "incoming" / "kent" / "v2.xlsx",
                         dt.datetime(2022, 5, 31))
        result = _evaluate(tmp_path, cursor)
        assert [r.partition_key for r in result.run_requests] == ["kent"], step
        keys.append(result.run_requests[0].run_key)
        cursor = result.cursor
    assert len(set(keys)) == 3


def test_sensor_batches_several_forces_into_one_all_forces_run(tmp_path: Path) -> None:
    for force in ("kent", "essex", "surrey"):
        land(tmp_path, force, f"{force}.xlsx", [good_row(1)])
    result = _evaluate(tmp_path, None)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.partition_key is None
    assert request.tags[RANGE_START] == force_codes()[0]
    assert request.tags[RANGE_END] == force_codes()[-1]
    assert request.tags["vawg/forces"] == "essex,kent,surrey"
    assert _evaluate(tmp_path, result.cursor).run_requests == []


def test_sensor_logs_unknown_folders_and_requests_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    land(tmp_path, "not-a-force", "return.xlsx", [good_row(1)])
    (tmp_path / "incoming" / "kent").mkdir()
    (tmp_path / "incoming" / "kent" / "~$return.xlsx").write_bytes(b"lock")
    (tmp_path / "incoming" / "stray.xlsx").write_bytes(b"no force folder")
    result = _evaluate(tmp_path, None)
    assert result.run_requests == []
    assert json.loads(result.cursor) == {"#requests": 0, "#reported": [
        "file:stray.xlsx", "folder:not-a-force"]}
    text = "".join(capfd.readouterr())  # the sensor's log goes to the daemon's console
    assert "'not-a-force' is not a force code" in text
    assert "ignored ~$return.xlsx" in text and "lock file" in text
    assert "'stray.xlsx' is not in a force's folder" in text
    # The next tick does not warn again; a new misplaced file is warned about.
    (tmp_path / "incoming" / "other.xlsx").write_bytes(b"no force folder")
    _evaluate(tmp_path, result.cursor)
    text = "".join(capfd.readouterr())
    assert "'other.xlsx' is not in a force's folder" in text
    assert "not-a-force" not in text and "stray.xlsx" not in text


def test_a_sensor_request_runs_that_force_and_everything_downstream(tmp_path: Path) -> None:
    land(tmp_path, "kent", "kent.xlsx", [good_row(i) for i in range(5)])
    request = _evaluate(tmp_path, None).run_requests[0]
    instance = dg.DagsterInstance.ephemeral()
    job = tmp_defs(tmp_path).resolve_job_def("refresh")
    result = job.execute_in_process(instance=instance, partition_key=request.partition_key,
                                    tags=request.tags)
    assert result.success
    assert instance.get_materialized_partitions(dg.AssetKey("force_returns")) == {"kent"}
    keys = {e.asset_key for e in result.get_asset_materialization_events()}
    assert {dg.AssetKey("national_store"), dg.AssetKey("analyst_snapshot"),
            dg.AssetKey("force_feedback")} <= keys
