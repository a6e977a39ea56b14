"""Reading a force's return: any accepted format into raw text cells with row numbers.

A return may put its data on any sheet, below title rows and banners, with blank rows and
columns anywhere and its columns in any order. This module finds every data sheet (one
whose header row holds the contract's required headings), maps the headings to canonical
fields by normalised text, and yields the data rows as text with the row number a
spreadsheet program would show. It never interprets values: that is ``normalise``.

Anything that cannot be read raises :class:`ReturnRefused` naming the file and the
problem; the caller records the refusal and carries on with the other forces.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import python_calamine

from vawg_pipeline.contract import Contract, load_contract
from vawg_pipeline.contract.fields import (
    SAYS_NOTHING_RE2,
    SPACE_CHARACTERS,
    heading_without_format_hint,
    heading_without_hint,
    normalise_heading,
)

SPREADSHEET_FORMATS = (".xlsx", ".xlsm", ".xls", ".ods")
ACCEPTED_FORMATS = (*SPREADSHEET_FORMATS, ".csv")
CSV_DELIMITERS = (",", ";", "\t", "|")  # in order of preference when equally good

# How far down a sheet the header row may sit (title rows, logos, merged banners).
HEADER_SEARCH_ROWS = 40
ROW_COLUMN = "_row"
# A CSV record out of line with its headings (a value beyond the last heading, or more
# cells than the header): a cell holding the delimiter unquoted ("Smith, John") has
# pushed every later value under the wrong heading.
MISALIGNED_COLUMN = "_misaligned"
# "Total", "TOTALS:", "Grand total", "Total cases", "Total no. of cases", "Count" (cells
# are already trimmed). Words only: a reference such as "TOTAL-12" is no label.
TOTAL_PATTERN = (r"^[^A-Za-z0-9]*(grand[^A-Za-z0-9]*)?(totals?|count)"
                 r"([^A-Za-z0-9]+(no|number|of|all|cases?|rows?|records?|subjects?"
                 r"|individuals?|officers?|staff))*[^A-Za-z0-9]*$")
# A count in a totals row: 42, 1,234, 12.5, 40%.
COUNT_PATTERN = r"^[-+]?[0-9][0-9,]*(\.[0-9]+)?%?$"
# Beside a totals label, also: a dash or dots for nothing, or a date (the date of the
# count, "as at").
TOTALS_ROW_FILLER = (r"^([-\x{2010}-\x{2015}.\x{2026}]+"
                     r"|[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}([ T][0-9:.]+)?)$")
# When no sheet is a data sheet, the refusal names the missing headings of the sheet
# nearest to one if it holds at least this many required headings.
PARTIAL_HEADER_MIN = 3
# A sheet whose header row holds at least this share of the required headings, with
# cells below it, is a data sheet missing a column (the file is refused, naming it),
# unless it lists options (no reference or date heading, each value once down its
# column: a dropdown-list or lookup sheet). Fewer, and it is a chart-data or summary
# sheet naming a few of the same categories. Either is ignored, and reported as such.
INCOMPLETE_SHEET_SHARE = 2 / 3
RECORD_FIELDS = ("case_reference", "subject_reference", "date_recorded")
FILLED_DOWN_SIGNS = ("date_finalised", "subject_name", "notes")
# Case-level cells a force may merge down over its case's subject rows ("a case against
# two officers is two rows sharing a case reference"). A data row blank in one of them
# is the sign to look the sheet's merged cells up (a second read of the sheet, so only
# then).
MERGED_DOWN_SIGNS = ("case_reference", "case_type", "date_recorded")

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEAD_BYTES = 1 << 16  # enough of a file to tell a workbook, text or a web page


@dataclass
class Grid:
    """A sheet's cells as text: one Arrow string array per column.

    Keys are absolute column positions (0 = column A); index 0 of every array is
    spreadsheet row 1, so row numbers are exactly what a spreadsheet program shows.
    """

    columns: dict[int, pa.Array]
    # Delimited text (CSV): each record's number of cells (a record longer than its
    # header is out of line with the headings, unless every record is as long).
    record_widths: np.ndarray | None = None
    # Workbooks: the sheet's merged ranges, ((first row, first column), (last row, last
    # column)) 0-based and inclusive, looked up only when asked for.
    merged_ranges: Callable[[], list[tuple[tuple[int, int], tuple[int, int]]]] | None = None

    @property
    def height(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def row(self, index: int) -> dict[int, object]:
        return {c: a[index].as_py() for c, a in self.columns.items()}


class ReturnRefused(Exception):
    """The file cannot be ingested at all; the message names the file and the problem."""

    def __init__(self, file_name: str, problem: str):
        self.file_name = file_name
        self.problem = problem
        super().__init__(f"{file_name}: {problem}")


@dataclass
class RawSheet:
    """One data sheet of a return: text cells under canonical field names."""

    sheet: str
    header_row: int  # 1-based, as a spreadsheet program shows it
    columns: dict[str, str]  # canonical field -> heading as the force wrote it
    extra_columns: list[str]
    data: pd.DataFrame  # canonical field columns (str or NA) plus ROW_COLUMN


@dataclass
class RawReturn:
    file_name: str
    sheets: list[RawSheet]
    ignored_sheets: list[str] = field(default_factory=list)
    # Saved with the 1904 date system (old Mac Excel): date serials count from 1904.
    date_1904: bool = False

    @property
    def rows_read(self) -> int:
        return sum(len(s.data) for s in self.sheets)

    @property
    def extra_columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in self.sheets:
            seen.update(dict.fromkeys(s.extra_columns))
        return list(seen)


def read_return(path: Path, contract: Contract | None = None) -> RawReturn:
    """Read every data sheet of the return at ``path``."""
    contract = contract or load_contract()
    path = Path(path)
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in ACCEPTED_FORMATS:
        raise ReturnRefused(
            name, f"format {suffix or '(none)'} is not accepted (accepted: "
            f"{', '.join(ACCEPTED_FORMATS)})"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReturnRefused(name, f"cannot be opened: {exc.strerror}") from exc
    if size == 0:
        raise ReturnRefused(name, "the file is empty (0 bytes)")

    # Read for what the bytes are: a workbook saved as .csv is a workbook, text named
    # .xls is text. The first bytes tell, read once for every check.
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    workbook = head[:8] == _OLE_MAGIC or head[:2] == b"PK" if suffix == ".csv" \
        else not _is_text(path, head)
    grids = _read_spreadsheet(path, head[:8]) if workbook else _read_csv(path, contract)
    sheets: list[RawSheet] = []
    ignored: list[str] = []
    best_partial: tuple[int, str, int, list[str], list[str]] | None = None
    # Data sheets lacking a column: sheet, header row, missing fields, unknown headings.
    incomplete: list[tuple[str, int, list[str], list[str]]] = []
    for sheet_name, grid in grids:
        found = _find_header(grid, contract)
        if found is None:
            ignored.append(sheet_name)
            continue
        header_index, mapping, missing = found
        if missing:
            ignored.append(sheet_name)
            matched = len(contract.required) - len(missing)
            unknown = [str(cell).strip() for col, cell in grid.row(header_index).items()
                       if col not in mapping and cell is not None and str(cell).strip()]
            if best_partial is None or matched > best_partial[0]:
                best_partial = (matched, sheet_name, header_index + 1, missing, unknown)
            # Rows under most of the return's headings are rows of the return, which
            # must not vanish because the sheet lacks a column (or a heading is
            # misspelt), whichever column that is.
            if (matched >= INCOMPLETE_SHEET_SHARE * len(contract.required)
                    and _has_cells_below(grid, header_index)
                    and not _a_list_of_options(grid, header_index, mapping)):
                incomplete.append((sheet_name, header_index + 1, missing, unknown))
            continue
        sheets.append(_data_sheet(sheet_name, grid, header_index, mapping, contract))

    def missing_columns(sheet_name: str, row: int, missing: list[str],
                        unknown: list[str]) -> str:
        headings = "; ".join(
            f"{f} (e.g. {', '.join(contract[f].headings[:2])})" for f in missing
        )
        # The headings the force wrote that the contract does not know: usually the
        # missing column under another name, which a contract alias can then accept.
        found = f"; headings not recognised: {', '.join(repr(h) for h in unknown[:10])}" \
            if unknown else ""
        return (f"sheet {sheet_name!r}, header row {row}: required column(s) missing: "
                f"{headings}{found}")

    if sheets and incomplete:
        raise ReturnRefused(name, "; ".join(missing_columns(*i) for i in incomplete))
    if not sheets:
        if best_partial is not None and best_partial[0] >= PARTIAL_HEADER_MIN:
            raise ReturnRefused(name, missing_columns(*best_partial[1:]))
        raise ReturnRefused(
            name,
            "no sheet looks like the return: no row within the first "
            f"{HEADER_SEARCH_ROWS} rows of any sheet ({', '.join(ignored) or 'none'}) holds "
            "the required headings "
            f"({', '.join(f.name for f in contract.required)})",
        )
    return RawReturn(file_name=name, sheets=sheets, ignored_sheets=ignored,
                     date_1904=workbook and _uses_1904_dates(path))


# --- formats ----------------------------------------------------------------------------


def _read_spreadsheet(path: Path, head: bytes) -> list[tuple[str, Grid]]:
    name = path.name
    suffix = path.suffix.lower()
    if head == _OLE_MAGIC and _is_encrypted_ole(path):
        # Office writes a password-protected .xlsx or .ods inside an OLE container.
        raise ReturnRefused(name, "the workbook is password-protected (encrypted); "
                            "send it without a password")
    actual = _actual_format(path, head)
    if actual is None and suffix != ".xls":
        raise ReturnRefused(
            name, f"not a readable {suffix} workbook (the file is corrupt, "
            "truncated or not a spreadsheet)"
        )
    # A workbook saved under another format's extension (an .xls renamed .xlsx) is read
    # for what it is: from its bytes, whose format the reader recognises.
    source: str | bytes = str(path) if actual in (None, suffix) or (
        actual == ".xlsx" and suffix == ".xlsm") else path.read_bytes()
    try:
        reader = fastexcel.read_excel(source)
        grids = []
        for sheet_name in reader.sheet_names:
            # skip_rows=0 keeps leading blank rows, so index 0 is spreadsheet row 1.
            sheet = reader.load_sheet(sheet_name, header_row=None, skip_rows=0,
                                      dtypes="string")
            batch, errors = sheet.to_arrow_with_errors()
            columns = _with_error_cells(list(batch.columns), errors)
            # Absolute column positions, so "column C" in a message is column C.
            positions = [c.absolute_index for c in sheet.available_columns()]
            grids.append((sheet_name, Grid(
                dict(zip(positions, columns, strict=True)),
                merged_ranges=functools.partial(_merged_ranges, source, sheet_name,
                                                actual or suffix))))
    except ReturnRefused:
        raise
    except Exception as exc:  # fastexcel raises its own error types per failure
        # The reader's message may quote the file's first bytes: never repeat them.
        detail = _BYTE_DUMP.sub("…", str(exc).splitlines()[0])[:200]
        raise ReturnRefused(
            name, f"cannot be read as a spreadsheet ({type(exc).__name__}: {detail}); the "
            f"file is corrupt, truncated or not a {path.suffix.lower()} workbook"
        ) from exc
    return grids


_BYTE_DUMP = re.compile(r"(\\x[0-9A-Fa-f]{2})+|\[(0x[0-9A-Fa-f]{1,2},? ?)+\]")

# calamine's names for the errors a cell can hold, and what a spreadsheet shows.
_ERROR_TEXT = {
    "Div0": "#DIV/0!", "NA": "#N/A", "Name": "#NAME?", "Null": "#NULL!", "Num": "#NUM!",
    "Ref": "#REF!", "Value": "#VALUE!", "GettingData": "#GETTING_DATA",
}
_CALAMINE_ERROR = re.compile(r"Error\((\w+)\)")


def _with_error_cells(columns: list[pa.Array], errors: object) -> list[pa.Array]:
    """Cells holding a spreadsheet error (a failed formula's ``#N/A``) as that text.

    The reader would leave them blank, and a blank is a value for some fields (no
    restriction, gender not recorded): as text they are quarantined, naming the error.
    """
    if errors is None:
        return columns
    by_column: dict[int, dict[int, str]] = {}
    for error in errors.errors:
        found = _CALAMINE_ERROR.search(error.detail)
        if found is None:  # not an error cell: a value the text type could not take
            continue
        row, column = error.position
        by_column.setdefault(column, {})[row] = _ERROR_TEXT.get(found[1], f"#{found[1]}")
    for column, cells in by_column.items():
        rows = sorted(cells)
        mask = np.zeros(len(columns[column]), dtype=bool)
        mask[rows] = True
        columns[column] = pc.replace_with_mask(
            columns[column], pa.array(mask), pa.array([cells[r] for r in rows], pa.string()))
    return columns


def _merged_ranges(
    source: str | bytes, sheet_name: str, fmt: str
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """A sheet's merged ranges (fastexcel does not report them): from the sheet's XML
    for .xlsx and .xlsm, its cells' spans for .ods (calamine reports none), calamine's
    for .xls."""
    try:
        if fmt == ".ods":
            return _ods_merged_ranges(source, sheet_name)
        if fmt in (".xlsx", ".xlsm"):
            return _xlsx_merged_ranges(source, sheet_name)
        book = (python_calamine.CalamineWorkbook.from_path(source) if isinstance(source, str)
                else python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(source)))
        try:
            ranges = book.get_sheet_by_name(sheet_name).merged_cell_ranges
        finally:
            book.close()
    except Exception:  # the sheet was read once already: no merges is the safe answer
        return []
    return [tuple(map(tuple, r)) for r in ranges or []]


_MERGE_CELL = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref\s*=\s*["\']\$?([A-Za-z]+)\$?'
                         rb'([0-9]+):\$?([A-Za-z]+)\$?([0-9]+)["\']')
_MERGE_SCAN_BYTES = 4 << 20


def _xlsx_merged_ranges(
    source: str | bytes, sheet_name: str
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """An .xlsx sheet's merged ranges, from its ``<mergeCell ref="A5:A6"/>`` elements.

    They follow the sheet's data, so the sheet's XML is inflated once, in blocks, and
    nothing else done with it: a quarter of what a second full read of a large sheet
    costs.
    """
    archive = zipfile.ZipFile(source if isinstance(source, str) else io.BytesIO(source))
    with archive:
        part = _sheet_part(archive, sheet_name)
        if part is None:
            return []
        ranges = []
        tail = b""
        with archive.open(part) as stream:
            while block := stream.read(_MERGE_SCAN_BYTES):
                # The last 256 bytes are searched again with the next block, so a match
                # cut by this block's end is found whole there (and counted once).
                text = tail + block
                tail, edge = text[-256:], max(len(text) - 256, 0)
                if b"mergeCell" in text:  # a plain search first: the regex is slower
                    ranges += [m.groups() for m in _MERGE_CELL.finditer(text)
                               if m.start() < edge]
            ranges += _MERGE_CELL.findall(tail)
    return [((int(r1) - 1, _column_index(c1)), (int(r2) - 1, _column_index(c2)))
            for c1, r1, c2, r2 in ranges]


def _sheet_part(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip member holding the named sheet (workbook.xml and its relationships)."""
    workbook = ET.fromstring(archive.read("xl/workbook.xml"))
    relation = None
    for element in workbook.iter():
        if element.tag.endswith("}sheet") and element.get("name") == sheet_name:
            relation = next((v for k, v in element.attrib.items() if k.endswith("}id")),
                            None)
    if relation is None:
        return None
    rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for element in rels.iter():
        if element.get("Id") == relation:
            target = element.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return None


def _column_index(letters: bytes) -> int:
    index = 0
    for letter in letters.upper():
        index = index * 26 + letter - 64
    return index - 1


_ODS_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"


def _ods_merged_ranges(
    source: str | bytes, sheet_name: str
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The spans (``number-rows-spanned``/``-columns-spanned``) of an .ods sheet's cells."""
    t = _ODS_TABLE
    ranges: list[tuple[tuple[int, int], tuple[int, int]]] = []
    archive = zipfile.ZipFile(source if isinstance(source, str) else io.BytesIO(source))
    with archive, archive.open("content.xml") as content:
        in_sheet, row, col = False, -1, 0
        for event, element in ET.iterparse(content, events=("start", "end")):
            tag = element.tag
            if tag == f"{t}table":
                if event == "start":
                    in_sheet, row = element.get(f"{t}name") == sheet_name, -1
                elif in_sheet:
                    break
            elif not in_sheet:
                if event == "end":
                    element.clear()
            elif tag == f"{t}table-row":
                if event == "start":
                    row, col = row + 1, 0
                else:
                    row += int(element.get(f"{t}number-rows-repeated", "1")) - 1
                    element.clear()
            elif event == "start" and tag in (f"{t}table-cell", f"{t}covered-table-cell"):
                rows = int(element.get(f"{t}number-rows-spanned", "1"))
                cols = int(element.get(f"{t}number-columns-spanned", "1"))
                if rows > 1 or cols > 1:
                    ranges.append(((row, col), (row + rows - 1, col + cols - 1)))
                col += int(element.get(f"{t}number-columns-repeated", "1"))
    return ranges


def _actual_format(path: Path, head: bytes) -> str | None:
    """The workbook format the file's bytes are in (.xls, .xlsx or .ods), whatever its
    name says; None if it is none of them."""
    if head == _OLE_MAGIC:
        return ".xls"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return None
    if "xl/workbook.xml" in names:
        return ".xlsx"
    return ".ods" if "content.xml" in names else None


def _uses_1904_dates(path: Path) -> bool:
    """Whether an .xlsx workbook declares the 1904 date system (``workbookPr date1904``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            workbook = archive.read("xl/workbook.xml")[:4096].decode("utf-8", "replace")
    except (KeyError, OSError, zipfile.BadZipFile):
        return False
    return re.search(r"<(?:\w+:)?workbookPr\b[^>]*\bdate1904=\"(?:1|true)\"", workbook) is not None


def _is_encrypted_ole(path: Path) -> bool:
    try:
        import msoffcrypto

        with path.open("rb") as handle:
            return bool(msoffcrypto.OfficeFile(handle).is_encrypted())
    except Exception:
        return False


def _is_text(path: Path, head: bytes) -> bool:
    """Whether a file named as a workbook is text, judged by its first bytes: a CSV or
    tab-separated export named .xls (as some systems' "Export to Excel" writes it) is
    read as the text it is; an HTML page so named is refused, saying so."""
    if head.startswith(_UTF16_BOMS):
        return True
    if b"\x00" in head or head[:8] == _OLE_MAGIC or head[:2] == b"PK":
        return False
    # Judged on whole lines (a character cut at the end of the bytes read says nothing),
    # as UTF-8 or else Windows-1252 (whose five undefined bytes are passed over here).
    head = head[:head.rfind(b"\n") + 1] or head
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("cp1252", errors="replace")
    text = text.lstrip("\ufeff \t\r\n")
    if text.startswith("<"):
        raise ReturnRefused(
            path.name, f"this is a web page (HTML or XML) named {path.suffix.lower()}, not "
            "a workbook: open it in a spreadsheet program and save it as .xlsx")
    # Delimited text: one of its first lines (a title may come first) holds a delimiter.
    return any(d in line for line in text.splitlines()[:HEADER_SEARCH_ROWS]
               for d in CSV_DELIMITERS)


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _decode_csv(raw: bytes, name: str) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    if raw.startswith(_UTF16_BOMS):  # Excel's "Unicode Text": UTF-16, tab-separated
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ReturnRefused(name, f"the UTF-16 text is damaged at byte {exc.start}") \
                from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Windows-1252 leaves five bytes undefined; a file using them is not a CSV we know.
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ReturnRefused(
            name, f"CSV is neither UTF-8 nor Windows-1252 (byte {raw[exc.start]:#x} at "
            f"offset {exc.start})"
        ) from exc


def _csv_delimiter(text: str, contract: Contract) -> str:
    """The delimiter under which the file's first rows hold the most required headings.

    Judged by the header the contract expects, not by counting characters: a notes
    cell full of semicolons or tabs must not outvote the commas between the columns.
    """
    required = {f.name for f in contract.required}
    best, best_found = CSV_DELIMITERS[0], 0
    for delimiter in CSV_DELIMITERS:
        head = itertools.islice(
            csv.reader(io.StringIO(text, newline=""), delimiter=delimiter),
            HEADER_SEARCH_ROWS)
        try:
            found = max((len(required & {_field_for_heading(c, contract.heading_lookup)
                                         for c in record}) for record in head), default=0)
        except csv.Error:
            continue
        if found > best_found:
            best, best_found = delimiter, found
    return best


def _read_csv(path: Path, contract: Contract) -> list[tuple[str, Grid]]:
    name = path.name
    raw = path.read_bytes()
    if b"\x00" in raw[:4096] and not raw.startswith(_UTF16_BOMS):
        raise ReturnRefused(name, "not a text CSV file (it contains binary data)")
    text = _decode_csv(raw, name)
    delimiter = _csv_delimiter(text, contract)
    try:
        # One list per CSV record, so a quoted multi-line cell stays one record and the
        # record number is the row number the contract asks for.
        records: list[list[str]] = []
        spanning: list[int] = []  # records spread over several lines (a cell's breaks)
        parser = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        line = 0
        for record in parser:
            if parser.line_num - line > 1:
                spanning.append(len(records))
            line = parser.line_num
            records.append(record)
    except csv.Error as exc:
        raise ReturnRefused(name, f"CSV cannot be parsed: {exc}") from exc
    swallowing = _swallowing_cell(records, spanning, delimiter)
    if swallowing is not None:
        # A quote opened and not closed where it should be: the records after it became
        # part of one cell, and would vanish. The file is refused, naming the cell.
        row, column, lines = swallowing
        raise ReturnRefused(
            name, f"row {row}, column {_column_letter(column)}: a cell opens a quote (\") "
            f"that is not closed where the cell ends, so {lines} line(s) holding whole "
            "records after it would be read as part of that one cell; close or remove the "
            "quote and send the file again")
    width = max((len(r) for r in records), default=0)
    if width == 0:
        raise ReturnRefused(name, "the CSV holds no data")
    columns = {
        c: pa.array([r[c] if c < len(r) else None for r in records], type=pa.string())
        for c in range(width)
    }
    widths = np.array([len(r) for r in records], dtype=np.int64)
    return [(path.stem, Grid(columns, record_widths=widths))]


def _swallowing_cell(records: list[list[str]], spanning: list[int],
                     delimiter: str) -> tuple[int, int, int] | None:
    """(row, column, lines) of a cell that swallowed later records, if any.

    A quoted cell may hold line breaks (a note over several lines, commas and all). One
    whose later lines each hold nearly a whole record's delimiters is records swallowed
    by a quote left open, whether the file ends inside it or a later quote closes it.
    """
    if not spanning:
        return None
    # A swallowed line has as many cells as a record of this file: from the widest
    # one-line record down to the narrowest at least half as wide (a file may leave
    # trailing blanks off some records: 11 cells beside 14). A title, a footer or a
    # stray short record is narrower, and says nothing of a record's width.
    multi = set(spanning)
    single = [len(r) for i, r in enumerate(records) if i not in multi]
    full = max(single or [len(r) for r in records])
    narrowest = min((w for w in single if w * 2 >= full), default=full)
    narrowest = max(narrowest, 4)
    for index in spanning:
        row, record = index + 1, records[index]
        for column, cell in enumerate(record):
            if "\n" in cell or "\r" in cell:
                lines = sum(1 for line in cell.splitlines()[1:]
                            if narrowest <= line.count(delimiter) + 1 <= full)
                if lines:
                    return row, column, lines
    return None


# --- header and data rows --------------------------------------------------------------


def _field_for_heading(cell: object, lookup: dict[str, str]) -> str | None:
    if cell is None:
        return None
    return lookup.get(normalise_heading(cell)) or lookup.get(heading_without_hint(cell))


def _find_header(
    grid: Grid, contract: Contract
) -> tuple[int, dict[int, str], list[str]] | None:
    """The first row holding every required heading; else the best partial row.

    Returns (row index, column index -> field, missing required fields) or None when no
    row names any required field.
    """
    lookup = contract.heading_lookup
    required = [f.name for f in contract.required]
    best: tuple[int, dict[int, str], list[str]] | None = None
    for index in range(min(HEADER_SEARCH_ROWS, grid.height)):
        mapping = {
            col: f
            for col, cell in grid.row(index).items()
            if (f := _field_for_heading(cell, lookup)) is not None
        }
        present = set(mapping.values())
        missing = [f for f in required if f not in present]
        if not missing:
            return index, mapping, []
        if len(missing) < len(required) and (best is None or len(missing) < len(best[2])):
            best = (index, mapping, missing)
    return best


def _a_list_of_options(grid: Grid, header_index: int, mapping: dict[int, str]) -> bool:
    """Whether a sheet naming the return's headings is a dropdown-list or lookup sheet:
    no reference or date heading, and its columns list each option once (a third of
    them may repeat). Rows of cases repeat their categories ("Officer", "Closed") down
    most columns."""
    if any(f in RECORD_FIELDS for f in mapping.values()):
        return False
    columns = {col: _blank_to_null(grid.columns[col].slice(header_index + 1))
               for col in mapping}
    rows = int(np.logical_or.reduce([c.is_valid().to_numpy(zero_copy_only=False)
                                     for c in columns.values()]).sum())
    repeating = 0
    for col, values in columns.items():
        values = values.drop_null()
        # A name, note or closing date filled down like data (two or more, beside at
        # least half the rows) is a sheet of cases; one instruction under "Notes" is not.
        if mapping[col] in FILLED_DOWN_SIGNS and len(values) >= 2 and len(values) * 2 >= rows:
            return False
        repeating += len(values) != len(pc.unique(values))
    # A lookup may map one column onto another (outcomes to their status, repeating
    # "Finalised"); rows of cases repeat their categories down most columns.
    return repeating * 3 <= len(mapping)


def _has_cells_below(grid: Grid, header_index: int) -> bool:
    """Whether any cell below the header row holds something other than spaces."""
    start = header_index + 1
    return any(_blank_to_null(column.slice(start)).null_count < len(column) - start
               for column in grid.columns.values())


def _blank_to_null(column: pa.Array) -> pa.Array:
    """Cells trimmed of spaces, zero-width ones too (not whitespace to Unicode, but
    invisible); a cell of nothing but spaces is blank."""
    trimmed = pc.utf8_trim(column, characters=SPACE_CHARACTERS)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _totals_rows(
    body: dict[int, pa.Array], mapping: dict[int, str], filled: np.ndarray
) -> np.ndarray:
    """Rows that total the table: a "Total" label in one cell, counts or blanks in the rest.

    Whatever the column order, a totals row has no case or subject reference of its own:
    those cells are blank, the label, or a count. Only such rows are examined cell by
    cell, so a large return pays for two columns, not all of them.
    """
    def matches(values: pa.Array, pattern: str) -> pa.Array:
        return pc.fill_null(pc.match_substring_regex(values, pattern, ignore_case=True),
                            False)

    candidates = filled.copy()
    for c, f in mapping.items():
        if f in ("case_reference", "subject_reference"):
            values = body[c]
            loose = pc.or_(values.is_null(), pc.or_(matches(values, TOTAL_PATTERN),
                                                    matches(values, COUNT_PATTERN)))
            candidates &= loose.to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(candidates)
    totals = np.zeros(len(filled), dtype=bool)
    if not len(rows):
        return totals
    take = pa.array(rows, type=pa.int64())
    has_label = np.zeros(len(rows), dtype=bool)
    only_counts = np.ones(len(rows), dtype=bool)
    for column in body.values():
        values = column.take(take)
        label = matches(values, TOTAL_PATTERN)
        has_label |= label.to_numpy(zero_copy_only=False)
        only_counts &= pc.or_(pc.or_(values.is_null(), label), pc.or_(
            matches(values, COUNT_PATTERN), matches(values, TOTALS_ROW_FILLER))
        ).to_numpy(zero_copy_only=False)
    totals[rows[has_label & only_counts]] = True
    return totals


def _one_column_per_field(
    header: dict[int, object], mapping: dict[int, str], contract: Contract
) -> tuple[dict[int, str], dict[int, str]]:
    """Where two columns mean one field, keep the one with the contract's likelier
    heading ("Date Recorded" over "Date Received"); the others become extra columns.
    A heading matched as written, or with only a format hint ("(dd/mm/yyyy)", "(Y/N)"),
    beats one matched only without a qualifying hint: "Case Status" is the case's
    status, "Status (Officer)" something else.

    Returns the kept mapping and, per set-aside column position, its report text.
    """
    def rank(col: int, field: str) -> tuple[int, int, int]:
        keys = [normalise_heading(h) for h in (field, *contract[field].headings)]
        cell = header[col]
        for qualified, key in enumerate((heading_without_format_hint(cell),
                                         heading_without_hint(cell))):
            if key in keys:
                return qualified, keys.index(key), col
        return 2, len(keys), col

    by_field: dict[str, list[int]] = {}
    for col, f in mapping.items():
        by_field.setdefault(f, []).append(col)
    kept: dict[int, str] = {}
    duplicates: dict[int, str] = {}
    for f, cols in by_field.items():
        chosen, *others = sorted(cols, key=lambda c: rank(c, f))
        kept[chosen] = f
        for col in others:
            duplicates[col] = (f"{str(header[col]).strip()} (also means {f}; "
                               f"{str(header[chosen]).strip()!r} was used)")
    return dict(sorted(kept.items())), duplicates


def _data_sheet(
    sheet_name: str, grid: Grid, header_index: int, mapping: dict[int, str],
    contract: Contract,
) -> RawSheet:
    header = grid.row(header_index)
    mapping, duplicates = _one_column_per_field(header, mapping, contract)
    start = header_index + 1
    body = {c: _blank_to_null(a.slice(start)) for c, a in grid.columns.items()}
    height = grid.height - start
    if height <= 0:
        keep = np.zeros(0, dtype=bool)
    else:
        # A row is data if it holds something under the contract's headings: a template's
        # pre-numbered "No." or pre-filled "Force" column does not make rows of it.
        filled = np.zeros(height, dtype=bool)
        for col in mapping:
            filled |= body[col].is_valid().to_numpy(zero_copy_only=False)
        filled &= ~_repeated_header(body, header, mapping)
        filled &= ~_only_dashes(body, mapping, filled)
        if grid.merged_ranges is not None and _signs_of_merges(body, mapping, filled,
                                                               contract):
            body = _fill_merged_down(body, grid.merged_ranges(), start, mapping, filled)
        totals = _totals_rows(body, mapping, filled)
        keep = filled & ~totals
    indices = np.flatnonzero(keep)
    if len(indices) == height:  # no blank or totals rows: nothing to take
        kept = body
    else:
        take = pa.array(indices, type=pa.int64())
        kept = {col: body[col].take(take) for col in body}
    data = pd.DataFrame({
        f: pd.Series(pd.arrays.ArrowStringArray(kept[col]), copy=False)
        for col, f in mapping.items()
    })
    data[ROW_COLUMN] = (indices + start + 1).astype("int64")
    if grid.record_widths is not None and len(indices):
        misaligned = _out_of_line(grid.record_widths, header_index, indices + start,
                                  header, kept)
        if misaligned.any():
            data[MISALIGNED_COLUMN] = misaligned

    extra: list[str] = list(duplicates.values())
    for col, cell in header.items():
        if col in mapping or col in duplicates:
            continue
        heading = None if cell is None else str(cell).strip()
        if heading:
            extra.append(heading)
        elif len(indices) and kept[col].null_count < len(indices):
            extra.append(f"(unnamed column {_column_letter(int(col))})")
    return RawSheet(
        sheet=sheet_name,
        header_row=header_index + 1,
        columns={f: str(header[col]).strip() for col, f in mapping.items()},
        extra_columns=extra,
        data=data,
    )


def _only_dashes(body: dict[int, pa.Array], mapping: dict[int, str],
                 filled: np.ndarray) -> np.ndarray:
    """Rows whose every cell under the contract's headings is blank or dashes and dots
    (a template's "-" filled down): as empty as a blank row. Only rows without a case
    reference of substance are looked at cell by cell."""
    reference = next(c for c, f in mapping.items() if f == "case_reference")
    values = body[reference]
    loose = pc.or_(values.is_null(), pc.fill_null(
        pc.match_substring_regex(values, SAYS_NOTHING_RE2), False)).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(filled & loose)
    empty = np.zeros(len(filled), dtype=bool)
    if not len(rows):
        return empty
    take = pa.array(rows, type=pa.int64())
    nothing = np.ones(len(rows), dtype=bool)
    for col in mapping:
        cells = body[col].take(take)
        nothing &= pc.or_(cells.is_null(), pc.fill_null(pc.match_substring_regex(
            cells, SAYS_NOTHING_RE2), False)).to_numpy(zero_copy_only=False)
    empty[rows[nothing]] = True
    return empty


def _repeated_header(body: dict[int, pa.Array], header: dict[int, object],
                     mapping: dict[int, str]) -> np.ndarray:
    """Rows repeating the header row (a report exported with a header on every page):
    the case reference column holds its own heading, and so do most others."""
    def same_as_heading(col: int, rows: pa.Array) -> np.ndarray:
        keys = [normalise_heading(v) for v in body[col].take(rows).to_pylist()]
        return np.array(keys) == normalise_heading(header[col])

    reference = next(c for c, f in mapping.items() if f == "case_reference")
    repeated = np.zeros(len(body[reference]), dtype=bool)
    # Copies of the header row hold its text as written (one cheap pass over a column).
    heading = str(header[reference]).strip(SPACE_CHARACTERS).lower()
    rows = np.flatnonzero(pc.fill_null(pc.equal(pc.utf8_lower(body[reference]), heading),
                                       False).to_numpy(zero_copy_only=False))
    if len(rows):
        take = pa.array(rows, type=pa.int64())
        matches = sum(same_as_heading(col, take).astype(int) for col in mapping)
        repeated[rows[matches * 2 > len(mapping)]] = True
    return repeated


def _signs_of_merges(body: dict[int, pa.Array], mapping: dict[int, str],
                     filled: np.ndarray, contract: Contract) -> bool:
    """Whether the sheet may hold cells merged down over rows of data: a row with
    something in it is blank in a case-level column, or blank, in a column where a
    blank is a value ("no restriction"), under a cell of its own case that is not."""
    reference = next(c for c, f in mapping.items() if f == "case_reference")
    same_case: np.ndarray | None = None
    for col, f in mapping.items():
        blank = body[col].is_null().to_numpy(zero_copy_only=False) & filled
        if f in MERGED_DOWN_SIGNS:
            if blank.any():
                return True
        elif contract[f].blank is not None and blank[1:].any():
            if same_case is None:
                refs = body[reference]
                same_case = pc.fill_null(pc.equal(refs.slice(1), refs.slice(0, len(refs) - 1)),
                                         False).to_numpy(zero_copy_only=False)
            above = ~blank[:-1] & body[col].slice(0, len(blank) - 1).is_valid().to_numpy(
                zero_copy_only=False)
            if (blank[1:] & above & same_case).any():
                return True
    return False


def _fill_merged_down(
    body: dict[int, pa.Array], ranges: list[tuple[tuple[int, int], tuple[int, int]]],
    start: int, mapping: dict[int, str], filled: np.ndarray,
) -> dict[int, pa.Array]:
    """A value merged down over several data rows, in each of those rows.

    A spreadsheet keeps a merged range's value in its first cell only; the rows below it
    show the value but read as blank. Filled down its own column only (a range merged
    across columns does not make its value another field's), and only into rows that
    hold something else, so a merge over blank rows does not make rows up.
    """
    fills: dict[int, list[tuple[int, int]]] = {}
    for (first_row, first_col), (last_row, _) in ranges:
        if first_col in mapping and first_row >= start and last_row > first_row:
            fills.setdefault(first_col, []).append((first_row - start, last_row - start))
    for col, spans in fills.items():
        values = body[col]
        height = len(values)
        valid = values.is_valid().to_numpy(zero_copy_only=False)
        tops, bottoms = np.array(spans, dtype=np.int64).T
        keep = tops < height
        tops, bottoms = tops[keep], np.minimum(bottoms[keep], height - 1)
        keep = valid[tops]
        tops, bottoms = tops[keep], bottoms[keep]
        # Every row below each range's first, at once: row top+1 .. bottom gets top.
        below = bottoms - tops
        sources = np.repeat(tops, below)
        rows = sources + 1 + np.arange(below.sum()) - np.repeat(np.cumsum(below) - below,
                                                                 below)
        fillable = filled[rows] & ~valid[rows]
        if fillable.any():
            source = np.arange(height)
            source[rows[fillable]] = sources[fillable]
            body[col] = values.take(pa.array(source))
    return body


def _out_of_line(widths: np.ndarray, header_index: int, rows: np.ndarray,
                 header: dict[int, object], kept: dict[int, pa.Array]) -> np.ndarray:
    """CSV records out of line with the headings: a value beyond the last heading, or
    more cells than the header (unless every record has the same number: a file whose
    records all end in one more comma than its header is not out of line).

    When the header and every record have the same number of cells, as a spreadsheet
    program writes them (each padded to the sheet's used width), nothing is out of
    line: values beyond the last heading are a column without a heading, reported as
    such, as in the same sheet saved as a workbook."""
    out = np.zeros(len(rows), dtype=bool)
    row_widths = widths[rows]
    if (row_widths == widths[header_index]).all():
        return out
    last_heading = max((c for c, cell in header.items()
                        if cell is not None and str(cell).strip()), default=-1)
    for col, values in kept.items():
        if col > last_heading:
            out |= values.is_valid().to_numpy(zero_copy_only=False)
    if len(rows) > 1 and (row_widths == row_widths[0]).all():
        return out
    return out | (row_widths > widths[header_index])


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
