"""Per-force feedback workbooks: written by the real asset, re-read with openpyxl."""

import dataclasses
import datetime as dt
import json
import stat
from pathlib import Path

import dagster as dg
import duckdb
import openpyxl
import pytest

from vawg_pipeline.contract import load_contract
from vawg_pipeline.defs.feedback import FEEDBACK_MANIFEST, force_feedback
from vawg_pipeline.defs.ingestion import force_returns
from vawg_pipeline.defs.national import national_store
from vawg_pipeline.feedback import (
    feedback_fingerprints,
    how_to_fix,
    refusal_advice,
    write_all_feedback,
)
from vawg_pipeline.feedback.workbook import ROWS_SHEET, SUMMARY_SHEET
from vawg_pipeline.forces import force_codes
from vawg_pipeline.store import national
from vawg_pipeline_tests.conftest import HEADINGS, good_row, set_received, write_csv, write_xlsx
from vawg_pipeline_tests.defs.helpers import resources_for
from vawg_pipeline_tests.publish.builders import build_store, ingest_result

PLANTED = ("Planted", "Secret Street", "MP1000", "MP1001", "MP1002")


def _land(root: Path, force: str, name: str, rows: list[dict], **kwargs: object) -> Path:
    folder = root / "incoming" / force
    folder.mkdir(parents=True, exist_ok=True)
    when = kwargs.pop("when", None)
    path = write_xlsx(folder / name, rows, **kwargs)
    return set_received(path, when) if when else path


def _refresh(root: Path) -> dg.ExecuteInProcessResult:
    # Only what feedback needs: ingestion, the store, the workbooks.
    return dg.materialize(
        [force_returns, national_store, force_feedback], resources=resources_for(root),
        tags={"dagster/asset_partition_range_start": "avon-and-somerset",
              "dagster/asset_partition_range_end": "wiltshire"},
    )


def _cells(path: Path) -> list[str]:
    wb = openpyxl.load_workbook(path)
    return [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.value is not None]


def _summary(path: Path) -> dict[str, object]:
    ws = openpyxl.load_workbook(path)[SUMMARY_SHEET]
    return {r[0]: r[1] for r in ws.iter_rows(values_only=True) if r[0]}


def _rows_to_fix(path: Path) -> list[dict[str, object]]:
    ws = openpyxl.load_workbook(path)[ROWS_SHEET]
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dg.ExecuteInProcessResult]:
    root = tmp_path_factory.mktemp("feedback")
    kent_rows = [good_row(i) for i in range(6)] + [
        good_row(10, restriction="Maybe"),                      # row 8: not accepted
        good_row(11, date_recorded="31/31/2021"),               # row 9: unreadable date
        good_row(12, subject_role=None),                        # row 10: required blank
        good_row(13, outcome=None),                             # row 11: finalised, no outcome
        good_row(14, status="Live", date_finalised=None),       # row 12: ongoing + outcome
        good_row(2),                                            # row 13: exact duplicate
        good_row(16, criminal_investigation="maybe"),           # row 14: not a flag
    ]
    _land(root, "kent", "Kent VAWG return v2.xlsx", kent_rows, title_rows=0)
    # Essex sends a CSV: its text reaches the quarantine as typed, formula-like text too.
    folder = root / "incoming" / "essex"
    folder.mkdir(parents=True)
    write_csv(folder / "essex-only-file.csv", [good_row(i) for i in range(3)] + [
        good_row(9, case_type="EssexOnlyValue"),
        good_row(10, vawg_category='=HYPERLINK("http://x","DA")')])
    # Surrey: a file missing two required columns is refused.
    headings = {k: v for k, v in HEADINGS.items() if k not in ("case_type", "status")}
    _land(root, "surrey", "surrey return.xlsx", [good_row(i) for i in range(3)],
          headings=headings)
    # Durham: an accepted return, then (next run) a newer file that cannot be read.
    _land(root, "durham", "durham-may.xlsx", [good_row(i) for i in range(4)])
    assert _refresh(root).success
    bad = root / "incoming" / "durham" / "durham-june.xlsx"
    bad.write_bytes(b"PK\x03\x04 truncated")
    set_received(bad, dt.datetime(2022, 6, 1))
    result = _refresh(root)
    assert result.success
    return root, result


