"""Per-force feedback workbooks as an asset: thin wiring around ``vawg_pipeline.feedback``."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from vawg_pipeline.defs.ingestion import OWNERS, STORE_POOL
from vawg_pipeline.defs.metadata import column_schema, markdown_table
from vawg_pipeline.defs.national import national_store
from vawg_pipeline.defs.resources import FeedbackFolder, NationalStore
from vawg_pipeline.feedback import remove_stale_feedback, write_all_feedback
from vawg_pipeline.forces import force_codes

# Beside the store (owner-only), not in the feedback folder: that holds only workbooks.
FEEDBACK_MANIFEST = "feedback_manifest.json"

# The "Rows to fix" sheet every workbook holds (one line per quarantine problem).
ROWS_TO_FIX_SCHEMA = column_schema([
    ("Sheet", "VARCHAR NOT NULL", "Sheet of the force's return holding the row."),
    ("Row", "INTEGER NOT NULL", "Row number as the force's spreadsheet program shows it."),
    ("Field", "VARCHAR NOT NULL", "Canonical field the problem is about."),
    ("Column headings", "VARCHAR NOT NULL", "Headings the force may use for that field."),
    ("Value", "VARCHAR", "The offending value; blank where it is personal data."),
    ("Problem", "VARCHAR NOT NULL", "The problem in plain words."),
    ("How to fix", "VARCHAR NOT NULL", "What to change, from the contract's headings, "
     "accepted values and date forms."),
])


@dg.asset(
    deps=[national_store],
    group_name="national",
    kinds={"excel"},
    owners=OWNERS,
    pool=STORE_POOL,  # reads the store's file, which a writer elsewhere would lock
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10),
    metadata={"dagster/column_schema": ROWS_TO_FIX_SCHEMA},
)
def force_feedback(
    context: dg.AssetExecutionContext, store: NationalStore, feedback: FeedbackFolder
) -> dg.MaterializeResult:
    """A feedback workbook per force (``<force-code>.xlsx``, owner-only) for its PSD team.

    Every quarantined row of the force's current return (sheet, row number, field, the
    problem and how to fix it, worded from the contract), its row counts and file name;
    for a refused newest file, why it could not be read and what to do. Only that force's
    data, never names or notes. Checked with every refresh of the national store, and
    rewritten only for the forces whose inputs changed (or whose workbook is missing or
    altered): the manifest beside the store records what each workbook was made from.
    """
    generated_at = datetime.now(UTC).replace(tzinfo=None)
    manifest = store.store_path().parent / FEEDBACK_MANIFEST
    with store.reader() as con:
        written = write_all_feedback(con, feedback.root(), generated_at, manifest=manifest)
    removed = remove_stale_feedback(feedback.root(), [w.force_code for w in written],
                                    force_codes())
    for code in removed:
        context.log.info(f"{code}: no return any more: feedback workbook removed")
    table = pd.DataFrame([{
        "force": w.force_code, "workbook": w.path.name, "status": w.status,
        "file": w.file_name, "rows read": w.rows_read, "stored": w.rows_stored,
        "quarantined": w.rows_quarantined, "problems listed": w.problems,
        "rewritten": w.rewritten,
    } for w in written])
    return dg.MaterializeResult(metadata={
        # Every force's workbook is now current; "rewritten" says how many were redone.
        "workbooks written": len(written),
        "workbooks rewritten this run": sum(w.rewritten for w in written),
        "workbooks kept (inputs unchanged)": sum(not w.rewritten for w in written),
        "forces with rows to fix": sum(w.problems > 0 for w in written),
        "forces with a refused newest file": sum(w.status == "refused" for w in written),
        "problems listed": sum(w.problems for w in written),
        "workbooks removed": len(removed),
        "folder": dg.MetadataValue.path(str(feedback.root().resolve())),
        "workbooks": dg.MetadataValue.md(markdown_table(table, 60)),
    })
