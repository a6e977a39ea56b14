"""The audit: proof that the published tables disclose no small count.

For every withheld cell, the audit finds by linear programming the range of values
consistent with everything published, across all the tables at once: the smallest
and the largest the cell can be given every published cell and every additive
relation between the tables. It does so for the public and for every force, which
knows its own figures exactly (an *insider*). The release is safe when:

- no published cell counts 1 to threshold-1 (1 to 4 by default);
- every small withheld cell's range is at least the protection width (5 by default)
  wide for every attacker that does not know it (an unbounded range passes);
- no withheld cell can be worked out exactly by any such attacker;
- a shared cell is withheld in every table it appears in, or in none;
- no line shows zeros around a single withheld non-zero cell (if that rule is on).

The report is published with the tables, so it never contains a withheld cell's
value. The ranges an *insider* can narrow a cell to depend on that force's own
withheld figures, so the published ``cells`` show only whether each insider check
passed; the insiders' ranges are kept in ``detail``, for the pipeline's own logs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vawg_pipeline.disclosure.engine import LineRule, audit_cells
from vawg_pipeline.disclosure.linking import LinkedTables
from vawg_pipeline.disclosure.problem import OUTSIDER, Protection
from vawg_pipeline.disclosure.specs import DisclosureRules, TableSpec
from vawg_pipeline.disclosure.suppression import (
    PRIMARY,
    PRIMARY_LINE,
    SECONDARY,
    link_published_tables,
    primary_cells,
)

REPORT_COLUMNS = ["table_id", "cell", "attacker", "lo", "hi", "width", "ok"]


@dataclass
class AuditReport:
    """The audit's result.

    passed: True when every check holds.
    cells: one row per (table, withheld cell, attacker that does not know the cell):
        table_id, cell ('dim=value, dim=value'), attacker ('outsider' or a force code),
        lo, hi (hi may be inf), width, ok. Safe to publish: for insiders lo, hi and
        width are left empty (NaN), since they would reflect the force's own withheld
        figures; only ``ok`` is given.
    violations: plain-English sentences, one per failed check (empty when passed).
    detail: internal only, never publish: as ``cells`` with the insiders' ranges, the
        width each cell required and the reason it was withheld.
    """

    passed: bool
    cells: pd.DataFrame
    violations: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    lps_solved: int = 0
    seconds: float = 0.0
    detail: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def summary(self) -> dict[str, Any]:
        """Counts per rule, LPs solved and time taken (no cell values)."""
        return {
            "passed": self.passed,
            **self.counts,
            "violations": len(self.violations),
            "lps_solved": self.lps_solved,
            "seconds": round(self.seconds, 3),
        }


def audit(
    tables_with_withheld: Mapping[str, pd.DataFrame],
    specs: Mapping[str, TableSpec],
    rules: DisclosureRules,
    contributions: Mapping[str, pd.DataFrame] | None = None,
) -> AuditReport:
    """Audit tables as ``protect`` returns them (true ``value`` plus ``withheld``),
    with each insider's own contributions to the national tables if given."""
    started = time.perf_counter()
    linked = link_published_tables(tables_with_withheld, specs, rules, contributions)
    cells = linked.cells
    n = cells.n
    tables_of = linked.cell_tables()
    violations: list[str] = []

    # A shared cell published anywhere is published everywhere.
    withheld_somewhere = np.zeros(n, dtype=bool)
    published_somewhere = np.zeros(n, dtype=bool)
    reason = np.full(n, None, dtype=object)
    for table_id in linked.table_order:
        frame = tables_with_withheld[table_id]
        if "withheld" not in frame.columns:
            raise KeyError(f"{table_id}: no 'withheld' column (run protect first)")
        rows = linked.row_cells[table_id]
        flags = frame["withheld"].fillna(False).astype(bool).to_numpy()
        np.logical_or.at(withheld_somewhere, rows, flags)
        np.logical_or.at(published_somewhere, rows, ~flags)
        if "withheld_reason" in frame.columns:
            for cell, why in zip(
                rows[flags], frame["withheld_reason"].to_numpy()[flags], strict=True
            ):
                if reason[cell] is None and isinstance(why, str):
                    reason[cell] = why
    inconsistent = withheld_somewhere & published_somewhere
    for cell in np.flatnonzero(inconsistent):
        violations.append(
            f"{cells.labels[cell]} is withheld in some of {', '.join(tables_of[cell])} "
            "but published in others, so it is published."
        )
    withheld = withheld_somewhere & ~published_somewhere

    small = primary_cells(cells.values, rules)
    published_small = small & ~withheld
    for cell in np.flatnonzero(published_small):
        violations.append(
            f"{cells.labels[cell]} (in {', '.join(tables_of[cell])}) is published but is a "
            f"count between 1 and {rules.threshold - 1}."
        )

    breaches = 0
    if rules.protect_zeros_in_single_nonzero_lines:
        line_rule = LineRule(cells, linked.lines)
        for parts in line_rule.lines:
            if line_rule.breached(parts, withheld):
                breaches += 1
                nonzero = parts[cells.values[parts] > 0][0]
                violations.append(
                    f"The line of {cells.labels[nonzero]} has no other withheld cell, so its "
                    "published zeros show that everyone in the line is in that one category."
                )

    protection = Protection.for_cells(n, small & withheld, sliding=float(rules.protection_width))
    attack = audit_cells(cells, withheld, protection)
    intervals = attack.intervals
    for row in intervals[~intervals["ok"]].itertuples(index=False):
        violations.append(_interval_violation(cells.labels[row.cell], row, tables_of[row.cell]))

    detail = _per_table_rows(linked, intervals, reason)
    public = detail[REPORT_COLUMNS].copy()
    insider = public["attacker"] != OUTSIDER
    public.loc[insider, ["lo", "hi", "width"]] = np.nan

    counts = {
        "tables": len(linked.table_order),
        "cells": n,
        "withheld": int(withheld.sum()),
        PRIMARY: int((withheld & (reason == PRIMARY)).sum()),
        PRIMARY_LINE: int((withheld & (reason == PRIMARY_LINE)).sum()),
        SECONDARY: int((withheld & (reason == SECONDARY)).sum()),
        "published_small": int(published_small.sum()),
        "inconsistent_shared_cells": int(inconsistent.sum()),
        "line_rule_breaches": breaches,
        "attackers": len(cells.attacker_names()),
        "intervals_checked": len(intervals),
        "intervals_failed": int((~intervals["ok"]).sum()),
    }
    return AuditReport(
        passed=not violations,
        cells=public.reset_index(drop=True),
        violations=violations,
        counts=counts,
        lps_solved=attack.stats.lps_solved,
        seconds=time.perf_counter() - started,
        detail=detail.reset_index(drop=True),
    )


