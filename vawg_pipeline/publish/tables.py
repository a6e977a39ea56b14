"""From the national store to the published tables: count, protect, audit, blank.

Two stages, kept apart on purpose:

- a :class:`Candidate` holds the *true* counts with the suppression decided
  (``withheld``, ``withheld_reason``). It is restricted (it holds the small counts) and
  only ever lives in memory or in the restricted staging area beside the store;
- a :class:`Publication` is what is released: each table in long form with ``value``
  NULL and ``display`` ``[c]`` where withheld, plus the catalogue, the coverage of
  forces and the audit's published report. Withheld reasons are never published: a
  reader who knew which cells were withheld by the primary rule would know those
  cells count 1 to 4.

The counting is done in DuckDB (only the interior cells leave the database). The audit
runs once per candidate and travels with it as an :class:`AuditOutcome` (its published
table and summary), so the release publishes the report rather than auditing again. A
candidate whose true counts equal the previous one's reuses its protection: the
suppression is a function of the counts, the rules and the engine's code only.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from vawg_pipeline.contract import load_contract
from vawg_pipeline.disclosure.audit import AuditReport, audit
from vawg_pipeline.disclosure.counting import count_table, count_tables_duckdb
from vawg_pipeline.disclosure.specs import (
    DIMENSION_COLUMNS,
    TOTAL,
    DisclosureRules,
    TableSpec,
    load_table_specs,
)
from vawg_pipeline.disclosure.suppression import protect
from vawg_pipeline.publish.safety import guard_frame

WITHHELD = "[c]"
"""How a withheld value is shown (the GSS symbol for confidential)."""

CATEGORY_DIMENSIONS = [d for d in DIMENSION_COLUMNS if d != "force"]

# Columns of the case-level rows count_table reads.
ROW_COLUMNS = ["force_code", "case_reference", "case_type", "vawg_category", "subject_role",
               "restriction", "victim_relationship", "outcome", "status"]

# The blank spelling the contract gives victim_relationship ('not known').
_NOT_KNOWN = load_contract()["victim_relationship"].blank or "not known"

PERIOD_ROWS_SQL = f"""
    SELECT c.force_code, c.case_reference, c.case_type, c.vawg_category, c.subject_role,
           c.restriction, coalesce(c.victim_relationship, '{_NOT_KNOWN}')
               AS victim_relationship,
           c.outcome, c.status
    FROM cases c
    WHERE c.date_recorded BETWEEN ? AND ?
      AND c.force_code IN (SELECT force_code FROM submissions WHERE status = 'accepted')
"""

ACCEPTED_FORCES_SQL = """
    SELECT DISTINCT force_code FROM submissions WHERE status = 'accepted' ORDER BY force_code
"""

# Every force of the registry (and any force with an accepted return the registry lacks):
# its accepted file, or else its latest refused or withdrawn file, or 'no return'.
# Row counts are deliberately not published: a force's rows read could give away a
# withheld force total.
COVERAGE_SQL = """
    WITH accepted AS (
        SELECT * FROM submissions WHERE status = 'accepted'
    ), other AS (
        SELECT * FROM submissions WHERE status IN ('refused', 'withdrawn')
        QUALIFY row_number() OVER (
            PARTITION BY force_code ORDER BY ingested_at DESC, received_at DESC) = 1
    ), every_force AS (
        SELECT force_code, force_name FROM forces
        UNION
        SELECT force_code, NULL FROM accepted
        WHERE force_code NOT IN (SELECT force_code FROM forces)
    )
    SELECT f.force_code,
           f.force_name,
           CASE WHEN a.force_code IS NOT NULL THEN 'accepted'
                WHEN o.force_code IS NOT NULL THEN o.status
                ELSE 'no return' END AS status,
           a.force_code IS NOT NULL AS included,
           coalesce(a.file_name, o.file_name) AS file_name,
           coalesce(a.sha256, o.sha256) AS sha256,
           coalesce(a.received_at, o.received_at) AS received_at,
           round(a.rows_quarantined / nullif(a.rows_read, 0), 4) AS quarantine_rate
    FROM every_force f
    LEFT JOIN accepted a USING (force_code)
    LEFT JOIN other o USING (force_code)
    ORDER BY f.force_code
