"""Real spreadsheet writers for sample returns: a grid of cells in, a file out.

A grid cell is None (empty), str, bool, int, float, datetime.date or datetime.datetime.
Dates become real date cells (a number with a date format) in every spreadsheet format;
numbers stay numbers; the CSV writer receives text only. Each writer pins what it can
(creation time, zip entry timestamps) so a given grid gives the same bytes every time.
"""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

# The created/modified time written into documents' properties (determinism).
FIXED_DOC_TIME = datetime(2022, 5, 3, 9, 0, 0)
DATE_NUMBER_FORMAT = "dd/mm/yyyy"
DATETIME_NUMBER_FORMAT = "dd/mm/yyyy hh:mm"

Cell = object  # None | str | bool | int | float | date | datetime


@dataclass
class Sheet:
    """One worksheet: rows of cells, merged ranges and which row is the header."""

    name: str
    rows: list[list[Cell]]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    header_row: int | None = None
    column_widths: list[float] = field(default_factory=list)


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")
_ODF_ROOT = re.compile(rb"<(office:[\w-]+)((?:\s+[\w:.-]+=\"[^\"]*\")*)\s*(/?)>")
_ATTRIBUTE = re.compile(rb'([\w:.-]+)="([^"]*)"')


def _fix_core_properties(name: str, data: bytes) -> bytes:
    # openpyxl stamps "modified" with the time of saving.
    if name == "docProps/core.xml":
        stamp = FIXED_DOC_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        return _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>", data)
    return data


def _fix_odf_namespaces(name: str, data: bytes) -> bytes:
    # odfpy declares on each root element every namespace any document of the process
    # has used so far (a class-level dict), in first-use order: declare them all, sorted.
    if not name.endswith(".xml"):
        return data
    from odf.namespaces import nsdict

    match = _ODF_ROOT.search(data)
    if not match:
        return data
    attributes = _ATTRIBUTE.findall(match.group(2))
    declared = {k: v for k, v in attributes if k.startswith(b"xmlns:")}
    for uri, prefix in nsdict.items():
        declared.setdefault(b"xmlns:" + prefix.encode(), uri.encode())
    others = [(k, v) for k, v in attributes if not k.startswith(b"xmlns:")]
    parts = [b"<" + match.group(1)]
    parts += [b" " + k + b'="' + v + b'"' for k, v in sorted(declared.items()) + others]
    tag = b"".join(parts) + match.group(3) + b">"
    return data[: match.start()] + tag + data[match.end():]


