"""Shared fixtures: real return files written by real writers, real DuckDB stores."""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from vawg_pipeline.privacy import PseudonymKey

# The headings a typical force uses (aliases of the contract, in its own order).
HEADINGS = {
    "case_reference": "Case Ref",
    "case_type": "Complaint/Conduct",
    "date_recorded": "Date Recorded",
    "subject_reference": "Warrant No",
    "subject_name": "Officer Name",
    "subject_role": "Role",
    "subject_gender": "Gender",
    "vawg_category": "VAWG Type",
    "criminal_investigation": "Crim Inv",
    "restriction": "Suspended/Restricted",
    "status": "Status",
    "outcome": "Outcome",
    "date_finalised": "Date Closed",
    "notes": "Notes",
}
RECEIVED = dt.datetime(2022, 5, 3, 9, 0)


def good_row(i: int, **overrides: object) -> dict[str, object]:
    """One valid subject-per-case row (a finalised conduct case by default)."""
    row: dict[str, object] = {
        "case_reference": f"PSD-{i:04d}",
        "case_type": "Conduct matter",
        "date_recorded": dt.datetime(2021, 10, 5) + dt.timedelta(days=i % 150),
        "subject_reference": f"MP{100000 + i}",
        "subject_name": f"PC Planted Name{i}",
        "subject_role": "Officer",
        "subject_gender": "M",
        "vawg_category": "DA",
        "criminal_investigation": "N",
        "restriction": "",
        "status": "Closed",
        "outcome": "NFA",
        "date_finalised": dt.datetime(2022, 3, 1),
        "notes": f"Planted note {i}: victim lives at 1 Secret Street",
    }
    row.update(overrides)
    return row


def set_received(path: Path, when: dt.datetime = RECEIVED) -> Path:
    stamp = when.replace(tzinfo=dt.UTC).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def write_xlsx(
    path: Path, rows: Sequence[dict[str, object]], headings: dict[str, str] = HEADINGS,
    title_rows: int = 0, sheet: str = "Return", guidance_first: bool = False,
    extra_sheets: dict[str, Sequence[dict[str, object]]] | None = None,
    totals_row: bool = False,
) -> Path:
    """An .xlsx return written by openpyxl: real date cells, optional title rows."""
    wb = openpyxl.Workbook()
    first = wb.active
    if guidance_first:
        first.title = "Guidance"
        first["A1"] = "How to complete this return"
        ws = wb.create_sheet(sheet)
    else:
        first.title = sheet
        ws = first
    for name, sheet_rows in [(None, rows), *(extra_sheets or {}).items()]:
        target = ws if name is None else wb.create_sheet(name)
        for t in range(title_rows):
            target.cell(row=t + 1, column=1, value=f"VAWG review return - title {t + 1}")
        fields = list(headings)
        header_row = title_rows + 1
        for c, f in enumerate(fields, start=1):
            target.cell(row=header_row, column=c, value=headings[f])
        for r, row in enumerate(sheet_rows, start=header_row + 1):
            for c, f in enumerate(fields, start=1):
                value = row.get(f)
                target.cell(row=r, column=c, value=None if value == "" else value)
        if totals_row:
            target.cell(row=header_row + len(sheet_rows) + 1, column=1, value="Total")
            target.cell(row=header_row + len(sheet_rows) + 1, column=2, value=len(sheet_rows))
    wb.save(path)
    return set_received(path)


def write_csv(
    path: Path, rows: Sequence[dict[str, object]], encoding: str = "utf-8",
    headings: dict[str, str] = HEADINGS, date_format: str = "%d/%m/%Y",
    delimiter: str = ",",
) -> Path:
    def text(value: object) -> str:
        if isinstance(value, dt.datetime):
            return value.strftime(date_format)
        return "" if value is None else str(value)

    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow([headings[f] for f in headings])
        for row in rows:
            writer.writerow([text(row.get(f)) for f in headings])
    return set_received(path)


@pytest.fixture
def key() -> PseudonymKey:
    return PseudonymKey(b"test-key-not-a-secret")


@pytest.fixture
def rows() -> list[dict[str, object]]:
    return [good_row(i) for i in range(1, 21)]


def frame(result_cases: pd.DataFrame) -> pd.DataFrame:
    return result_cases.sort_values(["case_reference", "subject_pseudonym"]).reset_index(
        drop=True)
