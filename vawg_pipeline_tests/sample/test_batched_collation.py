"""The 44 sample returns, batched or one by one: the same national store, row for row.

The sample plants every quirk forces send (formats, title rows, split sheets, aliases,
bad values, duplicates, conflicts, refusals); batching small returns must not change
what any force's rows become.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vawg_pipeline import collate
from vawg_pipeline.forces import force_codes
from vawg_pipeline.sample.generator import SampleManifest
from vawg_pipeline.store import national


def _tables(con) -> dict[str, pd.DataFrame]:
    return {
        "cases": con.execute("SELECT * FROM cases ORDER BY ALL").df(),
        "quarantine": con.execute("SELECT * FROM quarantine ORDER BY ALL").df(),
        "submissions": con.execute(
            "SELECT * EXCLUDE (ingested_at) FROM submissions ORDER BY ALL").df(),
    }


def test_batches_store_what_one_file_at_a_time_stores(
    sample_manifest: SampleManifest, tmp_path: Path, key, monkeypatch
) -> None:
    landing = sample_manifest.out_dir
    batched = national.open_store(tmp_path / "batched" / "vawg.duckdb", key)
    results = collate.refresh_forces(batched, landing, force_codes(), key, workers=2)
    assert sum(r.outcome == "accepted" for r in results) > 30

    monkeypatch.setattr(collate, "BATCH_BYTES_MIN", 1)
    monkeypatch.setattr(collate, "BATCH_BYTES_MAX", 1)
    one_by_one = national.open_store(tmp_path / "alone" / "vawg.duckdb", key)
    collate.refresh_forces(one_by_one, landing, force_codes(), key, workers=1)

    expected = _tables(one_by_one)
    for name, table in _tables(batched).items():
        pd.testing.assert_frame_equal(table, expected[name], obj=name)
    assert len(expected["cases"]) > 1000 and len(expected["quarantine"]) > 100
