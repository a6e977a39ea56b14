"""Normalising raw cells to the contract's canonical spellings, vectorised.

Categories and flags map through the contract's spellings (case, spacing, punctuation
and plurals forgiven); dates are read from any day-first form the contract allows;
blanks become the canonical value the contract gives them, or stay blank. A value that
cannot be normalised is kept as the force wrote it (for a date, in a companion
``<field>_unreadable`` column), so the pandera model reports it by name.

Work is done once per distinct value (Arrow dictionary encoding), never once per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vawg_pipeline.contract import Contract, ContractField, normalise_value
from vawg_pipeline.contract.fields import (
    SAYS_NOTHING_RE2,
    SPACE_CLASS,
    is_spreadsheet_error,
    says_nothing,
)
from vawg_pipeline.contract.schema import (
    EARLIEST_DATE,
    KEY,
    KEY_REPEATED,
    RECEIVED_DATE,
    RETURN_ID,
    ROW_FINGERPRINT,
    UNREADABLE_SUFFIX,
    within_return,
)

# Day-first only: the contract never allows month-first dates. Any of these may carry a
# time of day ("05-Oct-21 14:30", "2021-10-05T14:30:00"): it is dropped before matching,
# since only the date is kept.
DATE_FORMATS = (
    "%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d-%m-%y", "%d.%m.%Y", "%d.%m.%y",
    "%Y/%m/%d", "%d %b %Y", "%d %B %Y", "%d %b %y", "%d %B %y", "%d-%b-%y", "%d-%b-%Y",
    "%d-%B-%y", "%d-%B-%Y",
)
TIME_OF_DAY = (r"(?:\s+|T)(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?"
               r"(?:\s*[AaPp]\.?[Mm]\.?)?"
               r"(?:\s*(?:Z|UTC|GMT|[+-](?:[01]\d|2[0-3]):?[0-5]\d))?$")  # "...T14:30:00Z"
# "Sept" is how many in England abbreviate September; strptime knows only "Sep".
SEPTEMBER = r"(?i)\bsept\b"
EXCEL_EPOCH = pd.Timestamp("1899-12-30")  # serial 1 = 1900-01-01 (Lotus leap-year bug)
MAC_EPOCH = pd.Timestamp("1904-01-01")  # serial 0 in a workbook using the 1904 system
# The largest serial a day count can hold (106,751 days: the year 2192). A larger number
# in a date column is a typing slip (444740), not a date, and is reported as unreadable.
_MAX_SERIAL = pd.Timedelta.max.days


def _arrow(values: pd.Series | pa.Array) -> pa.Array:
    array = pa.array(values, type=pa.string(), from_pandas=True) \
        if isinstance(values, pd.Series) else values
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _text_series(array: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(array), index=index, copy=False)


def _parse_distinct_dates(text: pd.Series, epoch: pd.Timestamp) -> pd.Series:
    """Timestamps for the readable values of ``text`` (NaT for the rest)."""
    text = text.str.strip()
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    number = pd.to_numeric(text, errors="coerce")
    # A bare number is a date serial only from the contract's earliest date on: "2021"
    # typed for a year is reported as written, not as a date in 1905.
    first_serial = (EARLIEST_DATE - epoch).days
    serial = number.notna() & (number >= first_serial) & (number <= _MAX_SERIAL)
    if serial.any():
        parsed[serial] = epoch + pd.to_timedelta(np.floor(number[serial]), unit="D")
    date_part = text.str.replace(TIME_OF_DAY, "", regex=True).str.replace(
        SEPTEMBER, "Sep", regex=True)
    for fmt in DATE_FORMATS:
        todo = parsed.isna() & ~serial
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(date_part[todo], format=fmt, errors="coerce")
    return parsed.dt.normalize()


def parse_dates(
    raw: pd.Series, epoch: pd.Timestamp = EXCEL_EPOCH
) -> tuple[pd.Series, pd.Series]:
    """(dates, unreadable): the date of every readable cell, and the text of the rest."""
    encoded = _arrow(raw).dictionary_encode()
    distinct = pd.Series(encoded.dictionary.to_pylist(), dtype=object)
    parsed = _parse_distinct_dates(distinct.astype(str), epoch) if len(distinct) else \
        pd.Series([], dtype="datetime64[ns]")
    dates = pa.array(parsed, type=pa.timestamp("ns"), from_pandas=True).take(encoded.indices)
    # A cell of dashes or dots ("-" for "no date yet") is a blank, not an unreadable date.
    blank = distinct.map(lambda v: isinstance(v, str) and says_nothing(v)).astype(bool)
    unreadable = pa.array(distinct.where(parsed.isna() & ~blank, None), type=pa.string(),
                          from_pandas=True).take(encoded.indices)
    return (pd.Series(dates.to_numpy(zero_copy_only=False), index=raw.index,
                      dtype="datetime64[ns]"),
            _text_series(unreadable, raw.index))


def map_spellings(raw: pd.Series, spelling: ContractField) -> pd.Series:
    """Canonical value for every accepted spelling; anything else left as written."""
    encoded = _arrow(raw).dictionary_encode()
    mapped: list[str | None] = []
    for value in encoded.dictionary.to_pylist():
        if is_spreadsheet_error(value):  # "#N/A" must not pass for "N/A": left as written
            mapped.append(value)
            continue
        key = normalise_value(value)
        if key:
            mapped.append(spelling.canonical(key) or value)
        else:  # "-" or "..." is a blank; a tick or "?" is a value, and not accepted
            mapped.append(None if says_nothing(value) else value)
    result = pa.array(mapped, type=pa.string()).take(encoded.indices)
    if spelling.blank is not None:
        result = pc.fill_null(result, spelling.blank)
    return _text_series(result, raw.index)


def blank_dashes(array: pa.Array) -> pa.Array:
    """Cells of dashes or dots as blanks: "-" is no case reference and no warrant
    number (as a pseudonym, every "-" would be one subject across cases)."""
    nothing = pc.fill_null(pc.match_substring_regex(array, SAYS_NOTHING_RE2), False)
    return pc.if_else(nothing, pa.scalar(None, pa.string()), array)


def normalise_reference(raw: pd.Series) -> pd.Series:
    """Trimmed, upper case, inner spaces removed, a number without a trailing ``.0``."""
    text = pc.utf8_upper(blank_dashes(_arrow(raw)))
    # Any space, including the non-breaking and thin spaces a copy from a web page or
    # HR system brings, and zero-width characters: "MP\u00a0100009" is "MP100009".
    text = pc.replace_substring_regex(text, SPACE_CLASS + "+", "")
    text = pc.replace_substring_regex(text, r"^(\d+)\.0+$", r"\1")
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    return _text_series(text, raw.index)


def _fingerprints(frame: pd.DataFrame, personal: pd.DataFrame,
                  repeated: np.ndarray) -> pd.Series:
    """Tell exact duplicates from conflicts: a hash of every field of rows sharing a key.

    Only rows whose (normalised) key repeats need one; the rest get their position,
    unique anyway. Personal text counts too: same key, different name is a conflict.
    """
    fingerprint = pd.Series(np.arange(len(frame), dtype="int64"), index=frame.index)
    if repeated.any():
        subset = pd.concat([frame.loc[repeated], personal.loc[repeated]], axis=1)
        subset = subset.astype(object).where(subset.notna(), "\x00")
        fingerprint[repeated] = pd.util.hash_pandas_object(subset, index=False).to_numpy(
            dtype="uint64").astype("int64")
    return fingerprint


def normalise_rows(
    data: pd.DataFrame, contract: Contract, received_date: str | pd.Series,
    serial_epoch: pd.Timestamp = EXCEL_EPOCH,
) -> pd.DataFrame:
    """The validation frame: present fields normalised, helper columns added.

    ``received_date`` is the day the file arrived (ISO text), or each row's when the
    frame holds several returns (a ``return_id`` column tells them apart).
    ``serial_epoch`` is day 0 of the workbook's date serials (1904-01-01 for a workbook
    saved with the 1904 date system).

    Personal free text (name, notes) only contributes to the row fingerprint, so exact
    duplicates are told from conflicts, and is then left out of the frame.
    """
    out: dict[str, pd.Series] = {}
    present = [f for f in contract.fields if f.name in data]
    for f in present:
        raw = data[f.name]
        if f.kind in ("category", "flag"):
            out[f.name] = map_spellings(raw, f)
        elif f.kind == "date":
            out[f.name], out[f.name + UNREADABLE_SUFFIX] = parse_dates(raw, serial_epoch)
        elif f.name == "subject_reference":
            out[f.name] = normalise_reference(raw)
        elif not f.personal:
            out[f.name] = _text_series(blank_dashes(_arrow(raw)), raw.index)
    frame = pd.DataFrame(out, index=data.index)
    if RETURN_ID in data:
        frame[RETURN_ID] = data[RETURN_ID].to_numpy(dtype="int64")
    personal = data[[f.name for f in present if f.personal and f.name not in frame]]
    # Whether a row's key repeats within its return: worked out once here, used by every
    # row rule.
    repeated = (frame.duplicated(within_return(frame, KEY), keep=False)
                & frame[KEY].notna().all(axis=1)).to_numpy() \
        if all(k in frame for k in KEY) else np.zeros(len(frame), dtype=bool)
    frame[ROW_FINGERPRINT] = _fingerprints(frame, personal, repeated)
    frame[KEY_REPEATED] = repeated
    frame[RECEIVED_DATE] = pd.Timestamp(received_date) if isinstance(received_date, str) \
        else received_date.to_numpy(dtype="datetime64[ns]")
    return frame
