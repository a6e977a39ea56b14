"""Dagster resources: where returns land, the national store, the published outputs.

Each is configured from the environment (``VAWG_INCOMING``, ``VAWG_WAREHOUSE``,
``VAWG_PSEUDONYM_KEY``, ``VAWG_PUBLISHED``, ``VAWG_FEEDBACK``) with a local default, so a
fresh clone runs on the sample data in ``data/`` and production points elsewhere
without code changes.
"""


import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import dagster as dg
import duckdb
from pydantic import Field

from vawg_pipeline.alerts import Destinations
from vawg_pipeline.privacy import KEY_ENV, PseudonymKey, load_key, make_owner_only_dir
from vawg_pipeline.publish.chart import preload_chart_library
from vawg_pipeline.publish.workbook import DEFAULT_CONTACT
from vawg_pipeline.store import national
from vawg_pipeline.store.schema import connect

DEFAULT_INCOMING = "data/incoming"
DEFAULT_WAREHOUSE = "data/warehouse/vawg.duckdb"
DEFAULT_PUBLISHED = "data/published/vawg_published.duckdb"
DEFAULT_FEEDBACK = "data/feedback"
LOCAL_KEY_FILE = ".pseudonym_key"
DEFAULT_MAX_RETURN_AGE_DAYS = 120


def env_or(name: str, default: str) -> str | dg.EnvVar:
    """An ``EnvVar`` when the variable is set, else the local default.

    ``EnvVar`` keeps the value out of the run config shown in the UI and is read where
    the run happens; the default keeps a fresh clone working with nothing set.
    """
    return dg.EnvVar(name) if os.environ.get(name) else default


# DuckDB lets one process write a file: another run (or an analyst who opened the store
# itself rather than the snapshot) holding it is waited for, with exponential backoff
# from 0.1 s, for about two minutes in all, before the step fails (and is retried).
LOCK_WAITS = 12
LOCK_FIRST_WAIT_SECONDS = 0.1
LOCK_MAX_WAIT_SECONDS = 30.0

T = TypeVar("T")


def _waiting_for_the_file(open_file: Callable[..., T], *args: object, **kwargs: object) -> T:
    wait = LOCK_FIRST_WAIT_SECONDS
    for attempt in range(LOCK_WAITS + 1):
        try:
            return open_file(*args, **kwargs)
        except duckdb.IOException:
            if attempt == LOCK_WAITS:
                raise
            time.sleep(wait)
            wait = min(wait * 2, LOCK_MAX_WAIT_SECONDS)
    raise AssertionError("unreachable")


class LandingFolder(dg.ConfigurableResource):
    """The landing folder: one sub-folder per force code, each holding its returns."""

    path: str = Field(default=DEFAULT_INCOMING, description="Landing folder (VAWG_INCOMING).")

    def root(self) -> Path:
        return Path(self.path)


