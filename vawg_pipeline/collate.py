"""Collation: bring each force's newest return into the national store.

For every force asked for, the newest file in its landing folder is compared (by SHA-256)
with what the store already knows: an accepted, refused or withdrawn file is a quick
no-op; a new file is ingested and replaces the force's rows in one transaction, or is
recorded as refused while the force's previous return stays. One force's broken file
never stops the others.

Reading and validating are pure and CPU-bound, so large batches run in worker
processes (both cores) while this process writes to DuckDB, the store's only writer.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from vawg_pipeline.ingest.landing import scan_force_folder
from vawg_pipeline.ingest.reader import ReturnRefused
from vawg_pipeline.ingest.returns import IngestResult, file_sha256, ingest_return, received_time
from vawg_pipeline.privacy import PseudonymKey
from vawg_pipeline.store import national

log = logging.getLogger(__name__)

# Below this many bytes of new returns, worker processes cost more than they save.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024


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
    # Seconds per stage: read, normalise, validate, pseudonymise (in whichever process
    # ingested the file) and store (this process).
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
    """Worker body: a refusal is a value, not an exception, so it crosses processes."""
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
    total_bytes = sum(j.path.stat().st_size for j in jobs)
    if workers <= 1 or len(jobs) <= 1 or total_bytes < PARALLEL_MIN_BYTES:
        for job in jobs:
            yield job, _ingest_job(job, key)
        return
    # forkserver: forking a process that runs Dagster's threads is not safe.
    context = multiprocessing.get_context("forkserver")
    # Import the ingestion code once in the fork server, not once per worker.
    context.set_forkserver_preload(["vawg_pipeline.collate"])
    # Largest first, so the longest file does not start last.
    ordered = sorted(jobs, key=lambda j: j.path.stat().st_size, reverse=True)
    done: set[str] = set()
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(_ingest_job, job, key): job for job in ordered}
            for future in as_completed(futures):
                job = futures[future]
                result = future.result()
                done.add(job.force_code)
                yield job, result
    except BrokenProcessPool:
        # A worker died (out of memory on a huge file, killed): finish the rest here,
        # one at a time, rather than lose every force of the run.
        log.warning("a worker process died; ingesting the remaining returns in-process")
        for job in ordered:
            if job.force_code not in done:
                yield job, _ingest_job(job, key)


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

    for job, result in _results(jobs, key, workers):
        outcome = outcomes[job.force_code]
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
        if on_result is not None:
            on_result(outcome)
    return [outcomes[code] for code in force_codes]
