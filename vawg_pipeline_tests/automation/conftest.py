"""Shared helpers: landing files, the real Definitions bound to temporary paths."""

import datetime as dt
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import dagster as dg
import pytest

from vawg_pipeline.definitions import defs
from vawg_pipeline.defs.resources import AlertChannel
from vawg_pipeline_tests.conftest import good_row, set_received, write_xlsx
from vawg_pipeline_tests.defs.helpers import resources_for

# Personal data planted by good_row (names, notes) and its warrant numbers (MP1000xx).
PLANTED = ("Planted", "Secret Street", "MP1000", "MP1001")


def land(root: Path, force: str, name: str, rows: list[dict], when: dt.datetime | None = None,
         writer: Callable[..., Path] = write_xlsx, **kwargs: object) -> Path:
    folder = root / "incoming" / force
    folder.mkdir(parents=True, exist_ok=True)
    path = writer(folder / name, rows, **kwargs)
    return set_received(path, when) if when else path


def all_resources(root: Path, alerts: AlertChannel | None = None
                  ) -> dict[str, dg.ConfigurableResource]:
    return {**resources_for(root), "alerts": alerts or AlertChannel()}


def tmp_defs(root: Path, alerts: AlertChannel | None = None) -> dg.Definitions:
    """The project's own Definitions (jobs, schedules, sensors) on temporary paths."""
    return dg.Definitions(
        assets=defs.assets, asset_checks=defs.asset_checks, jobs=defs.jobs,
        schedules=defs.schedules, sensors=defs.sensors, executor=defs.executor,
        resources=all_resources(root, alerts),
    )


def tree_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under a folder (empty if it does not exist)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- the real Dagster webserver (and daemon) in subprocesses ----------------------------

REPO_ROOT = Path(__file__).resolve().parents[2]  # workspace.yaml's folder, wherever CI runs
VENV_BIN = Path(sys.executable).parent
# Runs launched from the UI or GraphQL start at once (no daemon needed for them).
INSTANCE_YAML = """\
telemetry:
  enabled: false
nux:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(root: Path, home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a Dagster process: tmp paths only, no alert channel."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VAWG_", "DAGSTER_"))}
    env.update({
        "DAGSTER_HOME": str(home),
        "VAWG_INCOMING": str(root / "incoming"),
        "VAWG_WAREHOUSE": str(root / "warehouse" / "vawg.duckdb"),
        "VAWG_PUBLISHED": str(root / "published" / "vawg_published.duckdb"),
        "VAWG_FEEDBACK": str(root / "feedback"),
        "VAWG_PSEUDONYM_KEY": "webserver-test-key",
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    })
    env.update(extra or {})
    return env


def make_home(path: Path, yaml_text: str = INSTANCE_YAML) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text(yaml_text, encoding="utf-8")
    return path


@contextmanager
def dagster_process(args: list[str], env: dict[str, str], log: Path
                    ) -> Iterator[subprocess.Popen]:
    """A Dagster CLI process in its own process group, always killed afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            # The group holds the code server and any run worker it started.
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


class Webserver:
    def __init__(self, url: str, root: Path, log: Path, proc: subprocess.Popen):
        self.url, self.root, self.log, self.proc = url, root, log, proc

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.loads(response.read())
        assert "errors" not in payload, payload["errors"]
        return payload["data"]

    def wait_for_run(self, run_id: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.graphql(
                "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                {"id": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return status
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} still not finished after {timeout} s; "
                             f"webserver log: {self.log}")


def _wait_until_loaded(server: Webserver, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError("dagster-webserver exited:\n" + server.log.read_text()[-3000:])
        try:
            with urllib.request.urlopen(f"{server.url}/server_info", timeout=2) as r:
                if r.status == 200:
                    data = server.graphql("{ repositoriesOrError { "
                                          "... on RepositoryConnection { nodes { name } } } }")
                    if data["repositoriesOrError"].get("nodes"):
                        return
        except (OSError, AssertionError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"dagster-webserver not ready after {timeout} s:\n"
                         + server.log.read_text()[-3000:])


@pytest.fixture(scope="package")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webserver]:
    """``dagster-webserver -w workspace.yaml`` on 127.0.0.1, over temporary paths.

    Landing files are in place before it starts: Kent (one row to quarantine), Essex,
    and a file Surrey sent that cannot be read.
    """
    root = tmp_path_factory.mktemp("webserver")
    land(root, "kent", "Kent return.xlsx",
         [good_row(i) for i in range(8)] + [good_row(20, restriction="Maybe")])
    land(root, "essex", "essex.xlsx", [good_row(i) for i in range(5)])
    (root / "incoming" / "surrey").mkdir(parents=True)
    (root / "incoming" / "surrey" / "surrey.xlsx").write_bytes(b"not a workbook")
    home = make_home(root / "dagster_home")
    port = free_port()
    log = root / "webserver.log"
    args = [str(VENV_BIN / "dagster-webserver"), "-w", "workspace.yaml",
            "-h", "127.0.0.1", "-p", str(port)]
    with dagster_process(args, server_env(root, home), log) as proc:
        server = Webserver(f"http://127.0.0.1:{port}", root, log, proc)
        _wait_until_loaded(server)
        yield server
