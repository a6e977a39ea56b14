"""Writing the national store: a force's return replaced whole, in one transaction.

Every write here is one DuckDB transaction, so a run that fails part-way leaves each
force's rows either wholly as before or wholly replaced, never half a force.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from vawg_pipeline.fileops import install_atomically
from vawg_pipeline.forces import Force
from vawg_pipeline.ingest.returns import CASE_COLUMNS, QUARANTINE_COLUMNS, IngestResult
from vawg_pipeline.privacy import PseudonymKey, make_owner_only_dir
from vawg_pipeline.store.schema import connect, ensure_schema

SNAPSHOT_NAME = "vawg_snapshot.duckdb"
SUBMISSION_COLUMNS = [
    "force_code", "file_name", "sha256", "received_at", "ingested_at", "status", "error",
    "rows_read", "rows_stored", "rows_quarantined", "sheets", "extra_columns",
    "reader_version",
]


class KeyMismatch(RuntimeError):
    """The store's pseudonyms were made with another key: mixing them would be wrong."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def open_store(path: Path, key: PseudonymKey | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating if need be) the store, its schema current and its key checked."""
    path = Path(path)
    make_owner_only_dir(path.parent)
    new = not path.exists()
    con = connect(path)
    try:
        if new:
            path.chmod(0o600)
        ensure_schema(con)
        if key is not None:
            check_key(con, key)
    except BaseException:
        con.close()
        raise
    return con


def check_key(con: duckdb.DuckDBPyConnection, key: PseudonymKey) -> None:
    # fetchall: a result left unfinished would block the connection's next use (a
    # DuckDB 2 rule), e.g. registering a frame straight after opening the store.
    rows = con.execute(
        "SELECT value FROM store_metadata WHERE key = 'pseudonym_key_fingerprint'"
    ).fetchall()
    row = rows[0] if rows else None
    if row is None:
        con.execute(
            "INSERT INTO store_metadata VALUES ('pseudonym_key_fingerprint', ?)",
            [key.fingerprint],
        )
    elif row[0] != key.fingerprint:
        raise KeyMismatch(
            f"the national store's pseudonyms were made with key {row[0]}, but the "
            f"pseudonym key now configured is {key.fingerprint}: refusing to mix them. "
            "Set VAWG_PSEUDONYM_KEY to the original key, or start a new store."
        )


def sync_forces(con: duckdb.DuckDBPyConnection, forces: Iterable[Force]) -> None:
    frame = pd.DataFrame(
        [(f.code, f.name, f.approx_officers) for f in forces],
        columns=["force_code", "force_name", "approx_officers"],
    )
    con.execute("BEGIN")
    con.execute("DELETE FROM forces")
    con.register("forces_frame", frame)
    con.execute("INSERT INTO forces SELECT * FROM forces_frame")
    con.unregister("forces_frame")
    con.execute("COMMIT")


def submission_status(con: duckdb.DuckDBPyConnection, force_code: str, sha: str) -> str | None:
    row = con.execute(
        "SELECT status FROM submissions WHERE force_code = ? AND sha256 = ?",
        [force_code, sha],
    ).fetchone()
    return None if row is None else row[0]


def refusal_stands(con: duckdb.DuckDBPyConnection, force_code: str, sha: str,
                   file_name: str, reader: str) -> bool:
    """Whether a refused file stays refused without another read: only if the same
    reader refused it under the same name. A contract given the force's heading, or a
    workbook renamed from .csv to .xlsx, deserves a second read."""
    rows = con.execute(
        "SELECT file_name, reader_version FROM submissions "
        "WHERE force_code = ? AND sha256 = ? AND status = 'refused'",
        [force_code, sha]).fetchall()
    return bool(rows) and rows[0] == (file_name, reader)


def submissions_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every file seen, newest first within each force."""
    return con.execute(
        "SELECT * FROM submissions ORDER BY force_code, received_at DESC, ingested_at DESC"
    ).df()


def _upsert_submission(con: duckdb.DuckDBPyConnection, record: dict) -> None:
    con.execute("DELETE FROM submissions WHERE force_code = ? AND sha256 = ?",
                [record["force_code"], record["sha256"]])
    values = [record.get(c) for c in SUBMISSION_COLUMNS]
    placeholders = ", ".join("?" for _ in SUBMISSION_COLUMNS)
    con.execute(f"INSERT INTO submissions ({', '.join(SUBMISSION_COLUMNS)}) "
                f"VALUES ({placeholders})", values)


# While many returns are loaded in one go, DuckDB's automatic checkpoints (every 16 MiB
# of WAL) would rewrite the growing tables again and again; one checkpoint at the end
# writes them once. The WAL still makes every committed force durable.
BULK_CHECKPOINT_THRESHOLD = "1GB"


@contextlib.contextmanager
def bulk_load(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Load several forces' returns, checkpointing once at the end."""
    con.execute(f"SET checkpoint_threshold = '{BULK_CHECKPOINT_THRESHOLD}'")
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute("RESET threads")
        con.execute("RESET checkpoint_threshold")
        con.execute("CHECKPOINT")


