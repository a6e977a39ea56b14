"""The Dagster assets end to end: real files in, a real DuckDB store out."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb

from vawg_pipeline_tests.conftest import good_row, set_received, write_csv, write_xlsx
from vawg_pipeline_tests.defs.helpers import run_refresh


def _land(root: Path, force: str, name: str, rows, writer=write_xlsx, **kwargs) -> Path:
    folder = root / "incoming" / force
    folder.mkdir(parents=True, exist_ok=True)
    return writer(folder / name, rows, **kwargs)


def _store(root: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(root / "warehouse" / "vawg.duckdb"), read_only=True)


def _metadata_text(result: dg.ExecuteInProcessResult) -> str:
    parts = []
    for event in result.all_events:
        parts.append(event.message or "")
        data = event.event_specific_data
        materialization = getattr(data, "materialization", None)
        if materialization is not None:
            parts.append(repr(materialization.metadata))
        evaluation = getattr(data, "metadata", None)
        if evaluation is not None:
            parts.append(repr(evaluation))
    return "\n".join(parts)


def test_refresh_ingests_forces_and_refuses_a_broken_file(tmp_path: Path) -> None:
    _land(tmp_path, "kent", "Return v3 FINAL (2).xlsx",
          [good_row(i) for i in range(12)] + [good_row(50, restriction="Maybe")],
          title_rows=2)
    _land(tmp_path, "essex", "essex.csv", [good_row(i) for i in range(7)],
          writer=write_csv, encoding="cp1252")
    broken = tmp_path / "incoming" / "surrey" / "return.xlsx"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"PK\x03\x04 truncated")
    set_received(broken)
    (tmp_path / "incoming" / "kent" / "~$Return v3 FINAL (2).xlsx").write_bytes(b"lock")
    (tmp_path / "incoming" / "not-a-force").mkdir()

    result = run_refresh(tmp_path)
    assert result.success
    con = _store(tmp_path)
    assert dict(con.execute("SELECT force_code, count(*) FROM cases GROUP BY 1").fetchall()) \
        == {"kent": 12, "essex": 7}
    submissions = con.execute(
        "SELECT force_code, status, rows_read, rows_stored, rows_quarantined, error "
        "FROM submissions ORDER BY force_code").fetchall()
    assert submissions[0][:5] == ("essex", "accepted", 7, 7, 0)
    assert submissions[1][:5] == ("kent", "accepted", 13, 12, 1)
    assert submissions[2][:2] == ("surrey", "refused")
    assert "return.xlsx" in submissions[2][5] and "corrupt" in submissions[2][5]
    assert con.execute("SELECT count(*) FROM forces").fetchone()[0] == 44
    con.close()

    metadata = result.asset_materializations_for_node("force_returns")[0].metadata
    assert metadata["not ingested (unknown folders, stray files)"].value == "not-a-force"

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["rows_conserved"].passed
    assert checks["store_conforms_to_contract"].passed
    assert not checks["no_refused_returns"].passed
    assert checks["no_refused_returns"].severity == dg.AssetCheckSeverity.WARN
    snapshot = tmp_path / "warehouse" / "vawg_snapshot.duckdb"
    analyst = duckdb.connect(str(snapshot), read_only=True)
    assert analyst.execute("SELECT count(*) FROM cases").fetchone()[0] == 19

    # Personal data never reaches metadata or the event log.
    text = _metadata_text(result)
    assert "Planted" not in text and "Secret Street" not in text and "MP1000" not in text


def test_rerun_is_idempotent_and_a_resubmission_replaces_the_force(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    _land(tmp_path, "kent", "v1.xlsx", [good_row(i) for i in range(10)])
    assert run_refresh(tmp_path, instance).success
    with _store(tmp_path) as con:
        before = con.execute("SELECT * FROM cases ORDER BY ALL").fetchall()
        subs = con.execute("SELECT count(*) FROM submissions").fetchone()[0]
    assert run_refresh(tmp_path, instance).success
    with _store(tmp_path) as con:
        assert con.execute("SELECT * FROM cases ORDER BY ALL").fetchall() == before
        assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == subs

    # A newer, corrected file replaces the force whole.
    import datetime as dt
    newer = _land(tmp_path, "kent", "v2.xlsx", [good_row(i) for i in range(4)])
    set_received(newer, dt.datetime(2022, 6, 1))
    assert run_refresh(tmp_path, instance, partition="kent").success
    with _store(tmp_path) as con:
        assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 4

    # A newer file that cannot be read: refused, and v2 stays accepted.
    bad = tmp_path / "incoming" / "kent" / "v3.xlsx"
    bad.write_bytes(b"")
    set_received(bad, dt.datetime(2022, 7, 1))
    result = run_refresh(tmp_path, instance, partition="kent")
    assert result.success
    materialization = result.asset_materializations_for_node("force_returns")[0]
    assert materialization.metadata["outcome"].value == "refused"
    assert "empty" in materialization.metadata["refusal"].value
    with _store(tmp_path) as con:
        assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 4
        assert con.execute("SELECT file_name, status FROM submissions ORDER BY file_name"
                           ).fetchall() == [("v1.xlsx", "superseded"),
                                            ("v2.xlsx", "accepted"),
                                            ("v3.xlsx", "refused")]


def test_one_force_partition_shows_its_counts_in_metadata(tmp_path: Path) -> None:
    _land(tmp_path, "kent", "kent.xlsx",
          [good_row(i) for i in range(5)] + [good_row(9, status="bogus")])
    shutil.copy(Path(__file__), tmp_path / "incoming" / "kent" / "notes.py")
    result = run_refresh(tmp_path, partition="kent")
    assert result.success
    metadata = result.asset_materializations_for_node("force_returns")[0].metadata
    assert metadata["rows_read"].value == 6
    assert metadata["rows_stored"].value == 5
    assert metadata["rows_quarantined"].value == 1
    assert "status: a value is not an accepted value" in \
        metadata["quarantine reasons (values not shown)"].value
    assert "bogus" not in metadata["quarantine reasons (values not shown)"].value
    assert "notes.py" in metadata["files ignored"].value
    preview = metadata["first rows (categories only)"].value
    assert "conduct" in preview and "PSD-0001" not in preview


def test_a_run_over_every_force_shows_each_force_its_own_counts(tmp_path: Path) -> None:
    """The nightly run covers all forces in one run; each force's partition still shows
    its own rows, reasons and sheets, and an unchanged force what was recorded for it."""
    _land(tmp_path, "kent", "kent.xlsx",
          [good_row(i) for i in range(5)] + [good_row(9, status="bogus")])
    _land(tmp_path, "essex", "essex.xlsx", [good_row(i) for i in range(3)])
    instance = dg.DagsterInstance.ephemeral()
    for run in ("first", "unchanged"):
        result = run_refresh(tmp_path, instance)
        assert result.success
        by_force = {m.partition: m.metadata
                    for m in result.asset_materializations_for_node("force_returns")}
        assert len(by_force) == 44
        kent, essex = by_force["kent"], by_force["essex"]
        assert (kent["rows_read"].value, kent["rows_stored"].value,
                kent["rows_quarantined"].value) == (6, 5, 1), run
        assert kent["dagster/row_count"].value == 5 and essex["dagster/row_count"].value == 3
        assert kent["sheets"].value == "Return"
        assert "status: a value is not an accepted value" in \
            kent["quarantine reasons (values not shown)"].value
        assert kent["outcome"].value == ("accepted" if run == "first" else "unchanged")
        assert by_force["dorset"]["outcome"].value == "no_file"