"""

COVERAGE_COLUMNS: list[tuple[str, str, str]] = [
    ("force_code", "VARCHAR NOT NULL", "Force code, as the published tables name forces."),
    ("force_name", "VARCHAR", "Force name, from the force registry."),
    ("status", "VARCHAR NOT NULL",
     "accepted (the force's return is counted), refused (its only file could not be "
     "read), withdrawn (the force withdrew its return) or no return."),
    ("included", "BOOLEAN NOT NULL", "True when the force's return is in the tables."),
    ("file_name", "VARCHAR", "File name of the return (for refused or withdrawn, the "
     "file concerned); NULL if none."),
    ("sha256", "VARCHAR", "SHA-256 of that file's bytes."),
    ("received_at", "TIMESTAMP", "When the file was received (its modification time, "
     "UTC)."),
    ("quarantine_rate", "DOUBLE", "Share of the accepted return's data rows set aside "
     "as breaking the return's contract (0 to 1); NULL without an accepted return."),
]

CATALOGUE_COLUMNS: list[tuple[str, str, str]] = [
    ("table_id", "VARCHAR NOT NULL", "Name of the table in this file (and of its CSV)."),
    ("title", "VARCHAR NOT NULL", "Title of the table."),
    ("unit", "VARCHAR NOT NULL", "What is counted: cases (distinct case references "
     "within a force) or individuals (subject-per-case rows, as the NPCC counts them)."),
    ("population", "VARCHAR NOT NULL", "all, or finalised (only finalised cases)."),
    ("dimensions", "VARCHAR NOT NULL", "The table's dimension columns, comma-separated, "
     "in order."),
    ("description", "VARCHAR NOT NULL", "What the table shows."),
]

AUDIT_COLUMNS: list[tuple[str, str, str]] = [
    ("table_id", "VARCHAR NOT NULL", "Table showing the withheld cell."),
    ("cell", "VARCHAR NOT NULL", "The cell, as dimension=value pairs."),
    ("attacker", "VARCHAR NOT NULL", "Who was assumed to try to work the cell out: "
     "outsider (knows only what is published) or a force code (that force, knowing its "
     "own figures exactly)."),
    ("lo", "DOUBLE", "Smallest value of the cell consistent with everything published "
     "(outsider only; NULL for a force, as it would reflect that force's own figures)."),
    ("hi", "DOUBLE", "Largest such value; NULL when there is no upper bound, or for a "
     "force."),
    ("width", "DOUBLE", "hi - lo; NULL when unbounded, or for a force."),
    ("ok", "BOOLEAN NOT NULL", "True when the range is wide enough under the rules."),
]

DIMENSION_TITLES = {
    "force": "Force", "case_type": "Case type", "vawg_category": "VAWG category",
    "subject_role": "Subject's role", "restriction": "Restriction",
    "victim_relationship": "Victim's relationship to the subject", "outcome": "Outcome",
}


@dataclass(frozen=True)
class ReportingPeriod:
    """The configured date range, applied to date_recorded (both ends inclusive)."""

    start: date
    end: date

    @staticmethod
    def parse(start: str | date, end: str | date) -> ReportingPeriod:
        period = ReportingPeriod(
            date.fromisoformat(start) if isinstance(start, str) else start,
            date.fromisoformat(end) if isinstance(end, str) else end,
        )
        if period.end < period.start:
            raise ValueError(f"reporting period ends ({period.end}) before it starts "
                             f"({period.start})")
        return period

    def label(self) -> str:
        return f"{_long_date(self.start)} to {_long_date(self.end)}"


def _long_date(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def _engine_fingerprint() -> str:
    """Hash of the disclosure package's code: protection reused across runs must have
    been decided by the code running now (a changed engine protects afresh)."""
    digest = hashlib.sha256()
    folder = Path(__file__).resolve().parents[1] / "disclosure"
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


ENGINE_FINGERPRINT = _engine_fingerprint()


def counts_fingerprint(rules: DisclosureRules, specs: list[TableSpec], forces: list[str],
                       counts: Mapping[str, pd.DataFrame],
                       contributions: Mapping[str, pd.DataFrame] | None = None) -> str:
    """Hash of everything the protection depends on: the true counts (dimension labels
    and values), the forces' own contributions to them, the tables, the rules and the
    engine's code."""
    digest = hashlib.sha256()
    digest.update(repr((ENGINE_FINGERPRINT, rules, specs, forces)).encode())
    for spec in specs:
        frame = counts[spec.table_id]
        digest.update(spec.table_id.encode())
        digest.update(_frame_bytes(frame[[*spec.dimensions, "value"]]))
    _hash_contributions(digest, contributions or {})
    return digest.hexdigest()


