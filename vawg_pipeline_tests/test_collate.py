"""Collation: no-ops for known files, and the same result on one core or two."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from vawg_pipeline import collate
from vawg_pipeline.store import national
from vawg_pipeline_tests.conftest import good_row, write_csv, write_xlsx


def _landing(root: Path) -> Path:
    for i, force in enumerate(["kent", "essex", "surrey"]):
        folder = root / force
        folder.mkdir(parents=True)
        rows = [good_row(j) for j in range(20 + 10 * i)] + [good_row(99, status="?")]
        writer = write_csv if force == "essex" else write_xlsx
        writer(folder / f"{force}.{'csv' if force == 'essex' else 'xlsx'}", rows)
    return root


def _cases(con) -> pd.DataFrame:
    return con.execute("SELECT * FROM cases ORDER BY ALL").df()


def test_worker_threads_give_the_same_store_as_one_thread(tmp_path, key):
    landing = _landing(tmp_path / "incoming")
    serial = national.open_store(tmp_path / "a" / "vawg.duckdb", key)
    collate.refresh_forces(serial, landing, ["kent", "essex", "surrey"], key, workers=1)
    parallel = national.open_store(tmp_path / "b" / "vawg.duckdb", key)
    results = collate.refresh_forces(parallel, landing, ["kent", "essex", "surrey"], key,
                                     workers=2)
    assert [r.outcome for r in results] == ["accepted"] * 3
    assert all(r.conserved for r in results)
    assert {"read", "validate", "store"} <= set(results[0].seconds)
    pd.testing.assert_frame_equal(_cases(serial), _cases(parallel))


def test_known_files_are_quick_no_ops(tmp_path, key) -> None:
    landing = _landing(tmp_path / "incoming")
    con = national.open_store(tmp_path / "vawg.duckdb", key)
    collate.refresh_forces(con, landing, ["kent", "essex", "surrey", "dorset"], key)
    again = collate.refresh_forces(con, landing, ["kent", "essex", "surrey", "dorset"], key)
    assert [r.outcome for r in again] == ["unchanged"] * 3 + ["no_file"]


def test_a_store_fault_stops_the_batch_without_reading_the_rest(tmp_path, key, monkeypatch):
    """A fault writing one force fails the refresh at once: forces whose files were not
    yet started are left for the retry, not read for nothing."""
    forces = ["kent", "essex", "surrey", "dorset", "devon-and-cornwall", "avon-and-somerset",
              "wiltshire", "gloucestershire", "thames-valley", "hampshire", "sussex",
              "norfolk"]
    for force in forces:
        (tmp_path / "incoming" / force).mkdir(parents=True)
        write_xlsx(tmp_path / "incoming" / force / "return.xlsx",
                   [good_row(j) for j in range(30)])
    read: list[str] = []
    real_ingest = collate.ingest_return

    def counting_ingest(path, force_code, *args, **kwargs):
        read.append(force_code)
        return real_ingest(path, force_code, *args, **kwargs)

    def failing_store(con, result):
        raise OSError("disk full")

    monkeypatch.setattr(collate, "ingest_return", counting_ingest)
    monkeypatch.setattr(national, "replace_force_return", failing_store)
    con = national.open_store(tmp_path / "vawg.duckdb", key)
    with pytest.raises(OSError, match="disk full"):
        collate.refresh_forces(con, tmp_path / "incoming", forces, key, workers=2)
    assert 1 <= len(read) < len(forces)
    # Nothing half-written: the store holds no rows and no accepted submission.
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0
