"""Running the real Definitions' assets against temporary folders and DuckDB files."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from vawg_pipeline.definitions import defs
from vawg_pipeline.defs.automation import all_forces_tags
from vawg_pipeline.defs.resources import (
    FeedbackFolder,
    LandingFolder,
    NationalStore,
    PublishedOutputs,
)

KEY = "integration-test-key"


def resources_for(root: Path) -> dict[str, dg.ConfigurableResource]:
    return {
        "landing": LandingFolder(path=str(root / "incoming")),
        "store": NationalStore(path=str(root / "warehouse" / "vawg.duckdb"),
                               pseudonym_key=KEY),
        "published": PublishedOutputs(path=str(root / "published" /
                                               "vawg_published.duckdb")),
        "feedback": FeedbackFolder(path=str(root / "feedback")),
    }


def run_refresh(root: Path, instance: dg.DagsterInstance | None = None,
                partition: str | None = None, selection: str | None = None
                ) -> dg.ExecuteInProcessResult:
    """Every asset and check of the refresh job, as the schedule (all forces) or the
    sensor (one force) runs them, on temporary paths."""
    tags = {} if partition else all_forces_tags()
    return dg.materialize(
        list(defs.assets or []) + list(defs.asset_checks or []),
        resources=resources_for(root),
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags=tags,
        partition_key=partition,
        raise_on_error=False,
        selection=selection,
    )