def _interval_violation(label: str, row: Any, tables: list[str]) -> str:
    who = (
        "the public"
        if row.attacker == OUTSIDER
        else f"force {row.attacker}, knowing its own figures,"
    )
    where = f"{label} (in {', '.join(tables)})"
    if round(float(row.width), 6) <= 0:
        return f"{where} is withheld but {who} can work it out exactly."
    return (
        f"{where} is withheld but {who} can narrow it to a range only {row.width:g} wide; "
        f"at least {row.required:g} is required."
    )


def _per_table_rows(
    linked: LinkedTables, intervals: pd.DataFrame, reason: np.ndarray
) -> pd.DataFrame:
    """Expand per-cell intervals to one row per table that shows the cell."""
    pieces = []
    for table_id in linked.table_order:
        rows = linked.row_cells[table_id]
        labels = linked.row_labels[table_id]
        first_row: dict[int, int] = {}
        for position, cell in enumerate(rows.tolist()):
            first_row.setdefault(cell, position)
        mapping = pd.DataFrame(
            {
                "cell_index": list(first_row),
                "table_id": table_id,
                "cell": [labels[p] for p in first_row.values()],
                "order": list(first_row.values()),
            }
        )
        pieces.append(mapping)
    where = pd.concat(pieces, ignore_index=True)
    merged = where.merge(intervals.rename(columns={"cell": "cell_index"}), on="cell_index")
    merged["withheld_reason"] = reason[merged["cell_index"].to_numpy()]
    attacker_rank = {name: k for k, name in enumerate(linked.cells.attacker_names())}
    merged["attacker_rank"] = merged["attacker"].map(attacker_rank)
    table_rank = {t: k for k, t in enumerate(linked.table_order)}
    merged["table_rank"] = merged["table_id"].map(table_rank)
    merged = merged.sort_values(["table_rank", "order", "attacker_rank"], kind="stable")
    return merged[[*REPORT_COLUMNS, "required", "withheld_reason", "cell_index"]].reset_index(
        drop=True
    )
