"""Shared helpers: landing files, the real Definitions bound to temporary paths."""

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from vawg_pipeline.definitions import defs
from vawg_pipeline.defs.resources import AlertChannel
from vawg_pipeline_tests.conftest import set_received, write_xlsx
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
