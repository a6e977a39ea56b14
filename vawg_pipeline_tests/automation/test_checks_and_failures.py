"""Blocking checks stop what is downstream; a run failing part-way harms nothing.

Each force's rows are wholly as before or wholly replaced, and the analysts' snapshot,
the feedback workbooks and the published release stay as they were.
"""

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from vawg_pipeline.defs.automation import all_forces_tags
from vawg_pipeline.store import national
from vawg_pipeline_tests.automation.conftest import land, tmp_defs, tree_digest
from vawg_pipeline_tests.conftest import good_row

DOWNSTREAM_OF_STORE = {"analyst_snapshot", "force_feedback"}


def _run(root: Path, instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    job = tmp_defs(root).resolve_job_def("refresh")
    return job.execute_in_process(
        tags={**all_forces_tags(), "vawg/trigger": "test"}, raise_on_error=False,
        instance=instance or dg.DagsterInstance.ephemeral())


def _store_rows(root: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(root / "warehouse" / "vawg.duckdb"), read_only=True) as con:
        return {table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
                for table in ("cases", "quarantine", "submissions")}


def _outputs(root: Path) -> dict[str, dict[str, str]]:
    """Byte digests of everything analysts, forces and the public see."""
    snapshot = root / "warehouse" / national.SNAPSHOT_NAME
    return {
        "snapshot": {snapshot.name: hashlib.sha256(snapshot.read_bytes()).hexdigest()}
        if snapshot.exists() else {},
        "published": tree_digest(root / "published"),
        "feedback": tree_digest(root / "feedback"),
    }


def _materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two forces ingested and everything published once (run once per module)."""
    root = tmp_path_factory.mktemp("baseline")
    land(root, "kent", "kent-v1.xlsx", [good_row(i) for i in range(10)])
    land(root, "essex", "essex-v1.xlsx", [good_row(i) for i in range(7)])
    result = _run(root)
    assert result.success
    assert _materialized(result) >= DOWNSTREAM_OF_STORE
    # Warn-level checks flag problems without stopping anything: 42 forces sent nothing.
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["returns_are_fresh"].passed
    assert checks["returns_are_fresh"].severity == dg.AssetCheckSeverity.WARN
    assert (root / "warehouse" / national.SNAPSHOT_NAME).exists()
    return root


@pytest.fixture
def first_run(baseline: Path, tmp_path: Path) -> Path:
    """A private copy of the baseline (files keep their times and modes)."""
    root = tmp_path / "root"
    shutil.copytree(baseline, root)
    return root


def test_failing_blocking_rows_conserved_stops_everything_downstream(first_run: Path) -> None:
    root = first_run
    with duckdb.connect(str(root / "warehouse" / "vawg.duckdb")) as con:
        con.execute("UPDATE submissions SET rows_read = rows_read + 1 "
                    "WHERE force_code = 'kent'")  # a row has gone missing
    before = _outputs(root)
    result = _run(root)
    assert not result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["rows_conserved"].passed
    assert _materialized(result) & {"national_store", *DOWNSTREAM_OF_STORE} == set()
    skipped_or_absent = {"national_store", "analyst_snapshot", "force_feedback"}
    succeeded = {e.step_key for e in result.get_step_success_events()}
    assert not skipped_or_absent & succeeded
    assert _outputs(root) == before


def test_failing_blocking_store_contract_check_keeps_the_snapshot(first_run: Path) -> None:
    root = first_run
    with duckdb.connect(str(root / "warehouse" / "vawg.duckdb")) as con:
        con.execute("UPDATE cases SET vawg_category = 'not canonical' WHERE force_code = 'kent'")
    before = _outputs(root)
    result = _run(root)
    assert not result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["rows_conserved"].passed
    assert not checks["store_conforms_to_contract"].passed
    assert "national_store" in _materialized(result)
    assert _materialized(result) & DOWNSTREAM_OF_STORE == set()
    assert _outputs(root) == before


def test_a_failure_midway_through_ingestion_leaves_each_force_whole(
    first_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = first_run
    before_rows = _store_rows(root)
    before = _outputs(root)
    newer = dt.datetime(2022, 6, 1)
    land(root, "essex", "essex-v2.xlsx", [good_row(i) for i in range(3)], when=newer)
    land(root, "kent", "kent-v2.xlsx", [good_row(i) for i in range(4)], when=newer)

    real_upsert = national._upsert_submission

    def failing_upsert(con: duckdb.DuckDBPyConnection, record: dict) -> None:
        # Kent's transaction has already deleted its old rows and inserted the new ones.
        if record["force_code"] == "kent":
            raise dg.Failure("simulated fault while writing kent", allow_retries=False)
        real_upsert(con, record)

    monkeypatch.setattr(national, "_upsert_submission", failing_upsert)
    result = _run(root)
    assert not result.success
    assert [e.step_key for e in result.get_step_failure_events()] == ["force_returns"]

    after = _store_rows(root)
    by_force = {force: sorted(r[5] for r in after["submissions"] if r[0] == force
                              and r[5] == "accepted") for force in ("essex", "kent")}
    assert by_force == {"essex": ["accepted"], "kent": ["accepted"]}
    with duckdb.connect(str(root / "warehouse" / "vawg.duckdb"), read_only=True) as con:
        counts = dict(con.execute("SELECT force_code, count(*) FROM cases GROUP BY 1").fetchall())
        files = dict(con.execute("SELECT force_code, file_name FROM submissions "
                                 "WHERE status = 'accepted'").fetchall())
    # Kent wholly as before. Essex is read alongside Kent: wholly replaced if it was
    # stored before Kent's fault, else wholly as before; never a mixture.
    assert counts["kent"] == 10 and files["kent"] == "kent-v1.xlsx"
    assert (counts["essex"], files["essex"]) in {(3, "essex-v2.xlsx"), (7, "essex-v1.xlsx")}
    kent = [r for r in before_rows["cases"] if r[0] == "kent"]
    assert [r for r in after["cases"] if r[0] == "kent"] == kent
    assert _outputs(root) == before


def test_a_failing_national_store_step_is_named_and_changes_nothing(
    first_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = first_run
    before_rows, before = _store_rows(root), _outputs(root)

    def failing_sync(*args: object, **kwargs: object) -> None:
        raise dg.Failure("simulated disk fault", allow_retries=False)

    monkeypatch.setattr(national, "sync_forces", failing_sync)
    result = _run(root)
    assert not result.success
    assert [e.step_key for e in result.get_step_failure_events()] == ["national_store"]
    assert "simulated disk fault" in \
        result.get_step_failure_events()[0].step_failure_data.error.message
    assert _store_rows(root) == before_rows
    assert _outputs(root) == before


def test_a_transient_fault_is_retried_and_the_run_succeeds(
    first_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The assets' RetryPolicy: one OSError, one retry (10 s later), success."""
    root = first_run
    real_sync, calls = national.sync_forces, []

    def flaky_sync(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("transient: the file server blinked")
        real_sync(*args, **kwargs)

    monkeypatch.setattr(national, "sync_forces", flaky_sync)
    result = _run(root)
    assert result.success
    assert len(calls) == 2
    restarted = [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert [e.step_key for e in restarted] == ["national_store"]
