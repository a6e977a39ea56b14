"""Collation: no-ops for known files, and the same result on one core or two."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from vawg_pipeline import collate
from vawg_pipeline.ingest.reader import ReturnRefused
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

    def failing_store(con, results, **kwargs):
        raise OSError("disk full")

    # One file per batch and per transaction, as large returns go.
    monkeypatch.setattr(collate, "BATCH_BYTES_MIN", 1)
    monkeypatch.setattr(collate, "BATCH_BYTES_MAX", 1)
    monkeypatch.setattr(collate, "STORE_ROWS_PER_TRANSACTION", 1)
    monkeypatch.setattr(collate, "ingest_return", counting_ingest)
    monkeypatch.setattr(national, "replace_force_returns", failing_store)
    con = national.open_store(tmp_path / "vawg.duckdb", key)
    with pytest.raises(OSError, match="disk full"):
        collate.refresh_forces(con, tmp_path / "incoming", forces, key, workers=2)
    assert 1 <= len(read) < len(forces)
    # Nothing half-written: the store holds no rows and no accepted submission.
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0


def test_batches_shrink_towards_the_end_and_hold_every_file_once(tmp_path) -> None:
    """Big returns alone, small ones together, the last batches small: both threads
    finish together."""
    sizes = [18 << 20, 5 << 20, *[(3 << 20) - 7 * i for i in range(10)],
             *[(1 << 20) - 5 * i for i in range(20)]]
    jobs = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"{i}.xlsx"
        with path.open("wb") as handle:
            handle.truncate(size)  # a sparse file: only its size matters here
        jobs.append(collate._Job(f"force-{i}", path, f"sha-{i}"))
    batches = collate._batches(jobs, workers=2)
    assert sorted(j.force_code for b in batches for j in b) == sorted(
        j.force_code for j in jobs)
    assert [j.path.stat().st_size for j in batches[0]] == [18 << 20]
    totals = [sum(j.path.stat().st_size for j in b) for b in batches]
    assert totals[-1] < totals[1] / 2 and len(batches) < len(jobs) / 2
    assert all(len(b) == 1 or t <= collate.BATCH_BYTES_MAX for b, t in
               zip(batches, totals, strict=True))


def test_a_working_sheet_beside_the_return_is_reported_as_ignored(tmp_path, key) -> None:
    import openpyxl

    (tmp_path / "incoming" / "kent").mkdir(parents=True)
    path = write_xlsx(tmp_path / "incoming" / "kent" / "kent.xlsx", [good_row(1), good_row(2)])
    book = openpyxl.load_workbook(path)
    book.create_sheet("Chart data").append(["Case Ref", "Status", "Case Type"])
    book.save(path)
    con = national.open_store(tmp_path / "vawg.duckdb", key)
    [result] = collate.refresh_forces(con, tmp_path / "incoming", ["kent"], key)
    assert result.outcome == "accepted" and result.ignored_sheets == ["Chart data"]


def test_finished_batches_are_stored_together_in_whole_row_groups(tmp_path, key,
                                                                  monkeypatch) -> None:
    """Transactions hold at least the threshold of rows (the last, what is left), so
    small batches do not each go through the WAL; every force is stored exactly once."""
    forces = ["kent", "essex", "surrey", "dorset", "wiltshire", "norfolk", "suffolk"]
    for force in forces:
        (tmp_path / "incoming" / force).mkdir(parents=True)
        write_xlsx(tmp_path / "incoming" / force / "return.xlsx",
                   [good_row(j) for j in range(30)])
    transactions: list[list[str]] = []
    real_store = national.replace_force_returns

    def recording_store(con, results, **kwargs):
        transactions.append([r.force_code for r in results])
        return real_store(con, results, **kwargs)

    monkeypatch.setattr(collate, "BATCH_BYTES_MIN", 1)
    monkeypatch.setattr(collate, "BATCH_BYTES_MAX", 1)
    monkeypatch.setattr(collate, "STORE_ROWS_PER_TRANSACTION", 70)
    monkeypatch.setattr(national, "replace_force_returns", recording_store)
    con = national.open_store(tmp_path / "vawg.duckdb", key)
    results = collate.refresh_forces(con, tmp_path / "incoming", forces, key, workers=2)
    assert [len(t) for t in transactions] == [3, 3, 1]
    assert sorted(f for t in transactions for f in t) == sorted(forces)
    assert all(r.outcome == "accepted" for r in results)
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 30 * len(forces)


def test_an_unexpected_failure_is_logged_without_its_message(tmp_path, key, monkeypatch,
                                                             caplog) -> None:
    """An exception's text may quote a cell (a name): the log names its type and the
    code it came from, and the refusal its type; neither repeats the message."""
    (tmp_path / "incoming" / "kent").mkdir(parents=True)
    write_xlsx(tmp_path / "incoming" / "kent" / "return.xlsx", [good_row(1)])

    cell = good_row(1, subject_name="PC Mary Jones")["subject_name"]

    def failing_ingest(*args, **kwargs):
        raise ValueError(f"cannot parse {cell!r}")  # as a parser quoting a cell would

    monkeypatch.setattr(collate, "ingest_return", failing_ingest)
    con = national.open_store(tmp_path / "vawg.duckdb", key)
    with caplog.at_level("ERROR"):
        [result] = collate.refresh_forces(con, tmp_path / "incoming", ["kent"], key,
                                          workers=1)
    assert result.outcome == "refused" and "ValueError" in result.error
    assert "ValueError" in caplog.text and "failing_ingest" in caplog.text
    assert "Mary" not in caplog.text and "Mary" not in result.error


def test_a_file_refused_by_an_older_reader_is_read_again(tmp_path, key, monkeypatch) -> None:
    """A refusal stands only for the reader that made it: once the contract learns the
    force's heading (or the code is fixed), the same file is read again, and accepted."""
    (tmp_path / "incoming" / "kent").mkdir(parents=True)
    write_xlsx(tmp_path / "incoming" / "kent" / "return.xlsx", [good_row(1), good_row(2)])
    con = national.open_store(tmp_path / "vawg.duckdb", key)
    real_ingest = collate.ingest_return

    def old_reader(path, *args, **kwargs):
        raise ReturnRefused(path.name, "required column(s) missing: case_reference")

    monkeypatch.setattr(collate, "ingest_return", old_reader)
    monkeypatch.setattr(collate, "reader_version", lambda: "0.0.9; contract 000000000000")
    [first] = collate.refresh_forces(con, tmp_path / "incoming", ["kent"], key, workers=1)
    assert first.outcome == "refused"
    [again] = collate.refresh_forces(con, tmp_path / "incoming", ["kent"], key, workers=1)
    assert again.outcome == "unchanged"  # the same reader does not read it twice

    monkeypatch.setattr(collate, "ingest_return", real_ingest)
    monkeypatch.undo()
    [second] = collate.refresh_forces(con, tmp_path / "incoming", ["kent"], key, workers=1)
    assert second.outcome == "accepted" and second.rows_stored == 2
    assert con.execute("SELECT status, reader_version FROM submissions").fetchall() == [
        ("accepted", collate.reader_version())]
    [third] = collate.refresh_forces(con, tmp_path / "incoming", ["kent"], key, workers=1)
    assert third.outcome == "unchanged"


def test_a_refused_file_renamed_is_read_again(tmp_path, key, monkeypatch) -> None:
    folder = tmp_path / "incoming" / "kent"
    folder.mkdir(parents=True)
    path = write_xlsx(folder / "Kent C.xlsx", [good_row(1)])
    con = national.open_store(tmp_path / "vawg.duckdb", key)
    reads: list[str] = []

    def refusing(path, *args, **kwargs):
        reads.append(path.name)
        raise ReturnRefused(path.name, "cannot be read")

    monkeypatch.setattr(collate, "ingest_return", refusing)
    for _ in range(2):
        collate.refresh_forces(con, tmp_path / "incoming", ["kent"], key, workers=1)
    path.rename(folder / "Kent D.xlsx")
    collate.refresh_forces(con, tmp_path / "incoming", ["kent"], key, workers=1)
    assert reads == ["Kent C.xlsx", "Kent D.xlsx"]
    # Still one record of the content, under its latest name.
    assert con.execute("SELECT file_name, status FROM submissions").fetchall() == [
        ("Kent D.xlsx", "refused")]
