"""The restricted staging area between deciding the suppression and releasing it.

The tables are counted and protected by one step, audited by a second (the blocking
check) and released by a third; the staging area carries the candidate (true counts
with the withheld decisions) between them, and the audit's verdict on exactly that
candidate. It holds small true counts, so it lives beside the national store (an
owner-only folder), never in the published folder.

The release step re-reads the candidate and accepts it only with a passing verdict for
the same content hash, so a candidate changed or never audited cannot be released.

The candidate is staged with the outcome of its audit (the published audit table and
the summary), checked by hash like the candidate: the blocking check audits the staged
tables again and records in its verdict the digest of the staged outcome it found in
agreement, and the release publishes that outcome instead of auditing a third time.
The staged candidate also serves the next run: equal counts reuse its protection.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from vawg_pipeline.disclosure.audit import AuditReport
from vawg_pipeline.disclosure.specs import DisclosureRules, TableSpec
from vawg_pipeline.privacy import make_owner_only_dir
from vawg_pipeline.publish.tables import AUDIT_COLUMNS, AuditOutcome, Candidate, ReportingPeriod
from vawg_pipeline.store.schema import connect

CANDIDATE_FILE = "candidate.duckdb"
VERDICT_FILE = "audit_verdict.json"


class StagingError(RuntimeError):
    """No usable candidate, or no passing audit verdict for it."""


@dataclass
class Staged:
    """What the staging area holds: the candidate and, if staged, its audit outcome."""

    candidate: Candidate
    audit: AuditOutcome | None
    staged_at: datetime | None = None  # when the candidate was counted and protected


def _replace_into(folder: Path, name: str, write: Callable[[Path], None]) -> Path:
    """Write a file via ``write(tmp_path)`` and rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    os.unlink(tmp)  # DuckDB wants to create the file itself
    try:
        write(Path(tmp))
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return folder / name


def save_candidate(folder: Path, candidate: Candidate, audit: AuditOutcome | None = None
                   ) -> str:
    """Stage ``candidate`` (replacing any earlier one and its verdict), with the outcome
    of its audit if given; returns the candidate's hash."""
    folder = make_owner_only_dir(Path(folder))
    (folder / VERDICT_FILE).unlink(missing_ok=True)  # a verdict belongs to one candidate
    content_hash = candidate.content_hash()
    if audit is not None and audit.of_tables != candidate.protection_hash():
        raise StagingError("the audit outcome given is not about this candidate's tables")
    meta = {
        "content_hash": content_hash,
        "staged_at": datetime.now(UTC).isoformat(),
        "period": [candidate.period.start.isoformat(), candidate.period.end.isoformat()],
        "rules": candidate.rules.as_dict(),
        "specs": [asdict(s) for s in candidate.specs],
        "forces": candidate.forces,
        "counts_hash": candidate.counts_hash,
        "audit": None if audit is None else {
            "passed": audit.passed, "summary": audit.summary,
            "violations": audit.violations, "of_tables": audit.of_tables,
            "digest": audit.digest(),
        },
    }

    def write(path: Path) -> None:
        con = connect(path)
        try:
            con.execute("CREATE TABLE meta (document VARCHAR)")
            con.execute("INSERT INTO meta VALUES (?)", [json.dumps(meta)])
            for position, spec in enumerate(candidate.specs):
                frame = candidate.protected[spec.table_id]
                con.register("frame", frame)
                con.execute(f"CREATE TABLE t{position} AS SELECT * FROM frame")
                con.unregister("frame")
            con.register("frame", candidate.coverage)
            con.execute("CREATE TABLE coverage AS SELECT * FROM frame")
            con.unregister("frame")
            for position, spec in enumerate(candidate.specs):
                if spec.table_id in candidate.contributions:
                    con.register("frame", candidate.contributions[spec.table_id])
                    con.execute(f"CREATE TABLE contributions{position} AS SELECT * FROM frame")
                    con.unregister("frame")
            if audit is not None:
                # Typed from the published schema: an empty report still has its types.
                con.execute("CREATE TABLE audit ("
                            + ", ".join(f"{c} {t}" for c, t, _ in AUDIT_COLUMNS) + ")")
                con.register("frame", audit.table)
                con.execute("INSERT INTO audit SELECT "
                            + ", ".join(c for c, _, _ in AUDIT_COLUMNS) + " FROM frame")
                con.unregister("frame")
            con.execute("CHECKPOINT")
        finally:
            con.close()

    _replace_into(folder, CANDIDATE_FILE, write)
    return content_hash