def _hash_contributions(digest: Any, contributions: Mapping[str, pd.DataFrame]) -> None:
    for table_id in sorted(contributions):
        digest.update(f"contributions:{table_id}".encode())
        digest.update(_frame_bytes(contributions[table_id]))


@dataclass
class Candidate:
    """The tables as counted and protected: restricted (true small counts inside)."""

    period: ReportingPeriod
    rules: DisclosureRules
    specs: list[TableSpec]
    protected: dict[str, pd.DataFrame]  # dims, value (true), withheld, withheld_reason
    coverage: pd.DataFrame
    forces: list[str]
    # counts_fingerprint of the true counts; "" when unknown (never matches, so the
    # protection is decided afresh).
    counts_hash: str = ""
    # True when ``protected`` was taken from the previous candidate (same counts_hash).
    reused_protection: bool = field(default=False, compare=False)
    # Each force's own counts in the tables without the force dimension (restricted):
    # what an insider knows of those tables, so protection and audit account for it.
    contributions: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def specs_by_id(self) -> dict[str, TableSpec]:
        return {s.table_id: s for s in self.specs}

    def protection_hash(self) -> str:
        """Hash of what the audit reads: the rules, the specs and the protected tables.
        An audit outcome records it, so it cannot be passed off for other tables."""
        digest = hashlib.sha256()
        digest.update(repr((self.rules, self.specs)).encode())
        for spec in self.specs:
            digest.update(_frame_bytes(self.protected[spec.table_id]))
        _hash_contributions(digest, self.contributions)
        return digest.hexdigest()

    def content_hash(self) -> str:
        """Hash of everything the candidate says, true counts and decisions included."""
        digest = hashlib.sha256()
        digest.update(repr((self.period, self.rules, self.specs, self.forces)).encode())
        for spec in self.specs:
            digest.update(_frame_bytes(self.protected[spec.table_id]))
        digest.update(_frame_bytes(self.coverage))
        _hash_contributions(digest, self.contributions)
        return digest.hexdigest()

    def withheld_counts(self) -> pd.DataFrame:
        """Cells withheld per table and rule (internal: never published)."""
        records = []
        for spec in self.specs:
            frame = self.protected[spec.table_id]
            reasons = frame["withheld_reason"].where(frame["withheld"], None)
            records.append({
                "table_id": spec.table_id, "cells": len(frame),
                "primary": int((reasons == "primary").sum()),
                "primary-line": int((reasons == "primary-line").sum()),
                "secondary": int((reasons == "secondary").sum()),
                "withheld": int(frame["withheld"].sum()),
            })
        return pd.DataFrame.from_records(records)


@dataclass
class Publication:
    """What is released: suppressed tables, catalogue, coverage and audit report."""

    period: ReportingPeriod
    rules: DisclosureRules
    specs: list[TableSpec]
    tables: dict[str, pd.DataFrame]  # dims, value (Int64, NA if withheld), display
    catalogue: pd.DataFrame
    coverage: pd.DataFrame
    audit: pd.DataFrame
    audit_passed: bool
    audit_summary: dict[str, Any] = field(default_factory=dict)

    @property
    def missing_forces(self) -> pd.DataFrame:
        return self.coverage[~self.coverage["included"].astype(bool)]

    def inputs(self) -> dict[str, dict[str, Any]]:
        """Per force with an accepted return: the file it contributed."""
        accepted = self.coverage[self.coverage["included"].astype(bool)]
        return {
            row.force_code: {"file_name": row.file_name, "sha256": row.sha256,
                             "received_at": _iso(row.received_at)}
            for row in accepted.itertuples(index=False)
        }

    def content_hash(self) -> str:
        """Hash of the published numbers and words: the period, catalogue, every cell's
        value and display, and the coverage. Equal hashes mean nothing a reader can see
        in the tables changed, so no new release is made."""
        digest = hashlib.sha256()
        digest.update(f"{self.period.start}/{self.period.end}".encode())
        digest.update(_frame_bytes(self.catalogue))
        for spec in self.specs:
            digest.update(spec.table_id.encode())
            digest.update(_frame_bytes(self.tables[spec.table_id]))
        digest.update(_frame_bytes(self.coverage))
        return digest.hexdigest()


