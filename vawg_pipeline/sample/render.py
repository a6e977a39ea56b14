"""Turn canonical rows into a force's sheets: headings, spellings, dates and layout quirks.

Cells that hold a canonical value are spelled the way the style says; cells that hold
anything else (planted raw text, an unknown spelling, a month-first date) are written
exactly as they are, because that is what the reader must meet. Exact duplicate rows are
rendered identically, so the reader sees a true duplicate and not two spellings.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from vawg_pipeline.contract.fields import ContractField, load_contract
from vawg_pipeline.sample import vocab
from vawg_pipeline.sample.style import ReturnStyle, value_alternatives
from vawg_pipeline.sample.writers import Cell, Sheet

EXCEL_EPOCH = date(1899, 12, 30)
# Case-level fields: every row of a case must carry the same value, so their spelling
# is never varied cell by cell (a by-hand variation must not look like a conflict).
CASE_LEVEL_FIELDS = ("case_type", "date_recorded")
KEY_FIELDS = ("case_reference", "subject_reference")


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return value is pd.NaT


def _case_key(case_reference: Any, salt: str) -> int:
    return zlib.crc32(f"{case_reference}|{salt}".encode())


def format_date(d: date, fmt: str, *, spreadsheet: bool, key: int = 0) -> Cell:
    """A date as the style writes it: a date cell, a serial number, or day-first text."""
    if isinstance(d, datetime):
        d = d.date()
    if fmt == "excel_date":
        return d if spreadsheet else f"{d.day:02d}/{d.month:02d}/{d.year}"
    if fmt == "serial":
        serial = (d - EXCEL_EPOCH).days
        return serial if spreadsheet else str(serial)
    if fmt == "iso":
        return d.isoformat()
    if fmt == "uk_slash":
        return f"{d.day:02d}/{d.month:02d}/{d.year}"
    if fmt == "uk_short_year":
        return f"{d.day}/{d.month}/{d.year % 100:02d}"
    if fmt == "uk_text":
        return f"{d.day} {vocab.MONTHS[d.month - 1]} {d.year}"
    if fmt == "uk_dash_text":
        return f"{d.day:02d}-{vocab.MONTHS[d.month - 1]}-{d.year % 100:02d}"
    if fmt == "with_time":
        # Exports often carry midnight; typed logs carry office hours.
        hour, minute = (0, 0) if key % 3 == 0 else (8 + key % 10, (key // 10) % 60)
        stamp = datetime(d.year, d.month, d.day, hour, minute)
        return stamp if spreadsheet else stamp.strftime("%d/%m/%Y %H:%M")
    raise ValueError(f"unknown date format {fmt!r}")


def _render_category(f: ContractField, values: pd.Series, style: ReturnStyle,
                     rng: np.random.Generator) -> list[Cell]:
    spelled = style.value_spellings.get(f.name, {})
    canonical = {c: spelled.get(c, c) for c in f.values}
    out: list[Cell] = []
    mixed = style.mixed_spellings if f.name not in CASE_LEVEL_FIELDS else 0.0
    rolls = rng.random(len(values))
    picks = rng.integers(0, 1 << 30, size=len(values))
    for value, roll, pick in zip(values.tolist(), rolls, picks, strict=True):
        if _is_blank(value):
            out.append(None)
            continue
        if isinstance(value, str) and value in canonical:
            text = canonical[value]
            if roll < mixed:
                alternatives = value_alternatives(f, value)
                text = alternatives[int(pick) % len(alternatives)]
            out.append(text if text != "" else None)
        else:
            out.append(str(value))
    return out


def _render_flag(f: ContractField, values: pd.Series, style: ReturnStyle,
                 rng: np.random.Generator) -> list[Cell]:
    spelled = style.value_spellings.get(f.name, {})
    true_text, false_text = spelled.get("true", "true"), spelled.get("false", "false")
    typed = style.typed_flags and style.format != "csv"
    rolls = rng.random(len(values))
    out: list[Cell] = []
    for value, roll in zip(values.tolist(), rolls, strict=True):
        if _is_blank(value):
            out.append(None)
            continue
        if isinstance(value, str) and value in ("true", "false"):
            value = value == "true"
        if isinstance(value, bool | np.bool_):
            flag = bool(value)
            if typed:
                out.append(flag if style.flag_style.upper() == "TRUE/FALSE" else int(flag))
                continue
            text = true_text if flag else false_text
            # Stray spaces typed by hand.
            out.append(f"{text} " if roll < style.mixed_spellings else text)
        else:
            out.append(str(value))
    return out


def _render_dates(values: pd.Series, case_refs: list[Any], name: str,
                  style: ReturnStyle) -> list[Cell]:
    spreadsheet = style.format != "csv"
    out: list[Cell] = []
    for value, ref in zip(values.tolist(), case_refs, strict=True):
        if _is_blank(value):
            out.append(None)
        elif isinstance(value, date):
            key = _case_key(ref, name)
            fmt = style.date_format
            if style.date_text_fraction and (key % 1000) / 1000 < style.date_text_fraction:
                fmt = "uk_slash"
            out.append(format_date(value, fmt, spreadsheet=spreadsheet, key=key))
        else:
            out.append(str(value))
    return out


def _render_text(values: pd.Series) -> list[Cell]:
    return [None if _is_blank(v) or v == "" else str(v) for v in values.tolist()]


def render_columns(rows: pd.DataFrame, style: ReturnStyle) -> dict[str, list[Cell]]:
    """Cells per written column (field name or extra heading), in ``style.layout()``."""
    contract = load_contract()
    rng = np.random.default_rng(style.seed)
    n = len(rows)
    case_refs = (rows["case_reference"].tolist() if "case_reference" in rows
                 else [None] * n)
    columns: dict[str, list[Cell]] = {}
    for name in style.layout():
        if name not in contract.names:
            choices = vocab.EXTRA_COLUMNS.get(name, ("",))
            columns[name] = [choices[i] or None for i in rng.integers(0, len(choices), n)]
            continue
        f = contract[name]
        values = rows[name] if name in rows else pd.Series([None] * n, dtype=object)
        if f.kind == "category":
            columns[name] = _render_category(f, values, style, rng)
        elif f.kind == "flag":
            columns[name] = _render_flag(f, values, style, rng)
        elif f.kind == "date":
            columns[name] = _render_dates(values, case_refs, name, style)
        else:
            columns[name] = _render_text(values)
    # An exact duplicate in the data is an exact duplicate in the file.
    if n:
        keys = rows.astype(str).agg("\x1f".join, axis=1).tolist()
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            j = first.setdefault(key, i)
            if j != i:
                for cells in columns.values():
                    cells[i] = cells[j]
    return columns


def _title_lines(style: ReturnStyle) -> list[str]:
    return [
        f"{style.force_name or 'Force'} – NPCC review of VAWG allegations against officers "
        "and staff",
        "Reporting period: 1 October 2021 to 31 March 2022",
        "OFFICIAL-SENSITIVE – contains personal data",
        "Prepared by: Professional Standards Department",
    ]


def _data_sheet(name: str, columns: dict[str, list[Cell]], index: list[int],
                layout: list[str | None], style: ReturnStyle,
                rng: np.random.Generator) -> Sheet:
    width = len(layout)
    rows: list[list[Cell]] = []
    merges: list[tuple[int, int, int, int]] = []
    lines = _title_lines(style)
    for r in range(style.title_rows):
        rows.append([lines[r]] if r < len(lines) else [])
    if style.merged_banner and style.title_rows and style.format != "csv":
        merges.append((0, 0, 0, max(width - 1, 1)))
    header_row = len(rows)
    rows.append([style.heading(c) if c in columns and c in load_contract().names
                 else c for c in layout])
    # Entirely blank rows scattered through the data (deleted rows left empty).
    blanks: set[int] = set()
    if style.blank_rows and index:
        k = 1 + len(index) // 40
        blanks = {int(i) for i in rng.integers(0, len(index), size=k)}
    for pos, i in enumerate(index):
        if pos in blanks:
            rows.append([])
        rows.append([columns[c][i] if c is not None else None for c in layout])
    if style.totals_row:
        if rng.random() < 0.5:
            rows.append([])
        # "Total" in the first used column, the count under the next column that is not
        # a case or subject reference (a totals row has no reference of its own).
        used = [c for c, col in enumerate(layout) if col is not None]
        total: list[Cell] = [None] * width
        if used:
            total[used[0]] = style.total_label
            count_at = next((c for c in used[1:] if layout[c] not in KEY_FIELDS), None)
            if count_at is not None:
                total[count_at] = len(index)
        rows.append(total)
    widths = [min(max(len(str(h or "")) + 2, 10), 40) for h in rows[header_row]]
    return Sheet(name=name, rows=rows, merges=merges, header_row=header_row,
                 column_widths=[float(w) for w in widths])


def _guidance_sheet(style: ReturnStyle) -> Sheet:
    contract = load_contract()
    rows: list[list[Cell]] = [
        [f"{style.force_name or 'Force'} – NPCC VAWG data return"],
        [],
        ["Purpose", "Every allegation of violence against women and girls made against "
                    "the force's officers and staff, one row per subject per case."],
        ["Period", "1 October 2021 to 31 March 2022"],
        ["Handling", "OFFICIAL-SENSITIVE. Contains personal data: send only via the "
                     "secure portal."],
        [],
        ["Column", "What to enter"],
    ]
    for name in style.written_fields():
        rows.append([style.heading(name), contract[name].description])
    return Sheet(name=style.guidance_sheet_name, rows=rows, merges=[(0, 0, 0, 3)],
                 column_widths=[28.0, 90.0])


def _lookup_sheet(style: ReturnStyle) -> Sheet:
    # A drop-down list sheet: some of the return's headings across the top, but not all
    # the required ones, so it must not be taken for a data sheet.
    contract = load_contract()
    names = [n for n in ("case_type", "subject_role", "status", "outcome")
             if n in style.written_fields()]
    lists = []
    for n in names:
        spelled = style.value_spellings.get(n, {})
        lists.append([spelled.get(c, c) or "(blank)" for c in contract[n].values])
    depth = max(len(v) for v in lists)
    rows: list[list[Cell]] = [[style.heading(n) for n in names]]
    for r in range(depth):
        rows.append([v[r] if r < len(v) else None for v in lists])
    return Sheet(name=style.lookup_sheet_name, rows=rows, header_row=0,
                 column_widths=[24.0] * len(names))


def render_return(rows: pd.DataFrame, style: ReturnStyle) -> list[Sheet]:
    """The sheets of the return file, in workbook order."""
    rng = np.random.default_rng([style.seed, 1])
    columns = render_columns(rows, style)
    layout: list[str | None] = list(style.layout())
    if style.blank_columns:
        for _ in range(int(rng.integers(1, 3))):
            layout.insert(int(rng.integers(0, len(layout) + 1)), None)

    if style.split_by_case_type and style.format != "csv" and "case_type" in rows:
        conduct = (rows["case_type"] == "conduct").to_numpy()
        groups = [
            (style.split_sheet_names[0], [i for i in range(len(rows)) if not conduct[i]]),
            (style.split_sheet_names[1], [i for i in range(len(rows)) if conduct[i]]),
        ]
    else:
        groups = [(style.sheet_name, list(range(len(rows))))]

    sheets: list[Sheet] = []
    if style.guidance_sheet and style.format != "csv":
        sheets.append(_guidance_sheet(style))
    for name, index in groups:
        sheets.append(_data_sheet(name, columns, index, layout, style, rng))
    if style.lookup_sheet and style.format != "csv":
        sheets.append(_lookup_sheet(style))
    return sheets

