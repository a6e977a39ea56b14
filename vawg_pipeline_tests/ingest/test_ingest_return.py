"""A return in, store rows and quarantine out: every rule of the contract, every row kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from vawg_pipeline.ingest.reader import ReturnRefused
from vawg_pipeline.ingest.returns import ingest_return
from vawg_pipeline.privacy import PseudonymKey
from vawg_pipeline_tests.conftest import HEADINGS, good_row, set_received, write_csv, write_xlsx


def ingest(tmp_path: Path, rows, key: PseudonymKey, **kwargs):
    return ingest_return(write_xlsx(tmp_path / "return.xlsx", rows, **kwargs), "kent", key)


def reasons(result) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = {}
    for row in result.quarantine.itertuples():
        out.setdefault(row.row_number, []).append((row.field, row.reason))
    return out


def test_clean_return_is_stored_whole_with_canonical_values(tmp_path, rows, key) -> None:
    result = ingest(tmp_path, rows, key)
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (20, 20, 0)
    cases = result.cases
    assert set(cases["case_type"]) == {"conduct"}
    assert set(cases["subject_role"]) == {"police officer"}
    assert set(cases["restriction"]) == {"none"}  # blank means none
    assert set(cases["outcome"]) == {"no further action"}
    assert cases["date_recorded"].iloc[0] == dt.date(2021, 10, 6)
    assert cases["criminal_investigation"].dtype == bool
    assert cases["source_row"].tolist() == list(range(2, 22))
    assert "subject_reference" not in cases and "subject_name" not in cases
    assert "notes" not in cases


@pytest.mark.parametrize(
    ("field", "written", "canonical"),
    [
        ("case_type", " public  COMPLAINTS ", "complaint"),
        ("case_type", "R.C.M.", "conduct"),
        ("subject_role", "pcsos", "pcso"),
        ("subject_gender", "", "not recorded"),
        ("subject_gender", "Not Stated", "not recorded"),
        ("vawg_category", "Image based", "online or image-based abuse"),
        ("vawg_category", "APSP", "abuse of position for a sexual purpose"),
        ("restriction", "Restricted Duties", "restricted duties"),
        ("restriction", "Neither", "none"),
        ("criminal_investigation", " yes ", True),
        ("criminal_investigation", "FALSE", False),
        ("criminal_investigation", 1, True),
        ("status", "Concluded", "finalised"),
        ("outcome", "Would have been dismissed", "dismissed"),
        ("outcome", "fww", "final written warning"),
    ],
)
def test_spellings_normalise_to_canonical(tmp_path, key, field, written, canonical) -> None:
    result = ingest(tmp_path, [good_row(1, **{field: written})], key)
    assert result.rows_quarantined == 0, result.quarantine["reason"].tolist()
    assert result.cases[field].iloc[0] == canonical


@pytest.mark.parametrize(
    "written",
    ["2021-10-05", "05/10/2021", "5/10/21", "5 Oct 2021", "05-Oct-21", "2021-10-05 14:30",
     "05/10/2021 09:15", 44474, "44474", dt.datetime(2021, 10, 5, 14, 30),
     # the contract's day-first forms "or with a time part"
     "05-Oct-21 14:30", "05-Oct-21 14:30:00", "5 Oct 2021 14:30:00", "5/10/21 14:30:00",
     "5-Oct-2021 14:30:00", "05-10-2021 10:00", "05/10/2021 2:30 PM",
     "2021-10-05T14:30:00.123", "05.10.2021",
     # a time zone after the time (ISO 8601 as systems export it)
     "2021-10-05T14:30:00Z", "2021-10-05T14:30:00+01:00", "05/10/2021 14:30 GMT"],
)
def test_every_day_first_date_form(tmp_path, key, written) -> None:
    result = ingest(tmp_path, [good_row(1, date_recorded=written)], key)
    assert result.rows_quarantined == 0, result.quarantine["reason"].tolist()
    assert result.cases["date_recorded"].iloc[0] == dt.date(2021, 10, 5)


@pytest.mark.parametrize("written", ["5 Sept 2021", "05-Sept-21", "5 SEPT 2021 09:00"])
def test_september_abbreviated_the_english_way(tmp_path, key, written) -> None:
    result = ingest(tmp_path, [good_row(1, date_recorded=written)], key)
    assert result.rows_quarantined == 0, result.quarantine["reason"].tolist()
    assert result.cases["date_recorded"].iloc[0] == dt.date(2021, 9, 5)


@pytest.mark.parametrize("written", [444740, 20211005, 110000, "01/01/3021",
                                     "05/10/2021 25:00", 2021, "2021"])
def test_a_date_no_calendar_holds_quarantines_only_its_row(tmp_path, key, written) -> None:
    """A slip of the keyboard in one date (an extra digit, yyyymmdd typed as a number)
    is that row's problem, never the file's."""
    result = ingest(tmp_path, [good_row(1, date_recorded=written), good_row(2)], key)
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (2, 1, 1)
    assert result.quarantine["field"].tolist() == ["date_recorded"]
    assert "cannot be read as a date" in result.quarantine["reason"].iloc[0]
    # The value is reported as the force wrote it (a year stays "2021", not 1905-07-13).
    assert str(written) in result.quarantine["reason"].iloc[0]


def test_a_workbook_on_the_1904_date_system(tmp_path, key) -> None:
    """Old Mac Excel counts date serials from 1904: a date cell, and a date left in
    General format (a bare serial), are both the dates the force typed."""
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1), good_row(2)])
    wb = openpyxl.load_workbook(path)
    wb.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
    column = list(HEADINGS).index("date_recorded") + 1
    for row in (2, 3):
        wb.active.cell(row=row, column=column, value=dt.datetime(2021, 4, 3))
    wb.active.cell(row=3, column=column).number_format = "General"
    wb.save(path)
    result = ingest_return(path, "kent", key)
    assert result.rows_quarantined == 0, result.quarantine["reason"].tolist()
    assert result.cases["date_recorded"].tolist() == [dt.date(2021, 4, 3)] * 2


def test_csv_dates_are_never_month_first(tmp_path, key) -> None:
    rows = [good_row(1, date_recorded=dt.datetime(2021, 12, 1)),
            good_row(2, date_recorded="12/13/2021")]
    result = ingest_return(write_csv(tmp_path / "r.csv", rows), "kent", key)
    assert result.cases["date_recorded"].tolist() == [dt.date(2021, 12, 1)]  # 01/12/2021
    assert result.quarantine["field"].tolist() == ["date_recorded"]
    assert "'12/13/2021' cannot be read as a date" in result.quarantine["reason"].iloc[0]


def test_every_failure_of_every_row_is_quarantined_with_a_reason(tmp_path, key) -> None:
    rows = [
        good_row(1),
        good_row(2, restriction="Maybe"),                         # unknown spelling
        good_row(3, date_recorded="31/02/2021"),                  # not a date
        good_row(4, date_recorded=dt.datetime(2022, 6, 1), status="Open", outcome=None,
                 date_finalised=None),                          # after received
        good_row(5, date_recorded=dt.datetime(1989, 12, 31)),     # before 1990
        good_row(6, outcome=None),                                # finalised, no outcome
        good_row(7, status="Live"),                               # ongoing with outcome, date
        good_row(8, vawg_category=None, subject_role="Chief"),    # two problems, one row
        good_row(9, date_finalised=dt.datetime(2021, 1, 1)),      # before recorded
        good_row(10, subject_reference=None),                     # blank required
        good_row(11, criminal_investigation="maybe"),
    ]
    result = ingest(tmp_path, rows, key)
    assert result.rows_read == 11
    assert result.rows_stored == 1
    assert result.rows_quarantined == 10
    by_row = reasons(result)
    assert by_row[3] == [("restriction", "restriction: 'Maybe' is not an accepted value "
                          "(accepted: suspended, restricted duties, none)")]
    assert by_row[4][0][0] == "date_recorded" and "cannot be read" in by_row[4][0][1]
    assert by_row[5] == [("date_recorded", "date_recorded: '2022-06-01' is after the file "
                          "was received")]
    assert "before 1990" in by_row[6][0][1]
    assert by_row[7] == [("outcome", "outcome is blank, but a finalised case needs an "
                          "outcome")]
    assert sorted(f for f, _ in by_row[8]) == ["date_finalised", "outcome"]
    assert sorted(f for f, _ in by_row[9]) == ["subject_role", "vawg_category"]
    assert by_row[10][0][0] == "date_finalised" and "before date_recorded" in by_row[10][0][1]
    assert by_row[11] == [("subject_reference", "subject_reference is blank, but a value "
                           "is required")]
    assert "not a yes/no flag" in by_row[12][0][1]
    # rows read = stored + quarantined, counting distinct rows
    assert result.quarantine[["sheet", "row_number"]].drop_duplicates().shape[0] == 10


def test_duplicates_and_conflicts(tmp_path, key) -> None:
    base = good_row(1)
    rows = [
        base, dict(base),                                       # exact duplicate
        good_row(2), good_row(2, subject_gender="F"),           # conflicting key
        good_row(3, case_reference="CASE-X", subject_reference="A1"),
        good_row(4, case_reference="CASE-X", subject_reference="A2",
                 case_type="Public complaint"),                 # case-level disagreement
        good_row(5),
    ]
    result = ingest(tmp_path, rows, key)
    by_row = reasons(result)
    assert result.rows_stored == 2  # the first copy of row 1, and row 5
    assert list(by_row) == [3, 4, 5, 6, 7]
    assert "duplicate" in by_row[3][0][1]
    assert all("conflict" in r for _, r in by_row[4] + by_row[5])
    assert all("disagree" in r for _, r in by_row[6] + by_row[7])
    assert result.rows_read == result.rows_stored + result.rows_quarantined


def test_quarantine_never_holds_personal_values(tmp_path, key) -> None:
    rows = [good_row(1, subject_reference="MP 999999", status="bogus"),
            good_row(1, subject_reference="mp999999 ", subject_gender="F")]
    result = ingest(tmp_path, rows, key)
    text = result.quarantine.to_csv()
    assert "999999" not in text and "Planted" not in text and "Secret" not in text


def test_optional_column_present_but_blank_is_quarantined(tmp_path, key) -> None:
    headings = dict(HEADINGS, subject_rank="Rank")
    rows = [good_row(1, subject_rank="DCI"), good_row(2, subject_rank=None)]
    result = ingest(tmp_path, rows, key, headings=headings)
    assert result.cases["subject_rank"].tolist() == ["chief inspector"]
    assert result.quarantine["field"].tolist() == ["subject_rank"]


def test_pseudonyms_follow_a_subject_across_cases_and_spellings(tmp_path, key) -> None:
    rows = [good_row(1, subject_reference="ab 123"), good_row(2, subject_reference="AB123"),
            good_row(3, subject_reference=12345), good_row(4, subject_reference="12345.0")]
    result = ingest(tmp_path, rows, key)
    pseudonyms = result.cases["subject_pseudonym"].tolist()
    assert pseudonyms[0] == pseudonyms[1] and pseudonyms[2] == pseudonyms[3]
    assert pseudonyms[0] != pseudonyms[2]
    other_force = ingest_return(write_xlsx(tmp_path / "b.xlsx", rows[:1]), "essex", key)
    assert other_force.cases["subject_pseudonym"].iloc[0] != pseudonyms[0]
    other_key = ingest(tmp_path, rows[:1], PseudonymKey(b"another key"))
    assert other_key.cases["subject_pseudonym"].iloc[0] != pseudonyms[0]


def test_a_reference_copied_with_unusual_spaces_is_the_same_subject(tmp_path, key) -> None:
    """Non-breaking, thin and zero-width spaces are spaces: one subject, one pseudonym."""
    written = ["MP 100009", "MP\u00a0100009", "mp\u2009100009", "MP\u200b100009",
               "\u00a0MP100009\u00a0"]
    rows = [good_row(i, subject_reference=ref) for i, ref in enumerate(written)]
    result = ingest(tmp_path, rows, key)
    assert result.rows_stored == len(written)
    assert result.cases["subject_pseudonym"].nunique() == 1


def test_a_row_of_invisible_characters_is_not_data(tmp_path, key) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1), good_row(2)])
    wb = openpyxl.load_workbook(path)
    wb.active.append(["\u200b", "\u00a0", "\ufeff"])
    wb.save(path)
    result = ingest_return(path, "kent", key)
    assert (result.rows_read, result.rows_quarantined) == (2, 0)


def test_ingestion_is_deterministic(tmp_path, rows, key) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", rows + [good_row(1, status="x")])
    first, second = (ingest_return(path, "kent", key) for _ in range(2))
    pd.testing.assert_frame_equal(first.cases, second.cases)
    pd.testing.assert_frame_equal(first.quarantine, second.quarantine)


def test_row_rules_hold_across_sheets(tmp_path, key) -> None:
    complaints = [good_row(1, case_type="Complaint"), good_row(2, case_type="Complaint")]
    conduct = [good_row(2, subject_reference="MP-OTHER"), good_row(3)]  # case 2 disagrees
    path = write_xlsx(tmp_path / "r.xlsx", complaints, sheet="Complaints",
                      extra_sheets={"Conduct": conduct})
    result = ingest_return(path, "kent", key)
    assert result.rows_stored == 2
    assert set(zip(result.quarantine["sheet"], result.quarantine["row_number"], strict=True)) == {
        ("Complaints", 3), ("Conduct", 2)}


def test_optional_column_on_one_sheet_only_is_unknown_on_the_other(tmp_path, key) -> None:
    with_rank = dict(HEADINGS, subject_rank="Rank")
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1, subject_rank="PC")],
                      headings=with_rank, sheet="A")
    import openpyxl
    wb = openpyxl.load_workbook(path)
    sheet = wb.create_sheet("B")
    sheet.append(list(HEADINGS.values()))
    sheet.append([good_row(2)[f] or None for f in HEADINGS])
    wb.save(path)
    result = ingest_return(path, "kent", key)
    assert result.rows_quarantined == 0, result.quarantine["reason"].tolist()
    assert result.cases["subject_rank"].fillna("unknown").tolist() == ["constable", "unknown"]


def test_a_sheet_without_a_column_whose_blank_means_something_stores_unknown(
    tmp_path, key
) -> None:
    """A blank victim relationship means "not known", but a sheet without the column
    says nothing: its row stores NULL, as it would alone, whatever the other sheet has."""
    with_relationship = dict(HEADINGS, victim_relationship="Victim Relationship")
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1, victim_relationship="Partner")],
                      headings=with_relationship, sheet="Conduct",
                      extra_sheets={})
    import openpyxl
    wb = openpyxl.load_workbook(path)
    sheet = wb.create_sheet("Complaints")
    sheet.append(list(HEADINGS.values()))
    sheet.append([good_row(2)[f] or None for f in HEADINGS])
    wb.save(path)
    both = ingest_return(set_received(path), "kent", key).cases.set_index("source_sheet")
    assert both.loc["Conduct", "victim_relationship"] == "partner or ex-partner"
    assert both["victim_relationship"].isna().tolist() == [False, True]
    alone = ingest(tmp_path, [good_row(2)], key).cases
    assert alone["victim_relationship"].isna().all()


def test_the_same_key_on_two_sheets_is_a_conflict(tmp_path, key) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1), good_row(2)], sheet="Complaints",
                      extra_sheets={"Conduct": [good_row(2, subject_gender="F"),
                                                good_row(3)]})
    result = ingest_return(path, "kent", key)
    assert result.rows_stored == 2
    assert set(zip(result.quarantine["sheet"], result.quarantine["row_number"],
                   strict=True)) == {("Complaints", 3), ("Conduct", 2)}
    assert set(result.quarantine["reason"].str.slice(0, 9)) == {"conflict:"}


@pytest.mark.parametrize(
    ("field", "written", "canonical"),
    [("criminal_investigation", "1.0", True), ("criminal_investigation", "0.0", False),
     ("date_recorded", "2021/10/06", dt.date(2021, 10, 6))],
)
def test_what_other_programs_write(tmp_path, key, field, written, canonical) -> None:
    result = ingest_return(write_csv(tmp_path / "r.csv", [good_row(1, **{field: written})]),
                           "kent", key)
    assert result.rows_quarantined == 0, result.quarantine["reason"].tolist()
    assert result.cases[field].iloc[0] == canonical


def test_cells_holding_a_spreadsheet_error_are_quarantined_naming_it(tmp_path, key) -> None:
    """A VLOOKUP that found nothing shows #N/A. Read as blank it would pass silently
    as "no restriction" or "gender not recorded", and "#N/A" as the rank "N/A"."""
    import xlsxwriter

    headings = {**HEADINGS, "subject_rank": "Rank"}
    fields = list(headings)
    path = tmp_path / "return.xlsx"
    book = xlsxwriter.Workbook(path, {"default_date_format": "dd/mm/yyyy"})
    sheet = book.add_worksheet("Return")
    sheet.write_row(0, 0, [headings[f] for f in fields])
    failed = {2: ("restriction", "#N/A"), 3: ("subject_gender", "#REF!"),
              4: ("subject_rank", "#N/A"), 5: ("case_reference", "#N/A")}
    for number in range(1, 6):
        values = good_row(number)
        sheet.write_row(number, 0, [values.get(f, "PC") or None for f in fields])
        if number in failed:
            field, shown = failed[number]
            sheet.write_formula(number, fields.index(field), "=VLOOKUP(A2,Lookup!A:B,2,0)",
                                None, shown)
    book.close()
    result = ingest_return(set_received(path), "kent", key)
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (5, 1, 4)
    found = reasons(result)
    assert found[3] == [("restriction", "restriction: '#N/A' is not an accepted value "
                         "(accepted: suspended, restricted duties, none)")]
    assert found[4][0][0] == "subject_gender" and "'#REF!'" in found[4][0][1]
    assert found[5][0][0] == "subject_rank" and "'#N/A'" in found[5][0][1]
    assert found[6] == [("case_reference", "case_reference: '#N/A' is a spreadsheet error "
                         "(a formula that failed), not a reference")]


def test_plurals_of_two_letter_abbreviations_are_accepted(tmp_path, key) -> None:
    rows = [good_row(1, subject_role="SCs", subject_rank="PC"),
            good_row(2, subject_rank="PCs"), good_row(3, subject_rank="DSs"),
            good_row(4, subject_rank="PC", vawg_category="DAs")]
    result = ingest(tmp_path, rows, key, headings={**HEADINGS, "subject_rank": "Rank"})
    assert result.rows_quarantined == 0
    cases = result.cases.set_index("case_reference")
    assert cases.loc["PSD-0001", "subject_role"] == "special constable"
    assert cases.loc["PSD-0002", "subject_rank"] == "constable"
    assert cases.loc["PSD-0003", "subject_rank"] == "sergeant"
    assert cases.loc["PSD-0004", "vawg_category"] == "domestic abuse"


def test_a_csv_record_pushed_out_of_line_by_an_unquoted_comma_is_quarantined_unshown(
    tmp_path, key
) -> None:
    """A note typed "Spoke to victim, Mary Jones, at home" without quotes puts the
    victim's name under Status: the row is quarantined, and no value of it is quoted."""
    headings = {f: h for f, h in HEADINGS.items() if f not in ("notes", "status")}
    headings = {**headings, "notes": "Notes", "status": "Status"}  # notes before status
    path = write_csv(tmp_path / "return.csv", [good_row(1), good_row(2)], headings=headings)
    lines = path.read_text(encoding="utf-8").splitlines()
    good = good_row(3, notes="Spoke to victim, Mary Jones, at home")
    cells = [good[f].strftime("%d/%m/%Y") if isinstance(good[f], dt.datetime)
             else str(good[f] or "") for f in headings]
    lines.append(",".join(cells))  # written by hand: the note's commas unquoted
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    result = ingest_return(set_received(path), "kent", key)
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (3, 2, 1)
    quarantine = result.quarantine
    assert quarantine["row_number"].tolist() == [4] and quarantine["value"].isna().all()
    assert "more cells than the header" in quarantine["reason"].iloc[0]
    assert "Mary" not in quarantine.to_string() and "Mary" not in str(result.reason_counts())


