"""The pandera model of a normalised return row, built from the contract's data.

``ingest.normalise`` turns every cell into the contract's canonical spelling where it can,
and leaves the force's own text where it cannot; dates become ISO text (``2021-10-05``)
when they can be read. This model then says, lazily and for every row at once, which
values are not accepted and which row rules are broken. Each failure names its field so
``ingest.validate`` can turn it into a quarantine row with a plain-English reason.

Optional columns are ``required=False``: a return may omit them, but where the column is
present a blank cell is only accepted if the contract lists blank as a spelling (the
normaliser has already turned such blanks into their canonical value).
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing.pandas import Series

from vawg_pipeline.contract.fields import load_contract

ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
EARLIEST_DATE = "1990-01-01"
# Helper columns the normaliser adds; not contract fields.
RECEIVED_DATE = "received_date"  # the file's received date, ISO text
ROW_FINGERPRINT = "row_fingerprint"  # hash of every field of the row, personal ones too

_CONTRACT = load_contract()


def _category(name: str) -> object:
    f = _CONTRACT[name]
    return pa.Field(isin=f.canonical_values, nullable=False, required=f.required)


def _iso(values: pd.Series) -> pd.Series:
    return values.astype("string").str.fullmatch(ISO_DATE).fillna(False).astype(bool)


def _date_checks(values: pd.Series) -> pd.Series:
    return values.isna() | ~_iso(values) | (values >= EARLIEST_DATE)


def _readable(values: pd.Series) -> pd.Series:
    return values.isna() | _iso(values)


class ReturnRow(pa.DataFrameModel):
    """One subject-per-case row of a force's return, after normalisation."""

    case_reference: Series[str] = pa.Field(nullable=False)
    case_type: Series[str] = _category("case_type")
    date_recorded: Series[str] = pa.Field(nullable=False)
    subject_reference: Series[str] = pa.Field(nullable=False)
    subject_role: Series[str] = _category("subject_role")
    subject_rank: Series[str] = _category("subject_rank")
    subject_gender: Series[str] = _category("subject_gender")
    vawg_category: Series[str] = _category("vawg_category")
    allegation_category: Series[str] = _category("allegation_category")
    victim_relationship: Series[str] = _category("victim_relationship")
    criminal_investigation: Series[str] = _category("criminal_investigation")
    restriction: Series[str] = _category("restriction")
    status: Series[str] = _category("status")
    outcome: Series[str] = pa.Field(
        isin=_CONTRACT["outcome"].canonical_values, nullable=True, required=False
    )
    date_finalised: Series[str] = pa.Field(nullable=True, required=False)
    received_date: Series[str] = pa.Field(nullable=False)
    row_fingerprint: Series[int] = pa.Field(nullable=False)

    class Config:
        strict = False
        coerce = False

    # --- dates ---------------------------------------------------------------------

    @pa.check("date_recorded", "date_finalised", name="readable_date")
    def readable_date(cls, values: Series[str]) -> Series[bool]:
        return _readable(values)

    @pa.check("date_recorded", "date_finalised", name="not_before_1990")
    def not_before_1990(cls, values: Series[str]) -> Series[bool]:
        return _date_checks(values)

    @pa.dataframe_check(name="date_recorded_not_in_future")
    def date_recorded_not_in_future(cls, df: pd.DataFrame) -> Series[bool]:
        d = df["date_recorded"]
        return d.isna() | ~_iso(d) | (d <= df[RECEIVED_DATE])

    @pa.dataframe_check(name="date_finalised_not_in_future")
    def date_finalised_not_in_future(cls, df: pd.DataFrame) -> Series[bool]:
        if "date_finalised" not in df:
            return pd.Series(True, index=df.index)
        d = df["date_finalised"]
        return d.isna() | ~_iso(d) | (d <= df[RECEIVED_DATE])

    @pa.dataframe_check(name="date_finalised_not_before_recorded")
    def date_finalised_not_before_recorded(cls, df: pd.DataFrame) -> Series[bool]:
        if "date_finalised" not in df:
            return pd.Series(True, index=df.index)
        fin, rec = df["date_finalised"], df["date_recorded"]
        comparable = _iso(fin) & _iso(rec)
        return ~comparable | (fin >= rec)

    # --- finalised and ongoing -----------------------------------------------------

    @pa.dataframe_check(name="finalised_needs_outcome")
    def finalised_needs_outcome(cls, df: pd.DataFrame) -> Series[bool]:
        return ~((df["status"] == "finalised") & _column(df, "outcome").isna())

    @pa.dataframe_check(name="finalised_needs_date_finalised")
    def finalised_needs_date_finalised(cls, df: pd.DataFrame) -> Series[bool]:
        return ~((df["status"] == "finalised") & _column(df, "date_finalised").isna())

    @pa.dataframe_check(name="ongoing_has_no_outcome")
    def ongoing_has_no_outcome(cls, df: pd.DataFrame) -> Series[bool]:
        return ~((df["status"] == "ongoing") & _column(df, "outcome").notna())

    @pa.dataframe_check(name="ongoing_has_no_date_finalised")
    def ongoing_has_no_date_finalised(cls, df: pd.DataFrame) -> Series[bool]:
        return ~((df["status"] == "ongoing") & _column(df, "date_finalised").notna())

    # --- row rules -----------------------------------------------------------------

    @pa.dataframe_check(name="duplicate_row")
    def duplicate_row(cls, df: pd.DataFrame) -> Series[bool]:
        return ~duplicate_copies(df)

    @pa.dataframe_check(name="conflicting_key")
    def conflicting_key(cls, df: pd.DataFrame) -> Series[bool]:
        return ~conflicting_keys(df)

    @pa.dataframe_check(name="case_fields_disagree")
    def case_fields_disagree(cls, df: pd.DataFrame) -> Series[bool]:
        return ~case_disagreements(df)


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df else pd.Series(pd.NA, index=df.index, dtype=object)


KEY = ["case_reference", "subject_reference"]


def duplicate_copies(df: pd.DataFrame) -> pd.Series:
    """Later copies of a row repeated exactly (same key, same values): counted once."""
    same_row = df.duplicated([*KEY, ROW_FINGERPRINT], keep="first")
    return same_row & ~conflicting_keys(df)


def conflicting_keys(df: pd.DataFrame) -> pd.Series:
    """Every row whose key is shared by a row with different values."""
    has_key = df[KEY].notna().all(axis=1)
    versions = df[has_key].groupby(KEY, sort=False)[ROW_FINGERPRINT].transform("nunique")
    return (versions > 1).reindex(df.index, fill_value=False)


def case_disagreements(df: pd.DataFrame) -> pd.Series:
    """Every row of a case whose rows disagree on a case-level field.

    Only readable values are compared: a row whose date cannot be read is quarantined
    for that already, and should not take its case's other rows with it.
    """
    rows = df[df["case_reference"].notna() & ~duplicate_copies(df)]
    disagree = pd.Series(False, index=rows.index)
    case_type = rows["case_type"].where(
        rows["case_type"].isin(_CONTRACT["case_type"].canonical_values)
    )
    date = rows["date_recorded"].where(_iso(rows["date_recorded"]))
    for values in (case_type, date):
        disagree |= values.groupby(rows["case_reference"], sort=False).transform("nunique") > 1
    return disagree.reindex(df.index, fill_value=False)


# Which field each check is about, and the reason a force reads in its feedback.
CHECK_REASONS: dict[str, tuple[str | None, str]] = {
    "readable_date": (None, "cannot be read as a date (dates are day-first, "
                      "e.g. 05/10/2021, 5 Oct 2021 or 2021-10-05)"),
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
