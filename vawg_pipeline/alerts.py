"""Notices to the data team: a failed run, and the daily list of refused and stale returns.

Pure Python, no Dagster: composing a notice from facts, and delivering it to a webhook
(HTTP POST of JSON) and/or by e-mail (SMTP). The Dagster wiring is in
``vawg_pipeline.defs.alerts``.

A notice never carries personal data: it is built only from force codes, file names,
counts, Dagster step and job names, error class names and the pipeline's own refusal
reasons (which name the file and the problem, never a cell of a row). It is never built
from free text a force wrote or from an exception's message, which may quote cell values.
"""

import json
import logging
import smtplib
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email.message import EmailMessage

import duckdb
import pandas as pd

from vawg_pipeline.store import queries

log = logging.getLogger(__name__)

# Long texts are cut: a notice is a pointer to the UI and the store, not a report.
MAX_REASON_CHARS = 300
MAX_LISTED = 50
# Dagster's own errors whose messages name only steps, assets and checks (safe to show).
SAFE_MESSAGE_ERRORS = frozenset({
    "DagsterAssetCheckFailedError",
    "KeyMismatch",  # names two key fingerprints and what to do
    "DagsterExecutionInterruptedError",
})


@dataclass
class Notice:
    """One message: a subject line, plain-text lines, and the same facts as data."""

    kind: str  # run_failure | daily_summary
    subject: str
    lines: list[str]
    facts: dict[str, object] = field(default_factory=dict)
    level: str = "warning"  # how the log shows it: "info" when there is nothing to chase

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def as_json(self) -> dict[str, object]:
        # "text" is what Slack- and Teams-style incoming webhooks display.
        return {"source": "vawg-pipeline", **asdict(self), "text": f"{self.subject}\n"
                f"{self.text}"}


def _cut(text: object, limit: int = MAX_REASON_CHARS) -> str:
    one_line = " ".join(str(text or "").split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


# --- composing ---------------------------------------------------------------------


@dataclass(frozen=True)
class FailedStep:
    """A failed step and its error chain: (class, message), the error first, then causes."""

    step_key: str
    errors: tuple[tuple[str, str | None], ...] = ()

    @property
    def label(self) -> str:
        """"Failure" or, with a different root cause, "Failure from KeyMismatch"."""
        if not self.errors:
            return "error"
        first, root = self.errors[0][0], self.errors[-1][0]
        return first if first == root else f"{first} from {root}"

    @property
    def safe_message(self) -> str | None:
        """The message of the first error whose class only ever names safe things."""
        return next((m for c, m in self.errors if c in SAFE_MESSAGE_ERRORS and m), None)


def compose_failure_notice(
    job_name: str, run_id: str, failed_steps: Sequence[FailedStep],
    tags: dict[str, str] | None = None, run_error_class: str | None = None,
) -> Notice:
    """A run failed: which job, which run, which steps, and for which forces."""
    tags = tags or {}
    scope = _run_scope(tags)
    lines = [f"Job {job_name!r} failed (run {run_id}).", f"Forces: {scope}."]
    if tags.get("vawg/trigger"):
        lines.append(f"Started by: {tags['vawg/trigger']}.")
    if tags.get("vawg/file"):
        lines.append(f"New file: {_cut(tags['vawg/file'], 200)}.")
    if failed_steps:
        lines.append("Failed steps:")
        for step in failed_steps:
            detail = step.label
            if step.safe_message:
                detail += f": {_cut(step.safe_message)}"
            lines.append(f"  - {step.step_key} ({detail})")
    elif run_error_class:
        lines.append(f"The run failed before any step ran ({run_error_class}).")
    lines += [
        "The store, the analysts' snapshot and the published release are as they were "
        "before the failing step (each force's rows wholly as before or wholly replaced).",
        "Details are in the run's log in the Dagster UI.",
    ]
    return Notice(
        kind="run_failure",
        subject=f"[vawg-pipeline] run of {job_name} failed",
        lines=lines,
        facts={"job": job_name, "run_id": run_id, "forces": scope,
               "failed_steps": [s.step_key for s in failed_steps]},
    )


def _run_scope(tags: dict[str, str]) -> str:
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        return f"{start} to {end}" if start != end else start
    return tags.get("dagster/partition") or "all (unpartitioned steps only)"


@dataclass
class DailyFindings:
    """What the data team should chase today."""

    refused: pd.DataFrame  # force_code, file_name, received_at, error
    stale: pd.DataFrame  # force_code, status, file_name, received_at
    forces_total: int
    forces_with_return: int
    rows_quarantined: int
    max_age_days: int

    @property
    def clear(self) -> bool:
        return self.refused.empty and self.stale.empty


def daily_findings(
    con: duckdb.DuckDBPyConnection, now: datetime, max_age_days: int
) -> DailyFindings:
    """Refused newest files and stale or missing forces, from the national store.

    ``now`` is naive UTC, as the store's timestamps are. Only the submissions and forces
    tables are read: nothing of a row's content.
    """
    refused = queries.refused_newest(con)
    coverage = queries.coverage(con)
    stale = queries.stale_or_missing(coverage, now, max_age_days)
    accepted = coverage[coverage["status"] == "accepted"]
    return DailyFindings(
        refused=refused.reset_index(drop=True),
        stale=stale[["force_code", "status", "file_name", "received_at"]].reset_index(
            drop=True),
        forces_total=len(coverage),
        forces_with_return=len(accepted),
        rows_quarantined=int(accepted["rows_quarantined"].fillna(0).sum()),
        max_age_days=max_age_days,
    )


def compose_daily_notice(findings: DailyFindings, day: str) -> Notice:
    """The daily summary: refused files (with the reason) and stale or missing forces."""
    refused, stale = findings.refused, findings.stale
    missing = stale[stale["status"] != "accepted"]
    old = stale[stale["status"] == "accepted"]
    lines = [
        f"National store on {day}: {findings.forces_with_return} of "
        f"{findings.forces_total} forces have an accepted return; "
        f"{findings.rows_quarantined} rows are in quarantine.",
    ]
    if refused.empty:
        lines.append("No force's newest file was refused.")
    else:
        lines.append(f"Refused newest files ({len(refused)}); each force's previous return "
                     "stays in use:")
        for row in refused.head(MAX_LISTED).itertuples(index=False):
            lines.append(f"  - {row.force_code}: {_cut(row.file_name, 200)}: "
                         f"{_cut(_strip_file(row.error, row.file_name))}")
    if not old.empty:
        lines.append(f"Returns older than {findings.max_age_days} days ({len(old)}):")
        for row in old.head(MAX_LISTED).itertuples(index=False):
            received = pd.Timestamp(row.received_at).strftime("%Y-%m-%d")
            lines.append(f"  - {row.force_code}: {_cut(row.file_name, 200)} "
                         f"(received {received})")
    if not missing.empty:
        lines.append(f"Forces with no accepted return ({len(missing)}): "
                     + ", ".join(missing["force_code"].head(MAX_LISTED)))
    if findings.clear:
        subject = f"[vawg-pipeline] daily summary {day}: nothing to chase"
    else:
        subject = (f"[vawg-pipeline] daily summary {day}: {len(refused)} refused, "
                   f"{len(stale)} stale or missing")
    return Notice(
        kind="daily_summary", subject=subject, lines=lines,
        level="info" if findings.clear else "warning",
        facts={
            "day": day,
            "refused": [{"force": r.force_code, "file": r.file_name,
                         "reason": _cut(_strip_file(r.error, r.file_name))}
                        for r in refused.itertuples(index=False)],
            "stale": old["force_code"].tolist(),
            "missing": missing["force_code"].tolist(),
            "forces_with_return": findings.forces_with_return,
            "rows_quarantined": findings.rows_quarantined,
        },
    )


def _strip_file(error: object, file_name: object) -> str:
    """A refusal reads "<file>: <problem>"; the file is already named beside it."""
    text = str(error or "refused")
    prefix = f"{file_name}: "
    return text[len(prefix):] if text.startswith(prefix) else text


# --- delivering ----------------------------------------------------------------------


@dataclass(frozen=True)
class Destinations:
    """Where notices go besides the log; empty fields mean "not configured"."""

    webhook_url: str | None = None
    email_to: str | None = None  # comma-separated addresses
    smtp_host: str = "localhost"
    smtp_port: int = 25
    email_from: str = "vawg-pipeline@localhost"
    timeout_seconds: float = 10.0

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in (self.email_to or "").split(",") if a.strip()]