def test_a_csv_whose_every_record_ends_in_one_more_comma_is_read(tmp_path, key) -> None:
    path = write_csv(tmp_path / "return.csv", [good_row(1), good_row(2)])
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\r\n".join([lines[0], *(line + "," for line in lines[1:])]) + "\r\n",
                    encoding="utf-8")
    result = ingest_return(set_received(path), "kent", key)
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (2, 2, 0)


def _two_officer_case(path: Path, engine: str) -> Path:
    """A case against two officers whose case-level cells are merged down over both rows
    (as a person formatting the sheet does), then a one-officer case."""
    from vawg_pipeline.sample.writers import Sheet, write_sheets

    fields = list(HEADINGS)
    rows = [good_row(1, subject_reference="1001"),
            good_row(1, subject_reference="1002", subject_name="Pat Second"),
            good_row(2)]
    merged = ("case_reference", "case_type", "date_recorded")
    cells = [[HEADINGS[f] for f in fields]]
    for r, row in enumerate(rows):
        cells.append([None if (r == 1 and f in merged) else (row[f] or None)
                      for f in fields])
    merges = [(1, fields.index(f), 2, fields.index(f)) for f in merged]
    write_sheets([Sheet("Return", cells, merges=merges, header_row=0)], path,
                 path.suffix[1:], xlsx_engine=engine)
    return set_received(path)


