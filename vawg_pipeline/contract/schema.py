"""The pandera model of a normalised return row, built from the contract's data.

``ingest.normalise`` turns every cell into the contract's canonical spelling where it can,
and leaves the force's own text where it cannot; dates become dates, and the text of a
date that cannot be read goes to ``<field>_unreadable``. This model then says, lazily and
for every row at once, which values are not accepted and which row rules are broken.
Each failure names its field so ``ingest.validate`` can turn it into a quarantine row
with a plain-English reason.

Optional columns are ``required=False``: a return may omit them, but where the column is
present a blank cell is only accepted if the contract lists blank as a spelling (the
normaliser has already turned such blanks into their canonical value).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pandas as pd
import pandera.pandas as pa
from pandera.dtypes import DataType, immutable
from pandera.engines import pandas_engine
from pandera.typing.pandas import Series

from vawg_pipeline.contract.fields import SPREADSHEET_ERRORS, load_contract

EARLIEST_DATE = pd.Timestamp("1990-01-01")
# Helper columns the normaliser adds; not contract fields.
RECEIVED_DATE = "received_date"  # the day the file was received (its modification time)
ROW_FINGERPRINT = "row_fingerprint"  # tells exact duplicates from conflicting rows
KEY_REPEATED = "key_repeated"  # the row's (case, subject) key appears on another row
UNREADABLE_SUFFIX = "_unreadable"  # <date field>_unreadable: the text of unreadable dates
# Which return of a batch the row came from (several forces' returns validated at once):
# the row rules hold within one return, never across forces.
RETURN_ID = "return_id"
KEY = ["case_reference", "subject_reference"]


def within_return(df: pd.DataFrame, columns: list[str]) -> list[str]:
    """The columns a row rule groups by: ``columns`` within each return of the frame."""
    return [RETURN_ID, *columns] if RETURN_ID in df else list(columns)


@immutable(init=True)
class ArrowText(pandas_engine.STRING):
    """Arrow-backed text (``string[pyarrow]``): checks run in Arrow's C++ kernels.

    Its dtype is judged by the column's dtype alone. pandera's own ``STRING`` check
    answers value by value for a matching column, and then formats an empty failure
    report for every column of every return: a fifth of validation time, for nothing,
    since an Arrow string column can hold nothing but strings.
    """

    storage: Literal["python", "pyarrow"] | None = "pyarrow"

    def check(self, pandera_dtype: DataType, data_container: object = None) -> bool:
        try:
            resolved = pandas_engine.Engine.dtype(pandera_dtype)
        except TypeError:
            return False
        return getattr(resolved, "type", None) == self.type


_CONTRACT = load_contract()


def _category(name: str) -> object:
    f = _CONTRACT[name]
    return pa.Field(isin=f.canonical_values, nullable=False, required=f.required)


def _true(df: pd.DataFrame) -> pd.Series:
    return pd.Series(True, index=df.index)


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df else pd.Series(pd.NA, index=df.index, dtype=object)


def _given(df: pd.DataFrame, date_field: str) -> pd.Series:
    """The cell holds something: a date, or text that is not one."""
    return (_column(df, date_field).notna()
            | _column(df, date_field + UNREADABLE_SUFFIX).notna()).astype(bool)


def _is(df: pd.DataFrame, field: str, value: str) -> pd.Series:
    return (df[field] == value).fillna(False).astype(bool)


def _row_check(name: str) -> Callable[..., Any]:
    """A frame-wide check whose answer is per row.

    ``ignore_na=False``: the default would first pass every row whose cells are all
    blank, computed over the whole frame for every check (half of validation time);
    no row of this frame is all blank, since its fingerprint and received date are
    always set.
    """
    return pa.dataframe_check(name=name, ignore_na=False)


class ReturnRow(pa.DataFrameModel):
    """One subject-per-case row of a force's return, after normalisation."""

    case_reference: Series[ArrowText] = pa.Field(nullable=False)
    case_type: Series[ArrowText] = _category("case_type")
    date_recorded: Series[pa.DateTime] = pa.Field(nullable=True)
    date_recorded_unreadable: Series[ArrowText] = pa.Field(nullable=True)
    subject_reference: Series[ArrowText] = pa.Field(nullable=False)
    subject_role: Series[ArrowText] = _category("subject_role")
    subject_rank: Series[ArrowText] = _category("subject_rank")
    subject_gender: Series[ArrowText] = _category("subject_gender")
    vawg_category: Series[ArrowText] = _category("vawg_category")
    allegation_category: Series[ArrowText] = _category("allegation_category")
    victim_relationship: Series[ArrowText] = _category("victim_relationship")
    criminal_investigation: Series[ArrowText] = _category("criminal_investigation")
    restriction: Series[ArrowText] = _category("restriction")
    status: Series[ArrowText] = _category("status")
    outcome: Series[ArrowText] = pa.Field(
        isin=_CONTRACT["outcome"].canonical_values, nullable=True, required=False
    )
    date_finalised: Series[pa.DateTime] = pa.Field(nullable=True, required=False)
    date_finalised_unreadable: Series[ArrowText] = pa.Field(nullable=True, required=False)
    received_date: Series[pa.DateTime] = pa.Field(nullable=False)
    row_fingerprint: Series[int] = pa.Field(nullable=False)
    key_repeated: Series[bool] = pa.Field(nullable=False, required=False)
    return_id: Series[int] = pa.Field(nullable=False, required=False)

    class Config:
        strict = False
        coerce = False

    # --- references ----------------------------------------------------------------

    @pa.check("case_reference", "subject_reference", name="not_a_spreadsheet_error")
    def not_a_spreadsheet_error(cls, values: Series[ArrowText]) -> Series[bool]:
        # A failed formula's "#N/A" would otherwise pass for a reference. (The reader
        # has trimmed every cell already.)
        return ~values.str.upper().isin(SPREADSHEET_ERRORS)

    # --- dates ---------------------------------------------------------------------

    @pa.check("date_recorded_unreadable", "date_finalised_unreadable", name="readable_date")
    def readable_date(cls, values: Series[ArrowText]) -> Series[bool]:
        # Only non-blank cells reach a check: any text here is not a date.
        return values.isna()

    @pa.check("date_recorded", "date_finalised", name="not_before_1990")
    def not_before_1990(cls, values: Series[pa.DateTime]) -> Series[bool]:
        return values >= EARLIEST_DATE

    @_row_check(name="date_recorded_given")
    def date_recorded_given(cls, df: pd.DataFrame) -> Series[bool]:
        return _given(df, "date_recorded")

    @_row_check(name="date_recorded_not_in_future")
    def date_recorded_not_in_future(cls, df: pd.DataFrame) -> Series[bool]:
        return ~(df["date_recorded"] > df[RECEIVED_DATE])

    @_row_check(name="date_finalised_not_in_future")
    def date_finalised_not_in_future(cls, df: pd.DataFrame) -> Series[bool]:
        if "date_finalised" not in df:
            return _true(df)
        return ~(df["date_finalised"] > df[RECEIVED_DATE])

    @_row_check(name="date_finalised_not_before_recorded")
    def date_finalised_not_before_recorded(cls, df: pd.DataFrame) -> Series[bool]:
        if "date_finalised" not in df:
            return _true(df)
        return ~(df["date_finalised"] < df["date_recorded"])

    # --- finalised and ongoing -----------------------------------------------------

    @_row_check(name="finalised_needs_outcome")
    def finalised_needs_outcome(cls, df: pd.DataFrame) -> Series[bool]:
        return ~(_is(df, "status", "finalised") & _column(df, "outcome").isna())

    @_row_check(name="finalised_needs_date_finalised")
    def finalised_needs_date_finalised(cls, df: pd.DataFrame) -> Series[bool]:
        return ~(_is(df, "status", "finalised") & ~_given(df, "date_finalised"))

    @_row_check(name="ongoing_has_no_outcome")
    def ongoing_has_no_outcome(cls, df: pd.DataFrame) -> Series[bool]:
        return ~(_is(df, "status", "ongoing") & _column(df, "outcome").notna())

    @_row_check(name="ongoing_has_no_date_finalised")
    def ongoing_has_no_date_finalised(cls, df: pd.DataFrame) -> Series[bool]:
        return ~(_is(df, "status", "ongoing") & _given(df, "date_finalised"))

    # --- row rules -----------------------------------------------------------------

    @_row_check(name="duplicate_row")
    def duplicate_row(cls, df: pd.DataFrame) -> Series[bool]:
        return ~duplicate_copies(df)

    @_row_check(name="conflicting_key")
    def conflicting_key(cls, df: pd.DataFrame) -> Series[bool]:
        return ~conflicting_keys(df)

    @_row_check(name="case_fields_disagree")
    def case_fields_disagree(cls, df: pd.DataFrame) -> Series[bool]:
        return ~case_disagreements(df)


