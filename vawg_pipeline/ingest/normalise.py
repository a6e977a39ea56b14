"""Normalising raw cells to the contract's canonical spellings, vectorised.

Categories and flags map through the contract's spellings (case, spacing, punctuation
and plurals forgiven); dates become ISO text from any day-first form the contract allows;
blanks become the canonical value the contract gives them, or stay blank. A value that
cannot be normalised is left as the force wrote it, so the pandera model reports it by
name. Work is done once per distinct value, never once per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vawg_pipeline.contract import Contract, normalise_value
from vawg_pipeline.contract.schema import RECEIVED_DATE, ROW_FINGERPRINT

# Day-first only: the contract never allows month-first dates.
DATE_FORMATS = (
    "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f",
    "%d/%m/%Y", "%d/%m/%y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%y %H:%M",
    "%d-%m-%Y", "%d.%m.%Y",
    "%d %b %Y", "%d %B %Y", "%d %b %y", "%d-%b-%y", "%d-%b-%Y", "%d-%B-%Y", "%d %B %y",
    "%d %b %Y %H:%M", "%d-%b-%Y %H:%M",
)
EXCEL_EPOCH = pd.Timestamp("1899-12-30")  # serial 1 = 1900-01-01 (Lotus leap-year bug)
_MAX_SERIAL = 2958465  # 9999-12-31


def parse_dates(raw: pd.Series) -> pd.Series:
    """ISO date text for every readable value; unreadable text left as it was."""
    distinct = pd.Series(raw.dropna().unique(), dtype=object)
    if distinct.empty:
        return raw.astype(object)
    text = distinct.astype(str).str.strip()
    parsed = pd.Series(pd.NaT, index=distinct.index, dtype="datetime64[ns]")
    number = pd.to_numeric(text, errors="coerce")
    serial = number.notna() & (number >= 1) & (number <= _MAX_SERIAL)
    if serial.any():
        parsed[serial] = EXCEL_EPOCH + pd.to_timedelta(np.floor(number[serial]), unit="D")
    for fmt in DATE_FORMATS:
        todo = parsed.isna() & ~serial
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    iso = parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), distinct)
    return raw.map(dict(zip(distinct, iso, strict=True))).astype(object)


def map_spellings(raw: pd.Series, lookup: dict[str, str], blank: str | None) -> pd.Series:
    """Canonical value for every accepted spelling; anything else left as written."""
    distinct = raw.dropna().unique()
    mapping = {value: lookup.get(normalise_value(value), value) for value in distinct}
    # A cell of spaces or punctuation only ("-", "n/a" is a spelling) counts as blank.
    mapping = {k: (v if normalise_value(k) or v != k else None) for k, v in mapping.items()}
    mapped = raw.map(mapping).astype(object)
    if blank is not None:
        mapped = mapped.where(mapped.notna(), blank)
    return mapped


def normalise_reference(raw: pd.Series) -> pd.Series:
    """Trimmed, upper case, inner spaces removed, a number without a trailing ``.0``."""
    text = raw.astype("string").str.upper().str.replace(r"\s+", "", regex=True)
    text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return text.replace("", pd.NA).astype(object)


def normalise_sheet(
    data: pd.DataFrame, contract: Contract, received_date: str
) -> pd.DataFrame:
    """The validation frame: present fields normalised, helper columns added.

    Personal free text (name, notes) contributes to the row fingerprint, so exact
    duplicates are told from conflicts, and is then left out of the frame.
    """
    out: dict[str, pd.Series] = {}
    for f in contract.fields:
        if f.name not in data:
            continue
        raw = data[f.name]
        if f.kind in ("category", "flag"):
            out[f.name] = map_spellings(raw, f.value_lookup, f.blank)
        elif f.kind == "date":
            out[f.name] = parse_dates(raw)
        elif f.name == "subject_reference":
            out[f.name] = normalise_reference(raw)
        else:
            out[f.name] = raw.astype(object).where(raw.notna(), None)
    frame = pd.DataFrame(out, index=data.index)
    frame[ROW_FINGERPRINT] = pd.util.hash_pandas_object(
        frame.astype("string").fillna("\x00"), index=False
    ).astype("int64")
    frame = frame.drop(columns=[f.name for f in contract.fields
                                if f.personal and f.name != "subject_reference"],
                       errors="ignore")
    frame[RECEIVED_DATE] = received_date
    return frame
