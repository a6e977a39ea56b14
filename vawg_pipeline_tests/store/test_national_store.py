"""The national store: whole-force replacement, refusals, keys, withdrawal, the snapshot."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from vawg_pipeline.forces import load_forces
from vawg_pipeline.ingest.returns import ingest_return
from vawg_pipeline.privacy import PseudonymKey
from vawg_pipeline.store import national
from vawg_pipeline.store.schema import SCHEMA_FINGERPRINT_KEY, STORAGE_VERSION
from vawg_pipeline_tests.conftest import good_row, write_xlsx


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "vawg.duckdb"


def _accept(con, tmp_path: Path, name: str, rows, key, force: str = "kent"):
    result = ingest_return(write_xlsx(tmp_path / name, rows), force, key)
    national.replace_force_return(con, result)
    return result


def test_a_new_return_replaces_the_force_whole(tmp_path, store_path, key) -> None:
    con = national.open_store(store_path, key)
    _accept(con, tmp_path, "v1.xlsx", [good_row(i) for i in range(10)], key)
    _accept(con, tmp_path, "essex.xlsx", [good_row(i) for i in range(3)], key, "essex")
    second = _accept(con, tmp_path, "v2.xlsx", [good_row(i) for i in range(4)]
                     + [good_row(99, status="bogus")], key)
    counts = dict(con.execute(
        "SELECT force_code, count(*) FROM cases GROUP BY 1").fetchall())
    assert counts == {"kent": 4, "essex": 3}
    statuses = con.execute(
        "SELECT file_name, status, rows_read, rows_stored, rows_quarantined "
        "FROM submissions WHERE force_code = 'kent' ORDER BY file_name").fetchall()
    assert statuses == [("v1.xlsx", "superseded", 10, 10, 0),
                        ("v2.xlsx", "accepted", 5, 4, 1)]
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 1
    assert set(r[0] for r in con.execute("SELECT source_sha256 FROM cases WHERE "
                                         "force_code='kent'").fetchall()) == {second.sha256}


def test_a_failed_replacement_leaves_the_force_as_it_was(tmp_path, store_path, key) -> None:
    con = national.open_store(store_path, key)
    _accept(con, tmp_path, "v1.xlsx", [good_row(i) for i in range(5)], key)
    broken = ingest_return(write_xlsx(tmp_path / "v2.xlsx", [good_row(1)]), "kent", key)
    broken.cases = broken.cases.drop(columns=["case_type"])  # an insert that must fail
    with pytest.raises(KeyError):
        national.replace_force_return(con, broken)
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 5
    broken.cases["case_type"] = None  # NOT NULL violated inside the transaction
    broken.cases = broken.cases[[c for c in broken.cases.columns]]
    with pytest.raises(duckdb.Error):
        national.replace_force_return(con, broken)
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 5
    assert con.execute("SELECT file_name FROM submissions WHERE status='accepted'"
                       ).fetchall() == [("v1.xlsx",)]


def test_refusal_is_recorded_once_per_content(tmp_path, store_path, key) -> None:
    con = national.open_store(store_path, key)
    _accept(con, tmp_path, "v1.xlsx", [good_row(i) for i in range(5)], key)
    import datetime as dt
    for _ in range(3):
        national.record_refusal(con, "kent", "bad.xlsx", "abc", dt.datetime(2022, 6, 1),
                                "bad.xlsx: the file is empty (0 bytes)")
    rows = con.execute("SELECT status, count(*) FROM submissions GROUP BY 1 ORDER BY 1"
                       ).fetchall()
    assert rows == [("accepted", 1), ("refused", 1)]
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 5


def test_the_store_refuses_to_mix_pseudonym_keys(store_path, key) -> None:
    national.open_store(store_path, key).close()
    with pytest.raises(national.KeyMismatch, match="refusing to mix"):
        national.open_store(store_path, PseudonymKey(b"a different key"))


def test_withdrawal_removes_the_force_and_records_it(tmp_path, store_path, key) -> None:
    con = national.open_store(store_path, key)
    _accept(con, tmp_path, "v1.xlsx", [good_row(i) for i in range(5)], key)
    assert national.withdraw_force(con, "kent") == 5
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 0
    assert con.execute("SELECT status FROM submissions").fetchall() == [("withdrawn",)]


def test_store_is_documented_and_owner_only(store_path, key) -> None:
    con = national.open_store(store_path, key)
    national.sync_forces(con, load_forces())
    comments = con.execute(
        "SELECT table_name, comment FROM duckdb_tables() ORDER BY 1").fetchall()
    assert all(comment for _, comment in comments)
    undocumented = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE comment IS NULL AND NOT internal").fetchall()
    assert undocumented == []
    assert con.execute("SELECT count(*) FROM forces").fetchone()[0] == 44
    con.close()
    assert store_path.stat().st_mode & 0o777 == 0o600
    assert store_path.parent.stat().st_mode & 0o777 == 0o700


def test_a_store_documented_by_older_code_is_documented_again(store_path, key) -> None:
    """Comments are rewritten when the store's recorded schema is not this code's, and
    left alone (no write at every opening) when it is."""
    national.open_store(store_path, key).close()
    con = duckdb.connect(str(store_path))
    con.execute("COMMENT ON COLUMN cases.outcome IS 'stale text'")
    con.execute("UPDATE store_metadata SET value = 'older' WHERE key = ?",
                [SCHEMA_FINGERPRINT_KEY])
    con.close()

    def outcome_comment() -> str:
        con = national.open_store(store_path, key)
        try:
            return con.execute("SELECT comment FROM duckdb_columns() WHERE table_name = "
                               "'cases' AND column_name = 'outcome'").fetchone()[0]
        finally:
            con.close()

    assert outcome_comment() != "stale text"
    con = duckdb.connect(str(store_path))
    con.execute("COMMENT ON COLUMN cases.outcome IS 'edited by hand'")
    con.close()
    assert outcome_comment() == "edited by hand"  # same schema: nothing rewritten


def test_a_reopened_store_is_ready_for_any_use(store_path, key) -> None:
    """Opening leaves no half-read result behind: DuckDB 2 refuses to register a frame
    on a connection with one."""
    import pandas as pd

    national.open_store(store_path, key).close()
    con = national.open_store(store_path, key)
    try:
        con.register("anything", pd.DataFrame({"a": [1]}))
        assert con.execute("SELECT count(*) FROM anything").fetchall() == [(1,)]
    finally:
        con.close()


def test_snapshot_is_atomic_read_only_and_readable(tmp_path, store_path, key) -> None:
    con = national.open_store(store_path, key)
    _accept(con, tmp_path, "v1.xlsx", [good_row(i) for i in range(5)], key)
    con.close()
    snapshot = national.publish_snapshot(store_path)
    analyst = duckdb.connect(str(snapshot), read_only=True)
    assert analyst.execute("SELECT count(*) FROM cases").fetchone()[0] == 5
    # The pipeline writes again and republishes while the analyst's session is open.
    con = national.open_store(store_path, key)
    _accept(con, tmp_path, "v2.xlsx", [good_row(i) for i in range(7)], key)
    con.close()
    national.publish_snapshot(store_path)
    assert analyst.execute("SELECT count(*) FROM cases").fetchone()[0] == 5  # its own view
    analyst.close()
    fresh = duckdb.connect(str(snapshot), read_only=True)
    assert fresh.execute("SELECT count(*) FROM cases").fetchone()[0] == 7
    assert not list(snapshot.parent.glob(".*.tmp"))


LTS_PYTHON = os.environ.get("VAWG_DUCKDB_LTS_PYTHON")


@pytest.mark.skipif(not LTS_PYTHON, reason="set VAWG_DUCKDB_LTS_PYTHON to a python with "
                    "duckdb 1.4 (.ci/run does)")
def test_duckdb_lts_clients_can_open_the_store(tmp_path, store_path, key) -> None:
    con = national.open_store(store_path, key)
    _accept(con, tmp_path, "v1.xlsx", [good_row(i) for i in range(5)], key)
    con.close()
    snapshot = national.publish_snapshot(store_path)
    script = ("import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True); "
              "print(duckdb.__version__, c.execute('select count(*) from cases').fetchone()[0])")
    out = subprocess.run([LTS_PYTHON, "-c", script, str(snapshot)], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0].startswith("1.4") and out[1] == "5"
    assert STORAGE_VERSION == "v1.4.0"


def test_a_store_made_before_a_column_was_added_gains_it(store_path, key) -> None:
    """A store from an earlier version (no reader_version) opens, and gains the column."""
    con = national.open_store(store_path, key)
    con.execute("ALTER TABLE submissions DROP COLUMN reader_version")
    con.execute("UPDATE store_metadata SET value = 'an earlier schema' "
                "WHERE key = 'schema_fingerprint'")
    con.close()
    con = national.open_store(store_path, key)
    columns = [r[0] for r in con.execute("DESCRIBE submissions").fetchall()]
    assert columns[-1] == "reader_version"