class NationalStore(dg.ConfigurableResource):
    """The national DuckDB store (restricted: pseudonymised case-level data)."""

    path: str = Field(default=DEFAULT_WAREHOUSE, description="Store file (VAWG_WAREHOUSE).")
    pseudonym_key: str | None = Field(
        default=None,
        description=f"Secret key of the subject pseudonyms ({KEY_ENV}). Unset on a local "
        "run: a key is created once beside the store, owner-only.",
    )
    max_return_age_days: int = Field(
        default=DEFAULT_MAX_RETURN_AGE_DAYS,
        description="A force whose newest accepted return is older than this many days "
        "is flagged, not failed (VAWG_MAX_RETURN_AGE_DAYS).",
    )

    def store_path(self) -> Path:
        return Path(self.path)

    def key(self) -> PseudonymKey:
        return load_key(self.pseudonym_key, self.store_path().parent / LOCAL_KEY_FILE)

    @contextmanager
    def connection(self, check_key: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection; waits while another process holds the file."""
        make_owner_only_dir(self.store_path().parent)
        try:
            con = _waiting_for_the_file(national.open_store, self.store_path(),
                                        self.key() if check_key else None)
        except national.KeyMismatch as mismatch:
            # Not transient: retrying cannot help, so the step fails at once.
            raise dg.Failure(str(mismatch), allow_retries=False) from mismatch
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection (the store must exist)."""
        con = _waiting_for_the_file(connect, self.store_path(), read_only=True)
        try:
            yield con
        finally:
            con.close()


class PublishedOutputs(dg.ConfigurableResource):
    """Where the suppressed, audited outputs are published, and the rules they follow."""

    path: str = Field(default=DEFAULT_PUBLISHED,
                      description="Published DuckDB file (VAWG_PUBLISHED); CSV files and "
                      "the workbook sit beside it.")
    period_start: str = Field(default="2021-10-01",
                              description="First day of the reporting period (inclusive).")
    period_end: str = Field(default="2022-03-31",
                            description="Last day of the reporting period (inclusive).")
    threshold: int = Field(default=5, description="Counts 1 to threshold-1 are withheld.")
    protection_width: int = Field(
        default=5, description="Every withheld small cell's feasible range must span at "
        "least this much (hi - lo).")
    contact: str = Field(
        default=DEFAULT_CONTACT, description="Who readers of the workbook should contact "
        "about the statistics: a team name and e-mail address (VAWG_PUBLISHED_CONTACT).")

    def published_path(self) -> Path:
        return Path(self.path)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A run that publishes draws the headline chart in its last step: the chart
        # library loads in the background meanwhile, off the run's critical path.
        preload_chart_library()


class FeedbackFolder(dg.ConfigurableResource):
    """Where per-force feedback workbooks are written (VAWG_FEEDBACK)."""

    path: str = Field(default=DEFAULT_FEEDBACK, description="Feedback folder.")

    def root(self) -> Path:
        return Path(self.path)


class AlertChannel(dg.ConfigurableResource):
    """Where notices go besides the log: a webhook (VAWG_ALERT_WEBHOOK) and/or e-mail
    (VAWG_ALERT_EMAIL through VAWG_SMTP_HOST:VAWG_SMTP_PORT). Unset means log only."""

    webhook_url: str | None = Field(
        default=None, description="URL that receives each notice as a JSON POST "
        "(VAWG_ALERT_WEBHOOK). Kept in the environment: such URLs often embed a token.")
    email_to: str | None = Field(
        default=None, description="Comma-separated addresses (VAWG_ALERT_EMAIL).")
    smtp_host: str = Field(default="localhost", description="SMTP relay (VAWG_SMTP_HOST).")
    smtp_port: int = Field(default=25, description="SMTP port (VAWG_SMTP_PORT).")
    email_from: str = Field(default="vawg-pipeline@localhost",
                            description="Sender address (VAWG_ALERT_FROM).")
    timeout_seconds: float = Field(default=10.0, description="Per-channel timeout.")

    def destinations(self) -> Destinations:
        return Destinations(
            webhook_url=self.webhook_url or None, email_to=self.email_to or None,
            smtp_host=self.smtp_host, smtp_port=self.smtp_port,
            email_from=self.email_from, timeout_seconds=self.timeout_seconds,
        )


def alert_channel_from_env() -> AlertChannel:
    def optional(name: str) -> str | None:
        return dg.EnvVar(name) if os.environ.get(name) else None

    return AlertChannel(
        webhook_url=optional("VAWG_ALERT_WEBHOOK"),
        email_to=optional("VAWG_ALERT_EMAIL"),
        smtp_host=env_or("VAWG_SMTP_HOST", "localhost"),
        smtp_port=dg.EnvVar.int("VAWG_SMTP_PORT") if os.environ.get("VAWG_SMTP_PORT") else 25,
        email_from=env_or("VAWG_ALERT_FROM", "vawg-pipeline@localhost"),
    )


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "landing": LandingFolder(path=env_or("VAWG_INCOMING", DEFAULT_INCOMING)),
        "store": NationalStore(
            path=env_or("VAWG_WAREHOUSE", DEFAULT_WAREHOUSE),
            pseudonym_key=dg.EnvVar(KEY_ENV) if os.environ.get(KEY_ENV) else None,
            max_return_age_days=dg.EnvVar.int("VAWG_MAX_RETURN_AGE_DAYS")
            if os.environ.get("VAWG_MAX_RETURN_AGE_DAYS") else DEFAULT_MAX_RETURN_AGE_DAYS,
        ),
        "published": PublishedOutputs(
            path=env_or("VAWG_PUBLISHED", DEFAULT_PUBLISHED),
            contact=env_or("VAWG_PUBLISHED_CONTACT", DEFAULT_CONTACT),
        ),
        "feedback": FeedbackFolder(path=env_or("VAWG_FEEDBACK", DEFAULT_FEEDBACK)),
        "alerts": alert_channel_from_env(),
    }
