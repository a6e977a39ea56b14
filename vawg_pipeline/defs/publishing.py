"""Publishing as assets: the suppressed national tables, their audit, and the release.

Thin wiring around :mod:`vawg_pipeline.publish`. Three steps, in this order:

1. ``published_tables`` (one asset per published table of ``tables.toml``): counts the
   national store's cases in the reporting period (in DuckDB), decides what to withhold
   (or reuses the last staged protection when the counts are unchanged), audits it
   once and stages the candidate with that audit's outcome in the restricted folder
   beside the store. Nothing is published yet.
2. ``disclosure_audit`` (a blocking check on every table): audits the staged candidate
   again, independently, for the public and for each force as insider, and approves the
   staged audit outcome only if it agrees. If it fails, nothing downstream runs.
3. ``published_release``: releases the audited candidate with the approved audit
   outcome (the published DuckDB file, CSV files, workbook and chart) atomically, or
   nothing if the numbers are unchanged. It does not audit again.
"""

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd

from vawg_pipeline.defs.ingestion import OWNERS, STORE_POOL
from vawg_pipeline.defs.metadata import column_schema, markdown_table
from vawg_pipeline.defs.national import national_store
from vawg_pipeline.defs.resources import NationalStore, PublishedOutputs
from vawg_pipeline.disclosure.specs import DisclosureRules, TableSpec, load_table_specs
from vawg_pipeline.publish import files, staging
from vawg_pipeline.publish.release import publish
from vawg_pipeline.publish.safety import primary_breaches
from vawg_pipeline.publish.tables import (
    AuditOutcome,
    ReportingPeriod,
    audit_candidate,
    audit_disagreements,
    build_candidate,
    publication,
    published_table,
    wide_display,
)

GROUP = "published"
PUBLISHED_POOL = "vawg_published"  # one writer of the published folder at a time
STAGING_FOLDER = "publish_staging"
TABLE_SPECS: list[TableSpec] = load_table_specs()


