"""Collation: bring each force's newest return into the national store.

For every force asked for, the newest file in its landing folder is compared (by SHA-256)
with what the store already knows: an accepted, refused or withdrawn file is a quick
no-op; a new file is ingested and replaces the force's rows in one transaction, or is
recorded as refused while the force's previous return stays. One force's broken file
never stops the others.

Reading and validating are pure functions, so a batch runs on worker threads (both
cores) while the calling thread writes to DuckDB, the store's only writer. Threads, not
processes: the Excel reader (fastexcel), Arrow compute and DuckDB all release the GIL,
so two threads read two files at once with no process to start, no module to import
again and no result to copy between processes.
"""

from __future__ import annotations

import logging
import os
import time
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
from vawg_pipeline.ingest.returns import IngestResult, file_sha256, ingest_return, received_time
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


def _ingest_job(job: _Job, key: PseudonymKey) -> IngestResult | ReturnRefused:
    """Worker body: a refusal is a value, not an exception, so one file never stops the
    batch."""
    try:
        return ingest_return(job.path, job.force_code, key, sha256=job.sha256)
    except ReturnRefused as refused:
        return refused
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop the others
        # The exception's text may quote cell values (personal data): name its type only.
        log.exception("unexpected failure reading %s", job.path.name)
        return ReturnRefused(
            job.path.name,
            f"could not be read ({type(exc).__name__}); the file may be damaged or in an "
            "unusual layout — please re-save it as .xlsx and send it again",
        )


def _results(
    jobs: list[_Job], key: PseudonymKey, workers: int
) -> Iterator[tuple[_Job, IngestResult | ReturnRefused]]:
    """Each job's outcome, in the order they finish."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield job, _ingest_job(job, key)
        return
    # Build the shared, cached contract and schema once, before the threads need them.
    load_contract()
    ReturnRow.to_schema()
    # Largest first, so the longest file does not start last.
    ordered = sorted(jobs, key=lambda j: j.path.stat().st_size, reverse=True)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vawg-ingest")
    try:
        futures = {pool.submit(_ingest_job, job, key): job for job in ordered}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        # If storing fails and the caller stops, files not yet started are not read.
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
    with national.bulk_load(con), closing(_results(jobs, key, workers)) as results:
        for job, result in results:
            _store(con, job, result, outcomes[job.force_code])
            if on_result is not None:
                on_result(outcomes[job.force_code])
    return [outcomes[code] for code in force_codes]


def _store(
    con: duckdb.DuckDBPyConnection, job: _Job, result: IngestResult | ReturnRefused,
    outcome: ForceRefresh,
) -> None:
    """Record one force's outcome in the store, and in ``outcome``."""
    started = time.perf_counter()
    if isinstance(result, ReturnRefused):
        national.record_refusal(con, job.force_code, job.path.name, job.sha256,
                                received_time(job.path), str(result))
        outcome.outcome, outcome.status, outcome.error = "refused", "refused", str(result)
    else:
        national.replace_force_return(con, result)
        outcome.outcome = outcome.status = "accepted"
        outcome.rows_read = result.rows_read
        outcome.rows_stored = result.rows_stored
        outcome.rows_quarantined = result.rows_quarantined
        outcome.sheets = result.sheets
        outcome.extra_columns = result.extra_columns
        outcome.reason_counts = result.reason_counts()
        outcome.preview = result.cases.head(10).drop(columns=["subject_pseudonym"])
        outcome.seconds = dict(result.seconds)
    outcome.seconds["store"] = time.perf_counter() - started
