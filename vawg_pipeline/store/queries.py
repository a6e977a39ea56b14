"""Questions the later stages ask of the national store, asked in one place."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pandas as pd

from vawg_pipeline.contract import Contract
from vawg_pipeline.privacy import PSEUDONYM_HEX_CHARS
from vawg_pipeline.store.schema import sql_text

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


def contract_violations(con: duckdb.DuckDBPyConnection, contract: Contract) -> pd.DataFrame:
    """Rows of ``cases`` breaking each rule the store promises analysts, one row per rule.

    The rules on single rows are counted in one scan of ``cases`` (a filtered count per
    rule), not one scan each.
    """
    row_rules: list[tuple[str, str]] = []
    for f in contract.stored:
        if f.kind == "category" and f.values:
            allowed = ", ".join(sql_text(v) for v in f.values)
            row_rules.append((f"{f.name} not canonical",
                              f"{f.name} IS NOT NULL AND {f.name} NOT IN ({allowed})"))
        if f.required and f.name != "subject_reference":
            row_rules.append((f"{f.name} missing", f"{f.name} IS NULL"))
    row_rules += [
        ("subject not a pseudonym",
         f"NOT regexp_full_match(subject_pseudonym, '[0-9a-f]{{{PSEUDONYM_HEX_CHARS}}}')"),
        ("finalised without outcome",
         "status = 'finalised' AND (outcome IS NULL OR date_finalised IS NULL)"),
    ]
    counts = con.execute("SELECT " + ", ".join(
        f"count(*) FILTER (WHERE {predicate})" for _, predicate in row_rules
    ) + " FROM cases").fetchone()
    rules = [(rule, int(n)) for (rule, _), n in zip(row_rules, counts, strict=True)]
    rules.append(("duplicate (force, case, subject)", int(con.execute("""
        SELECT count(*) FROM (SELECT 1 FROM cases
        GROUP BY force_code, case_reference, subject_pseudonym HAVING count(*) > 1)
    """).fetchone()[0])))
    rules.append(("row not from the force's accepted return", int(con.execute("""
        SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM submissions s
        WHERE s.force_code = c.force_code AND s.sha256 = c.source_sha256
          AND s.status = 'accepted')
    """).fetchone()[0])))
    return pd.DataFrame(rules, columns=["rule", "rows breaking it"])