@pytest.mark.parametrize(("suffix", "engine"), [
    (".xlsx", "openpyxl"), (".xlsx", "xlsxwriter"), (".xls", ""), (".ods", "")])
def test_case_cells_merged_over_two_officers_rows_apply_to_both(tmp_path, key, suffix,
                                                                 engine) -> None:
    path = _two_officer_case(tmp_path / f"return{suffix}", engine)
    result = ingest_return(path, "kent", key)
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (3, 3, 0)
    cases = result.cases.sort_values("source_row")
    assert cases["source_row"].tolist() == [2, 3, 4]
    assert cases["case_reference"].tolist() == ["PSD-0001", "PSD-0001", "PSD-0002"]
    assert cases["case_type"].tolist() == ["conduct"] * 3
    assert cases["date_recorded"].tolist() == [dt.date(2021, 10, 6), dt.date(2021, 10, 6),
                                               dt.date(2021, 10, 7)]
    assert cases["subject_pseudonym"].nunique() == 3


def test_a_merge_fills_only_its_own_column_and_rows_with_data(tmp_path, key) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    fields = list(HEADINGS)
    sheet.append([HEADINGS[f] for f in fields])
    rows = [good_row(1, subject_reference="1001"),
            good_row(1, subject_reference="1002", status=None, outcome=None)]
    for row in rows:
        sheet.append([row[f] or None for f in fields])
    sheet.append([None] * len(fields))  # row 4: blank, but inside the merge below
    col = {f: i + 1 for i, f in enumerate(fields)}
    # The case reference merged down over rows 2-4; row 2's status merged across its
    # outcome cell (a value belongs to its first cell's column only).
    sheet.merge_cells(start_row=2, start_column=col["case_reference"], end_row=4,
                      end_column=col["case_reference"])
    sheet.cell(row=3, column=col["status"], value=None)
    sheet.merge_cells(start_row=3, start_column=col["status"], end_row=3,
                      end_column=col["outcome"])
    path = tmp_path / "return.xlsx"
    book.save(path)
    result = ingest_return(set_received(path), "kent", key)
    # Row 4 holds nothing but the merged reference: still not a row.
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (2, 1, 1)
    assert result.cases["source_row"].tolist() == [2]
    # Row 3 has the case reference from the merge; its own status is still blank.
    assert [f for f, _ in reasons(result)[3]] == ["status"]


