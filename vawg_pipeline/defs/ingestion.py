"""Ingestion: each force's newest return into the national store, one partition a force.

Thin Dagster wiring around :func:`vawg_pipeline.collate.refresh_forces`. A partition
range (the nightly run, ``vawg-pipeline refresh``) is one run and one step: forces with no
new file cost a hash comparison, new files are read on both cores.
"""


import dagster as dg
import pandas as pd

from vawg_pipeline.collate import ForceRefresh, refresh_forces
from vawg_pipeline.defs.metadata import column_schema, markdown_table
from vawg_pipeline.defs.resources import LandingFolder, NationalStore
from vawg_pipeline.forces import force_codes
from vawg_pipeline.ingest.landing import scan_landing
from vawg_pipeline.ingest.returns import reason_counts
from vawg_pipeline.store import national, queries
from vawg_pipeline.store.schema import table_columns

OWNERS = ["team:npcc-vawg-data"]
STORE_POOL = "vawg_warehouse"  # one writer of the store's file at a time

force_partitions = dg.StaticPartitionsDefinition(force_codes())


def _force_metadata(r: ForceRefresh) -> dict[str, object]:
    metadata: dict[str, object] = {
        "force": r.force_code,
        "outcome": r.outcome,
        "file": r.file_name or "(no file)",
        "submission status": r.status or "",
    }
    if r.sha256:
        metadata["sha256"] = r.sha256
    if r.error:
        metadata["refusal"] = dg.MetadataValue.md(f"**Refused:** {r.error}")
    if r.rows_read is not None:
        metadata.update({
            "rows_read": r.rows_read, "rows_stored": r.rows_stored,
            "rows_quarantined": r.rows_quarantined,
            "dagster/row_count": r.rows_stored,
            "sheets": ", ".join(r.sheets),
            "extra columns ignored": ", ".join(r.extra_columns) or "(none)",
            "quarantine reasons (values not shown)":
                dg.MetadataValue.md(markdown_table(r.reason_counts)),
        })
        if r.outcome == "accepted":  # read in this run
            metadata["sheets ignored (not the return)"] = \
                ", ".join(r.ignored_sheets) or "(none)"
            metadata["first rows (categories only)"] = \
                dg.MetadataValue.md(markdown_table(r.preview))
    if r.seconds:
        metadata["seconds per stage"] = {k: round(v, 3) for k, v in r.seconds.items()}
    if r.ignored_files:
        metadata["files ignored"] = dg.MetadataValue.md(markdown_table(
            pd.DataFrame(r.ignored_files, columns=["file", "why"])))
    return metadata


def _summary(results: list[ForceRefresh]) -> pd.DataFrame:
    return pd.DataFrame([{
        "force": r.force_code, "outcome": r.outcome, "file": r.file_name or "",
        "rows read": r.rows_read, "stored": r.rows_stored,
        "quarantined": r.rows_quarantined, "problem": r.error or "",
    } for r in results])