def _key_repeated(df: pd.DataFrame) -> pd.Series:
    if KEY_REPEATED in df:  # worked out once by the normaliser
        return df[KEY_REPEATED].astype(bool)
    return (df.duplicated(within_return(df, KEY), keep=False)
            & df[KEY].notna().all(axis=1)).astype(bool)


def duplicate_copies(df: pd.DataFrame) -> pd.Series:
    """Later copies of a row repeated exactly (same key, same values): counted once."""
    repeated = _key_repeated(df)
    copies = pd.Series(False, index=df.index)
    if repeated.any():
        rows = df[repeated]
        same_row = rows.duplicated([*within_return(df, KEY), ROW_FINGERPRINT], keep="first")
        copies[rows.index] = same_row & ~conflicting_keys(df)[rows.index]
    return copies


def conflicting_keys(df: pd.DataFrame) -> pd.Series:
    """Every row whose key is shared by a row with different values."""
    repeated = _key_repeated(df) & df[KEY].notna().all(axis=1)
    if not repeated.any():
        return pd.Series(False, index=df.index)
    rows = df[repeated]
    versions = rows.groupby(within_return(df, KEY), sort=False)[ROW_FINGERPRINT] \
        .transform("nunique")
    return (versions > 1).reindex(df.index, fill_value=False).astype(bool)


