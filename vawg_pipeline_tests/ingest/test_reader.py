"""Reading returns in every accepted format and layout, and refusing what cannot be read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlwt
from msoffcrypto.format.ooxml import OOXMLFile

from vawg_pipeline.ingest.reader import ReturnRefused, read_return
from vawg_pipeline_tests.conftest import HEADINGS, good_row, set_received, write_csv, write_xlsx


def test_header_below_title_rows_after_a_guidance_sheet(tmp_path: Path, rows) -> None:
    path = write_xlsx(tmp_path / "Return v3 FINAL (2).xlsx", rows, title_rows=3,
                      guidance_first=True, totals_row=True)
    raw = read_return(path)
    assert [s.sheet for s in raw.sheets] == ["Return"]
    assert raw.ignored_sheets == ["Guidance"]
    sheet = raw.sheets[0]
    assert sheet.header_row == 4
    assert raw.rows_read == len(rows)  # the totals row is not data
    # Row numbers are what a spreadsheet program shows: header on 4, data from 5.
    assert sheet.data["_row"].tolist() == list(range(5, 5 + len(rows)))
    assert sheet.columns["case_type"] == "Complaint/Conduct"


def test_blank_rows_and_columns_merged_banner_and_extra_columns(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["C2"] = "NPCC VAWG review — Kent Police"
    ws.merge_cells("C2:J2")
    fields = list(HEADINGS)
    # header on row 5 starting at column C, a blank column after the third heading
    col = 3
    positions = {}
    for f in fields:
        positions[f] = col
        ws.cell(row=5, column=col, value=HEADINGS[f].upper().replace(" ", "\n"))
        col += 2 if f == "date_recorded" else 1
    ws.cell(row=5, column=col, value="Reviewing Officer")
    data = [good_row(1), None, good_row(2), None, None, good_row(3)]
    r = 6
    for row in data:
        if row is not None:
            for f, c in positions.items():
                ws.cell(row=r, column=c, value=row[f] or None)
            ws.cell(row=r, column=col, value="DS Reviewer")
        r += 1
    path = tmp_path / "kent.xlsx"
    wb.save(path)
    set_received(path)
    raw = read_return(path)
    sheet = raw.sheets[0]
    assert sheet.header_row == 5
    assert sheet.data["_row"].tolist() == [6, 8, 11]
    assert raw.extra_columns == ["Reviewing Officer"]
    assert sheet.data["case_reference"].tolist() == ["PSD-0001", "PSD-0002", "PSD-0003"]


@pytest.mark.parametrize("first_two", [("case_reference", "subject_reference"),
                                       ("subject_reference", "case_reference"),
                                       ("subject_role", "case_reference")])
def test_a_totals_row_is_not_data_whatever_the_column_order(
    tmp_path: Path, first_two: tuple[str, str]
) -> None:
    """"Total" in the first column and the count beside it, under any heading."""
    order = [*first_two, *(f for f in HEADINGS if f not in first_two)]
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(i) for i in range(4)],
                      headings={f: HEADINGS[f] for f in order}, totals_row=True)
    raw = read_return(path)
    assert raw.rows_read == 4
    assert raw.sheets[0].data["_row"].tolist() == [2, 3, 4, 5]


def test_a_row_saying_total_among_case_values_stays_data(tmp_path: Path) -> None:
    """Only labels and counts make a totals row: a case row is never dropped as one."""
    rows = [good_row(1), good_row(2, case_reference="Total", restriction="Suspended")]
    raw = read_return(write_xlsx(tmp_path / "r.xlsx", rows))
    assert raw.rows_read == 2


def test_two_data_sheets_keep_their_sheet_names(tmp_path: Path) -> None:
    complaints = [good_row(i, case_type="Public complaint") for i in range(1, 4)]
    conduct = [good_row(i) for i in range(10, 15)]
    path = write_xlsx(tmp_path / "r.xlsx", complaints, sheet="Complaints",
                      extra_sheets={"Conduct": conduct})
    raw = read_return(path)
    assert [(s.sheet, len(s.data)) for s in raw.sheets] == [("Complaints", 3), ("Conduct", 5)]


def test_xls_written_by_a_real_excel_97_writer(tmp_path: Path) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("VAWG")
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    fields = list(HEADINGS)
    sheet.write(0, 0, "Title row")
    for c, f in enumerate(fields):
        sheet.write(2, c, HEADINGS[f])
    for r, row in enumerate([good_row(1), good_row(2)], start=3):
        for c, f in enumerate(fields):
            value = row[f]
            if isinstance(value, dt.datetime):
                sheet.write(r, c, value, date_style)
            else:
                sheet.write(r, c, value)
    path = tmp_path / "return.xls"
    book.save(str(path))
    raw = read_return(set_received(path))
    data = raw.sheets[0].data
    assert raw.sheets[0].header_row == 3
    assert data["_row"].tolist() == [4, 5]
    assert data["date_recorded"].iloc[0].startswith("2021-10-06")


@pytest.mark.parametrize("wrong_name", ["return.xlsx", "return.ods"])
def test_a_workbook_saved_under_another_formats_extension_is_read_for_what_it_is(
    tmp_path: Path, wrong_name: str
) -> None:
    """An Excel 97 workbook renamed .xlsx is neither corrupt nor password-protected."""
    xlsx = write_xlsx(tmp_path / "real.xlsx", [good_row(1), good_row(2)])
    renamed = tmp_path / ("xlsx-as-" + wrong_name.replace(".xlsx", ".xls"))
    renamed.write_bytes(xlsx.read_bytes())
    book = xlwt.Workbook()
    sheet = book.add_sheet("VAWG")
    for c, f in enumerate(HEADINGS):
        sheet.write(0, c, HEADINGS[f])
        sheet.write(1, c, str(good_row(1)[f]))
    book.save(str(tmp_path / "real.xls"))
    (tmp_path / wrong_name).write_bytes((tmp_path / "real.xls").read_bytes())
    assert read_return(tmp_path / wrong_name).rows_read == 1
    assert read_return(renamed).rows_read == 2


def test_ods_written_by_pandas_odf(tmp_path: Path) -> None:
    frame = pd.DataFrame([good_row(1), good_row(2)]).rename(columns=HEADINGS)
    path = tmp_path / "return.ods"
    frame.to_excel(path, engine="odf", index=False, startrow=2, sheet_name="Data")
    raw = read_return(set_received(path))
    assert raw.sheets[0].header_row == 3
    assert raw.rows_read == 2


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_csv_in_each_accepted_encoding(tmp_path: Path, encoding: str) -> None:
    rows = [good_row(1, notes="Line one\nline two — “quoted” £5"), good_row(2)]
    path = write_csv(tmp_path / "return.csv", rows, encoding=encoding)
    raw = read_return(path)
    data = raw.sheets[0].data
    # the multi-line quoted cell is one record: records are rows 2 and 3
    assert data["_row"].tolist() == [2, 3]
    assert data["notes"].iloc[0] == "Line one\nline two — “quoted” £5"


@pytest.mark.parametrize(("delimiter", "notes"), [
    (",", 'Witnesses: "A"; "B"; "C"; "D"'),
    (",", 'Called "999"\t"101"\tthen "111"'),
    (",", "options a|b|c|d|e"),
    (";", "Met victim at home, 3pm.\nFollow-up call, no answer.\nReferred on, case open"),
    ("\t", "a, b; c, d; e"),
])
def test_csv_delimiter_is_the_one_the_header_is_written_with(
    tmp_path: Path, delimiter: str, notes: str
) -> None:
    """Other delimiters inside a quoted notes cell never outvote the real one."""
    rows = [good_row(i, notes=notes) for i in range(7)]
    raw = read_return(write_csv(tmp_path / "r.csv", rows, delimiter=delimiter))
    assert raw.rows_read == 7
    assert raw.sheets[0].data["case_reference"].tolist() == [f"PSD-{i:04d}" for i in range(7)]


def test_headings_with_hints_and_aliases(tmp_path: Path) -> None:
    headings = dict(HEADINGS, criminal_investigation="Criminal Investigation (Y/N)",
                    case_reference="  case   reference ", date_recorded="DATE LOGGED")
    raw = read_return(write_xlsx(tmp_path / "r.xlsx", [good_row(1)], headings=headings))
    assert set(raw.sheets[0].columns) >= {"criminal_investigation", "case_reference",
                                          "date_recorded"}


def test_a_hint_may_wrap_onto_several_lines(tmp_path: Path) -> None:
    headings = dict(HEADINGS, criminal_investigation="Crim Inv\n(Y/\nN)",
                    date_recorded="Date Recorded\n(dd/mm/\nyyyy)")
    raw = read_return(write_xlsx(tmp_path / "r.xlsx", [good_row(1)], headings=headings))
    assert raw.rows_read == 1 and raw.extra_columns == []


def test_two_columns_for_one_field_keep_the_contract_heading(tmp_path: Path) -> None:
    """Complaints data often carries a received and a recorded date: the contract's own
    heading is used, the other column is reported, and the file is not refused."""
    headings = {**HEADINGS, "received": "Date Received", "summary": "Summary"}
    rows = [dict(good_row(i), received=dt.datetime(2021, 9, 1), summary="personal text")
            for i in range(3)]
    raw = read_return(write_xlsx(tmp_path / "r.xlsx", rows, headings=headings))
    sheet = raw.sheets[0]
    assert sheet.columns["date_recorded"] == HEADINGS["date_recorded"]
    assert sheet.data["date_recorded"].iloc[0].startswith("2021-10-05")
    assert any(e.startswith("Date Received (also means date_recorded") for e in raw.extra_columns)
    assert any(e.startswith("Summary (also means notes") for e in raw.extra_columns)


def test_a_heading_as_written_beats_one_matched_without_its_hint(tmp_path: Path) -> None:
    """"Status (Officer)" (serving, suspended) before "Case Status", and the criminal
    "Outcome (criminal)" before the misconduct "Outcome": the headings as written are
    the fields, whatever the column order."""
    headings = {"officer_status": "Status (Officer)", "criminal": "Outcome (criminal)",
                **HEADINGS, "status": "Case Status"}
    rows = [dict(good_row(1, outcome="Written warning"), officer_status="Serving",
                 criminal="NFA")]
    raw = read_return(write_xlsx(tmp_path / "r.xlsx", rows, headings=headings))
    sheet = raw.sheets[0]
    assert sheet.columns["status"] == "Case Status"
    assert sheet.columns["outcome"] == "Outcome"
    assert sheet.data[["status", "outcome"]].values.tolist() == [["Closed",
                                                                  "Written warning"]]
    assert "Status (Officer) (also means status; 'Case Status' was used)" in raw.extra_columns


def test_a_format_hint_does_not_demote_the_contract_s_heading(tmp_path: Path) -> None:
    """"Date Recorded (dd/mm/yyyy)" beside "Date Received": the recorded date is the
    field, as without the hint (the reporting period depends on it)."""
    headings = {**HEADINGS, "date_recorded": "Date Recorded (dd/mm/yyyy)",
                "received": "Date Received"}
    rows = [dict(good_row(1), received=dt.datetime(2021, 9, 1))]
    raw = read_return(write_xlsx(tmp_path / "r.xlsx", rows, headings=headings))
    assert raw.sheets[0].columns["date_recorded"] == "Date Recorded (dd/mm/yyyy)"
    assert raw.sheets[0].data["date_recorded"].iloc[0].startswith("2021-10-06")


def test_every_set_aside_column_is_reported_even_with_one_heading(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1)])
    wb = openpyxl.load_workbook(path)
    width = wb.active.max_column
    for offset in (1, 2, 3):  # three columns headed "Rank": one used, two set aside
        wb.active.cell(row=1, column=width + offset, value="Rank")
    wb.save(path)
    extra = read_return(path).sheets[0].extra_columns
    assert extra.count("Rank (also means subject_rank; 'Rank' was used)") == 2
    assert "Rank" not in extra


def test_text_none_is_text_not_missing(tmp_path: Path) -> None:
    raw = read_return(write_xlsx(tmp_path / "r.xlsx", [good_row(1, restriction="None")]))
    assert raw.sheets[0].data["restriction"].iloc[0] == "None"


# --- refusals -------------------------------------------------------------------------


def _refusal(path: Path) -> str:
    with pytest.raises(ReturnRefused) as info:
        read_return(path)
    assert path.name in str(info.value)
    return info.value.problem


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    path.write_bytes(b"")
    assert "empty" in _refusal(path)


def test_truncated_workbook_is_refused(tmp_path: Path, rows) -> None:
    good = write_xlsx(tmp_path / "good.xlsx", rows)
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(good.read_bytes()[:2000])
    assert "corrupt" in _refusal(truncated)


def test_not_a_spreadsheet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    path.write_bytes(b"%PDF-1.7 this is not a workbook")
    assert "not a" in _refusal(path) or "corrupt" in _refusal(path)


@pytest.mark.parametrize(("field", "heading"), [
    ("subject_reference", "Warrant Number"), ("subject_reference", "Collar No."),
    ("subject_reference", "Staff #"), ("case_reference", "Case Number"),
    ("criminal_investigation", "Criminal Investigation Y/N"),
    ("date_recorded", "Date Recorded\ndd/mm/yyyy")])
def test_headings_spelt_out_abbreviated_or_with_a_bare_format_hint(
    tmp_path: Path, rows, field: str, heading: str
) -> None:
    raw = read_return(write_xlsx(tmp_path / "r.xlsx", rows, headings={**HEADINGS,
                                                                      field: heading}))
    assert raw.sheets[0].columns[field] == heading and raw.rows_read == len(rows)


@pytest.mark.parametrize(("written", "named", "sheet"), [
    ("export.csv", "Export.xls", "Export"),  # some systems' "Export to Excel"
    ("r.xlsx", "Kent C.csv", "Return"),      # a workbook saved under a CSV's name
])
def test_a_file_is_read_for_what_its_bytes_are(tmp_path: Path, rows, written: str,
                                              named: str, sheet: str) -> None:
    writer = write_csv if written.endswith(".csv") else write_xlsx
    source = writer(tmp_path / written, rows)
    (tmp_path / named).write_bytes(source.read_bytes())
    raw = read_return(tmp_path / named)
    assert raw.rows_read == len(rows) and [s.sheet for s in raw.sheets] == [sheet]


def test_a_tab_separated_export_named_xls_with_a_title_line_is_read(tmp_path: Path,
                                                                    rows) -> None:
    text = write_csv(tmp_path / "plain.csv", rows, delimiter="\t",
                     encoding="cp1252").read_bytes()
    named = tmp_path / "export.xls"
    named.write_bytes("Kent Police – VAWG return\r\n".encode("cp1252") + text)
    assert read_return(named).rows_read == len(rows)


def test_excel_unicode_text_utf16_tab_separated_is_read(tmp_path: Path, rows) -> None:
    text = write_csv(tmp_path / "plain.csv", rows, delimiter="\t").read_text("utf-8")
    for name in ("unicode.csv", "unicode.xls"):
        path = tmp_path / name
        path.write_bytes(text.encode("utf-16"))  # with its byte-order mark, as Excel
        assert read_return(path).rows_read == len(rows)


def test_a_web_page_named_xls_is_refused_saying_so(tmp_path: Path) -> None:
    path = tmp_path / "export.xls"
    path.write_text("<html><body><table><tr><td>Case Ref</td></tr></table></body></html>")
    assert "web page" in _refusal(path)


def test_a_refusal_never_repeats_the_file_s_bytes(tmp_path: Path) -> None:
    """The reader's own message quotes a damaged file's first bytes ("Case Ref" here)."""
    path = tmp_path / "damaged.xls"
    path.write_bytes(b"Case Ref\x00\x01\x02" + bytes(40))
    problem = _refusal(path)
    assert "corrupt" in problem
    assert "\\x43" not in problem and "Case" not in problem


def test_password_protected_workbook_is_refused(tmp_path: Path, rows) -> None:
    plain = write_xlsx(tmp_path / "plain.xlsx", rows)
    encrypted = tmp_path / "encrypted.xlsx"
    with plain.open("rb") as src, encrypted.open("wb") as out:
        OOXMLFile(src).encrypt("Password1", out)
    assert "password" in _refusal(encrypted)


def test_workbook_without_the_return_is_refused(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active["A1"] = "Summary"
    wb.active["A2"] = "Nothing to report"
    path = tmp_path / "summary.xlsx"
    wb.save(path)
    assert "no sheet looks like the return" in _refusal(path)


def test_missing_required_column_is_refused_naming_it(tmp_path: Path, rows) -> None:
    headings = {k: v for k, v in HEADINGS.items() if k != "subject_gender"}
    problem = _refusal(write_xlsx(tmp_path / "r.xlsx", rows, headings=headings))
    assert "subject_gender" in problem and "Gender" in problem
    assert "header row 1" in problem


def _with_second_sheet(tmp_path: Path, headings: list[str], rows: list[dict],
                       fields: list[str] | None = None) -> Path:
    """A Complaints sheet of two good rows, then a "Conduct" sheet of ``rows`` under
    ``headings`` (``fields`` of each row, in order: every field by default)."""
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1), good_row(2)], sheet="Complaints")
    wb = openpyxl.load_workbook(path)
    conduct = wb.create_sheet("Conduct")
    conduct.append(headings)
    for row in rows:
        conduct.append([row[f] or None for f in fields or list(HEADINGS)])
    wb.save(path)
    return set_received(path)


def test_a_second_data_sheet_missing_a_column_refuses_the_file(tmp_path: Path) -> None:
    """Conduct cases on a sheet without "Crim Inv" are rows of the return: the file is
    refused naming the sheet and the heading, rather than those rows vanishing."""
    fields = [f for f in HEADINGS if f != "criminal_investigation"]
    path = _with_second_sheet(tmp_path, [HEADINGS[f] for f in fields],
                              [good_row(i) for i in range(3, 8)], fields)
    problem = _refusal(path)
    assert "sheet 'Conduct', header row 1" in problem
    assert "criminal_investigation" in problem and "Crim Inv" in problem


# A second sheet's record headings, none of them the contract's.
RENAMED = {"case_reference": "Reference", "date_recorded": "Date",
           "subject_reference": "Payroll Number"}


@pytest.mark.parametrize(("renamed", "rows"), [
    # "Matter ID" is no alias of the case reference.
    ({"case_reference": "Matter ID"}, range(3, 8)),
    # Seven required headings, the references and dates unknown: 30 rows of cases
    # repeat their categories, so the sheet is no list of options.
    (RENAMED, range(10, 40)),
], ids=["case reference unknown", "references and dates unknown"])
def test_a_second_data_sheet_under_unknown_headings_refuses_the_file(
    tmp_path: Path, renamed: dict[str, str], rows: range
) -> None:
    """The Conduct rows must not vanish while the Complaints sheet replaces the force's
    whole return."""
    path = _with_second_sheet(tmp_path, [renamed.get(f, HEADINGS[f]) for f in HEADINGS],
                              [good_row(i) for i in rows])
    problem = _refusal(path)
    assert "sheet 'Conduct', header row 1" in problem and "case_reference" in problem


def test_a_chart_data_sheet_naming_a_few_headings_is_ignored_and_reported(
    tmp_path: Path,
) -> None:
    """Four of the ten required headings over a few rows is a working sheet, not the
    return: the file is read from its data sheet, and the other sheet is reported."""
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1), good_row(2)], sheet="Return")
    wb = openpyxl.load_workbook(path)
    chart = wb.create_sheet("Chart data")
    chart.append(["Case Ref", "Status", "Case Type", "Role"])
    chart.append(["PSD/1", "Open", "Complaint", "Officer"])
    wb.save(path)
    raw = read_return(path)
    assert [s.sheet for s in raw.sheets] == ["Return"] and raw.rows_read == 2
    assert raw.ignored_sheets == ["Chart data"]


def test_an_empty_template_sheet_is_not_a_data_sheet_missing_a_column(
    tmp_path: Path,
) -> None:
    """A second copy of the headings with nothing below but invisible characters (a
    template left in the workbook) holds no rows: the file is read, not refused."""
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1), good_row(2)])
    wb = openpyxl.load_workbook(path)
    template = wb.create_sheet("Template")
    fields = [f for f in HEADINGS if f != "criminal_investigation"]
    template.append([HEADINGS[f] for f in fields])
    template.append(["\u200b", "\u00a0", None, "\ufeff"])
    wb.save(path)
    raw = read_return(path)
    assert [s.sheet for s in raw.sheets] == ["Return"] and raw.rows_read == 2
    assert raw.ignored_sheets == ["Template"]


def test_a_lookup_sheet_of_categories_is_not_a_data_sheet(tmp_path: Path) -> None:
    """A sheet listing the accepted values under category headings holds no cases."""
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1), good_row(2)])
    wb = openpyxl.load_workbook(path)
    lookup = wb.create_sheet("Lookups")
    lookup.append(["Case Type", "Role", "Gender", "VAWG Category", "Status"])
    lookup.append(["Complaint", "Officer", "M", "DA", "Closed"])
    lookup.append(["Conduct", "Staff", "F", "Stalking", "Live"])
    wb.save(path)
    raw = read_return(path)
    assert [s.sheet for s in raw.sheets] == ["Return"] and raw.rows_read == 2
    assert raw.ignored_sheets == ["Lookups"]


def test_a_hidden_dropdown_list_sheet_of_seven_category_headings_is_not_data(
    tmp_path: Path,
) -> None:
    """The sheet feeding the data sheet's dropdowns names seven of the ten required
    headings, but no reference or date: it holds no cases, and refuses nothing."""
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1), good_row(2)])
    wb = openpyxl.load_workbook(path)
    lists = wb.create_sheet("Lists")
    lists.append([HEADINGS[f] for f in ("case_type", "subject_role", "subject_gender",
                                        "vawg_category", "criminal_investigation",
                                        "restriction", "status")])
    lists.append(["Complaint", "Officer", "M", "DA", "Y", "Suspended", "Live"])
    lists.append(["Conduct", "Staff", "F", "Stalking", "N", "Restricted", "Closed"])
    lists.sheet_state = "hidden"
    wb.save(path)
    raw = read_return(path)
    assert [s.sheet for s in raw.sheets] == ["Return"] and raw.rows_read == 2
    assert raw.ignored_sheets == ["Lists"]


def test_a_template_pre_numbered_below_the_data_has_no_more_rows(tmp_path: Path) -> None:
    """A template whose "No." and "Force" columns are filled down to row 21, with three
    cases entered: three rows read, not twenty."""
    headings = {"number": "No.", "force": "Force", **HEADINGS}
    rows = [dict(good_row(i), number=i, force="Kent") for i in range(1, 4)]
    rows += [{"number": i, "force": "Kent"} for i in range(4, 21)]
    raw = read_return(write_xlsx(tmp_path / "r.xlsx", rows, headings=headings))
    assert raw.rows_read == 3
    assert raw.sheets[0].data["_row"].tolist() == [2, 3, 4]
    assert {"No.", "Force"} <= set(raw.extra_columns)


@pytest.mark.parametrize(("label", "beside"), [
    ("Total cases", [3]), ("Total no. of cases", [3, 3]), ("Count", [3]),
    ("TOTAL", ["-", "–"]), ("Total", ["31/03/2022"]), ("Grand Total:", [3, "100%"])])
def test_totals_rows_as_forces_write_them_are_not_data(tmp_path: Path, label: str,
                                                        beside: list) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1), good_row(2), good_row(3)])
    wb = openpyxl.load_workbook(path)
    wb.active.append([label, *beside])
    wb.save(path)
    raw = read_return(set_received(path))
    assert raw.rows_read == 3


def test_a_reference_like_a_totals_label_is_data(tmp_path: Path) -> None:
    rows = [good_row(1, case_reference="TOTAL-12", subject_reference="12"),
            good_row(2, case_reference="Count 7", subject_reference="7")]
    raw = read_return(write_xlsx(tmp_path / "r.xlsx", rows))
    assert raw.rows_read == 2


def test_the_header_repeated_on_every_page_is_not_data(tmp_path: Path) -> None:
    """A report export repeats the header row after each page's rows."""
    rows = [good_row(1), good_row(2), dict(HEADINGS), good_row(3), dict(HEADINGS),
            good_row(4)]
    raw = read_return(write_xlsx(tmp_path / "r.xlsx", rows))
    assert raw.rows_read == 4
    assert raw.sheets[0].data["_row"].tolist() == [2, 3, 5, 7]



