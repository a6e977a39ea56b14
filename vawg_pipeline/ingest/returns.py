"""One force's return, end to end: read, normalise, validate, pseudonymise.

``ingest_return`` is the whole of ingestion as one plain function: a file in, the rows
for the national store and the quarantine out, with the counts that prove no row was
lost. It raises :class:`ReturnRefused` for a file that cannot be read at all.
``ingest_returns`` does the same for several forces' files in one pass, with the same
result for each file as on its own.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa

from vawg_pipeline.contract import Contract, load_contract
from vawg_pipeline.contract.fields import contract_fingerprint
from vawg_pipeline.contract.schema import RETURN_ID, UNREADABLE_SUFFIX
from vawg_pipeline.ingest.normalise import EXCEL_EPOCH, MAC_EPOCH, normalise_rows
from vawg_pipeline.ingest.reader import (
    MISALIGNED_COLUMN,
    ROW_COLUMN,
    RawReturn,
    ReturnRefused,
    read_return,
)
from vawg_pipeline.ingest.validate import find_problems
from vawg_pipeline.privacy import PseudonymKey

T = TypeVar("T")

# Dates in a return are English calendar dates: "not in the future" is judged on the
# day the file arrived in England, whatever the server's clock zone.
LOCAL_ZONE = ZoneInfo("Europe/London")

TEXT = pd.StringDtype("pyarrow")  # Arrow-backed text, as the reader makes it
CASE_COLUMNS = [
    "force_code", "case_reference", "case_type", "date_recorded", "subject_pseudonym",
    "subject_role", "subject_rank", "subject_gender", "vawg_category",
    "allegation_category", "victim_relationship", "criminal_investigation", "restriction",
    "status", "outcome", "date_finalised", "source_sha256", "source_sheet", "source_row",
]
QUARANTINE_COLUMNS = [
    "force_code", "file_name", "source_sha256", "sheet", "row_number", "field", "reason",
    "value",
]


@dataclass
class IngestResult:
    force_code: str
    file_name: str
    sha256: str
    received_at: datetime  # UTC, naive (DuckDB TIMESTAMP)
    cases: pd.DataFrame
    quarantine: pd.DataFrame
    rows_read: int
    rows_quarantined: int
    sheets: list[str] = field(default_factory=list)
    ignored_sheets: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    # Seconds spent per stage (read, normalise, validate, pseudonymise), for the
    # benchmark and the asset's metadata.
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows_stored(self) -> int:
        return len(self.cases)

    def reason_counts(self) -> pd.DataFrame:
        """Rows quarantined per field and reason, the values left out: a name typed
        under Role is personal data in a field that is not (it stays in the restricted
        quarantine, for the force's feedback, and goes no further)."""
        return reason_counts(self.quarantine)


def reason_counts(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Problems per field and reason, each reason's quoted value replaced by "a value"."""
    if quarantine.empty:
        return pd.DataFrame(columns=["field", "reason", "rows"])
    reasons = [reason.replace(repr(value), "a value", 1) if isinstance(value, str) else reason
               for reason, value in zip(quarantine["reason"], quarantine["value"],
                                        strict=True)]
    return (
        quarantine.assign(reason=reasons).groupby(["field", "reason"], sort=False).size()
        .rename("rows").reset_index().sort_values("rows", ascending=False)
    )


@cache
def reader_version() -> str:
    """The reader's identity, recorded with every file it judges: the package version
    and the contract's fingerprint."""
    try:
        version = metadata.version("vawg-pipeline")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{version}; contract {contract_fingerprint()}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def received_time(path: Path) -> datetime:
    """The file's modification time, as naive UTC."""
    return datetime.fromtimestamp(Path(path).stat().st_mtime, tz=UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ReturnFile:
    """A force's file to ingest (its SHA-256, when the caller has it already)."""

    path: Path
    force_code: str
    sha256: str | None = None


@dataclass
class _ReadReturn:
    file: ReturnFile
    raw: RawReturn
    received_at: datetime
    sha256: str
    seconds: dict[str, float]


def ingest_return(
    path: Path, force_code: str, key: PseudonymKey, contract: Contract | None = None,
    sha256: str | None = None,
) -> IngestResult:
    """Read and validate one return; every data row ends stored or quarantined."""
    (result,) = ingest_returns([ReturnFile(Path(path), force_code, sha256)], key, contract)
    if isinstance(result, ReturnRefused):
        raise result
    return result


def ingest_returns(
    files: list[ReturnFile], key: PseudonymKey, contract: Contract | None = None,
) -> list[IngestResult | ReturnRefused]:
    """Several forces' returns at once: each read on its own, then validated together.

    The result for each file, in order: an :class:`IngestResult`, or the
    :class:`ReturnRefused` saying why the file cannot be read (the others go on).

    Normalising, validating and pseudonymising cost a fixed amount per call (pandera
    sets up every column and check; pandas and DuckDB each statement): forty small
    returns done together pay it once. The row rules still hold within each return,
    and each result is exactly what the return would give on its own.
    """
    contract = contract or load_contract()
    outcomes: list[IngestResult | ReturnRefused | None] = [None] * len(files)
    readable: dict[int, _ReadReturn] = {}
    for position, file in enumerate(files):
        path = Path(file.path)
        received_at = received_time(path)
        sha = file.sha256 or file_sha256(path)
        clock = _Stopwatch()
        try:
            raw = read_return(path, contract)
        except ReturnRefused as refused:
            outcomes[position] = refused
            continue
        clock.lap("read")
        readable[position] = _ReadReturn(file, raw, received_at, sha, clock.seconds)
    # Date serials count from 1900 or from 1904: one batch per date system.
    for date_1904 in (False, True):
        positions = [p for p, r in readable.items() if r.raw.date_1904 == date_1904]
        if positions:
            results = _ingest_read([readable[p] for p in positions], key, contract)
            for position, result in zip(positions, results, strict=True):
                outcomes[position] = result
    return outcomes  # type: ignore[return-value]  # every position is filled above


def _ingest_read(
    batch: list[_ReadReturn], key: PseudonymKey, contract: Contract
) -> list[IngestResult]:
    """Normalise, validate and pseudonymise returns already read (one date system)."""
    clock = _Stopwatch()
    several = len(batch) > 1
    parts = []
    for number, r in enumerate(batch):
        # The whole return at once, every sheet together: the row rules (unique keys,
        # case-level agreement) hold across sheets, within the force.
        sheets = r.raw.sheets
        rows = pd.concat([s.data.assign(source_sheet=s.sheet) for s in sheets],
                         ignore_index=True) if len(sheets) > 1 \
            else sheets[0].data.assign(source_sheet=sheets[0].sheet)
        if several:
            rows[RETURN_ID] = number
        parts.append(rows)
    raw_rows = pd.concat(parts, ignore_index=True) if several else parts[0]
    bounds = np.cumsum([0, *(len(p) for p in parts)])
    # Dates in a return are English calendar dates: "not in the future" is judged on
    # the day the file arrived in England, whatever the server's clock zone.
    received = [r.received_at.replace(tzinfo=UTC).astimezone(LOCAL_ZONE).date().isoformat()
                for r in batch]
    frame = normalise_rows(
        raw_rows, contract,
        pd.Series(np.repeat(np.array(received, dtype="datetime64[ns]"), np.diff(bounds)),
                  index=raw_rows.index) if several else received[0],
        serial_epoch=MAC_EPOCH if batch[0].raw.date_1904 else EXCEL_EPOCH)
    frame["source_sheet"] = raw_rows["source_sheet"].to_numpy()
    frame["source_row"] = raw_rows[ROW_COLUMN].to_numpy()
    absent = _unknown_where_absent(frame, batch, bounds, contract)
    clock.lap("normalise")
    codes = [r.file.force_code for r in batch]
    # Pseudonyms are computed by DuckDB, off the GIL, while pandera validates: on a lone
    # file (one force resubmitting) the second core would otherwise sit idle. Rows that
    # end in quarantine get one too, and it is dropped with them.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vawg-pseudonyms") as hasher:
        hashing = hasher.submit(_timed, _pseudonyms, key, codes, frame["subject_reference"],
                                bounds)
        problems = _problems(frame, raw_rows, contract, absent)
        clock.lap("validate")
        pseudonyms, hashing_seconds = hashing.result()
    # The stage's time is the hashing's own (overlapping validate), not the wait for it.
    clock.restart()
    clock.seconds["pseudonymise"] = hashing_seconds
    bad = frame.index.isin(problems["index"])
    rows = problems["index"].astype(int).to_numpy()
    problems = problems.assign(sheet=frame["source_sheet"].to_numpy()[rows],
                               row_number=frame["source_row"].to_numpy()[rows],
                               _return=np.searchsorted(bounds, rows, side="right") - 1)
    valid = ~bad
    cases = _store_rows(frame[valid], pseudonyms[valid], codes, [r.sha256 for r in batch],
                        np.repeat(np.arange(len(batch)), np.diff(bounds))[valid], contract)
    clock.lap("pseudonymise")

    # Each return's rows are consecutive, in the frame and so in its valid rows.
    kept = np.concatenate([[0], np.cumsum(valid)])[bounds]
    total = max(int(bounds[-1]), 1)
    results = []
    for number, r in enumerate(batch):
        share = (bounds[number + 1] - bounds[number]) / total if several else 1.0
        part = cases.iloc[kept[number]:kept[number + 1]]
        if several:
            part.index = pd.RangeIndex(len(part))
        quarantine = problems[problems["_return"] == number] if several else problems
        quarantine = quarantine.assign(force_code=r.file.force_code,
                                       file_name=r.raw.file_name, source_sha256=r.sha256)
        quarantine = quarantine.sort_values(["sheet", "row_number", "field", "reason"],
                                            kind="stable")
        quarantine = quarantine[QUARANTINE_COLUMNS].reset_index(drop=True)
        quarantine["row_number"] = quarantine["row_number"].astype("int64")
        results.append(IngestResult(
            force_code=r.file.force_code, file_name=r.raw.file_name, sha256=r.sha256,
            received_at=r.received_at, cases=part, quarantine=quarantine,
            rows_read=r.raw.rows_read,
            rows_quarantined=int(bad[bounds[number]:bounds[number + 1]].sum()),
            sheets=[s.sheet for s in r.raw.sheets], ignored_sheets=r.raw.ignored_sheets,
            extra_columns=r.raw.extra_columns,
            # A batch's stages are shared by its returns in proportion to their rows.
            seconds={**r.seconds, **{k: v * share for k, v in clock.seconds.items()}},
        ))
    return results


def _unknown_where_absent(
    frame: pd.DataFrame, batch: list[_ReadReturn], bounds: np.ndarray, contract: Contract
) -> dict[str, pd.Series]:
    """Per field, the rows of sheets that lack its column: unknown there, not blank.

    Also clears, in ``frame``, a field's values on those rows: a sheet without the
    column says nothing about it, whatever another sheet or return has (the normaliser
    gave those rows the column's blank spelling, "not known", having seen the column
    elsewhere). A row stores the same value whether or not a sibling sheet has it.
    """
    sheets = frame["source_sheet"].to_numpy()
    absent: dict[str, pd.Series] = {}
    for name in [c for c in frame.columns if c in contract.names]:
        mask: np.ndarray | None = None
        for number, r in enumerate(batch):
            lacking = [s.sheet for s in r.raw.sheets if name not in s.data]
            if not lacking:
                continue
            if mask is None:
                mask = np.zeros(len(frame), dtype=bool)
            start, end = bounds[number], bounds[number + 1]
            mask[start:end] = np.isin(sheets[start:end], lacking)
        if mask is not None:
            column = frame[name].copy()
            column[mask] = None
            frame[name] = column
            absent[name] = pd.Series(mask, index=frame.index)
    return absent


MISALIGNED_REASON = (
    "the row has more cells than the header, or a value beyond the last heading: a "
    "value holding the delimiter without quotes (a comma in a name or note) may have "
    "pushed the values after it under the wrong headings, so none of them is read or "
    "shown; quote such values (or remove the stray delimiter) and send the file again")


def _problems(frame: pd.DataFrame, raw_rows: pd.DataFrame, contract: Contract,
              absent: dict[str, pd.Series]) -> pd.DataFrame:
    """Every row's problems; a CSV record out of line with its headings has one only.

    Its values may sit under the wrong headings (a name where the status should be):
    none is validated or quoted in a reason. Its key still counts (the references come
    first in a row, before any note or name that holds the stray delimiter): another
    row with the same case and subject references is a conflict, as the contract says
    of two different rows with one key. Its case-level values do not count: a case is
    not called in conflict on values that may have moved.
    """
    if MISALIGNED_COLUMN not in raw_rows:
        return find_problems(frame, contract, absent=absent)
    misaligned = raw_rows[MISALIGNED_COLUMN].fillna(False).to_numpy(dtype=bool)
    keyed = frame.copy()
    for name in CASE_LEVEL_FIELDS:
        for column in (name, name + UNREADABLE_SUFFIX):
            if column in keyed:
                values = keyed[column].copy()
                values[misaligned] = None
                keyed[column] = values
    problems = find_problems(keyed, contract, absent=absent)
    problems = problems[~problems["index"].isin(frame.index[misaligned])]
    out_of_line = pd.DataFrame({"index": frame.index[misaligned], "field": "case_reference",
                                "reason": MISALIGNED_REASON, "value": None})
    return pd.concat([problems, out_of_line], ignore_index=True)


# The fields every row of a case must agree on (the contract's row rules).
CASE_LEVEL_FIELDS = ("case_type", "date_recorded")


def _pseudonyms(
    key: PseudonymKey, codes: list[str], references: pd.Series, bounds: np.ndarray
) -> pd.Series:
    """Each return's references under its own force's key (the force is in the HMAC)."""
    if len(codes) == 1:
        return key.pseudonymise(codes[0], references)
    return pd.concat([key.pseudonymise(code, references.iloc[bounds[i]:bounds[i + 1]])
                      for i, code in enumerate(codes)])


class _Stopwatch:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now

    def restart(self) -> None:
        """Start the next lap now, the time since the last one counted nowhere."""
        self._last = time.perf_counter()


def _timed(function: Callable[..., T], *args: object) -> tuple[T, float]:
    started = time.perf_counter()
    return function(*args), time.perf_counter() - started


def _store_rows(
    valid: pd.DataFrame, pseudonyms: pd.Series, codes: list[str], shas: list[str],
    returns: np.ndarray, contract: Contract,
) -> pd.DataFrame:
    """Valid rows in the store's shape: typed, canonical, pseudonymised.

    ``returns`` says which of the batch's returns (``codes``, ``shas``) each row is from.
    """
    out = pd.DataFrame(index=valid.index)
    # Constant columns as Arrow text too: DuckDB reads Arrow without the GIL, while an
    # object column costs a Python string per row.
    out["force_code"] = _per_return_text(codes, returns, valid.index)
    for f in contract.stored:
        if f.name == "subject_reference":
            out["subject_pseudonym"] = pseudonyms
        elif f.name not in valid:
            out[f.name] = None  # an optional column the force did not send
        elif f.kind == "date":
            # Arrow dates: no Python object per row, and DuckDB reads them as DATE.
            days = pa.array(valid[f.name], type=pa.timestamp("ns"), from_pandas=True)
            out[f.name] = pd.Series(pd.arrays.ArrowExtensionArray(days.cast(pa.date32())),
                                    index=valid.index)
        elif f.kind == "flag":
            out[f.name] = (valid[f.name] == "true").fillna(False).astype(bool)
        else:
            out[f.name] = valid[f.name]
    out["source_sha256"] = _per_return_text(shas, returns, valid.index)
    out["source_sheet"] = valid["source_sheet"].astype(TEXT)
    out["source_row"] = valid["source_row"].astype("int64")
    return out[CASE_COLUMNS].reset_index(drop=True)


def _per_return_text(values: list[str], returns: np.ndarray, index: pd.Index) -> pd.Series:
    if len(values) == 1:
        return _constant_text(values[0], index)
    text = pa.array(values, type=pa.string()).take(pa.array(returns, type=pa.int64()))
    return pd.Series(pd.arrays.ArrowStringArray(text), index=index)


def _constant_text(value: str, index: pd.Index) -> pd.Series:
    return pd.Series(value, index=index, dtype=TEXT)


__all__ = ["IngestResult", "ReturnFile", "ReturnRefused", "file_sha256", "ingest_return",
           "ingest_returns", "received_time"]