def test_a_workbook_per_force_with_a_return_or_refusal_owner_only(refreshed) -> None:
    root, result = refreshed
    folder = root / "feedback"
    assert sorted(p.name for p in folder.iterdir()) == [
        "durham.xlsx", "essex.xlsx", "kent.xlsx", "surrey.xlsx"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    metadata = result.asset_materializations_for_node("force_feedback")[0].metadata
    assert metadata["workbooks written"].value == 4
    assert metadata["forces with a refused newest file"].value == 2


def test_quarantined_rows_are_listed_with_how_to_fix_from_the_contract(refreshed) -> None:
    root, _ = refreshed
    path = root / "feedback" / "kent.xlsx"
    summary = _summary(path)
    assert summary["Return in use"] == "Kent VAWG return v2.xlsx"
    assert summary["Return status"] == "accepted"
    with duckdb.connect(str(root / "warehouse" / "vawg.duckdb"), read_only=True) as con:
        read, stored, quarantined = con.execute(
            "SELECT rows_read, rows_stored, rows_quarantined FROM submissions "
            "WHERE force_code = 'kent' AND status = 'accepted'").fetchone()
        problems = con.execute("SELECT sheet, row_number, field FROM quarantine "
                               "WHERE force_code = 'kent' ORDER BY ALL").fetchall()
    assert (summary["Rows read"], summary["Rows stored"], summary["Rows quarantined"]) \
        == (read, stored, quarantined) == (13, 6, 7)
    rows = _rows_to_fix(path)
    assert sorted((r["Sheet"], r["Row"], r["Field"]) for r in rows) == problems
    by_row = {r["Row"]: r for r in rows}
    contract = load_contract()

    restriction = by_row[8]
    assert restriction["Field"] == "restriction" and restriction["Value"] == "Maybe"
    for spelling in contract["restriction"].values["restricted duties"]:
        assert spelling in restriction["How to fix"]
    assert "Suspended/Restricted" in restriction["Column headings"]
    assert "day-first" in by_row[9]["How to fix"] and "05/10/2021" in by_row[9]["How to fix"]
    assert by_row[10]["Field"] == "subject_role"
    assert "required" in by_row[10]["How to fix"] and "Officer" in by_row[10]["How to fix"]
    assert "outcome" in by_row[11]["Problem"] and "NFA" in by_row[11]["How to fix"]
    assert "ongoing" in by_row[12]["How to fix"]
    assert "Delete the repeated row" in by_row[13]["How to fix"]
    assert "Y or N" in by_row[14]["How to fix"]

    # Text that looks like a formula stays text.
    ws = openpyxl.load_workbook(root / "feedback" / "essex.xlsx")[ROWS_SHEET]
    value_cells = [c for c in ws["E"] if isinstance(c.value, str) and c.value.startswith("=")]
    assert value_cells and all(c.data_type == "s" for c in value_cells)


def test_no_personal_data_and_no_other_forces_data(refreshed) -> None:
    root, result = refreshed
    for path in (root / "feedback").iterdir():
        text = "\n".join(_cells(path))
        for planted in PLANTED:
            assert planted not in text, (path.name, planted)
    kent = "\n".join(_cells(root / "feedback" / "kent.xlsx"))
    assert "essex" not in kent.lower() and "EssexOnlyValue" not in kent
    essex = "\n".join(_cells(root / "feedback" / "essex.xlsx"))
    assert "EssexOnlyValue" in essex and "Kent" not in essex
    metadata = repr(result.asset_materializations_for_node("force_feedback")[0].metadata)
    assert not any(planted in metadata for planted in PLANTED)


def test_a_refused_force_is_told_why_and_what_to_do(refreshed) -> None:
    root, _ = refreshed
    surrey = _summary(root / "feedback" / "surrey.xlsx")
    assert surrey["Newest file"] == "surrey return.xlsx"
    assert surrey["Newest file status"].startswith("refused")
    why = surrey["Why it could not be read"]
    assert "missing" in why and "case_type" in why and "status" in why
    todo = surrey["What to do"]
    assert "Complaint/Conduct" in todo and "Case Status" in todo  # headings from the contract
    assert surrey["Return in use"].startswith("none")

    durham = _summary(root / "feedback" / "durham.xlsx")
    assert durham["Newest file"] == "durham-june.xlsx"
    assert "corrupt" in durham["Why it could not be read"]
    assert ".xlsx" in durham["What to do"]
    assert durham["Return in use"] == "durham-may.xlsx"
    assert durham["Rows stored"] == 4


def test_a_withdrawn_force_loses_its_workbook(tmp_path: Path) -> None:
    _land(tmp_path, "kent", "kent.xlsx", [good_row(i) for i in range(3)])
    assert _refresh(tmp_path).success
    assert (tmp_path / "feedback" / "kent.xlsx").exists()
    store = resources_for(tmp_path)["store"]
    with store.connection() as con:
        national.withdraw_force(con, "kent")
    assert _refresh(tmp_path).success
    assert not (tmp_path / "feedback" / "kent.xlsx").exists()


def test_advice_follows_the_contract_for_every_category_field() -> None:
    contract = load_contract()
    for f in contract.fields:
        if f.kind != "category":
            continue
        advice = how_to_fix(f.name, f"{f.name}: 'x' is not an accepted value (accepted: …)",
                            contract)
        for spellings in f.values.values():
            for spelling in spellings:
                assert spelling in advice, (f.name, spelling)


@pytest.mark.parametrize(("error", "expected"), [
    ("r.xlsx: the workbook is password-protected (encrypted); send it without a password",
     "password"),
    ("r.xlsx: the file is empty (0 bytes)", "Send the completed return again"),
    ("r.csv: CSV is neither UTF-8 nor Windows-1252 (byte 0x81 at offset 3)", "CSV UTF-8"),
    ("r.pdf: format .pdf is not accepted (accepted: .xlsx)", ".ods"),
    ("r.xlsx: no sheet looks like the return: no row within the first 40 rows", "Warrant No"),
    ("r.xlsx: sheet 'Conduct', header row 1: required column(s) missing: "
     "criminal_investigation (e.g. Criminal Investigation, Crim Inv)", "Criminal Investigation"),
])
def test_refusal_advice(error: str, expected: str) -> None:
    advice = refusal_advice(error)
    assert expected in advice
    assert "previous accepted return" in advice


# --- only changed forces' workbooks are rewritten ------------------------------------


def test_the_refresh_rewrites_only_the_workbooks_whose_inputs_changed(refreshed) -> None:
    root, result = refreshed
    metadata = result.asset_materializations_for_node("force_feedback")[0].metadata
    # The second refresh brought only Durham's refused file: the others were kept.
    assert metadata["workbooks rewritten this run"].value == 1
    assert metadata["workbooks kept (inputs unchanged)"].value == 3
    manifest = root / "warehouse" / FEEDBACK_MANIFEST
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600
    assert sorted(json.loads(manifest.read_text())["forces"]) == [
        "durham", "essex", "kent", "surrey"]


def _workbooks(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.xlsx")}


def test_unchanged_inputs_keep_each_workbook_and_changes_rewrite_only_theirs(
    tmp_path: Path,
) -> None:
    store = tmp_path / "warehouse" / "vawg.duckdb"
    accepted = build_store(store, n_forces=6, rows_per_force=12, seed=5,
                           refused=(force_codes()[2],))
    folder, manifest = tmp_path / "feedback", tmp_path / "warehouse" / "manifest.json"
    day = dt.datetime(2022, 5, 1, 9, 0)

    def write(when: dt.datetime, **kwargs: object) -> list:
        with duckdb.connect(str(store), read_only=True) as con:
            return write_all_feedback(con, folder, when, manifest=manifest, **kwargs)

    first = write(day)
    assert len(first) == 6 and all(w.rewritten for w in first)
    before = _workbooks(folder)
    assert len(before) == 6 and not (folder / manifest.name).exists()

    again = write(day + dt.timedelta(days=1))
    assert not any(w.rewritten for w in again)
    assert _workbooks(folder) == before  # not one byte written
    # What the asset reports about a kept workbook is what it reported when writing it.
    assert [dataclasses.replace(w, rewritten=True) for w in again] == first

    # A lost or altered workbook is written again, whatever the manifest says.
    lost, altered = folder / f"{accepted[0]}.xlsx", folder / f"{accepted[1]}.xlsx"
    lost.unlink()
    altered.write_bytes(altered.read_bytes() + b"\0")
    third = write(day)
    assert sorted(w.force_code for w in third if w.rewritten) == sorted(accepted[:2])
    assert openpyxl.load_workbook(altered)[SUMMARY_SHEET]["A1"].value

    # One force resubmits: its workbook alone is rewritten, showing the new return.
    con = national.open_store(store)
    try:
        national.replace_force_return(con, ingest_result(accepted[3], 20, seed=77,
                                                         quarantined=2))
        con.execute("CHECKPOINT")
    finally:
        con.close()
    stamp = _workbooks(folder)
    fourth = write(day)
    assert [w.force_code for w in fourth if w.rewritten] == [accepted[3]]
    changed = {n for n, s in _workbooks(folder).items() if stamp[n] != s}
    assert changed == {f"{accepted[3]}.xlsx"}
    assert _summary(folder / f"{accepted[3]}.xlsx")["Rows quarantined"] == 2

    # Asking about some forces keeps the others' records; no manifest writes them all.
    write(day, force_codes=[accepted[0]])
    assert len(json.loads(manifest.read_text())["forces"]) == 6
    with duckdb.connect(str(store), read_only=True) as con:
        everything = write_all_feedback(con, folder, day)
    assert all(w.rewritten for w in everything) and len(everything) == 6


def test_the_feedback_fingerprint_follows_what_a_workbook_shows(tmp_path: Path) -> None:
    store = tmp_path / "warehouse" / "vawg.duckdb"
    accepted = build_store(store, n_forces=3, rows_per_force=8, seed=2)
    with duckdb.connect(str(store), read_only=True) as con:
        before = feedback_fingerprints(con)
    assert sorted(before) == sorted(accepted)
    con = national.open_store(store)
    try:
        con.execute("UPDATE quarantine SET reason = reason || ' (reworded)' "
                    "WHERE force_code = ?", [accepted[2]])
        con.execute("UPDATE forces SET force_name = force_name || ' Police' "
                    "WHERE force_code = ?", [accepted[1]])
    finally:
        con.close()
    with duckdb.connect(str(store), read_only=True) as con:
        after = feedback_fingerprints(con)
    assert after[accepted[0]] == before[accepted[0]]
    assert after[accepted[1]] != before[accepted[1]]
    assert after[accepted[2]] != before[accepted[2]]
