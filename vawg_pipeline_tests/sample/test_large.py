"""The national-scale benchmark return: plain, valid, real date cells."""

from __future__ import annotations

import stat
from pathlib import Path

import fastexcel
import numpy as np

from vawg_pipeline.contract.fields import load_contract, normalise_heading
from vawg_pipeline.sample.generator import write_large_return


def test_large_return_is_plain_and_valid(tmp_path: Path) -> None:
    path = write_large_return(tmp_path / "big.xlsx", 3000, np.random.default_rng(1),
                              "metropolitan")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    frame = fastexcel.read_excel(str(path)).load_sheet(0).to_pandas()
    contract = load_contract()
    assert len(frame) == 3000
    assert [contract.heading_lookup[normalise_heading(h)] for h in frame.columns] == \
        contract.names
    for f in contract.fields:
        column = frame[contract[f.name].headings[0]]
        if f.kind == "date":
            assert str(column.dtype).startswith("datetime64"), f.name
        elif f.kind == "category":
            assert set(column.dropna()) <= set(f.values), f.name
    finalised = frame["Status"] == "finalised"
    assert frame.loc[finalised, "Date Finalised"].notna().all()
    assert frame.loc[~finalised, "Outcome"].isna().all()