@dg.asset(
    partitions_def=force_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="ingestion",
    kinds={"excel", "pandera", "duckdb"},
    owners=OWNERS,
    pool=STORE_POOL,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10),
    code_version="1",
    metadata={"dagster/column_schema": column_schema(table_columns("cases"))},
)
def force_returns(
    context: dg.AssetExecutionContext, landing: LandingFolder, store: NationalStore
) -> dg.MaterializeResult:
    """A force's current return in the national store.

    The newest file in the force's landing folder (``incoming/<force-code>/``) is read
    from any accepted format and layout, validated row by row against the contract, its
    personal data removed, and it replaces the force's earlier return as a whole. Rows
    that break the contract go to quarantine with a reason; a file that cannot be read is
    recorded as refused and the force's previous return stays. Unchanged files are a
    quick no-op.
    """
    codes = list(context.partition_keys)

    def report(r: ForceRefresh) -> None:
        # Refusals at once; accepted returns in one line at the end (each log line is an
        # event-log write, which 44 forces would pay 44 times).
        if r.outcome == "refused":
            context.log.warning(f"{r.force_code}: refused: {r.error}")

    with store.connection() as con:
        results = refresh_forces(con, landing.root(), codes, store.key(), on_result=report)
        # Unchanged files: show what was recorded when they were ingested.
        recorded = national.submissions_frame(con).set_index(["force_code", "sha256"])
        unchanged = [r.force_code for r in results if r.outcome == "unchanged"]
        quarantine = con.execute(
            "SELECT force_code, field, reason, value FROM quarantine "
            "WHERE list_contains($forces, force_code)", {"forces": unchanged}).df()
    accepted = [f"{r.force_code} ({r.rows_read} read, {r.rows_stored} stored, "
                f"{r.rows_quarantined} quarantined)" for r in results if r.outcome == "accepted"]
    if accepted:
        context.log.info(f"{len(accepted)} new return(s) accepted: {'; '.join(accepted)}")
    for r in results:
        if r.outcome == "unchanged" and (r.force_code, r.sha256) in recorded.index:
            row = recorded.loc[(r.force_code, r.sha256)]
            r.error = row["error"] if isinstance(row["error"], str) else None
            if r.status == "accepted":
                r.rows_read = int(row["rows_read"])
                r.rows_stored = int(row["rows_stored"])
                r.rows_quarantined = int(row["rows_quarantined"])
                r.sheets = _listed(row["sheets"])
                r.extra_columns = _listed(row["extra_columns"])
                r.reason_counts = reason_counts(
                    quarantine[quarantine["force_code"] == r.force_code])

    # Folders that are not a force code, and files outside any force's folder: reported,
    # never ingested.
    scan = scan_landing(landing.root(), force_codes())
    for folder in scan.unknown_folders:
        context.log.warning(f"landing folder {folder!r} is not a force code: not ingested")
    for name in scan.stray_files:
        context.log.warning(f"{name!r} is not in a force's folder: not ingested")

    # Each force's partition shows that force's own counts, in a run over many forces
    # as in a run over one.
    for r in results:
        context.add_asset_metadata(_force_metadata(r), partition_key=r.force_code)
    if len(results) > 1:
        context.log.info("forces in this run:\n" + markdown_table(_summary(results), 60))
    metadata: dict[str, object] = {}
    if scan.unknown_folders or scan.stray_files:
        metadata["not ingested (unknown folders, stray files)"] = ", ".join(
            scan.unknown_folders + scan.stray_files)
    return dg.MaterializeResult(metadata=metadata)


def _listed(text: object) -> list[str]:
    return [t for t in str(text).split(", ") if t] if isinstance(text, str) else []


@dg.asset_check(asset=force_returns, blocking=True)
def rows_conserved(store: NationalStore) -> dg.AssetCheckResult:
    """Every data row of every current return is either stored or quarantined.

    Checked against the store itself, per force: rows read = rows stored + rows
    quarantined, and the cases and quarantine tables hold exactly those rows.
    """
    with store.reader() as con:
        frame = con.execute("""
            SELECT s.force_code, s.file_name, s.rows_read, s.rows_stored,
                   s.rows_quarantined,
                   (SELECT count(*) FROM cases c WHERE c.force_code = s.force_code)
                       AS cases_in_store,
                   (SELECT count(DISTINCT (q.sheet, q.row_number)) FROM quarantine q
                    WHERE q.force_code = s.force_code) AS rows_in_quarantine
            FROM submissions s WHERE s.status = 'accepted' ORDER BY s.force_code
        """).df()
    broken = frame[
        (frame["rows_read"] != frame["rows_stored"] + frame["rows_quarantined"])
        | (frame["cases_in_store"] != frame["rows_stored"])
        | (frame["rows_in_quarantine"] != frame["rows_quarantined"])
    ]
    return dg.AssetCheckResult(
        passed=broken.empty,
        metadata={
            "forces checked": len(frame),
            "rows read": int(frame["rows_read"].sum()) if len(frame) else 0,
            "rows stored": int(frame["rows_stored"].sum()) if len(frame) else 0,
            "rows quarantined": int(frame["rows_quarantined"].sum()) if len(frame) else 0,
            "forces not conserved": dg.MetadataValue.md(markdown_table(broken)),
        },
    )


@dg.asset_check(asset=force_returns)
def no_refused_returns(store: NationalStore) -> dg.AssetCheckResult:
    """Warns when a force's newest file was refused (its previous return stays in use)."""
    with store.reader() as con:
        refused = queries.refused_newest(con)
    return dg.AssetCheckResult(
        passed=refused.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "forces with a refused newest file": len(refused["force_code"].unique()),
            "refused files": dg.MetadataValue.md(markdown_table(refused)),
        },
    )
