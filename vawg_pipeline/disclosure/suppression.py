"""Suppressing the published tables so that no small count can be read or worked out.

Three kinds of withheld cell, recorded in ``withheld_reason``:

- ``primary``: the cell counts 1 to threshold-1 people or cases (1 to 4 by default),
  Totals included. Publishing it could identify the officers or the victims.
- ``primary-line``: a zero withheld because its line (a row or column with its total)
  has exactly one non-zero cell and that cell is withheld: published zeros would tell
  that everyone in the line falls in the withheld category.
- ``secondary``: a cell withheld only so that the others cannot be worked out from
  the totals, here or in any table sharing cells with this one, by the public or by a
  force that knows its own figures.

The secondary cells are chosen by linear programming (``engine.protect_cells``) over
all the tables at once, fewest cells first, then the smallest counts; the audit in
``audit.py`` proves the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vawg_pipeline.disclosure.engine import EngineStats, protect_cells
from vawg_pipeline.disclosure.linking import LinkedTables, link_tables
from vawg_pipeline.disclosure.problem import Protection
from vawg_pipeline.disclosure.specs import DisclosureRules, TableSpec

PRIMARY = "primary"
PRIMARY_LINE = "primary-line"
SECONDARY = "secondary"


@dataclass
class CellPlan:
    """The suppression decided for every distinct cell of a set of linked tables."""

    linked: LinkedTables
    primary: np.ndarray
    line: np.ndarray
    secondary: np.ndarray
    stats: EngineStats
    unresolved: list[tuple[str, int]]

    @property
    def withheld(self) -> np.ndarray:
        return self.primary | self.line | self.secondary

    def reasons(self) -> np.ndarray:
        """Reason per cell: None, 'primary', 'primary-line' or 'secondary'."""
        reason = np.full(self.linked.cells.n, None, dtype=object)
        reason[self.secondary] = SECONDARY
        reason[self.line] = PRIMARY_LINE
        reason[self.primary] = PRIMARY
        return reason


def link_published_tables(
    tables: Mapping[str, pd.DataFrame],
    specs: Mapping[str, TableSpec],
    rules: DisclosureRules,
    contributions: Mapping[str, pd.DataFrame] | None = None,
) -> LinkedTables:
    """The tables as one linked cell problem under ``rules`` (bounds, insiders, and the
    insiders' own contributions to the national tables, if given)."""
    linked = link_tables(
        tables,
        specs,
        force_dimension=rules.force_dimension if rules.insiders else None,
        withheld_lower_bound=rules.withheld_lower_bound,
        contributions=contributions if rules.insiders else None,
    )
    if not rules.secondary_may_use_zeros:
        # Only the line rule may withhold a zero. If it is off too, readers may assume
        # a withheld cell is at least 1 (withheld_lower_bound), and that holds.
        linked.cells.must_publish = linked.cells.values == 0
    return linked


def primary_cells(values: np.ndarray, rules: DisclosureRules) -> np.ndarray:
    """Cells the primary rule withholds: counts 1 .. threshold-1."""
    return (values >= 1) & (values <= rules.threshold - 1)


def plan_suppression(
    tables: Mapping[str, pd.DataFrame],
    specs: Mapping[str, TableSpec],
    rules: DisclosureRules,
    contributions: Mapping[str, pd.DataFrame] | None = None,
) -> CellPlan:
    """Decide which distinct cells to withhold, and why."""
    linked = link_published_tables(tables, specs, rules, contributions)
    cells = linked.cells
    primary = primary_cells(cells.values, rules)
    # Primary cells need the protection width; every withheld cell, primary or not,
    # must in any case not be exactly derivable (with a width of 0 that is all).
    protection = Protection.for_cells(cells.n, primary, sliding=float(rules.protection_width))
    result = protect_cells(
        cells,
        protection,
        initial=primary,
        lines=linked.lines if rules.protect_zeros_in_single_nonzero_lines else None,
        remove_redundant=rules.remove_redundant,
        max_rounds=rules.max_rounds,
    )
    line = result.line & ~primary
    return CellPlan(
        linked=linked,
        primary=primary,
        line=line,
        secondary=result.withheld & ~primary & ~line,
        stats=result.stats,
        unresolved=result.unresolved,
    )


def protect(
    tables: Mapping[str, pd.DataFrame],
    specs: Mapping[str, TableSpec],
    rules: DisclosureRules,
    contributions: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """Withhold cells of ``tables`` (long form, with the true ``value``) so that every
    small count is protected, across all the tables together.

    Returns copies with two more columns: ``withheld`` (bool) and ``withheld_reason``
    (None, 'primary', 'primary-line' or 'secondary'). ``value`` keeps the true count:
    the publishing step blanks withheld values, and the audit needs the truth.

    contributions: each force's own counts in the tables without the force dimension
    (see ``link_tables``), so no force can use its own figures to narrow a withheld
    national cell.
    """
    return apply_plan(tables, plan_suppression(tables, specs, rules, contributions))


def apply_plan(tables: Mapping[str, pd.DataFrame], plan: CellPlan) -> dict[str, pd.DataFrame]:
    """Copy each table with the plan's ``withheld`` and ``withheld_reason`` columns."""
    reasons = plan.reasons()
    withheld = plan.withheld
    result: dict[str, pd.DataFrame] = {}
    for table_id, frame in tables.items():
        rows = plan.linked.row_cells[table_id]
        out = frame.copy()
        out["withheld"] = withheld[rows].astype(bool)
        out["withheld_reason"] = pd.Series(reasons[rows], index=out.index, dtype=object)
        result[table_id] = out
    return result
