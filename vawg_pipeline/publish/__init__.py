"""Publishing: the suppressed, audited national tables, released atomically.

Plain functions, no Dagster (``vawg_pipeline.defs.publishing`` wires them up):

- ``tables``: count every table spec from the store's cases in the reporting period,
  protect them (``vawg_pipeline.disclosure``), audit them, and make the published
  long-form frames, the catalogue, the coverage of forces and the audit report;
- ``safety``: the formula-injection guard and the primary-rule check on what is
  published;
- ``files``, ``workbook``, ``chart``: the published DuckDB file (with ``COMMENT ON``),
  the CSV files, the accessible workbook (gptables) and the headline chart;
- ``release``: a release folder with a manifest per publication, the live files
  swapped in atomically, and no new release when the numbers have not changed;
- ``staging``: the restricted hand-over of a candidate between the Dagster steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from vawg_pipeline.disclosure.audit import AuditReport
from vawg_pipeline.disclosure.specs import DisclosureRules, TableSpec
from vawg_pipeline.publish.release import ReleaseResult, UnsafeRelease, publish
from vawg_pipeline.publish.tables import (
    Candidate,
    Publication,
    ReportingPeriod,
    audit_candidate,
    build_candidate,
    publication,
)


@dataclass
class Built:
    candidate: Candidate
    report: AuditReport
    publication: Publication


def build_publication(
    con: duckdb.DuckDBPyConnection, period: ReportingPeriod, rules: DisclosureRules,
    specs: list[TableSpec] | None = None,
) -> Built:
    """Count, protect and audit from a store connection: everything but the writing."""
    candidate = build_candidate(con, period, rules, specs)
    report = audit_candidate(candidate)
    return Built(candidate, report, publication(candidate, report))


__all__ = [
    "Built", "Candidate", "Publication", "ReleaseResult", "ReportingPeriod",
    "UnsafeRelease", "build_publication", "publish",
]
