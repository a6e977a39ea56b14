"""The national store as assets: the collated tables, their checks, the analysts' snapshot."""


from datetime import UTC, datetime

import dagster as dg

from vawg_pipeline.contract import load_contract
from vawg_pipeline.defs.ingestion import OWNERS, STORE_POOL, force_returns
from vawg_pipeline.defs.metadata import column_schema, markdown_table
from vawg_pipeline.defs.resources import NationalStore
from vawg_pipeline.forces import load_forces
from vawg_pipeline.store import national, queries
from vawg_pipeline.store.schema import table_columns


@dg.asset(
    deps=[force_returns],
    group_name="national",
    kinds={"duckdb"},
    owners=OWNERS,
    pool=STORE_POOL,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10),
    metadata={"dagster/column_schema": column_schema(table_columns("cases"))},
)
def national_store(store: NationalStore) -> dg.MaterializeResult:
    """The national collation: every force's current return, pseudonymised, in DuckDB.

    Tables ``forces``, ``submissions``, ``cases`` and ``quarantine`` (documented in the
    database with ``COMMENT ON``). Restricted: case-level data for authorised analysts,
    who read the snapshot published after the checks pass, never this file.
    """
    with store.connection() as con:
        national.sync_forces(con, load_forces())
        coverage = queries.coverage(con)
        counts = con.execute("""
            SELECT (SELECT count(*) FROM cases) AS individuals,
                   (SELECT count(DISTINCT (force_code, case_reference)) FROM cases) AS cases,
                   (SELECT count(*) FROM quarantine) AS problems,
                   (SELECT count(DISTINCT (force_code, sheet, row_number))
                      FROM quarantine) AS rows_quarantined
        """).fetchone()
        by_type = con.execute("""
            SELECT case_type, count(DISTINCT (force_code, case_reference)) AS cases,
                   count(*) AS individuals
            FROM cases GROUP BY case_type ORDER BY case_type
        """).df()
        con.execute("CHECKPOINT")
    with_return = coverage[coverage["status"] == "accepted"]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": int(counts[0]),
        "cases": int(counts[1]),
        "individuals (subject-per-case rows)": int(counts[0]),
        "rows quarantined": int(counts[3]),
        "quarantine problems": int(counts[2]),
        "forces with a return": len(with_return),
        "forces without a return": dg.MetadataValue.md(
            ", ".join(coverage.loc[coverage["status"] != "accepted", "force_code"])
            or "(none)"),
        "by case type": dg.MetadataValue.md(markdown_table(by_type)),
        "coverage": dg.MetadataValue.md(markdown_table(coverage, 60)),
        "store": dg.MetadataValue.path(str(store.store_path().resolve())),
    })


@dg.asset_check(asset=national_store, blocking=True)
def store_conforms_to_contract(store: NationalStore) -> dg.AssetCheckResult:
    """Only canonical values, unique keys, pseudonyms only, rows from accepted returns."""
    with store.reader() as con:
        table = queries.contract_violations(con, load_contract())
    return dg.AssetCheckResult(
        passed=bool((table["rows breaking it"] == 0).all()),
        metadata={"rules": dg.MetadataValue.md(markdown_table(table))},
    )


@dg.asset_check(asset=national_store)
def returns_are_fresh(store: NationalStore) -> dg.AssetCheckResult:
    """Flags forces with no return, or whose newest accepted return is old."""
    with store.reader() as con:
        stale = queries.stale_or_missing(queries.coverage(con),
                                         datetime.now(UTC).replace(tzinfo=None),
                                         store.max_return_age_days)
    return dg.AssetCheckResult(
        passed=stale.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "max age (days)": store.max_return_age_days,
            "stale or missing forces": len(stale),
            "forces": dg.MetadataValue.md(markdown_table(
                stale[["force_code", "status", "file_name", "received_at"]], 60)),
        },
    )


@dg.asset(
    deps=[national_store],
    group_name="national",
    kinds={"duckdb"},
    owners=OWNERS,
    pool=STORE_POOL,
    metadata={"dagster/column_schema": column_schema(table_columns("cases"))},
)
def analyst_snapshot(store: NationalStore) -> dg.MaterializeResult:
    """The read-only copy of the national store that analysts open.

    Published atomically beside the store (``vawg_snapshot.duckdb``) once the store's
    checks pass, so an analyst's open session never blocks a run and never sees a
    half-written file.
    """
    with store.connection(check_key=False) as con:
        con.execute("CHECKPOINT")
    target = national.publish_snapshot(store.store_path())
    return dg.MaterializeResult(metadata={
        "snapshot": dg.MetadataValue.path(str(target.resolve())),
        "size (bytes)": target.stat().st_size,
    })