@dataclass
class AuditOutcome:
    """An audit's result as it is staged and published: computed once per candidate,
    re-verified by the blocking check, published by the release without re-auditing.

    table: the published audit table (audit_frame: no insider ranges, no infinities).
    summary: the report's summary (internal: it has the counts per reason; the public
        part is ``public_summary()``).
    violations: the report's sentences (internal: they may give insiders' widths).
    of_tables: the protection_hash of the candidate audited.
    """

    passed: bool
    table: pd.DataFrame
    summary: dict[str, Any]
    violations: list[str]
    of_tables: str

    @staticmethod
    def of(report: AuditReport, candidate: Candidate) -> AuditOutcome:
        return AuditOutcome(
            passed=bool(report.passed), table=audit_frame(report),
            summary={k: _plain(v) for k, v in report.summary().items()},
            violations=list(report.violations), of_tables=candidate.protection_hash())

    def public_summary(self) -> dict[str, Any]:
        return {k: self.summary[k] for k in PUBLIC_AUDIT_SUMMARY_KEYS if k in self.summary}

    def digest(self) -> str:
        """Hash of the outcome, binding a verdict to the very report it approved."""
        digest = hashlib.sha256()
        digest.update(json.dumps([self.passed, self.summary, self.violations,
                                  self.of_tables], sort_keys=True, default=str).encode())
        digest.update(_frame_bytes(self.table))
        return digest.hexdigest()


def audit_disagreements(staged: AuditOutcome, fresh: AuditOutcome,
                        tolerance: float = 1e-6) -> list[str]:
    """Why ``staged`` is not the report ``fresh`` (an audit of the same tables) gives:
    empty when they agree. The ranges are LP optima, compared within ``tolerance``."""
    problems = []
    if staged.of_tables != fresh.of_tables:
        problems.append("the staged audit report is about other tables than those staged")
    if staged.passed != fresh.passed:
        problems.append(f"the staged audit report says {'passed' if staged.passed else 'failed'}"
                        f" but the audit of the staged tables "
                        f"{'passed' if fresh.passed else 'failed'}")
    keys = ["table_id", "cell", "attacker", "ok"]
    a, b = staged.table.reset_index(drop=True), fresh.table.reset_index(drop=True)
    if list(a.columns) != list(b.columns) or len(a) != len(b) \
            or not a[keys].astype(object).equals(b[keys].astype(object)):
        problems.append("the staged audit report lists other cells or verdicts than the "
                        "audit of the staged tables")
    else:
        for column in ("lo", "hi", "width"):
            x, y = a[column].to_numpy(dtype=float), b[column].to_numpy(dtype=float)
            if not np.allclose(x, y, rtol=0.0, atol=tolerance, equal_nan=True):
                problems.append(f"the staged audit report's {column} differ from the audit "
                                "of the staged tables")
    return problems