def _normalise_zip(path: Path, rewrite: Callable[[str, bytes], bytes] | None = None) -> None:
    """Rewrite a zip container with fixed entry timestamps, keeping order and compression.

    openpyxl and odfpy stamp entries with the current time; fixing it makes a seed give
    the same bytes. ODF needs ``mimetype`` first and stored, which copying in order keeps.
    ``rewrite`` may fix an entry's content too.
    """
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp_path = Path(tmp.name)
    try:
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path, "w") as dst:
            for info in src.infolist():
                fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
                fixed.compress_type = info.compress_type
                fixed.external_attr = 0o600 << 16
                data = src.read(info.filename)
                if rewrite is not None:
                    data = rewrite(info.filename, data)
                dst.writestr(fixed, data)
        shutil.move(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- xlsx


def write_xlsx_xlsxwriter(sheets: Sequence[Sheet], path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False,
                                         "strings_to_formulas": False,
                                         "strings_to_urls": False})
    wb.set_properties({"created": FIXED_DOC_TIME, "author": "Professional Standards"})
    bold = wb.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    banner = wb.add_format({"bold": True, "font_size": 14, "align": "center",
                            "bg_color": "#1F3864", "font_color": "#FFFFFF"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    date_fmt = wb.add_format({"num_format": DATE_NUMBER_FORMAT})
    datetime_fmt = wb.add_format({"num_format": DATETIME_NUMBER_FORMAT})
    for sheet in sheets:
        ws = wb.add_worksheet(sheet.name)
        for c, width in enumerate(sheet.column_widths):
            ws.set_column(c, c, width)
        merged_starts = {(r1, c1): (r2, c2) for r1, c1, r2, c2 in sheet.merges}
        for r, row in enumerate(sheet.rows):
            for c, value in enumerate(row):
                if (r, c) in merged_starts:
                    r2, c2 = merged_starts[(r, c)]
                    ws.merge_range(r, c, r2, c2, value if value is not None else "", banner)
                    continue
                if value is None:
                    continue
                if isinstance(value, str):
                    if r == sheet.header_row:
                        ws.write_string(r, c, value, bold)
                    elif "\n" in value:
                        ws.write_string(r, c, value, wrap)
                    else:
                        ws.write_string(r, c, value)
                elif isinstance(value, bool):
                    ws.write_boolean(r, c, value)
                elif isinstance(value, datetime):
                    ws.write_datetime(r, c, value, datetime_fmt)
                elif isinstance(value, date):
                    ws.write_datetime(r, c, datetime(value.year, value.month, value.day),
                                      date_fmt)
                else:
                    ws.write_number(r, c, value)
    wb.close()


def write_xlsx_openpyxl(sheets: Sequence[Sheet], path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.creator = "Professional Standards"
    wb.properties.created = FIXED_DOC_TIME
    wb.properties.modified = FIXED_DOC_TIME
    bold = Font(bold=True)
    for sheet in sheets:
        ws = wb.create_sheet(sheet.name)
        for c, width in enumerate(sheet.column_widths, start=1):
            ws.column_dimensions[get_column_letter(c)].width = width
        for r, row in enumerate(sheet.rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is None:
                    continue
                cell = ws.cell(row=r, column=c)
                # Text is text: openpyxl would read a leading "=" as a formula.
                cell.value = value
                if isinstance(value, str):
                    cell.data_type = "s"
                    if "\n" in value:
                        cell.alignment = Alignment(wrap_text=True, vertical="top")
                elif isinstance(value, datetime):
                    cell.number_format = DATETIME_NUMBER_FORMAT
                elif isinstance(value, date):
                    cell.number_format = DATE_NUMBER_FORMAT
                if sheet.header_row is not None and r - 1 == sheet.header_row:
                    cell.font = bold
        for r1, c1, r2, c2 in sheet.merges:
            ws.merge_cells(start_row=r1 + 1, start_column=c1 + 1, end_row=r2 + 1,
                           end_column=c2 + 1)
            top = ws.cell(row=r1 + 1, column=c1 + 1)
            top.font = Font(bold=True, size=14, color="FFFFFF")
            top.fill = PatternFill("solid", fgColor="1F3864")
            top.alignment = Alignment(horizontal="center")
    wb.save(path)
    _normalise_zip(path, _fix_core_properties)


# --------------------------------------------------------------------------- xls


def write_xls(sheets: Sequence[Sheet], path: Path) -> None:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    bold = xlwt.easyxf("font: bold on; align: wrap on, vert top")
    banner = xlwt.easyxf("font: bold on, height 280; align: horiz center")
    wrap = xlwt.easyxf("align: wrap on, vert top")
    date_style = xlwt.easyxf(num_format_str=DATE_NUMBER_FORMAT)
    datetime_style = xlwt.easyxf(num_format_str=DATETIME_NUMBER_FORMAT)
    plain = xlwt.Style.default_style
    for sheet in sheets:
        ws = wb.add_sheet(sheet.name, cell_overwrite_ok=True)
        for c, width in enumerate(sheet.column_widths):
            ws.col(c).width = int(width * 256)
        merged_starts = {(r1, c1): (r2, c2) for r1, c1, r2, c2 in sheet.merges}
        for r, row in enumerate(sheet.rows):
            for c, value in enumerate(row):
                if (r, c) in merged_starts:
                    r2, c2 = merged_starts[(r, c)]
                    ws.write_merge(r, r2, c, c2, value if value is not None else "", banner)
                    continue
                if value is None:
                    continue
                if isinstance(value, datetime):
                    ws.write(r, c, value, datetime_style)
                elif isinstance(value, date):
                    ws.write(r, c, value, date_style)
                elif isinstance(value, str):
                    style = bold if r == sheet.header_row else (wrap if "\n" in value else plain)
                    ws.write(r, c, value, style)
                else:
                    ws.write(r, c, value, plain)
    wb.save(str(path))


# --------------------------------------------------------------------------- ods


def write_ods(sheets: Sequence[Sheet], path: Path) -> None:
    from odf.number import DateStyle, Day, Hours, Minutes, Month, Year
    from odf.number import Text as NumberText
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import Style, TableCellProperties, TextProperties
    from odf.table import CoveredTableCell, Table, TableCell, TableColumn, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    date_style = DateStyle(name="N_DMY")
    for part in (Day(style="long"), NumberText(text="/"), Month(style="long"),
                 NumberText(text="/"), Year(style="long")):
        date_style.addElement(part)
    datetime_style = DateStyle(name="N_DMYHM")
    for part in (Day(style="long"), NumberText(text="/"), Month(style="long"),
                 NumberText(text="/"), Year(style="long"), NumberText(text=" "),
                 Hours(style="long"), NumberText(text=":"), Minutes(style="long")):
        datetime_style.addElement(part)
    doc.automaticstyles.addElement(date_style)
    doc.automaticstyles.addElement(datetime_style)
    date_cell = Style(name="ce_date", family="table-cell", datastylename="N_DMY")
    datetime_cell = Style(name="ce_datetime", family="table-cell", datastylename="N_DMYHM")
    bold_cell = Style(name="ce_bold", family="table-cell")
    bold_cell.addElement(TextProperties(fontweight="bold"))
    bold_cell.addElement(TableCellProperties(wrapoption="wrap"))
    for style in (date_cell, datetime_cell, bold_cell):
        doc.automaticstyles.addElement(style)

    def text_cell(value: str, **kwargs: object) -> TableCell:
        cell = TableCell(valuetype="string", **kwargs)
        for line in value.split("\n"):
            cell.addElement(P(text=line))
        return cell

    for sheet in sheets:
        table = Table(name=sheet.name)
        width = max((len(r) for r in sheet.rows), default=1)
        table.addElement(TableColumn(numbercolumnsrepeated=max(width, 1)))
        merged_starts = {(r1, c1): (r2, c2) for r1, c1, r2, c2 in sheet.merges}
        covered = {(r, c) for r1, c1, r2, c2 in sheet.merges
                   for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)} - set(merged_starts)
        merge_ends = {r1: c2 for r1, _c1, _r2, c2 in sheet.merges}
        for r, source_row in enumerate(sheet.rows):
            # A merged range needs its covered cells written out.
            row = list(source_row) + [None] * (merge_ends.get(r, -1) + 1 - len(source_row))
            tr = TableRow()
            if not row:
                tr.addElement(TableCell())
            for c, value in enumerate(row):
                if (r, c) in covered:
                    tr.addElement(CoveredTableCell())
                    continue
                span: dict[str, object] = {}
                if (r, c) in merged_starts:
                    r2, c2 = merged_starts[(r, c)]
                    span = {"numbercolumnsspanned": c2 - c + 1, "numberrowsspanned": r2 - r + 1,
                            "stylename": bold_cell}
                # A date keeps its date style when merged.
                spanned = {k: v for k, v in span.items() if k != "stylename"}
                if value is None:
                    tr.addElement(TableCell(**span))
                elif isinstance(value, str):
                    if r == sheet.header_row:
                        span.setdefault("stylename", bold_cell)
                    tr.addElement(text_cell(value, **span))
                elif isinstance(value, bool):
                    cell = TableCell(valuetype="boolean", booleanvalue=str(value).lower(), **span)
                    cell.addElement(P(text=str(value).upper()))
                    tr.addElement(cell)
                elif isinstance(value, datetime):
                    cell = TableCell(valuetype="date", stylename=datetime_cell,
                                     datevalue=value.isoformat(timespec="seconds"),
                                     **spanned)
                    cell.addElement(P(text=value.strftime("%d/%m/%Y %H:%M")))
                    tr.addElement(cell)
                elif isinstance(value, date):
                    cell = TableCell(valuetype="date", datevalue=value.isoformat(),
                                     stylename=date_cell, **spanned)
                    cell.addElement(P(text=value.strftime("%d/%m/%Y")))
                    tr.addElement(cell)
                else:
                    cell = TableCell(valuetype="float", value=value, **span)
                    cell.addElement(P(text=str(value)))
                    tr.addElement(cell)
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    doc.save(str(path))
    _normalise_zip(path, _fix_odf_namespaces)


# --------------------------------------------------------------------------- csv


def _csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def write_csv(sheet: Sheet, path: Path, encoding: str) -> None:
    """Excel-style CSV: CRLF records, minimal quoting, so multi-line notes are quoted."""
    width = max((len(r) for r in sheet.rows), default=0)
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        for row in sheet.rows:
            # Excel pads every record to the sheet's width with empty fields.
            writer.writerow([_csv_text(v) for v in row] + [""] * (width - len(row)))


def write_sheets(sheets: Sequence[Sheet], path: Path, fmt: str, *, csv_encoding: str = "utf-8",
                 xlsx_engine: str = "xlsxwriter") -> None:
    """Write ``sheets`` in ``fmt`` (a CSV takes the first sheet only)."""
    if fmt == "xlsx":
        if xlsx_engine == "openpyxl":
            write_xlsx_openpyxl(sheets, path)
        else:
            write_xlsx_xlsxwriter(sheets, path)
    elif fmt == "xls":
        write_xls(sheets, path)
    elif fmt == "ods":
        write_ods(sheets, path)
    elif fmt == "csv":
        if len(sheets) != 1:
            raise ValueError("a CSV return holds exactly one sheet")
        write_csv(sheets[0], path, csv_encoding)
    else:
        raise ValueError(f"unknown sample format {fmt!r}")