def table_key(spec: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(["published", spec.table_id])


def rules_of(published: PublishedOutputs) -> DisclosureRules:
    return DisclosureRules(threshold=published.threshold,
                           protection_width=published.protection_width)


def period_of(published: PublishedOutputs) -> ReportingPeriod:
    return ReportingPeriod.parse(published.period_start, published.period_end)


def staging_root(store: NationalStore) -> Path:
    """Beside the store, in its owner-only folder: candidates hold true small counts."""
    return store.store_path().parent / STAGING_FOLDER


def staging_folder(store: NationalStore, run_id: str) -> Path:
    """The run's own stage: two runs at once (the sensor's during the nightly one) never
    audit or release each other's candidate."""
    return staging_root(store) / run_id


def run_id_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str:
    """The run's stage name: its root run's id, so a re-execution from failure (or the
    daemon's retry of a run whose worker died) releases what its first attempt staged."""
    try:
        run = context.run
    except Exception:  # noqa: BLE001 - a context invoked directly (a test) has no run
        return "EPHEMERAL"
    return run.root_run_id or run.run_id


def _table_description(spec: TableSpec) -> str:
    population = ("finalised cases only" if spec.population == "finalised"
                  else "every case in the reporting period")
    return (f"{spec.title} (published table `{spec.table_id}`). {spec.description}\n\n"
            f"Counts {spec.unit}, over {population}, by {', '.join(spec.dimensions)}. "
            "Small counts and the cells that would reveal them are withheld ([c]).")


@dg.multi_asset(
    name="published_tables",
    specs=[
        dg.AssetSpec(
            key=table_key(spec),
            deps=[national_store],
            description=_table_description(spec),
            group_name=GROUP,
            kinds={"duckdb", "pandas"},
            owners=OWNERS,
            metadata={"dagster/column_schema": column_schema(files.table_columns(spec))},
        )
        for spec in TABLE_SPECS
    ],
    # The tables share cells and are protected together: always all of them.
    can_subset=False,
    pool=STORE_POOL,  # reads the store: not while a refresh is writing it
)
def published_tables(
    context: dg.AssetExecutionContext, store: NationalStore, published: PublishedOutputs
) -> Iterator[dg.MaterializeResult]:
    """Count, protect and stage every published table; the audit check gates release."""
    rules = rules_of(published)
    folder = staging_folder(store, run_id_of(context))
    # The last staged candidate: if its passing protection was for these very counts,
    # it is reused (a protection that failed its audit is always decided afresh).
    previous = staging.latest_staged(staging_root(store))
    if previous is not None and (previous.audit is None or not previous.audit.passed):
        previous = None
    seconds: dict[str, float] = {}
    with store.reader() as con:
        candidate = build_candidate(con, period_of(published), rules, TABLE_SPECS,
                                    previous=previous.candidate if previous else None,
                                    seconds=seconds)
    started = time.perf_counter()
    if (candidate.reused_protection and previous is not None
            and previous.audit is not None
            and previous.audit.of_tables == candidate.protection_hash()):
        outcome = previous.audit  # same tables, rules and code: the same audit
    else:
        outcome = AuditOutcome.of(audit_candidate(candidate), candidate)  # the one audit
    seconds["audit"] = time.perf_counter() - started
    staging.save_candidate(folder, candidate, outcome)
    withheld = candidate.withheld_counts().set_index("table_id")
    failing = outcome.table.loc[~outcome.table["ok"].astype(bool), "table_id"].value_counts()
    context.log.info(
        f"{len(candidate.forces)} forces with a return; protection "
        f"{'reused (counts unchanged)' if candidate.reused_protection else 'decided'}; "
        f"audit {'passed' if outcome.passed else 'FAILED'}; staged for the check")
    for spec in TABLE_SPECS:
        table = published_table(candidate.protected[spec.table_id], spec)
        counts = withheld.loc[spec.table_id]
        by_rule = pd.DataFrame({
            "rule": ["primary (counts 1 to threshold-1)",
                     "primary-line (zeros beside a lone withheld count)",
                     "secondary (to stop withheld cells being worked out)",
                     "withheld in all", "published"],
            "cells": [int(counts["primary"]), int(counts["primary-line"]),
                      int(counts["secondary"]), int(counts["withheld"]),
                      int(counts["cells"] - counts["withheld"])],
        })
        yield dg.MaterializeResult(
            asset_key=table_key(spec),
            metadata={
                "table (as published)": dg.MetadataValue.md(
                    markdown_table(wide_display(table, spec), 60)),
                "withheld cells by rule": dg.MetadataValue.md(markdown_table(by_rule)),
                "withheld cells": int(counts["withheld"]),
                "audit": ("passed" if outcome.passed
                          else f"FAILED ({len(outcome.violations)} violations)"),
                "protection reused (counts unchanged)": candidate.reused_protection,
                "audit: failed intervals in this table": int(failing.get(spec.table_id, 0)),
                "reporting period": candidate.period.label(),
                "forces with a return": len(candidate.forces),
                "seconds per stage (all tables)": {k: round(v, 3) for k, v in seconds.items()},
                "dagster/row_count": len(table),
                "dagster/column_schema": column_schema(files.table_columns(spec)),
            },
        )


@dg.multi_asset_check(
    name="disclosure_audit",
    specs=[
        dg.AssetCheckSpec(
            "disclosure_audit",
            asset=table_key(spec),
            blocking=True,
            description="The staged tables pass the disclosure audit: for every withheld "
            "small count, the range of values consistent with everything published "
            "(found by linear programming over all tables) is wide enough, for the "
            "public and for each force knowing its own figures; no published value "
            "counts 1 to threshold-1. Blocks the release if not.",
        )
        for spec in TABLE_SPECS
    ],
)
def disclosure_audit(
    context: dg.AssetCheckExecutionContext, store: NationalStore, published: PublishedOutputs
) -> Iterator[dg.AssetCheckResult]:
    """Audit the staged candidate as it will be published; record the verdict."""
    folder = staging_folder(store, run_id_of(context))
    staged = staging.load_staged(folder)
    candidate = staged.candidate
    # The gate's own audit of the staged tables (the only audit this step runs).
    report = audit_candidate(candidate)
    # The primary rule checked again on the published form itself, independently.
    tables = {s.table_id: published_table(candidate.protected[s.table_id], s)
              for s in candidate.specs}
    breaches = primary_breaches(tables, candidate.rules.threshold)
    rules_match = candidate.rules == rules_of(published)
    passed = bool(report.passed) and not breaches and rules_match
    problems = list(report.violations)
    problems += [f"{t}: published value {v} at {c}" for t, c, v in breaches]
    if not rules_match:
        problems.append("the staged candidate was protected under other rules than those "
                        "configured now: materialize the published tables again")
    # The staged audit outcome is what the release publishes: it must be this audit's.
    if staged.audit is None:
        disagreements = ["no audit report was staged with the candidate: materialize the "
                         "published tables again"]
    else:
        disagreements = audit_disagreements(staged.audit,
                                            AuditOutcome.of(report, candidate))
    problems += disagreements
    passed = passed and not disagreements
    # The release step accepts the candidate only with this verdict, for this hash, and
    # publishes only the staged audit outcome this verdict names.
    staging.save_verdict(folder, candidate.content_hash(), report, passed=passed,
                         problems=problems,
                         audit_digest=staged.audit.digest() if staged.audit else None)
    cells = report.cells
    summary = report.summary()
    for spec in TABLE_SPECS:
        mine = cells[cells["table_id"] == spec.table_id]
        by_attacker = (mine.assign(failed=~mine["ok"].astype(bool))
                       .groupby(mine["attacker"].where(mine["attacker"] == "outsider",
                                                       "each force as insider"))
                       .agg(intervals=("ok", "size"), failed=("failed", "sum"))
                       .reset_index())
        yield dg.AssetCheckResult(
            asset_key=table_key(spec),
            check_name="disclosure_audit",
            passed=passed,
            metadata={
                "audit of all tables": "passed" if passed else "FAILED",
                "withheld cells in this table": int(mine["cell"].nunique()),
                "intervals checked in this table": len(mine),
                "intervals too narrow in this table": int((~mine["ok"].astype(bool)).sum()),
                "by attacker": dg.MetadataValue.md(markdown_table(by_attacker)),
                "attackers (public + forces)": int(summary.get("attackers", 0)),
                "published counts 1 to threshold-1 (all tables)": len(breaches)
                + int(summary.get("published_small", 0)),
                "violations (all tables)": dg.MetadataValue.md(
                    "\n".join(f"- {p}" for p in problems[:30]) or "_(none)_"),
                "LPs solved": int(summary.get("lps_solved", 0)),
                "audit seconds": float(summary.get("seconds", 0.0)),
            },
        )


def _chart_markdown(path: Path) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"![Individuals by VAWG category and case type](data:image/png;base64,{encoded})"


@dg.asset(
    deps=[table_key(spec) for spec in TABLE_SPECS],
    group_name=GROUP,
    kinds={"duckdb", "excel", "csv"},
    owners=OWNERS,
    pool=PUBLISHED_POOL,
)
def published_release(
    context: dg.AssetExecutionContext, store: NationalStore, published: PublishedOutputs
) -> dg.MaterializeResult:
    """The published outputs analysts and the public read: suppressed, audited tables.

    ``vawg_published.duckdb`` (every table, the catalogue, the coverage of forces and the
    audit, documented with ``COMMENT ON``), one CSV per table, an accessible workbook and
    the headline chart, each swapped in atomically as one release kept under
    ``releases/<id>/`` with its manifest. Only a candidate that passed the blocking
    ``disclosure_audit`` check is released; unchanged numbers make no new release.
    """
    folder = staging_folder(store, run_id_of(context))
    staged = staging.load_staged(folder)
    candidate = staged.candidate
    verdict = staging.require_passing_verdict(folder, candidate)
    # The audit the check approved, as staged: no third audit.
    outcome = staging.require_staged_audit(staged, verdict)
    result = publish(publication(candidate, outcome), published.published_path(),
                     contact=published.contact, decided_at=staged.staged_at)
    staging.prune(staging_root(store), keep=folder)
    if result.overtaken:
        context.log.warning(
            f"release {result.release_id} was decided after this run counted its tables "
            "(a run at the same time): this run's older numbers are not released")
    paths = result.paths
    live_chart = paths.chart
    if not result.overtaken:
        context.log.info(
            f"release {result.release_id}: "
            + ("new" if result.new_release else "numbers unchanged, no new release"))
    return dg.MaterializeResult(metadata={
        "release id": result.release_id,
        "new release": result.new_release,
        "overtaken by a newer run's release": result.overtaken,
        "files replaced": ", ".join(result.replaced) or "(none)",
        "published DuckDB": dg.MetadataValue.path(str(paths.duckdb.resolve())),
        "workbook": dg.MetadataValue.path(str(paths.workbook.resolve())),
        "CSV folder": dg.MetadataValue.path(str(paths.csv_folder.resolve())),
        "release folder": dg.MetadataValue.path(str(result.release_dir.resolve())),
        "chart path": dg.MetadataValue.path(str(live_chart.resolve())),
        "chart": dg.MetadataValue.md(_chart_markdown(live_chart)),
        "content hash": result.content_hash,
        "reporting period": candidate.period.label(),
        "forces included": int(candidate.coverage["included"].sum()),
        "forces missing": dg.MetadataValue.md(
            ", ".join(candidate.coverage.loc[~candidate.coverage["included"],
                                             "force_code"]) or "(none)"),
        "audit": "passed" if outcome.passed else "FAILED",
    })
