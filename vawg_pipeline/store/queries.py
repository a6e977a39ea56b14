"""Questions the later stages ask of the national store, asked in one place."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pandas as pd

# A force's newest file was refused when no accepted return of it is newer.
_REFUSED_NEWEST = """
    SELECT r.force_code, r.file_name, r.received_at, r.error
    FROM submissions r
    WHERE r.status = 'refused' AND r.received_at >= coalesce((
        SELECT max(a.received_at) FROM submissions a
        WHERE a.force_code = r.force_code AND a.status = 'accepted'),
        TIMESTAMP '1900-01-01')
    ORDER BY r.force_code, r.received_at
"""

_COVERAGE = """
    SELECT f.force_code, f.force_name, s.file_name, s.received_at, s.rows_read,
           s.rows_stored, s.rows_quarantined,
           round(s.rows_quarantined / nullif(s.rows_read, 0), 4) AS quarantine_rate,
           coalesce(s.status, 'no return') AS status
    FROM forces f LEFT JOIN submissions s
      ON s.force_code = f.force_code AND s.status = 'accepted'
    ORDER BY f.force_code
"""


def refused_newest(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Refused files newer than the force's accepted return (which stays in use)."""
    return con.execute(_REFUSED_NEWEST).df()


def coverage(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every force of the registry with its accepted return, or status 'no return'."""
    return con.execute(_COVERAGE).df()


def stale_or_missing(cover: pd.DataFrame, now: datetime, max_age_days: int) -> pd.DataFrame:
    """Forces with no accepted return, or whose return was received too long ago."""
    cutoff = now - timedelta(days=max_age_days)
    return cover[(cover["status"] != "accepted") | (cover["received_at"] < cutoff)]
