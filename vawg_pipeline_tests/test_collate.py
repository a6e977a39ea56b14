"""Collation: no-ops for known files, and the same result on one core or two."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

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
