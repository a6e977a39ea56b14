"""Written sample returns: one real file per force, readable, contract-shaped, private."""

from __future__ import annotations

import hashlib
import stat
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from vawg_pipeline.contract.fields import load_contract
from vawg_pipeline.forces import force_codes
from vawg_pipeline.sample.generator import (
    MIN_INDIVIDUALS,
    SampleManifest,
    generate_force_rows,
    plant_quarantine_rows,
    style_for_force,
    write_return,
    write_sample_returns,
)

from .readback import canonical_row, data_sheets, read_grids, row_problems

ROW_RULE_KINDS = {"exact_duplicate", "conflicting_duplicate", "case_conflict"}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_one_return_per_force(sample_manifest: SampleManifest) -> None:
    out = sample_manifest.out_dir
    assert sorted(p.name for p in out.iterdir()) == sorted(force_codes())
    for f in sample_manifest:
        files = list((out / f.force_code).iterdir())
        assert files == [f.path]
        assert f.path.suffix == "." + f.format


def test_owner_only_permissions_and_received_time(sample_manifest: SampleManifest) -> None:
    assert _mode(sample_manifest.out_dir) == 0o700
    stamp = sample_manifest.received_at.replace(tzinfo=UTC).timestamp()
    for f in sample_manifest:
        assert _mode(f.path.parent) == 0o700
        assert _mode(f.path) == 0o600
        assert f.path.stat().st_mtime == pytest.approx(stamp)


def test_every_listed_format_and_layout_appears(sample_manifest: SampleManifest) -> None:
    assert sample_manifest.formats == {"xlsx", "xls", "ods", "csv"}
    counts = Counter(f.format for f in sample_manifest)
    assert counts.most_common(1)[0][0] == "xlsx"
    assert {f.csv_encoding for f in sample_manifest if f.format == "csv"} == {
        "utf-8", "utf-8-sig", "cp1252"}
    styles = [f.style for f in sample_manifest]
    assert any(s.split_by_case_type for s in styles)
    assert any(s.guidance_sheet for s in styles)
    assert any(s.title_rows and s.merged_banner for s in styles)
    assert any(s.totals_row for s in styles)
    assert any(s.blank_rows for s in styles) and any(s.blank_columns for s in styles)


def test_volumes(sample_manifest: SampleManifest) -> None:
    assert 1300 <= sample_manifest.individuals <= 1700
    assert 1.2 < sample_manifest.individuals / sample_manifest.cases < 1.4
    sizes = {f.force_code: f.individuals for f in sample_manifest}
    assert min(sizes.values()) >= MIN_INDIVIDUALS
    assert max(sizes, key=sizes.get) == "metropolitan"
    for f in sample_manifest:
        assert f.rows_written == f.individuals + f.quarantined_rows
        assert f.stored_rows == f.individuals
        assert len(f.problems) >= 2
    kinds = {p.kind for f in sample_manifest for p in f.problems}
    assert len(kinds) == 12


def test_files_read_back_as_the_contract_says(sample_manifest: SampleManifest) -> None:
    required = {f.name for f in load_contract().required}
    for f in sample_manifest:
        where = f"{f.force_code} ({f.path.name})"
        grids = read_grids(f.path, f.format, f.csv_encoding)
        sheets = data_sheets(grids)
        assert len(sheets) == f.sheets, where
        if f.style.guidance_sheet:
            assert next(iter(grids)) == f.style.guidance_sheet_name, where
        for sheet in sheets:
            assert required <= set(sheet.columns.values()), where
            assert sheet.header_index == f.style.title_rows, where
        rows = [(s.name, n, canonical_row(cells, s.columns)) for s in sheets for n, cells in s.rows]
        assert len(rows) == f.rows_written, where

        # Clean rows pass every per-row rule; planted ones fail theirs.
        planted = {(p.case_reference, p.subject_reference): p for p in f.problems}
        seen: Counter[tuple] = Counter()
        received = f.path.stat().st_mtime
        received_day = datetime.fromtimestamp(received, tz=UTC).date()
        for sheet_name, number, row in rows:
            key = (row["case_reference"], row["subject_reference"])
            seen[key] += 1
            problems = row_problems(row, received_day)
            p = planted.get(key)
            if p is None or p.kind in ROW_RULE_KINDS:
                assert problems == [], (where, sheet_name, number, problems)
            else:
                assert any(x.startswith(p.field) for x in problems), (where, number, p)
        for p in f.problems:
            key = (p.case_reference, p.subject_reference)
            if p.kind in ("exact_duplicate", "conflicting_duplicate"):
                assert seen[key] == 2, (where, p)

        # The manifest's personal strings are really in the file, as written.
        cells = {v for grid in grids.values() for row in grid for v in row if v}
        missing = [s for s in f.personal_strings if s not in cells]
        assert not missing, (where, missing[:3])


