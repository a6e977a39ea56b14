"""A release that fails after its candidate was staged and audited finishes when the run
is re-executed from failure (as the daemon's run retries do): the new run releases what
its first attempt staged."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from vawg_pipeline.defs import publishing
from vawg_pipeline.defs.resources import NationalStore, PublishedOutputs
from vawg_pipeline_tests.publish.conftest import make_store

ROOT_ENV = "VAWG_TEST_REEXECUTION_ROOT"


def get_job() -> dg.JobDefinition:
    """The publishing steps over the test's store (rebuilt by Dagster from this module)."""
    root = Path(os.environ[ROOT_ENV])
    defs = dg.Definitions(
        assets=[publishing.published_tables, publishing.published_release],
        asset_checks=[publishing.disclosure_audit],
        jobs=[dg.define_asset_job("publish", selection=dg.AssetSelection.all(),
                                  executor_def=dg.in_process_executor)],
        resources={
            "store": NationalStore(path=str(root / "warehouse" / "vawg.duckdb"),
                                   pseudonym_key="test-key-not-secret"),
            "published": PublishedOutputs(
                path=str(root / "published" / "vawg_published.duckdb")),
        },
    )
    return defs.resolve_job_def("publish")


def test_a_release_retried_from_failure_publishes_what_was_staged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_store(tmp_path)
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    # The published folder cannot be made (a file is in its way): the release fails
    # after the candidate was staged and passed its audit.
    (tmp_path / "published").write_text("in the way")
    job = dg.reconstructable(get_job)
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        with dg.execute_job(job, instance=instance, raise_on_error=False) as first:
            assert not first.success
            failed = [e.step_key for e in first.all_events
                      if e.event_type_value == "STEP_FAILURE"]
            assert failed == ["published_release"]
            first_run = first.run_id
        (tmp_path / "published").unlink()
        options = dg.ReexecutionOptions.from_failure(first_run, instance)
        with dg.execute_job(job, instance=instance, reexecution_options=options,
                            raise_on_error=False) as retry:
            assert retry.success
            steps = {e.step_key for e in retry.all_events
                     if e.event_type_value == "STEP_SUCCESS"}
            assert steps == {"published_release"}
    assert (tmp_path / "published" / "vawg_published.duckdb").exists()
    stages = [p.name for p in (tmp_path / "warehouse" / publishing.STAGING_FOLDER).iterdir()]
    assert stages == [first_run]