def _objects(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for column in columns:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def load_candidate(folder: Path) -> Candidate:
    """The staged candidate, checked against the hash it was staged with."""
    return load_staged(folder).candidate


def load_staged(folder: Path) -> Staged:
    """The staged candidate and audit outcome, each checked against its staged hash."""
    path = Path(folder) / CANDIDATE_FILE
    if not path.is_file():
        raise StagingError(f"no staged candidate at {path}: materialize the published "
                           "tables first")
    con = connect(path, read_only=True)
    try:
        meta = json.loads(con.execute("SELECT document FROM meta").fetchone()[0])
        specs = [TableSpec(**{**s, "dimensions": tuple(s["dimensions"])})
                 for s in meta["specs"]]
        protected = {}
        for position, spec in enumerate(specs):
            frame = con.execute(f"SELECT * FROM t{position}").df()
            frame = _objects(frame, [*spec.dimensions, "withheld_reason"])
            frame["value"] = frame["value"].astype("int64")
            frame["withheld"] = frame["withheld"].astype(bool)
            protected[spec.table_id] = frame
        coverage = con.execute("SELECT * FROM coverage").df()
        staged_tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
        contributions = {}
        for position, spec in enumerate(specs):
            if f"contributions{position}" in staged_tables:
                frame = con.execute(f"SELECT * FROM contributions{position}").df()
                frame = _objects(frame, [c for c in frame.columns if c != "value"])
                frame["value"] = frame["value"].astype("int64")
                contributions[spec.table_id] = frame
        audit_table = (con.execute("SELECT * FROM audit").df()
                       if meta.get("audit") is not None else None)
    finally:
        con.close()
    coverage = _objects(coverage, ["force_name", "file_name", "sha256"])
    coverage["included"] = coverage["included"].astype(bool)
    coverage["quarantine_rate"] = coverage["quarantine_rate"].astype(float)
    candidate = Candidate(
        period=ReportingPeriod.parse(*meta["period"]),
        rules=DisclosureRules(**meta["rules"]),
        specs=specs, protected=protected, coverage=coverage, forces=list(meta["forces"]),
        counts_hash=str(meta.get("counts_hash") or ""),  # "" if staged by older code
        contributions=contributions,
    )
    if candidate.content_hash() != meta["content_hash"]:
        raise StagingError(f"{path} does not read back as staged (hash mismatch)")
    audit = None
    if audit_table is not None:
        staged_audit = meta["audit"]
        audit_table = _objects(audit_table, ["table_id", "cell", "attacker"])
        for column in ("lo", "hi", "width"):
            audit_table[column] = audit_table[column].astype(float)
        audit_table["ok"] = audit_table["ok"].astype(bool)
        audit = AuditOutcome(passed=bool(staged_audit["passed"]), table=audit_table,
                             summary=dict(staged_audit["summary"]),
                             violations=list(staged_audit["violations"]),
                             of_tables=str(staged_audit["of_tables"]))
        if audit.digest() != staged_audit["digest"]:
            raise StagingError(f"{path}: the audit report does not read back as staged "
                               "(hash mismatch)")
    staged_at = datetime.fromisoformat(meta["staged_at"]) if meta.get("staged_at") else None
    return Staged(candidate=candidate, audit=audit, staged_at=staged_at)


def previous_staged(folder: Path) -> Staged | None:
    """The staged candidate and audit if there are any that read back whole, else None
    (a missing, unreadable or tampered stage just means nothing to reuse)."""
    try:
        return load_staged(folder)
    except (StagingError, OSError, ValueError, KeyError, TypeError, duckdb.Error):
        return None


def latest_staged(root: Path) -> Staged | None:
    """The newest run's stage under ``root`` that reads back whole, if any."""
    try:
        folders = sorted((f for f in root.iterdir() if f.is_dir()),
                         key=lambda f: f.stat().st_mtime, reverse=True)
    except OSError:
        return None
    for folder in folders:
        staged = previous_staged(folder)
        if staged is not None:
            return staged
    return None


# A run's stage is kept this long after a newer release, in case that run is still
# going (a long nightly run overlapped by a sensor's short one).
STAGE_KEPT_SECONDS = 24 * 3600


def prune(root: Path, keep: Path) -> list[Path]:
    """Remove other runs' stages older than a day (the released one is kept for reuse)."""
    removed = []
    cutoff = time.time() - STAGE_KEPT_SECONDS
    for folder in root.iterdir():
        if folder.is_dir() and folder != keep and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def save_verdict(folder: Path, content_hash: str, report: AuditReport,
                 passed: bool | None = None, problems: list[str] | None = None,
                 audit_digest: str | None = None) -> dict[str, Any]:
    """Record the verdict on the candidate with ``content_hash``: the audit's, unless the
    caller found more (``passed``, ``problems``). ``audit_digest`` names the staged audit
    outcome found to agree with this audit (the one the release may publish)."""
    verdict = {
        "content_hash": content_hash,
        "audit_digest": audit_digest,
        "passed": bool(report.passed if passed is None else passed and report.passed),
        "summary": {k: (v.item() if hasattr(v, "item") else v)
                    for k, v in report.summary().items()},
        "violations": list(report.violations if problems is None else problems),
        "audited_at": datetime.now(UTC).isoformat(),
    }

    def write(path: Path) -> None:
        path.write_text(json.dumps(verdict, indent=2), encoding="utf-8")

    _replace_into(Path(folder), VERDICT_FILE, write)
    return verdict


def load_verdict(folder: Path) -> dict[str, Any] | None:
    path = Path(folder) / VERDICT_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def require_passing_verdict(folder: Path, candidate: Candidate) -> dict[str, Any]:
    """The verdict, if it passed and is about this very candidate; else StagingError."""
    verdict = load_verdict(folder)
    content_hash = candidate.content_hash()
    if verdict is None or verdict.get("content_hash") != content_hash:
        raise StagingError("the staged candidate has not been audited: run the "
                           "disclosure_audit check before releasing")
    if not verdict.get("passed"):
        raise StagingError("the staged candidate failed the disclosure audit: "
                           + "; ".join(verdict.get("violations", [])[:5]))
    return verdict


def require_staged_audit(staged: Staged, verdict: dict[str, Any]) -> AuditOutcome:
    """The staged audit outcome, if it is the one the passing ``verdict`` approved."""
    if staged.audit is None or not verdict.get("audit_digest") \
            or staged.audit.digest() != verdict["audit_digest"]:
        raise StagingError("the staged audit report is not the one the disclosure_audit "
                           "check approved: materialize the published tables again")
    if not staged.audit.passed:
        raise StagingError("the staged audit report did not pass")
    return staged.audit
