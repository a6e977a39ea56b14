"""Collation: bring each force's newest return into the national store.

For every force asked for, the newest file in its landing folder is compared (by SHA-256)
with what the store already knows: an accepted, refused or withdrawn file is a quick
no-op; a new file is ingested and replaces the force's rows in one transaction, or is
recorded as refused while the force's previous return stays. One force's broken file
never stops the others.

Reading and validating are pure functions, so they run on worker threads (both cores)
while the calling thread writes to DuckDB, the store's only writer. Threads, not
processes: the Excel reader (fastexcel), Arrow compute and DuckDB all release the GIL,
so two threads read two files at once with no process to start, no module to import
again and no result to copy between processes.

Small returns go in batches: each file is read on its own, then the batch is validated
and stored together, since pandera, pandas and DuckDB charge a fixed cost per call that
forty small files would otherwise pay forty times (for the 43 returns other than the
Met's, that was half the work after reading at a million rows, five sixths at 100,000).
A large return is a batch of its own.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from vawg_pipeline.contract import load_contract
from vawg_pipeline.contract.schema import ReturnRow
from vawg_pipeline.ingest.landing import scan_force_folder
from vawg_pipeline.ingest.reader import ReturnRefused
from vawg_pipeline.ingest.returns import (
    IngestResult,
    ReturnFile,
    file_sha256,
    ingest_return,
    ingest_returns,
    reader_version,
    received_time,
)
from vawg_pipeline.privacy import PseudonymKey
from vawg_pipeline.store import national

log = logging.getLogger(__name__)


@dataclass
class ForceRefresh:
    """What happened to one force in one refresh."""

    force_code: str
    outcome: str  # accepted | unchanged | refused | no_file
    file_name: str | None = None
    sha256: str | None = None
    status: str | None = None  # the file's status in submissions
    error: str | None = None
    rows_read: int | None = None
    rows_stored: int | None = None
    rows_quarantined: int | None = None
    sheets: list[str] = field(default_factory=list)
    # Sheets read but holding too few of the return's headings to be data sheets.
    ignored_sheets: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    ignored_files: list[tuple[str, str]] = field(default_factory=list)
    reason_counts: pd.DataFrame | None = None
    preview: pd.DataFrame | None = None
    # Seconds per stage: read, normalise, validate, pseudonymise (on a worker thread)
    # and store (the calling thread).
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def conserved(self) -> bool | None:
        if self.rows_read is None:
            return None
        return self.rows_read == (self.rows_stored or 0) + (self.rows_quarantined or 0)


@dataclass
class _Job:
    force_code: str
    path: Path
    sha256: str


# Batches shrink as the work left does ("guided" scheduling): each holds about a
# quarter of the bytes left for two threads, between 2 and 16 MiB, so the first are big
# (few fixed costs) and the last are small (neither thread waits long for the other at
# the end). A file larger than its batch's share is a batch of its own.
BATCH_BYTES_MIN = 2 << 20
BATCH_BYTES_MAX = 16 << 20
BATCHES_PER_WORKER = 2
# Finished batches are stored together once they hold this many rows (two of DuckDB's
# row groups of 122,880): a transaction appending whole row groups writes them to the
# database file once, compressed; a smaller one goes through the WAL and the final
# checkpoint compresses it again, on one core after reading has ended. (The 16 batches
# of the million-row benchmark as 16 transactions: 2.6-2.8 s of DuckDB CPU; coalesced
# to 4: 2.1 s, to 3: 1.6 s.)
STORE_ROWS_PER_TRANSACTION = 2 * 122_880

_Outcome = IngestResult | ReturnRefused

# What the Dagster UI shows of a return's first rows: its categories and where each row
# came from. No reference (a force's case reference is looked up in its own systems)
# and no date, which together with a few categories can point to a person.
PREVIEW_COLUMNS = [f.name for f in load_contract().stored
                   if f.kind in ("category", "flag")] + ["source_sheet", "source_row"]


def _unreadable(job: _Job, exc: Exception) -> ReturnRefused:
    # The exception's text may quote cell values (personal data): the log gets its type
    # and where it was raised (code, not data), never its message.
    log.error("unexpected failure reading %s (%s) at:\n%s", job.path.name,
              type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)))
    return ReturnRefused(
        job.path.name,
        f"could not be read ({type(exc).__name__}); the file may be damaged or in an "
        "unusual layout — please re-save it as .xlsx and send it again",
    )


def _ingest_job(job: _Job, key: PseudonymKey) -> _Outcome:
    """One file: a refusal is a value, not an exception, so one file never stops the
    batch."""
    try:
        return ingest_return(job.path, job.force_code, key, sha256=job.sha256)
    except ReturnRefused as refused:
        return refused
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop the others
        return _unreadable(job, exc)


def _ingest_batch(batch: list[_Job], key: PseudonymKey) -> list[tuple[_Job, _Outcome]]:
    """Worker body: a batch of files, each ending accepted or refused."""
    if len(batch) == 1:
        return [(batch[0], _ingest_job(batch[0], key))]
    try:
        results = ingest_returns(
            [ReturnFile(job.path, job.force_code, job.sha256) for job in batch], key)
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop the others
        # Something in one file broke the batch: each file again on its own, so only
        # that file is refused. (The message may quote cell values: its type only.)
        log.warning("a batch of %d returns failed (%s); ingesting them one by one",
                    len(batch), type(exc).__name__)
        return [(job, _ingest_job(job, key)) for job in batch]
    return list(zip(batch, results, strict=True))


def _batches(jobs: list[_Job], workers: int) -> list[list[_Job]]:
    """The jobs in batches, largest first (so the longest is not last), shrinking."""
    sized = sorted(((job.path.stat().st_size, job) for job in jobs), key=lambda s: -s[0])
    remaining = sum(size for size, _ in sized)
    batches: list[list[_Job]] = []
    current: list[_Job] = []
    current_bytes = target = 0
    for size, job in sized:
        if current and current_bytes + size > target:
            batches.append(current)
            remaining -= current_bytes
            current, current_bytes = [], 0
        if not current:
            target = min(BATCH_BYTES_MAX, max(
                BATCH_BYTES_MIN, remaining // (BATCHES_PER_WORKER * max(workers, 1))))
        current.append(job)
        current_bytes += size
    if current:
        batches.append(current)
    return batches


def _results(
    jobs: list[_Job], key: PseudonymKey, workers: int
) -> Iterator[list[tuple[_Job, _Outcome]]]:
    """Each batch's outcomes, in the order the batches finish."""
    batches = _batches(jobs, workers)
    if workers <= 1 or len(batches) <= 1:
        for batch in batches:
            yield _ingest_batch(batch, key)
        return
    # Build the shared, cached contract and schema once, before the threads need them.
    load_contract()
    ReturnRow.to_schema()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vawg-ingest")
    try:
        futures = [pool.submit(_ingest_batch, batch, key) for batch in batches]
        for future in as_completed(futures):
            yield future.result()
    finally:
        # If storing fails and the caller stops, batches not yet started are not read.
        pool.shutdown(wait=True, cancel_futures=True)


