"""The one Dagster ``Definitions`` of vawg-pipeline: assets, checks, resources, jobs,
the nightly schedule and the landing-folder sensor. Loaded by ``dagster dev``
(workspace.yaml), ``dg dev`` ([tool.dg] in pyproject.toml) and ``vawg-pipeline refresh``.
"""

from __future__ import annotations

import contextlib
import gc
import os
from pathlib import Path

import dagster as dg

from vawg_pipeline.defs import alerts, automation, feedback, ingestion, national, publishing
from vawg_pipeline.defs.resources import default_resources

defs = dg.Definitions(
    assets=[ingestion.force_returns, national.national_store, national.analyst_snapshot,
            publishing.published_tables, publishing.published_release,
            feedback.force_feedback],
    asset_checks=[
        ingestion.rows_conserved,
        ingestion.no_refused_returns,
        national.store_conforms_to_contract,
        national.returns_are_fresh,
        publishing.disclosure_audit,
    ],
    jobs=[automation.refresh_job, alerts.daily_notice_job],
    schedules=[automation.nightly_refresh, alerts.daily_notice_schedule],
    sensors=[automation.new_return_sensor, alerts.run_failure_notice],
    resources=default_resources(),
    # One process per run: the store has one writer, the ingestion step uses both cores
    # itself, and a process per step would add seconds for nothing.
    executor=dg.in_process_executor,
)

# The instance's event log holds file names, refusals and log lines: owner-only, even
# where the folder came from a clone (0755) and `dagster dev` made its databases.
if os.environ.get("DAGSTER_HOME"):
    with contextlib.suppress(OSError):  # not ours to change: leave it
        Path(os.environ["DAGSTER_HOME"]).chmod(0o700)

# Everything loaded so far (Dagster, pandas, the definitions) lives as long as the
# process. Frozen, the garbage collector never walks it again: not in the collections a
# run's allocations trigger, nor in the final one at exit, which otherwise costs every
# run ~0.4 s on one core. Objects made later are collected as usual.
gc.freeze()