@pytest.mark.parametrize("written", ["✓", "✔", "ü", "?", "x?"])
def test_a_tick_or_a_question_mark_is_not_a_blank(tmp_path, key, written) -> None:
    """Blank means "no restriction"; a tick (Wingdings' is "ü") or "?" says something
    else, so the row is quarantined naming the value, never stored as "none"."""
    result = ingest(tmp_path, [good_row(1, restriction=written), good_row(2, restriction="-"),
                               good_row(3, restriction="…")], key)
    assert result.cases["restriction"].tolist() == ["none", "none"]
    assert result.quarantine[["row_number", "field", "value"]].values.tolist() == [
        [2, "restriction", written]]


def test_full_width_letters_are_the_letters(tmp_path, key) -> None:
    result = ingest(tmp_path, [good_row(1, subject_gender="Ｆ", subject_role="ＰＣＳＯ")], key)
    assert result.rows_quarantined == 0
    assert result.cases[["subject_gender", "subject_role"]].values.tolist() == [
        ["female", "pcso"]]


def test_a_csv_saved_by_a_spreadsheet_with_a_column_without_heading_is_read(tmp_path,
                                                                            key) -> None:
    """Excel pads every record of a CSV to the sheet's used width: a helper column with no
    heading, ticked on some rows, is an unnamed extra column, as in the workbook."""
    headings = {**HEADINGS, "helper": ""}
    rows = [dict(good_row(i), helper="✓" if i % 2 else "") for i in range(1, 5)]
    path = write_csv(tmp_path / "return.csv", rows, headings=headings)
    result = ingest_return(path, "kent", key)
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (4, 4, 0)
    assert result.extra_columns == ["(unnamed column O)"]