def send_webhook(notice: Notice, url: str, timeout: float = 10.0) -> int:
    """POST the notice as JSON; returns the HTTP status (raises on an HTTP error)."""
    body = json.dumps(notice.as_json(), default=str).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/json; charset=utf-8",
                 "User-Agent": "vawg-pipeline-alerts"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return int(response.status)


def send_email(notice: Notice, dest: Destinations) -> None:
    """Send the notice as a plain-text e-mail through the configured SMTP relay."""
    message = EmailMessage()
    message["Subject"] = notice.subject
    message["From"] = dest.email_from
    message["To"] = ", ".join(dest.recipients)
    message.set_content(notice.text + "\n")
    with smtplib.SMTP(dest.smtp_host, dest.smtp_port, timeout=dest.timeout_seconds) as smtp:
        smtp.ehlo()
        # Opportunistic TLS: a relay that offers it gets an encrypted hop.
        if smtp.has_extn("starttls"):
            smtp.starttls()
            smtp.ehlo()
        smtp.send_message(message)


@dataclass
class Delivery:
    """Which channels took the notice, and which failed (with the error class only)."""

    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def deliver(
    notice: Notice, dest: Destinations,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> Delivery:
    """Log the notice, then send it to every configured channel.

    A channel that fails is logged and reported, never raised: one broken channel must
    not stop the other, nor hide the notice from the log.
    """
    logger = logger or log
    log_at = logger.info if notice.level == "info" else logger.warning
    log_at(f"{notice.subject}\n{notice.text}")
    delivery = Delivery()
    if dest.webhook_url:
        try:
            send_webhook(notice, dest.webhook_url, dest.timeout_seconds)
            delivery.sent.append("webhook")
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            delivery.failed["webhook"] = f"{type(exc).__name__}: {_cut(exc, 200)}"
    if dest.recipients:
        try:
            send_email(notice, dest)
            delivery.sent.append("email")
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            delivery.failed["email"] = f"{type(exc).__name__}: {_cut(exc, 200)}"
    for channel, error in delivery.failed.items():
        logger.error(f"notice {notice.subject!r} not sent by {channel}: {error}")
    return delivery
