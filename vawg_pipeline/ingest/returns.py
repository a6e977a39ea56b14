"""One force's return, end to end: read, normalise, validate, pseudonymise.

``ingest_return`` is the whole of ingestion as one plain function: a file in, the rows
for the national store and the quarantine out, with the counts that prove no row was
lost. It raises :class:`ReturnRefused` for a file that cannot be read at all.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa

from vawg_pipeline.contract import Contract, load_contract
from vawg_pipeline.ingest.normalise import EXCEL_EPOCH, MAC_EPOCH, normalise_rows
from vawg_pipeline.ingest.reader import ROW_COLUMN, ReturnRefused, read_return
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
        """Rows quarantined per field and reason (no personal values in reasons)."""
        if self.quarantine.empty:
            return pd.DataFrame(columns=["field", "reason", "rows"])
        return (
            self.quarantine.groupby(["field", "reason"], sort=False).size()
            .rename("rows").reset_index().sort_values("rows", ascending=False)
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def received_time(path: Path) -> datetime:
    """The file's modification time, as naive UTC."""
    return datetime.fromtimestamp(Path(path).stat().st_mtime, tz=UTC).replace(tzinfo=None)


def ingest_return(
    path: Path, force_code: str, key: PseudonymKey, contract: Contract | None = None,
    sha256: str | None = None,
) -> IngestResult:
    """Read and validate one return; every data row ends stored or quarantined."""
    contract = contract or load_contract()
    path = Path(path)
    received_at = received_time(path)
    received_date = (
        received_at.replace(tzinfo=UTC).astimezone(LOCAL_ZONE).date().isoformat()
    )
    sha = sha256 or file_sha256(path)
    clock = _Stopwatch()
    raw = read_return(path, contract)
    clock.lap("read")

    # The whole return at once, every sheet together: the row rules (unique keys,
    # case-level agreement) hold across sheets, within the force.
    raw_rows = pd.concat(
        [sheet.data.assign(source_sheet=sheet.sheet) for sheet in raw.sheets],
        ignore_index=True,
    ) if len(raw.sheets) > 1 else raw.sheets[0].data.assign(source_sheet=raw.sheets[0].sheet)
    frame = normalise_rows(raw_rows, contract, received_date,
                           serial_epoch=MAC_EPOCH if raw.date_1904 else EXCEL_EPOCH)
    frame["source_sheet"] = raw_rows["source_sheet"].to_numpy()
    frame["source_row"] = raw_rows[ROW_COLUMN].to_numpy()
    # An optional column one sheet has and another lacks is unknown on the latter's
    # rows, not blank.
    absent = {
        name: frame["source_sheet"].isin([s.sheet for s in raw.sheets if name not in s.data])
        for name in frame.columns
        if any(name not in s.data for s in raw.sheets) and name in contract.names
    }
    clock.lap("normalise")
    # Pseudonyms are computed by DuckDB, off the GIL, while pandera validates: on a lone
    # file (one force resubmitting) the second core would otherwise sit idle. Rows that
    # end in quarantine get one too, and it is dropped with them.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vawg-pseudonyms") as hasher:
        hashing = hasher.submit(_timed, key.pseudonymise, force_code,
                                frame["subject_reference"])
        problems = find_problems(frame, contract, absent=absent)
        clock.lap("validate")
        pseudonyms, hashing_seconds = hashing.result()
    # The stage's time is the hashing's own (overlapping validate), not the wait for it.
    clock.restart()
    clock.seconds["pseudonymise"] = hashing_seconds
    bad = frame.index.isin(problems["index"])
    rows = problems["index"].astype(int).to_numpy()
    problems = problems.assign(sheet=frame["source_sheet"].to_numpy()[rows],
                               row_number=frame["source_row"].to_numpy()[rows])

    cases = _store_rows(frame[~bad], pseudonyms[~bad], force_code, sha, contract)
    clock.lap("pseudonymise")
    quarantine = problems.assign(force_code=force_code, file_name=raw.file_name,
                                 source_sha256=sha)
    quarantine = quarantine.sort_values(["sheet", "row_number", "field"], kind="stable")
    quarantine = quarantine[QUARANTINE_COLUMNS].reset_index(drop=True)
    quarantine["row_number"] = quarantine["row_number"].astype("int64")
    quarantined_rows = int(bad.sum())
    return IngestResult(
        force_code=force_code, file_name=raw.file_name, sha256=sha, received_at=received_at,
        cases=cases, quarantine=quarantine, rows_read=raw.rows_read,
        rows_quarantined=quarantined_rows, sheets=[s.sheet for s in raw.sheets],
        ignored_sheets=raw.ignored_sheets, extra_columns=raw.extra_columns,
        seconds=clock.seconds,
    )


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
    valid: pd.DataFrame, pseudonyms: pd.Series, force_code: str, sha: str,
    contract: Contract,
) -> pd.DataFrame:
    """Valid rows in the store's shape: typed, canonical, pseudonymised."""
    out = pd.DataFrame(index=valid.index)
    # Constant columns as Arrow text too: DuckDB reads Arrow without the GIL, while an
    # object column costs a Python string per row.
    out["force_code"] = _constant_text(force_code, valid.index)
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
    out["source_sha256"] = _constant_text(sha, valid.index)
    out["source_sheet"] = valid["source_sheet"].astype(TEXT)
    out["source_row"] = valid["source_row"].astype("int64")
    return out[CASE_COLUMNS].reset_index(drop=True)


def _constant_text(value: str, index: pd.Index) -> pd.Series:
    return pd.Series(value, index=index, dtype=TEXT)


__all__ = ["IngestResult", "ReturnRefused", "file_sha256", "ingest_return", "received_time"]