def test_csv_encodings_and_multiline_records(sample_manifest: SampleManifest) -> None:
    for f in sample_manifest:
        if f.format != "csv":
            continue
        data = f.path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") == (f.csv_encoding == "utf-8-sig")
        if f.csv_encoding == "cp1252":
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")  # accents, curly quotes and dashes are single bytes
        text = data.decode(f.csv_encoding)
        assert "\r\n" in text
        if "notes" in f.style.written_fields():
            assert any("\n" in s for s in f.personal_strings)
            assert any(c == "\n" for c in text.replace("\r\n", "")), f.force_code


def test_spreadsheet_cells_are_typed_as_the_style_says(sample_manifest: SampleManifest) -> None:
    checked = Counter()
    for f in sample_manifest:
        if f.format != "xlsx" or f.style.date_format not in ("excel_date", "serial"):
            continue
        wb = openpyxl.load_workbook(f.path, read_only=False)
        for ws in wb.worksheets:
            header = None
            for row in ws.iter_rows(min_row=1, max_row=40):
                names = [c.value for c in row]
                if f.style.heading("date_recorded") in names:
                    header = row[0].row
                    col = names.index(f.style.heading("date_recorded")) + 1
                    break
            if header is None:
                continue
            cell = ws.cell(row=header + 1, column=col)
            if f.style.date_format == "excel_date" and not f.style.date_text_fraction:
                if isinstance(cell.value, datetime):
                    assert cell.is_date
                    checked["date"] += 1
            elif f.style.date_format == "serial" and isinstance(cell.value, int | float):
                assert not cell.is_date
                checked["serial"] += 1
            if f.style.title_rows and f.style.merged_banner:
                assert ws.merged_cells.ranges, f.force_code
                checked["merged"] += 1
    assert checked["date"] and checked["serial"] and checked["merged"]


def test_same_seed_same_bytes(tmp_path: Path, sample_manifest: SampleManifest) -> None:
    # One force per format and engine is enough to catch a time stamp or set order.
    picks: dict[tuple, str] = {}
    for f in sample_manifest:
        picks.setdefault((f.format, f.style.xlsx_engine if f.format == "xlsx" else ""),
                         f.force_code)
    again = write_sample_returns(tmp_path / "again", seed=sample_manifest.seed,
                                 forces=sorted(picks.values()))
    for f in again:
        original = sample_manifest[f.force_code].path
        assert hashlib.sha256(f.path.read_bytes()).digest() == hashlib.sha256(
            original.read_bytes()).digest(), f.force_code


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods", "csv"])
def test_write_return_every_layout_quirk_at_once(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(4)
    rows, problems = plant_quarantine_rows(generate_force_rows("essex", 40, rng), rng)
    spreadsheet = fmt != "csv"
    style = replace(style_for_force("essex", np.random.default_rng(8), fmt), title_rows=6,
                    merged_banner=spreadsheet, guidance_sheet=spreadsheet,
                    lookup_sheet=spreadsheet, split_by_case_type=spreadsheet,
                    totals_row=True, blank_rows=True, blank_columns=True,
                    date_format="with_time")
    received = datetime(2022, 5, 3, 9, 0)
    path = write_return(rows, tmp_path / f"Return v3 FINAL (2).{fmt}", style, received)
    assert _mode(path) == 0o600
    grids = read_grids(path, fmt, style.csv_encoding)
    sheets = data_sheets(grids)
    assert len(sheets) == (2 if spreadsheet else 1)
    assert sum(len(s.rows) for s in sheets) == len(rows)
    if spreadsheet:
        assert list(grids)[0] == style.guidance_sheet_name
        assert list(grids)[-1] == style.lookup_sheet_name