HEADING_ORDER = list(HEADINGS)


def _open_quote(lines: list[str], line: int, name: str = '"PC Smith') -> None:
    """Line ``line`` of a CSV gets a name written with an opening quote and no more."""
    cells = lines[line].split(",")
    cells[HEADING_ORDER.index("subject_name")] = name
    lines[line] = ",".join(cells)


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return set_received(path)


def test_a_quote_never_closed_refuses_the_csv_naming_where_it_opens(tmp_path, key) -> None:
    """A name typed as "Smith with no closing quote would swallow every later record
    into one cell, and those rows would vanish: the file is refused instead."""
    path = write_csv(tmp_path / "return.csv", [good_row(i) for i in range(1, 7)])
    lines = path.read_text(encoding="utf-8").splitlines()
    _open_quote(lines, 2)
    with pytest.raises(ReturnRefused) as refused:
        ingest_return(_write_lines(path, lines), "kent", key)
    message = str(refused.value)
    assert message.startswith("return.csv: row 3, column E: a cell opens a quote")
    assert "4 line(s) holding whole records" in message


@pytest.mark.parametrize("closed_later", [True, False])
def test_a_quote_closed_only_by_a_later_note_refuses_the_csv(tmp_path, key,
                                                             closed_later) -> None:
    """A stray quote in row 3's name is closed by the quoted note of row 6 (or a
    stray "quoted" word comes first): the rows between would vanish into one cell."""
    rows = [good_row(i) for i in range(1, 8)]
    rows[4]["notes"] = 'Said "no comment", then left'  # quoted by the CSV writer
    path = write_csv(tmp_path / "return.csv", rows)
    lines = path.read_text(encoding="utf-8").splitlines()
    _open_quote(lines, 2)
    if not closed_later:
        _open_quote(lines, 1, '"PC" Jones')
    with pytest.raises(ReturnRefused, match="row 3, column E: a cell opens a quote"):
        ingest_return(_write_lines(path, lines), "kent", key)