@pytest.mark.parametrize("element", [
    b'<mergeCell ref="A2:A4"/>', b"<mergeCell ref='A2:A4'/>", b'<mergeCell ref = "A2:A4"/>',
    b'<mergeCell ref="a2:a4"/>', b'<x:mergeCell ref="$A$2:$A$4"/>'])
def test_a_merge_element_in_any_legal_form_is_read(element: bytes) -> None:
    from vawg_pipeline.ingest.reader import _MERGE_CELL, _column_index

    [(c1, r1, c2, r2)] = _MERGE_CELL.findall(b"<mergeCells>" + element + b"</mergeCells>")
    assert (_column_index(c1), int(r1), _column_index(c2), int(r2)) == (0, 2, 0, 4)


def test_unlisted_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "return.pdf"
    path.write_bytes(b"%PDF")
    assert "not accepted" in _refusal(path)


def test_macro_enabled_workbook(tmp_path: Path, rows) -> None:
    import zipfile

    plain = write_xlsx(tmp_path / "plain.xlsx", rows)
    path = tmp_path / "Return with macros.xlsm"
    openpyxl.load_workbook(plain, keep_vba=True).save(path)  # macro-enabled content type
    assert b"macroEnabled" in zipfile.ZipFile(path).read("[Content_Types].xml")
    raw = read_return(set_received(path))
    assert raw.rows_read == len(rows)