def case_disagreements(df: pd.DataFrame) -> pd.Series:
    """Every row of a case whose rows disagree on a case-level field.

    Only readable values are compared: a row whose date cannot be read is quarantined
    for that already, and should not take its case's other rows with it.
    """
    case = within_return(df, ["case_reference"])
    shared = (df[case[0]].duplicated(keep=False) if len(case) == 1
              else df.duplicated(case, keep=False)) & df["case_reference"].notna()
    if not shared.any():
        return pd.Series(False, index=df.index)
    rows = df[shared & ~duplicate_copies(df)] if _key_repeated(df).any() else df[shared]
    case_type = rows["case_type"].where(
        rows["case_type"].isin(_CONTRACT["case_type"].canonical_values)
    )
    disagree = pd.Series(False, index=rows.index)
    groups = [rows[c] for c in case]
    for values in (case_type, rows["date_recorded"]):
        disagree |= values.groupby(groups, sort=False).transform("nunique") > 1
    return disagree.reindex(df.index, fill_value=False).astype(bool)


# Which field each check is about, and the reason a force reads in its feedback.
CHECK_REASONS: dict[str, tuple[str | None, str]] = {
    "not_a_spreadsheet_error": (None, "is a spreadsheet error (a formula that failed), "
                                "not a reference"),
    "readable_date": (None, "cannot be read as a date (dates are day-first, "
                      "e.g. 05/10/2021, 5 Oct 2021 or 2021-10-05)"),
    "date_recorded_given": ("date_recorded", "is blank, but a value is required"),
    "not_before_1990": (None, "is before 1990"),
    "date_recorded_not_in_future": ("date_recorded", "is after the file was received"),
    "date_finalised_not_in_future": ("date_finalised", "is after the file was received"),
    "date_finalised_not_before_recorded": ("date_finalised", "is before date_recorded"),
    "finalised_needs_outcome": ("outcome", "is blank, but a finalised case needs an outcome"),
    "finalised_needs_date_finalised": (
        "date_finalised", "is blank, but a finalised case needs the date it was finalised"),
    "ongoing_has_no_outcome": ("outcome", "is given, but the case is ongoing (status)"),
    "ongoing_has_no_date_finalised": (
        "date_finalised", "is given, but the case is ongoing (status)"),
    "duplicate_row": ("case_reference", "duplicate: the same row appears earlier in the "
                      "file; it is counted once"),
    "conflicting_key": ("subject_reference", "conflict: another row has the same case "
                        "reference and subject reference but different values"),
    "case_fields_disagree": ("case_reference", "conflict: the rows of this case disagree on "
                             "case_type or date_recorded"),
}