def test_a_note_over_several_lines_is_one_cell(tmp_path, key) -> None:
    note = ("Spoke to the complainant.\nFollow-up booked, 12 Oct, with PSD.\nParties "
            "interviewed: complainant, her sister, two neighbours, the duty sergeant, "
            "PC A, PC B and the custody officer, all statements on file.\nClosed.")
    path = write_csv(tmp_path / "r.csv", [good_row(1, notes=note), good_row(2)])
    result = ingest_return(path, "kent", key)
    assert (result.rows_read, result.rows_stored) == (2, 2)


def test_staff_grades_as_hr_systems_write_them_are_not_applicable(tmp_path, key) -> None:
    """"not applicable: staff grades": a Rank column filled from an HR system."""
    grades = ["Police Staff", "Scale 6", "SO1", "PO2", "Band C", "PCSO", "Grade 7"]
    rows = [good_row(i, subject_role="Staff", subject_rank=g) for i, g in enumerate(grades)]
    rows.append(good_row(99, subject_rank="Bandit"))
    result = ingest(tmp_path, rows, key, headings={**HEADINGS, "subject_rank": "Rank"})
    assert result.cases["subject_rank"].tolist() == ["not applicable"] * len(grades)
    assert result.quarantine["value"].tolist() == ["Bandit"]