def test_space_characters_are_every_space_the_reference_pattern_and_arrow_know() -> None:
    """A cell of any space (non-breaking, zero-width, ...) is blank: the trim set is
    exactly what the reference pattern and Arrow's whitespace trim remove."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from vawg_pipeline.contract.fields import SPACE_CHARACTERS, SPACE_CLASS

    every = pa.array([chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF])
    known = pc.or_(pc.equal(pc.utf8_trim_whitespace(every), ""),
                   pc.match_substring_regex(every, f"^{SPACE_CLASS}$"))
    assert set(every.filter(known).to_pylist()) == set(SPACE_CHARACTERS)


def test_cells_of_invisible_characters_are_blank_and_values_lose_them_at_the_ends(
    tmp_path: Path,
) -> None:
    row = good_row(1, notes="\u200b\u00a0\ufeff", case_type="\u200bComplaint\u2060 ")
    path = write_xlsx(tmp_path / "r.xlsx", [row])
    data = read_return(path).sheets[0].data
    assert data["notes"].isna().all()
    assert data["case_type"].tolist() == ["Complaint"]


def test_a_missing_column_refusal_names_the_headings_it_did_not_recognise(
    tmp_path: Path, rows
) -> None:
    """The force wrote "PSD Matter Ref": the refusal says so, so whoever reads it can
    add the alias to the contract (or ask the force to rename the column)."""
    problem = _refusal(write_xlsx(tmp_path / "r.xlsx", rows,
                                  headings={**HEADINGS, "case_reference": "PSD Matter Ref"}))
    assert "required column(s) missing: case_reference" in problem
    assert "headings not recognised: 'PSD Matter Ref'" in problem


@pytest.mark.parametrize("block", [64, 333, 4 << 20])
def test_every_merged_range_is_found_whatever_the_scan_s_block_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """The .xlsx merge list is read from the sheet's XML in blocks: a range whose
    element a block boundary cuts is found once, whole."""
    from vawg_pipeline.ingest import reader

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Return"
    for r in range(1, 600):
        ws.append([f"PSD-{r}", "x" * 40])
    expected = set()
    for r in range(2, 590, 3):
        ws.merge_cells(start_row=r, start_column=1, end_row=r + 1, end_column=1)
        expected.add(((r - 1, 0), (r, 0)))
    wb.save(tmp_path / "merged.xlsx")
    monkeypatch.setattr(reader, "_MERGE_SCAN_BYTES", block)
    found = reader._merged_ranges(str(tmp_path / "merged.xlsx"), "Return", ".xlsx")
    assert len(found) == len(expected) and set(found) == expected


def test_a_small_second_data_sheet_with_names_is_no_list_of_options(tmp_path: Path) -> None:
    """Three conduct cases under unknown reference and date headings: few enough for most
    categories to differ, but a sheet of officers' names and notes holds cases."""
    rows = [good_row(10 + i, subject_gender=gender, status=status)
            for i, (gender, status) in enumerate([("M", "Closed"), ("F", "Open"),
                                                  ("U", "Closed")])]
    path = _with_second_sheet(tmp_path, [RENAMED.get(f, HEADINGS[f]) for f in HEADINGS],
                              rows)
    assert "sheet 'Conduct', header row 1" in _refusal(path)


