"""The accessible Excel workbook, written with gptables (ONS / Analysis Function).

It follows the GSS guidance on releasing statistics in spreadsheets: a cover sheet
(title, reporting period, source, contact), a contents sheet, a notes sheet (what
``[c]`` means, the disclosure rules, which forces are missing), then one table per
sheet with a title row, no merged cells, no blank rows inside a table, numbers stored
as numbers and ``[c]`` where a value is withheld.

Every text cell has passed :func:`~vawg_pipeline.publish.safety.guard_text`, and the
workbook is written with xlsxwriter's string-to-formula and string-to-URL conversions
off, so no text is ever written as a formula or link.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import gptables as gpt
import pandas as pd

from vawg_pipeline.disclosure.specs import TOTAL, TableSpec
from vawg_pipeline.publish.safety import guard_text
from vawg_pipeline.publish.tables import DIMENSION_TITLES, WITHHELD, Publication

TITLE = ("Violence against women and girls (VAWG) allegations against police officers "
         "and staff, England and Wales")
SOURCE = ("National Police Chiefs' Council (NPCC): national collation of police forces' "
          "case-level returns of VAWG-related complaint and conduct cases")
DEFAULT_CONTACT = "NPCC VAWG data team (team:npcc-vawg-data)"
NOT_APPLICABLE = "[x]"  # GSS symbol: not applicable / not available

COVERAGE_SHEET = "Coverage"
COVERAGE_TABLE_NAME = "coverage"


def sheet_name(position: int) -> str:
    """Sheet of the n-th published table (table ids exceed Excel's 31 characters)."""
    return f"Table_{position}"


def value_heading(spec: TableSpec) -> str:
    return "Number of cases" if spec.unit == "cases" else "Number of individuals"


def _table_sheet_frame(table: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Dimensions with readable headings, then the count: a number, or [c]."""
    out = pd.DataFrame({DIMENSION_TITLES.get(d, d): table[d].astype(str)
                        for d in spec.dimensions})
    # Python ints, so xlsxwriter writes numbers; the [c] text only where withheld.
    out[value_heading(spec)] = [
        WITHHELD if pd.isna(v) else int(v) for v in table["value"].tolist()
    ]
    return out


def _coverage_sheet_frame(coverage: pd.DataFrame) -> pd.DataFrame:
    def text(value: object) -> object:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return NOT_APPLICABLE
        return str(value)

    return pd.DataFrame({
        "Force code": coverage["force_code"].map(text),
        "Force name": coverage["force_name"].map(text),
        "Status": coverage["status"].map(text),
        "Included in the tables": coverage["included"].map(lambda v: "yes" if v else "no"),
        "File name": coverage["file_name"].map(text),
        "SHA-256": coverage["sha256"].map(text),
        "Received (UTC)": coverage["received_at"].map(
            lambda v: NOT_APPLICABLE if pd.isna(v)
            else pd.Timestamp(v).strftime("%Y-%m-%d %H:%M:%S")),
        "Quarantine rate": coverage["quarantine_rate"].map(
            lambda v: NOT_APPLICABLE if pd.isna(v) else float(v)),
    })


def _notes(pub: Publication) -> pd.DataFrame:
    rules = pub.rules
    missing = pub.missing_forces
    if missing.empty:
        missing_text = ("Every force of the registry sent an accepted return: all are "
                        "included.")
    else:
        names = [f"{r.force_name or r.force_code} ({r.status})"
                 for r in missing.itertuples(index=False)]
        missing_text = (f"{len(names)} force(s) are not included because they have no "
                        f"accepted return: {'; '.join(names)}. The Coverage sheet lists "
                        "every force and the file each contributed.")
    insiders = (" The protection also holds against any one force that knows its own "
                "figures exactly." if rules.insiders else "")
    notes = [
        ("withheld",
         f"{WITHHELD} marks a value withheld (confidential) to protect the officers, "
         "staff and victims involved. It is not missing data: the count exists but is "
         "not published. It may be any count, zero included, because a count is also "
         "withheld where it would reveal another."),
        ("rules",
         f"Disclosure rules: any count from 1 to {rules.threshold - 1}, totals included, "
         f"is withheld (primary suppression). Further cells are withheld (secondary "
         "suppression) so that no withheld count can be worked out from the totals, "
         "within a table or across tables that share totals. Zeros are published, "
         "except where a row or column has a single non-zero count that is withheld, "
         "and where withholding a zero protects another count. "
         "An audit by linear programming checks that, for every count withheld by the "
         "primary rule, the range of values consistent with everything published spans "
         f"at least {rules.protection_width}.{insiders}"),
        ("missing", missing_text),
        ("units",
         "Cases are distinct case references within a force; a case with several "
         "subjects counts once. Individuals are subject-per-case rows, as the NPCC "
         "counts them: a person who is the subject of two cases counts twice. "
         f"{TOTAL} is the sum over all categories of its column, over the true counts."),
        ("period",
         f"Reporting period {pub.period.label()}, by the date each case was recorded. "
         "Status and outcome are as each force's return states them; outcome tables "
         "count finalised cases only."),
        ("text",
         "Text that would begin with =, +, -, @, a tab or a carriage return is shown "
         "with a leading apostrophe (') so that no spreadsheet program reads it as a "
         f"formula. {NOT_APPLICABLE} marks a value that does not apply."),
    ]
    return pd.DataFrame(
        [(ref, guard_text(text)) for ref, text in notes],
        columns=["Note reference", "Note text"],
    )


def write_workbook(path: Path, pub: Publication, release_id: str,
                   contact: str = DEFAULT_CONTACT) -> Path:
    """Write the workbook at ``path``."""
    path = Path(path)
    sheets: dict[str, gpt.GPTable] = {}
    for position, spec in enumerate(pub.specs, start=1):
        sheets[sheet_name(position)] = gpt.GPTable(
            table=_table_sheet_frame(pub.tables[spec.table_id], spec),
            table_name=spec.table_id,
            title=guard_text(spec.title),
            subtitles=[guard_text(spec.description),
                       guard_text(f"Reporting period: {pub.period.label()} $$period$$"),
                       guard_text(f"Unit: {spec.unit} $$units$$")],
            # gptables moves each $$reference$$ to the end of its text as "[note n]".
            instructions=(f"This worksheet contains one table. {WITHHELD} marks a "
                          "withheld value. $$withheld$$$$rules$$"),
            source=guard_text(f"Source: {SOURCE}."),
            index_columns={2: 0},
        )
    sheets[COVERAGE_SHEET] = gpt.GPTable(
        table=_coverage_sheet_frame(pub.coverage),
        table_name=COVERAGE_TABLE_NAME,
        title="Coverage: the return each force contributed",
        subtitles=["Every force of the registry, whether its return is counted, and "
                   "the file it sent $$missing$$"],
        instructions=(f"This worksheet contains one table. {NOT_APPLICABLE} marks a "
                      "value that does not apply. $$text$$"),
        source=guard_text(f"Source: {SOURCE}."),
        index_columns={2: 0},
    )
    cover = gpt.Cover(
        title=TITLE,
        intro=[
            guard_text(f"Reporting period: {pub.period.label()} (date recorded)."),
            guard_text(f"Release: {release_id}."),
            f"Forces included: {int(pub.coverage['included'].sum())} of "
            f"{len(pub.coverage)} in the force registry (see the Coverage sheet).",
            f"Withheld values are shown as {WITHHELD}; see the Notes sheet.",
        ],
        about=[
            guard_text(f"Source: {SOURCE}."),
            "Counts of allegations of violence against women and girls made against "
            "police officers and staff, as forces reported them to the NPCC. Small counts "
            "are withheld and the tables audited so that no individual can be "
            "identified.",
            "The same tables are published as a DuckDB database and as CSV files.",
        ],
        contact=[guard_text(contact)],
    )
    with warnings.catch_warnings():
        # gptables warns about every note not referenced and about blank cells; there
        # are none of either, but keep a run's log free of its advisory noise.
        warnings.simplefilter("ignore", UserWarning)
        gpt.write_workbook(
            filename=str(path),
            sheets=sheets,
            cover=cover,
            contentsheet_label="Contents",
            notes_table=_notes(pub),
            notesheet_label="Notes",
            workbook_options={"strings_to_formulas": False, "strings_to_urls": False,
                              "strings_to_numbers": False},
        )
    return path