def use_every_core(con: duckdb.DuckDBPyConnection) -> None:
    """Within a bulk load, let DuckDB use every core again (no reader needs one)."""
    con.execute("RESET threads")


def replace_force_return(con: duckdb.DuckDBPyConnection, result: IngestResult) -> None:
    """Make ``result`` the force's current return: its rows replace the old ones whole."""
    replace_force_returns(con, [result])


def replace_force_returns(
    con: duckdb.DuckDBPyConnection, results: Sequence[IngestResult],
    reader: str | None = None,
) -> None:
    """Make each result its force's current return, in one transaction.

    Each force's rows replace its old ones whole; the forces change together or not at
    all, and a batch of small returns pays for one commit, not one each.
    """
    if not results:
        return
    codes = [r.force_code for r in results]
    if len(set(codes)) != len(codes):
        raise ValueError(f"one return per force in a batch, got {sorted(codes)}")
    # As Arrow tables: the case columns are Arrow already, so DuckDB scans them in
    # place, without taking Python's GIL from the ingestion threads. An optional
    # column one force did not send is all null; "permissive" gives it the others' type.
    cases = pa.concat_tables(
        [pa.Table.from_pandas(r.cases[CASE_COLUMNS], preserve_index=False) for r in results],
        promote_options="permissive")
    quarantine = [r.quarantine[QUARANTINE_COLUMNS] for r in results if len(r.quarantine)]
    forces = ", ".join("?" for _ in codes)
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM cases WHERE force_code IN ({forces})", codes)
        con.execute(f"DELETE FROM quarantine WHERE force_code IN ({forces})", codes)
        con.register("cases_frame", cases)
        con.execute(f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) "
                    f"SELECT {', '.join(CASE_COLUMNS)} FROM cases_frame")
        if quarantine:
            con.register("quarantine_frame", pd.concat(quarantine, ignore_index=True))
            con.execute(f"INSERT INTO quarantine ({', '.join(QUARANTINE_COLUMNS)}) "
                        f"SELECT {', '.join(QUARANTINE_COLUMNS)} FROM quarantine_frame")
        con.execute(
            "UPDATE submissions SET status = 'superseded' "
            f"WHERE force_code IN ({forces}) AND status = 'accepted'", codes,
        )
        ingested_at = _now()
        for result in results:
            _upsert_submission(con, {
                "force_code": result.force_code, "file_name": result.file_name,
                "sha256": result.sha256, "received_at": result.received_at,
                "ingested_at": ingested_at, "status": "accepted", "error": None,
                "rows_read": result.rows_read, "rows_stored": result.rows_stored,
                "rows_quarantined": result.rows_quarantined,
                "sheets": ", ".join(result.sheets),
                "extra_columns": ", ".join(result.extra_columns),
                "reader_version": reader,
            })
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for view in ("cases_frame", "quarantine_frame"):
            with contextlib.suppress(Exception):  # never registered
                con.unregister(view)


def record_refusal(
    con: duckdb.DuckDBPyConnection, force_code: str, file_name: str, sha: str,
    received_at: datetime, error: str, reader: str | None = None,
) -> bool:
    """Record a refused file once per content (a second read replaces the record);
    the force's accepted return stays. Returns whether the content was new."""
    new = submission_status(con, force_code, sha) != "refused"
    _upsert_submission(con, {
        "force_code": force_code, "file_name": file_name, "sha256": sha,
        "received_at": received_at, "ingested_at": _now(), "status": "refused",
        "error": error, "reader_version": reader,
    })
    return new


def withdraw_force(con: duckdb.DuckDBPyConnection, force_code: str) -> int:
    """Remove a force's rows (the force withdrew its return); returns rows removed.

    The withdrawn file stays recorded as ``withdrawn`` and is not re-ingested; a new
    file from the force is.
    """
    con.execute("BEGIN")
    try:
        removed = con.execute("SELECT count(*) FROM cases WHERE force_code = ?",
                              [force_code]).fetchone()[0]
        con.execute("DELETE FROM cases WHERE force_code = ?", [force_code])
        con.execute("DELETE FROM quarantine WHERE force_code = ?", [force_code])
        con.execute("UPDATE submissions SET status = 'withdrawn' "
                    "WHERE force_code = ? AND status = 'accepted'", [force_code])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(removed)


def publish_snapshot(store_path: Path) -> Path:
    """Copy the (closed) store to the analysts' read-only snapshot, atomically.

    Analysts open the snapshot, never the store, so an open analyst session cannot
    block a run; the rename means they never see a half-written file.
    """
    store_path = Path(store_path)
    # Read-only: analysts must not write to it, and a new refresh replaces it whole.
    return install_atomically(store_path, store_path.with_name(SNAPSHOT_NAME), 0o400)