def test_dashes_are_blanks_in_every_field(tmp_path, key) -> None:
    """"-" is how many forces write "nothing": an ongoing case's outcome and date closed
    as "-" is stored; "-" as a reference is a blank reference (quarantined, and never
    one pseudonym for every such officer); a row of nothing but dashes is no row."""
    rows = [
        good_row(1, status="Open", outcome="-", date_finalised="-"),
        good_row(2, subject_reference="-"),
        good_row(3, case_reference="—", subject_reference="..."),
        good_row(4, date_recorded="-"),
        {"outcome": "-", "date_finalised": "-", "restriction": "–"},  # template filled down
    ]
    result = ingest(tmp_path, rows, key)
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (4, 1, 3)
    assert result.cases["source_row"].tolist() == [2]
    reasons_by_row = reasons(result)
    assert reasons_by_row[3] == [("subject_reference",
                                  "subject_reference is blank, but a value is required")]
    assert {f for f, _ in reasons_by_row[4]} == {"case_reference", "subject_reference"}
    assert reasons_by_row[5] == [("date_recorded",
                                  "date_recorded is blank, but a value is required")]


def test_a_row_out_of_line_still_conflicts_with_a_row_of_its_key(tmp_path, key) -> None:
    """Row 3 repeats row 2's case and subject references with an unquoted comma in the
    name: it is out of line, and row 2 is a conflict (two different rows, one key)."""
    path = write_csv(tmp_path / "return.csv", [good_row(1), good_row(2)])
    lines = path.read_text(encoding="utf-8").splitlines()
    clash = good_row(1, subject_name="Smith, John", vawg_category="Stalking")
    lines.append(",".join(clash[f].strftime("%d/%m/%Y") if isinstance(clash[f], dt.datetime)
                          else str(clash[f] or "") for f in HEADINGS))
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    result = ingest_return(set_received(path), "kent", key)
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (3, 1, 2)
    by_row = reasons(result)
    assert by_row[2][0][1].startswith("conflict:")
    assert "more cells than the header" in by_row[4][0][1]
    assert "Smith" not in result.quarantine.to_string()


