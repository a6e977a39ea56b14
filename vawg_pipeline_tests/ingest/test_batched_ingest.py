"""Several forces' returns validated together: each gets what it would get alone.

Small returns are ingested in batches (one pandera pass, one set of pseudonym queries,
one store transaction). The row rules hold within a force, never across forces; a
column one force did not send stays unknown for that force; each workbook keeps its own
date system; and a file that breaks the batch is refused alone.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from vawg_pipeline import collate
from vawg_pipeline.ingest import returns
from vawg_pipeline.ingest.returns import ReturnFile, ingest_return, ingest_returns
from vawg_pipeline.store import national
from vawg_pipeline_tests.conftest import HEADINGS, good_row, write_csv, write_xlsx


def _same(batched: returns.IngestResult, alone: returns.IngestResult) -> None:
    assert (batched.rows_read, batched.rows_stored, batched.rows_quarantined) == (
        alone.rows_read, alone.rows_stored, alone.rows_quarantined)
    # As the store holds them: an optional column a force did not send is null either
    # way (an Arrow null in a batch, None alone).
    pd.testing.assert_frame_equal(batched.cases.astype(object).where(batched.cases.notna()),
                                  alone.cases.astype(object).where(alone.cases.notna()))
    pd.testing.assert_frame_equal(batched.quarantine, alone.quarantine)


def test_the_same_rows_in_two_forces_are_two_forces_rows(tmp_path, key) -> None:
    """Case and subject references are the force's own: the same ones in another force's
    return are neither duplicates nor conflicts, and get that force's pseudonyms."""
    rows = [good_row(i) for i in range(1, 11)]
    kent = write_xlsx(tmp_path / "kent.xlsx", [*rows, rows[0]])  # one real duplicate
    essex = write_xlsx(tmp_path / "essex.xlsx", rows)
    surrey = write_csv(tmp_path / "surrey.csv",
                       [*rows[:5], good_row(5, case_type="Public complaint")])
    files = [ReturnFile(kent, "kent"), ReturnFile(essex, "essex"), ReturnFile(surrey, "surrey")]
    batched = ingest_returns(files, key)
    alone = [ingest_return(f.path, f.force_code, key) for f in files]
    for b, a in zip(batched, alone, strict=True):
        _same(b, a)
    assert [r.rows_quarantined for r in batched] == [1, 0, 2]
    assert batched[0].quarantine["reason"].str.contains("duplicate").all()
    assert batched[2].quarantine["reason"].str.startswith("conflict").all()
    assert not set(batched[0].cases["subject_pseudonym"]) & set(
        batched[1].cases["subject_pseudonym"])


def test_an_optional_column_one_force_did_not_send_stays_unknown(tmp_path, key) -> None:
    """Kent leaves victim relationship blank ("not known"); Essex has no such column, so
    nothing is known about it there, in a batch as alone."""
    kent = write_xlsx(tmp_path / "kent.xlsx",
                      [good_row(i, victim_relationship="") for i in range(1, 6)],
                      headings={**HEADINGS, "victim_relationship": "Victim Relationship"})
    assert "victim_relationship" not in HEADINGS
    essex = write_xlsx(tmp_path / "essex.xlsx", [good_row(i) for i in range(1, 6)])
    files = [ReturnFile(kent, "kent"), ReturnFile(essex, "essex")]
    batched = ingest_returns(files, key)
    for b, f in zip(batched, files, strict=True):
        _same(b, ingest_return(f.path, f.force_code, key))
    assert batched[0].cases["victim_relationship"].tolist() == ["not known"] * 5
    assert batched[1].cases["victim_relationship"].isna().all()


def test_each_workbook_keeps_its_own_date_system(tmp_path, key) -> None:
    """A workbook saved on the 1904 date system, batched with ordinary ones: a date
    left as a bare serial is the day the force typed, in each."""
    paths = {}
    for force, epoch in (("kent", openpyxl.utils.datetime.CALENDAR_MAC_1904),
                         ("essex", openpyxl.utils.datetime.CALENDAR_WINDOWS_1900)):
        path = write_xlsx(tmp_path / f"{force}.xlsx", [good_row(1), good_row(2)])
        wb = openpyxl.load_workbook(path)
        wb.epoch = epoch
        column = list(HEADINGS).index("date_recorded") + 1
        for row in (2, 3):
            wb.active.cell(row=row, column=column, value=dt.datetime(2021, 4, 3))
            wb.active.cell(row=row, column=column).number_format = "General"
        wb.save(path)
        paths[force] = path
    batched = ingest_returns([ReturnFile(p, f) for f, p in paths.items()], key)
    for result in batched:
        assert result.rows_quarantined == 0, result.quarantine["reason"].tolist()
        assert result.cases["date_recorded"].tolist() == [dt.date(2021, 4, 3)] * 2