def refresh_forces(
    con: duckdb.DuckDBPyConnection,
    landing_root: Path,
    force_codes: list[str],
    key: PseudonymKey,
    workers: int | None = None,
    on_result: Callable[[ForceRefresh], None] | None = None,
) -> list[ForceRefresh]:
    """Refresh the given forces from the landing folder into the store."""
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    outcomes: dict[str, ForceRefresh] = {}
    jobs: list[_Job] = []
    for code in force_codes:
        folder = scan_force_folder(Path(landing_root) / code, code)
        if folder.current is None:
            outcomes[code] = ForceRefresh(code, "no_file", ignored_files=folder.ignored)
            continue
        sha = file_sha256(folder.current)
        status = national.submission_status(con, code, sha)
        if status == "refused" and not national.refusal_stands(
                con, code, sha, folder.current.name, reader_version()):
            status = None  # refused by an older reader or under another name: read again
        if status in ("accepted", "refused", "withdrawn"):
            outcomes[code] = ForceRefresh(
                code, "unchanged", file_name=folder.current.name, sha256=sha, status=status,
                ignored_files=folder.ignored,
            )
            continue
        outcomes[code] = ForceRefresh(code, "pending", file_name=folder.current.name,
                                      sha256=sha, ignored_files=folder.ignored)
        jobs.append(_Job(code, folder.current, sha))

    if not jobs:
        return [outcomes[code] for code in force_codes]
    pending: list[tuple[_Job, _Outcome]] = []

    def store_pending() -> None:
        _store(con, pending, outcomes)
        if on_result is not None:
            for job, _ in pending:
                on_result(outcomes[job.force_code])
        pending.clear()

    with national.bulk_load(con), closing(_results(jobs, key, workers)) as batches:
        for batch in batches:
            pending.extend(batch)
            if _rows(pending) >= STORE_ROWS_PER_TRANSACTION:
                store_pending()
        if pending:
            national.use_every_core(con)  # reading is over: nothing to leave a core to
            store_pending()
    return [outcomes[code] for code in force_codes]


def _rows(outcomes: list[tuple[_Job, _Outcome]]) -> int:
    return sum(r.rows_read for _, r in outcomes if isinstance(r, IngestResult))


def _store(
    con: duckdb.DuckDBPyConnection, batch: list[tuple[_Job, _Outcome]],
    outcomes: dict[str, ForceRefresh],
) -> None:
    """Record batches' outcomes in the store (their accepted returns in one
    transaction), and in ``outcomes``."""
    started = time.perf_counter()
    accepted = [r for _, r in batch if isinstance(r, IngestResult)]
    national.replace_force_returns(con, accepted, reader=reader_version())
    # The batch's store time, shared by its returns in proportion to their rows.
    seconds_per_row = (time.perf_counter() - started) / max(
        sum(r.rows_read for r in accepted), 1)
    for job, result in batch:
        outcome = outcomes[job.force_code]
        if isinstance(result, ReturnRefused):
            started = time.perf_counter()
            national.record_refusal(con, job.force_code, job.path.name, job.sha256,
                                    received_time(job.path), str(result),
                                    reader=reader_version())
            outcome.outcome, outcome.status, outcome.error = "refused", "refused", str(result)
            outcome.seconds["store"] = time.perf_counter() - started
            continue
        outcome.outcome = outcome.status = "accepted"
        outcome.rows_read = result.rows_read
        outcome.rows_stored = result.rows_stored
        outcome.rows_quarantined = result.rows_quarantined
        outcome.sheets = result.sheets
        outcome.ignored_sheets = result.ignored_sheets
        outcome.extra_columns = result.extra_columns
        outcome.reason_counts = result.reason_counts()
        outcome.preview = result.cases.head(10)[
            [c for c in result.cases.columns if c in PREVIEW_COLUMNS]]
        outcome.seconds = dict(result.seconds)
        outcome.seconds["store"] = seconds_per_row * result.rows_read