def _iso(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).isoformat()


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    """A deterministic byte form of a frame (columns, then rows as CSV)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n", date_format="%Y-%m-%dT%H:%M:%S")
    return buffer.getvalue().encode()


# --- reading the store --------------------------------------------------------------


def read_period_rows(con: duckdb.DuckDBPyConnection, period: ReportingPeriod) -> pd.DataFrame:
    """Subject-per-case rows recorded in the period, of forces with an accepted return;
    a blank victim_relationship counts as 'not known'."""
    rows = con.execute(PERIOD_ROWS_SQL, [period.start, period.end]).df()
    for column in rows.columns:
        rows[column] = rows[column].astype(object).where(rows[column].notna(), None)
    return rows[ROW_COLUMNS]


def accepted_forces(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute(ACCEPTED_FORCES_SQL).fetchall()]


def read_coverage(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    coverage = con.execute(COVERAGE_SQL).df()
    coverage["included"] = coverage["included"].astype(bool)
    coverage["quarantine_rate"] = coverage["quarantine_rate"].astype(float)
    for column in ("force_name", "file_name", "sha256"):
        coverage[column] = coverage[column].astype(object).where(coverage[column].notna(),
                                                                 None)
    return coverage


def dimension_levels(forces: list[str]) -> dict[str, list[str]]:
    """Every category of every dimension in display order (the contract's order)."""
    contract = load_contract()
    levels = {dim: list(contract[DIMENSION_COLUMNS[dim]].canonical_values)
              for dim in CATEGORY_DIMENSIONS}
    levels["force"] = list(forces)
    return levels


# --- counting, protecting, auditing -------------------------------------------------


def count_tables(specs: list[TableSpec], rows: pd.DataFrame,
                 levels: Mapping[str, list[str]]) -> dict[str, pd.DataFrame]:
    """Every table's true counts (long form, Totals included), from rows in pandas."""
    return {spec.table_id: count_table(spec, rows, levels) for spec in specs}


def count_period_tables(con: duckdb.DuckDBPyConnection, period: ReportingPeriod,
                        specs: list[TableSpec], levels: Mapping[str, list[str]],
                        ) -> dict[str, pd.DataFrame]:
    """As count_tables over read_period_rows, but grouped inside DuckDB: the period's
    rows never come into Python, only each table's interior cells."""
    return count_period(con, period, specs, levels)[0]


_SHARES_SUFFIX = "__by_force"


def count_period(
    con: duckdb.DuckDBPyConnection, period: ReportingPeriod, specs: list[TableSpec],
    levels: Mapping[str, list[str]], force_dimension: str | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """The period's true counts of every table and, given the force dimension, each
    force's share of every table without it: that table counted with a leading force
    column, force Totals left out (those are the table).

    Counted together: a table and its by-force shares are grouped by the same DuckDB
    queries, the table's cells being sums of the shares' finer ones.
    """
    shares_specs = [
        replace(s, table_id=s.table_id + _SHARES_SUFFIX,
                dimensions=(force_dimension, *s.dimensions))
        for s in specs if force_dimension is not None and force_dimension not in s.dimensions
    ]
    clash = {s.table_id for s in specs} & {s.table_id for s in shares_specs}
    if clash:
        raise ValueError(f"table ids {sorted(clash)} end in {_SHARES_SUFFIX!r}: rename them")
    counted = count_tables_duckdb(con, [*specs, *shares_specs], PERIOD_ROWS_SQL, levels,
                                  [period.start, period.end])
    counts = {s.table_id: counted[s.table_id] for s in specs}
    shares = {}
    for s in shares_specs:
        frame = counted[s.table_id]
        shares[s.table_id.removesuffix(_SHARES_SUFFIX)] = \
            frame[frame[force_dimension] != TOTAL].reset_index(drop=True)
    return counts, shares


def _same_counts(protected: Mapping[str, pd.DataFrame], counts: Mapping[str, pd.DataFrame],
                 specs: list[TableSpec]) -> bool:
    for spec in specs:
        columns = [*spec.dimensions, "value"]
        if spec.table_id not in protected:
            return False
        old = protected[spec.table_id]
        if list(old.columns[:len(columns)]) != columns \
                or not old[columns].reset_index(drop=True).equals(
                    counts[spec.table_id][columns].reset_index(drop=True)):
            return False
    return True


def build_candidate(
    con: duckdb.DuckDBPyConnection, period: ReportingPeriod, rules: DisclosureRules,
    specs: list[TableSpec] | None = None, previous: Candidate | None = None,
    seconds: dict[str, float] | None = None,
) -> Candidate:
    """Count every table from the store and decide what to withhold (not yet audited).

    previous: the last staged candidate. When the true counts (and rules, tables and
        engine code) are exactly those it was protected for, its protection is reused
        rather than solved again (the nightly run with nothing new); the audit still
        judges the result.
    seconds: if given, receives the seconds spent counting ("aggregate") and deciding
        what to withhold ("suppress").
    """
    specs = specs if specs is not None else load_table_specs()
    started = time.perf_counter()
    forces = accepted_forces(con)
    coverage = read_coverage(con)
    levels = dimension_levels(forces)
    counts, contributions = count_period(
        con, period, specs, levels, rules.force_dimension if rules.insiders else None)
    counted = time.perf_counter()
    counts_hash = counts_fingerprint(rules, specs, forces, counts, contributions)
    reuse = (previous is not None and previous.counts_hash == counts_hash
             and previous.rules == rules
             and _same_counts(previous.protected, counts, specs))  # belt and braces
    if reuse:
        protected = {s.table_id: previous.protected[s.table_id] for s in specs}
    else:
        protected = protect(counts, {s.table_id: s for s in specs}, rules, contributions)
    if seconds is not None:
        seconds.update(aggregate=counted - started, suppress=time.perf_counter() - counted)
    return Candidate(period=period, rules=rules, specs=specs, protected=protected,
                     coverage=coverage, forces=forces, counts_hash=counts_hash,
                     reused_protection=reuse, contributions=contributions)


def audit_candidate(candidate: Candidate) -> AuditReport:
    """The audit of the candidate, for the public and every force as insider (knowing
    its own cells, and its own contributions to the national tables)."""
    return audit(candidate.protected, candidate.specs_by_id, candidate.rules,
                 candidate.contributions)


# --- the published form -------------------------------------------------------------


def published_table(protected: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Dimension columns, ``value`` (NA where withheld) and ``display`` (or ``[c]``).

    The true value of a withheld cell does not survive this function.
    """
    dims = list(spec.dimensions)
    withheld = protected["withheld"].astype(bool).to_numpy()
    true_values = protected["value"].to_numpy(dtype=np.int64)
    out = protected[dims].copy().reset_index(drop=True)
    for d in dims:
        out[d] = out[d].astype(object)
    out["value"] = pd.array([None if w else int(v)
                             for w, v in zip(withheld, true_values, strict=True)],
                            dtype="Int64")
    out["display"] = [WITHHELD if w else str(int(v))
                      for w, v in zip(withheld, true_values, strict=True)]
    return guard_frame(out)


def catalogue_frame(specs: list[TableSpec]) -> pd.DataFrame:
    return guard_frame(pd.DataFrame.from_records([
        {"table_id": s.table_id, "title": s.title, "unit": s.unit,
         "population": s.population, "dimensions": ",".join(s.dimensions),
         "description": s.description}
        for s in specs
    ], columns=[c for c, _, _ in CATALOGUE_COLUMNS]))


def audit_frame(report: AuditReport) -> pd.DataFrame:
    """The audit's published report: unbounded ranges as NULL (no infinity in CSV or
    Excel); the insiders' ranges are already blank (NULL) in the engine's report."""
    cells = report.cells.copy()
    for column in ("lo", "hi", "width"):
        values = cells[column].astype(float)
        cells[column] = values.where(np.isfinite(values), np.nan)
    cells["ok"] = cells["ok"].astype(bool)
    return guard_frame(cells[[c for c, _, _ in AUDIT_COLUMNS]].reset_index(drop=True))


# The audit summary's counts per reason (how many withheld cells are primary) would
# tell a reader how likely a [c] is to hide a count of 1 to 4: they stay internal.
PUBLIC_AUDIT_SUMMARY_KEYS = ("passed", "tables", "cells", "withheld", "attackers",
                             "intervals_checked", "intervals_failed", "violations",
                             "lps_solved", "seconds")


def public_audit_summary(report: AuditReport) -> dict[str, Any]:
    summary = report.summary()
    return {k: _plain(summary[k]) for k in PUBLIC_AUDIT_SUMMARY_KEYS if k in summary}


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return value


def publication(candidate: Candidate, report: AuditReport | AuditOutcome) -> Publication:
    """The release form of an audited candidate (its audit as the engine's report, or as
    the staged outcome of that audit)."""
    outcome = report if isinstance(report, AuditOutcome) else AuditOutcome.of(report,
                                                                              candidate)
    return Publication(
        period=candidate.period,
        rules=candidate.rules,
        specs=list(candidate.specs),
        tables={s.table_id: published_table(candidate.protected[s.table_id], s)
                for s in candidate.specs},
        catalogue=catalogue_frame(candidate.specs),
        coverage=guard_frame(candidate.coverage),
        audit=outcome.table,
        audit_passed=bool(outcome.passed),
        audit_summary=outcome.public_summary(),
    )


def wide_display(table: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """A published table as readers see it on paper: the first dimension down, the
    second across (display values, so ``[c]`` where withheld)."""
    dims = list(spec.dimensions)
    if len(dims) == 1:
        return table[[dims[0], "display"]].rename(columns={"display": spec.unit})
    if len(dims) > 2:
        return table[[*dims, "display"]]
    row_dim, col_dim = dims
    order_rows = list(dict.fromkeys(table[row_dim]))
    order_cols = list(dict.fromkeys(table[col_dim]))
    wide = table.pivot(index=row_dim, columns=col_dim, values="display")
    wide = wide.loc[order_rows, order_cols]
    wide.columns = [str(c) for c in wide.columns]
    return wide.reset_index()


__all__ = [
    "TOTAL", "WITHHELD", "AuditOutcome", "Candidate", "Publication", "ReportingPeriod",
    "audit_candidate", "audit_disagreements", "audit_frame", "build_candidate",
    "catalogue_frame", "count_period_tables", "count_tables", "counts_fingerprint",
    "dimension_levels", "publication", "published_table", "read_coverage",
    "read_period_rows", "wide_display",
]