def test_every_cell_merged_over_a_case_s_rows_is_filled_down(tmp_path, key) -> None:
    """The case reference merged over two officers' rows, and with it the restriction
    (both suspended) and the victim relationship: each row shows them, so each row has
    them, never the blank's meaning ("none", "not known")."""
    book = openpyxl.Workbook()
    sheet = book.active
    fields = [*HEADINGS, "victim_relationship"]
    headings = {**HEADINGS, "victim_relationship": "Victim Relationship"}
    sheet.append([headings[f] for f in fields])
    rows = [good_row(1, subject_reference="1001", restriction="Suspended",
                     victim_relationship="Partner"),
            good_row(1, subject_reference="1002", case_reference=None, restriction=None,
                     victim_relationship=None)]
    for row in rows:
        sheet.append([row.get(f) or None for f in fields])
    for field in ("case_reference", "restriction", "victim_relationship"):
        column = fields.index(field) + 1
        sheet.merge_cells(start_row=2, start_column=column, end_row=3, end_column=column)
    path = tmp_path / "r.xlsx"
    book.save(path)
    result = ingest_return(set_received(path), "kent", key)
    assert (result.rows_read, result.rows_stored) == (2, 2)
    assert result.cases["restriction"].tolist() == ["suspended", "suspended"]
    assert result.cases["victim_relationship"].tolist() == ["partner or ex-partner"] * 2


def test_a_swallowing_quote_is_found_when_records_leave_trailing_blanks_off(tmp_path,
                                                                          key) -> None:
    """Open cases written without their empty trailing cells (11 of 14): the records a
    quote swallows are that short, and still found."""
    rows = [good_row(i) for i in range(1, 5)] + \
        [good_row(i, status="Open", outcome=None, date_finalised=None, notes=None)
         for i in range(5, 11)]
    path = write_csv(tmp_path / "return.csv", rows)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines = [lines[0]] + [line.rstrip(",") for line in lines[1:]]
    _open_quote(lines, 6)
    with pytest.raises(ReturnRefused, match="row 7, column E: a cell opens a quote"):
        ingest_return(_write_lines(path, lines), "kent", key)


def test_a_merged_restriction_is_filled_whatever_other_cases_hold(tmp_path, key) -> None:
    """Each officer's row has its case reference; "Suspended" is merged over both. No
    other cell is blank: the merge is still looked up, and both rows are suspended."""
    book = openpyxl.Workbook()
    sheet = book.active
    fields = list(HEADINGS)
    sheet.append([HEADINGS[f] for f in fields])
    rows = [good_row(1, subject_reference="1001", restriction="Suspended"),
            good_row(1, subject_reference="1002", restriction=None), good_row(2)]
    for row in rows:
        sheet.append([row[f] or None for f in fields])
    column = fields.index("restriction") + 1
    sheet.merge_cells(start_row=2, start_column=column, end_row=3, end_column=column)
    path = tmp_path / "r.xlsx"
    book.save(path)
    cases = ingest_return(set_received(path), "kent", key).cases
    assert cases["restriction"].tolist() == ["suspended", "suspended", "none"]


@pytest.mark.parametrize("extra", ["title line", "heading over two lines"])
def test_notes_over_several_lines_with_commas_are_read_beside_odd_lines(tmp_path, key,
                                                                       extra) -> None:
    """A title line of four cells, or a heading cell with a line break and every note
    over two lines: neither makes a note's commas look like swallowed records."""
    note = ("Spoke to victim, her sister, her mother, and the PCSO\n"
            "Follow-up: CPS, IOPC, DPS, and Fed rep informed")
    headings = dict(HEADINGS)
    every = extra == "heading over two lines"
    if every:
        headings["date_recorded"] = "Date\nRecorded"
    rows = [good_row(i, notes=note if every or i == 5 else None) for i in range(1, 11)]
    path = write_csv(tmp_path / "return.csv", rows, headings=headings)
    if not every:
        text = path.read_text(encoding="utf-8")
        path.write_text("Kent Police,PSD,VAWG return,Q3 2023\r\n" + text, encoding="utf-8")
    result = ingest_return(set_received(path), "kent", key)
    assert (result.rows_read, result.rows_stored) == (10, 10)