def test_a_row_of_dashes_with_unusual_spaces_is_no_row(tmp_path: Path) -> None:
    rows = [good_row(1), {"outcome": "-\u00a0-", "date_finalised": "\u2003-"}]
    assert read_return(write_xlsx(tmp_path / "r.xlsx", rows)).rows_read == 1


LOOKUPS = {
    # Outcomes mapped to their status: "Finalised" repeats down one column.
    "outcomes to statuses": [
        ["Case Type", "Role", "Gender", "VAWG Type", "Crim Inv", "Suspended/Restricted",
         "Outcome", "Status"],
        ["Complaint", "Officer", "M", "DA", "Y", "Suspended", "NFA", "Finalised"],
        ["Conduct", "Staff", "F", "Stalking", "N", "Restricted", "NCTA", "Finalised"],
        [None, "PCSO", "U", "Exposure", None, "None", "Dismissed", "Finalised"],
        [None, "Special", None, "Online", None, None, None, "Ongoing"]],
    # One instruction under "Notes".
    "an instruction under Notes": [
        ["Case Type", "Role", "Gender", "VAWG Type", "Crim Inv", "Suspended/Restricted",
         "Status", "Notes"],
        ["Complaint", "Officer", "M", "DA", "Y", "Suspended", "Live",
         "Pick one value per row"],
        ["Conduct", "Staff", "F", "Stalking", "N", "Restricted", "Closed", None],
        [None, "PCSO", "U", "Exposure", None, "None", None, None]],
}


@pytest.mark.parametrize("lookup", list(LOOKUPS))
def test_a_lookup_sheet_is_still_a_lookup(tmp_path: Path, lookup: str) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1), good_row(2)])
    wb = openpyxl.load_workbook(path)
    sheet = wb.create_sheet("Lists")
    for row in LOOKUPS[lookup]:
        sheet.append(row)
    wb.save(path)
    raw = read_return(set_received(path))
    assert raw.rows_read == 2 and raw.ignored_sheets == ["Lists"]