def test_a_refused_file_in_a_batch_costs_the_others_nothing(tmp_path, key) -> None:
    kent = write_xlsx(tmp_path / "kent.xlsx", [good_row(i) for i in range(1, 6)])
    broken = tmp_path / "essex.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    batched = ingest_returns([ReturnFile(kent, "kent"), ReturnFile(broken, "essex")], key)
    assert isinstance(batched[1], returns.ReturnRefused)
    assert "essex.xlsx" in str(batched[1])
    _same(batched[0], ingest_return(kent, "kent", key))


def _landing(root: Path, forces: list[str]) -> Path:
    for i, force in enumerate(forces):
        (root / force).mkdir(parents=True)
        rows = [good_row(j, case_reference=f"{force[:2].upper()}-{j}")
                for j in range(10 + i)]
        write_xlsx(root / force / "return.xlsx", rows)
    return root


def test_a_file_that_breaks_its_batch_is_refused_alone(
    tmp_path, key, monkeypatch, caplog
) -> None:
    """An unexpected fault while validating a batch (here injected for Essex's rows) is
    retried file by file: only the file that causes it is refused."""
    landing = _landing(tmp_path / "incoming", ["kent", "essex", "surrey"])
    real_normalise = returns.normalise_rows

    def fragile_normalise(data, *args, **kwargs):
        if data["case_reference"].astype(str).str.startswith("ES-").any():
            raise RuntimeError("a fault only Essex's rows bring out")
        return real_normalise(data, *args, **kwargs)

    monkeypatch.setattr(returns, "normalise_rows", fragile_normalise)
    con = national.open_store(tmp_path / "vawg.duckdb", key)
    with caplog.at_level(logging.WARNING, logger="vawg_pipeline.collate"):
        results = collate.refresh_forces(con, landing, ["kent", "essex", "surrey"], key,
                                         workers=1)
    assert "a batch of 3 returns failed (RuntimeError)" in caplog.text
    assert [r.outcome for r in results] == ["accepted", "refused", "accepted"]
    assert "could not be read (RuntimeError)" in results[1].error
    stored = dict(con.execute("SELECT force_code, count(*) FROM cases GROUP BY 1").fetchall())
    assert stored == {"kent": 10, "surrey": 12}


def test_forces_stored_together_change_together(tmp_path, key) -> None:
    con = national.open_store(tmp_path / "vawg.duckdb", key)
    kent = ingest_return(write_xlsx(tmp_path / "k.xlsx", [good_row(1), good_row(2)]),
                         "kent", key)
    essex = ingest_return(write_xlsx(tmp_path / "e.xlsx", [good_row(1)]), "essex", key)
    national.replace_force_returns(con, [kent, essex])
    counts = con.execute("SELECT force_code, count(*) FROM cases GROUP BY 1 ORDER BY 1")
    assert counts.fetchall() == [("essex", 1), ("kent", 2)]
    with pytest.raises(ValueError, match="one return per force"):
        national.replace_force_returns(con, [kent, kent])
    # A fault part-way leaves both forces as they were.
    broken = ingest_return(write_xlsx(tmp_path / "k2.xlsx", [good_row(3)]), "kent", key)
    broken.cases = broken.cases.assign(date_recorded="not a date")
    with pytest.raises(Exception):  # noqa: B017 - DuckDB's conversion error
        national.replace_force_returns(con, [essex, broken])
    counts = con.execute("SELECT force_code, count(*) FROM cases GROUP BY 1 ORDER BY 1")
    assert counts.fetchall() == [("essex", 1), ("kent", 2)]


def test_a_return_with_no_rows_in_a_batch(tmp_path, key) -> None:
    """A header with nothing under it, before and after a return with rows."""
    empty = write_csv(tmp_path / "empty.csv", [])
    full = write_xlsx(tmp_path / "full.xlsx", [good_row(i) for i in range(1, 6)])
    for order in (("kent", "essex"), ("essex", "kent")):
        paths = {"kent": empty, "essex": full}
        files = [ReturnFile(paths[force], force) for force in order]
        for batched, f in zip(ingest_returns(files, key), files, strict=True):
            _same(batched, ingest_return(f.path, f.force_code, key))
            assert batched.rows_read == (0 if f.force_code == "kent" else 5)
