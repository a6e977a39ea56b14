"""No planted name, note or warrant number reaches anything downstream of ingestion.

The sample generator plants personal data in every force's return; a full refresh
through Dagster must keep all of it out of the store, the snapshot, the quarantine, the
published outputs, the logs and the Dagster metadata.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from vawg_pipeline.sample.generator import write_sample_returns
from vawg_pipeline_tests.defs.helpers import run_refresh


def _database_text(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT internal").fetchall()]
        return "\n".join(con.execute(f'SELECT * FROM "{t}"').df().to_csv() for t in tables)
    finally:
        con.close()


def _files_text(root: Path) -> str:
    parts = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".csv", ".json", ".md", ".txt"):
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
        elif path.is_file() and path.suffix == ".duckdb":
            parts.append(_database_text(path))
        elif path.is_file() and path.suffix == ".xlsx":
            import openpyxl
            wb = openpyxl.load_workbook(path, read_only=True)
            for ws in wb.worksheets:
                for row in ws.iter_rows(values_only=True):
                    parts.append(" ".join("" if v is None else str(v) for v in row))
    return "\n".join(parts)


def _dagster_text(instance: dg.DagsterInstance) -> str:
    parts = []
    for run in instance.get_runs():
        for record in instance.all_logs(run.run_id):
            parts.append(record.user_message or "")
            if record.dagster_event is not None:
                parts.append(repr(record.dagster_event.event_specific_data))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy")
    manifest = write_sample_returns(root / "incoming", seed=7)
    instance = dg.DagsterInstance.ephemeral()
    return root, manifest, instance


def test_no_personal_data_passes_ingestion(refreshed, caplog) -> None:
    root, manifest, instance = refreshed
    with caplog.at_level(logging.DEBUG):
        result = run_refresh(root, instance)
    assert result.success
    planted = set().union(*(f.personal_strings for f in manifest))
    # Only strings distinctive enough to search for (references, names, notes).
    planted = {s for s in planted if len(s) >= 6}
    assert len(planted) > 1000

    downstream = "\n".join([
        _files_text(root / "warehouse"),
        _files_text(root / "published") if (root / "published").exists() else "",
        _files_text(root / "feedback") if (root / "feedback").exists() else "",
        _dagster_text(instance),
        caplog.text,
    ])
    leaked = sorted(s for s in planted if s in downstream)
    assert leaked == [], f"{len(leaked)} personal strings leaked, e.g. {leaked[:3]}"

    con = duckdb.connect(str(root / "warehouse" / "vawg.duckdb"), read_only=True)
    stored = con.execute("SELECT sum(rows_stored), sum(rows_quarantined), sum(rows_read) "
                         "FROM submissions WHERE status = 'accepted'").fetchone()
    assert stored[0] + stored[1] == stored[2]
    assert stored[2] == sum(f.rows_written for f in manifest)
    assert stored[1] == sum(f.quarantined_rows for f in manifest)
    # pseudonyms are opaque hex, never a reference
    assert con.execute("SELECT count(*) FROM cases WHERE NOT regexp_full_match("
                       "subject_pseudonym, '[0-9a-f]{32}')").fetchone()[0] == 0
