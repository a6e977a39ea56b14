"""A small, independent reader of sample returns, for testing the generator only.

It reads a written file back as a grid of text (fastexcel for spreadsheets, the csv
module for CSVs), finds header rows by the contract's headings, and checks each data
row against the contract's rules. It is deliberately simple and separate from
``vawg_pipeline.ingest`` so the generator is tested against the contract itself.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import fastexcel

from vawg_pipeline.contract.fields import load_contract, normalise_heading, normalise_value

EXCEL_EPOCH = date(1899, 12, 30)
MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    start=1)}
TOTALS = {"total", "totals"}

Grid = list[list[str | None]]


def read_grids(path: Path, fmt: str, encoding: str | None = None) -> dict[str, Grid]:
    """Every sheet of the file as rows of text cells (None for empty)."""
    if fmt == "csv":
        text = Path(path).read_bytes().decode(encoding or "utf-8")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        return {"csv": [[c if c != "" else None for c in row] for row in rows]}
    reader = fastexcel.read_excel(str(path))
    grids: dict[str, Grid] = {}
    for name in reader.sheet_names:
        frame = reader.load_sheet(name, header_row=None, dtypes="string").to_pandas()
        grids[name] = [[None if v is None or v != v or v == "" else str(v) for v in row]
                       for row in frame.itertuples(index=False)]
    return grids


@dataclass
class DataSheet:
    name: str
    header_index: int
    columns: dict[int, str]  # column index -> field name
    rows: list[tuple[int, list[str | None]]]  # (1-based row number, cells)


def find_header(grid: Grid) -> tuple[int, dict[int, str]] | None:
    """The first row (within 40) whose headings name every required field."""
    lookup = load_contract().heading_lookup
    required = {f.name for f in load_contract().required}
    for index, row in enumerate(grid[:40]):
        columns = {c: lookup[normalise_heading(v)] for c, v in enumerate(row)
                   if v is not None and normalise_heading(v) in lookup}
        if required <= set(columns.values()):
            return index, columns
    return None


def data_sheets(grids: dict[str, Grid]) -> list[DataSheet]:
    sheets = []
    for name, grid in grids.items():
        found = find_header(grid)
        if found is None:
            continue
        header_index, columns = found
        rows = []
        for index in range(header_index + 1, len(grid)):
            cells = grid[index]
            used = [v for v in cells if v is not None and v.strip()]
            if not used:
                continue
            if normalise_heading(used[0]) in TOTALS:
                continue
            rows.append((index + 1, cells))
        sheets.append(DataSheet(name, header_index, columns, rows))
    return sheets


def parse_date(text: str) -> date | None:
    """A date in one of the contract's forms (never month-first), else None."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d+(\.0+)?", text):
            return EXCEL_EPOCH + timedelta(days=int(float(text)))
        m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2})?)?", text)
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?)?",
                         text)
        if m:
            year = int(m[3]) if len(m[3]) == 4 else datetime.strptime(m[3], "%y").year
            return date(year, int(m[2]), int(m[1]))
        m = re.fullmatch(r"(\d{1,2})[ -]([A-Za-z]{3})[ -](\d{2}|\d{4})", text)
        if m and m[2].lower() in MONTHS:
            year = int(m[3]) if len(m[3]) == 4 else datetime.strptime(m[3], "%y").year
            return date(year, MONTHS[m[2].lower()], int(m[1]))
    except ValueError:
        return None
    return None


def canonical_row(cells: list[str | None], columns: dict[int, str]) -> dict[str, object]:
    """Cell text per field, by the header's mapping."""
    return {f: cells[c] if c < len(cells) else None for c, f in columns.items()}


def row_problems(row: dict[str, object], received: date) -> list[str]:
    """The contract's per-row rules (not the duplicate or case-level ones)."""
    contract = load_contract()
    problems: list[str] = []
    values: dict[str, object] = {}
    for f in contract.fields:
        if f.name not in row:
            continue
        raw = row[f.name]
        text = None if raw is None else str(raw).strip() or None
        if f.kind == "text":
            if text is None and f.required:
                problems.append(f"{f.name}: blank")
            values[f.name] = text
        elif f.kind == "date":
            if text is None:
                values[f.name] = None
                if f.required:
                    problems.append(f"{f.name}: blank")
                continue
            d = parse_date(text)
            if d is None:
                problems.append(f"{f.name}: unreadable {text!r}")
            elif d > received or d.year < 1990:
                problems.append(f"{f.name}: out of range {d}")
            values[f.name] = d
        else:
            if text is None:
                if f.blank:
                    values[f.name] = f.blank
                elif f.required:
                    problems.append(f"{f.name}: blank")
                else:
                    values[f.name] = None
                continue
            key = normalise_value(re.sub(r"^(\d+)\.0+$", r"\1", text))
            canonical = f.value_lookup.get(key)
            if canonical is None:
                problems.append(f"{f.name}: unknown {text!r}")
            values[f.name] = canonical
    status = values.get("status")
    if status == "finalised":
        for name in ("outcome", "date_finalised"):
            if values.get(name) is None:
                problems.append(f"{name}: missing on a finalised row")
        recorded, closed = values.get("date_recorded"), values.get("date_finalised")
        if isinstance(recorded, date) and isinstance(closed, date) and closed < recorded:
            problems.append("date_finalised: before date_recorded")
    elif status == "ongoing":
        for name in ("outcome", "date_finalised"):
            if row.get(name) not in (None, ""):
                problems.append(f"{name}: given on an ongoing row")
    return problems
