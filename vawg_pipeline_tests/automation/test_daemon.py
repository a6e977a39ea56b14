"""The real ``dagster-daemon``: a new file starts a run on its own, a failure alerts.

No UI, no test code between the file landing and the notice: the daemon's sensor sees
the file and launches the refresh of that force; the run fails at the analysts'
snapshot (its path is blocked by a folder); the run-failure sensor posts the notice to a
local webhook and mails it to a local SMTP server.
"""

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import dagster as dg

from vawg_pipeline.store import national
from vawg_pipeline_tests.automation.conftest import (
    INSTANCE_YAML,
    PLANTED,
    VENV_BIN,
    dagster_process,
    land,
    make_home,
    server_env,
)
from vawg_pipeline_tests.automation.receivers import smtp_receiver, webhook_receiver
from vawg_pipeline_tests.conftest import good_row

T = TypeVar("T")

# The instance the CLI writes, plus run retries for crashed run workers (not for a
# step's own failure: the assets' RetryPolicy handles those).
DAEMON_YAML = INSTANCE_YAML + """\
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
"""


def _wait(predicate: Callable[[], T], timeout: float, what: str, log: Path) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} not seen after {timeout} s; daemon log:\n"
                         + log.read_text(errors="replace")[-4000:])


def test_daemon_sensor_runs_a_new_file_and_a_failure_is_alerted(tmp_path: Path) -> None:
    land(tmp_path, "kent", "Kent return.xlsx", [good_row(i) for i in range(6)])
    blocker = tmp_path / "warehouse" / national.SNAPSHOT_NAME
    blocker.mkdir(parents=True)  # a folder where the snapshot file must go
    (blocker / "keep").write_text("x")
    home = make_home(tmp_path / "dagster_home", DAEMON_YAML)
    log = tmp_path / "daemon.log"
    # Create the instance's SQLite storages now: two processes creating them at once race.
    instance = dg.DagsterInstance.from_config(str(home))
    assert instance.get_runs() == []

    with webhook_receiver() as (url, hook), smtp_receiver() as (port, smtp):
        env = server_env(tmp_path, home, {
            "VAWG_ALERT_WEBHOOK": url, "VAWG_ALERT_EMAIL": "psd-data@example.org",
            "VAWG_SMTP_HOST": "127.0.0.1", "VAWG_SMTP_PORT": str(port),
        })
        args = [str(VENV_BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"]
        # The daemon also runs the schedules: should the test span 07:30 (or 02:00) UK
        # time, the daily notice (or nightly run) comes too. Only the sensor's run and
        # its failure notice are looked for.
        with dagster_process(args, env, log):
            finished = _wait(lambda: [r for r in instance.get_runs()
                                      if r.is_finished and r.job_name == "refresh"
                                      and r.tags.get("vawg/trigger") == "new-file"],
                             90, "a finished run", log)
            run_id = finished[0].run_id
            failure_posts = _wait(lambda: [
                p for p in hook.posts if p["json"].get("kind") == "run_failure"
                and p["json"]["facts"].get("run_id") == run_id], 60, "its failure notice", log)
            failure_mails = _wait(lambda: [m for m in smtp.mails if "failed" in m["Subject"]],
                                  10, "a run-failure e-mail", log)

    (run,) = finished
    assert run.job_name == "refresh"
    assert run.tags["vawg/trigger"] == "new-file"
    assert run.tags["dagster/partition"] == "kent"
    assert run.tags["vawg/file"] == "Kent return.xlsx"
    assert run.status == dg.DagsterRunStatus.FAILURE
    # The steps before the failure did their work: Kent is in the store.
    assert instance.get_materialized_partitions(dg.AssetKey("force_returns")) == {"kent"}
    assert instance.get_latest_materialization_event(dg.AssetKey("national_store"))

    body = failure_posts[0]["json"]
    assert body["facts"]["run_id"] == run.run_id
    assert body["facts"]["failed_steps"] == ["analyst_snapshot"]
    assert body["facts"]["forces"] == "kent"
    assert failure_mails[0]["Subject"] == "[vawg-pipeline] run of refresh failed"
    sent = str(hook.posts) + failure_mails[0].as_string()
    assert not any(planted in sent for planted in PLANTED)
