"""The HiGHS linear programs behind the audit and the secondary suppression.

Every LP here is over *deviations* from the true table: y = x - v, split as
y = p - q with p, q >= 0, so that x = v + y. The true table satisfies every additive
constraint, so every row is ``A y = 0``; a published cell, or one the attacker knows,
is fixed at y = 0; a withheld cell may move within its bounds
(p <= upper - v, q <= v - lower). Two things follow:

- the solution found is itself a *certificate*: a table v + y that satisfies
  everything an attacker knows, so the attacker cannot rule out that the cell is
  v + y_cell. The engine keeps these to avoid solving again what they already prove;
- a model can be reduced to the withheld cells alone (published cells never move),
  which makes the audit's LPs small.

One model is built per task and re-solved many times, changing only bounds and costs,
as HiGHS does best. Each bound is solved from the all-zero basis (the true table), so
solutions stay near the truth and move few cells.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import highspy
import numpy as np

from vawg_pipeline.disclosure.problem import LinkedCells

_INF = highspy.kHighsInf
UP, DOWN = 0, 1
"""Directions: the largest (UP) and the smallest (DOWN) value of a cell."""

_ZERO = 1e-9
"""Deviations smaller than this are taken as no move at all."""


def _new_highs() -> highspy.Highs:
    """A HiGHS instance; the first one prints a licence banner to stdout, so hush it."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        return highspy.Highs()
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            instance = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _BANNER_SHOWN = True
    return instance


_BANNER_SHOWN = False


@dataclass
class EngineStats:
    """What the engine did, for the audit summary and the performance log."""

    lps_solved: int = 0
    patterns_solved: int = 0
    rounds: int = 0
    redundant_published: int = 0
    seconds: float = 0.0


@dataclass
class Solution:
    """A deviation vector over all cells, and whether it is an unbounded direction."""

    y: np.ndarray
    ray: bool


class DeviationModel:
    """One HiGHS LP over the deviations of the cells in ``subset`` (default: all).

    Cells outside ``subset`` are treated as fixed (published); all methods take and
    return full-length, full-index vectors.
    """

    def __init__(
        self, cells: LinkedCells, stats: EngineStats, subset: np.ndarray | None = None
    ) -> None:
        self.n = cells.n
        self.stats = stats
        self.cols = np.arange(self.n) if subset is None else np.flatnonzero(subset)
        self.local = np.full(self.n, -1, dtype=np.int64)
        self.local[self.cols] = np.arange(self.cols.size)
        m = self.cols.size
        values = cells.values[self.cols]
        self.room_up = np.asarray(cells.upper[self.cols] - values, dtype=float)
        self.room_down = np.maximum(values - cells.lower[self.cols], 0.0)

        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        nrow = 0
        # Equalities (A y = 0), then relations: sum(a x) <= 0 is, in deviations,
        # sum(a y) <= -sum(a v), the true table's slack (cells outside the model are
        # fixed, so their share of it stays).
        relation_rows: list[int] = []
        relation_slack: list[float] = []
        for constraint, is_relation in [*((c, False) for c in cells.constraints),
                                        *((c, True) for c in cells.relations)]:
            entries = [
                (int(self.local[c]), a)
                for c, a in zip(constraint.cells, constraint.coefficients, strict=True)
                if self.local[c] >= 0
            ]
            if not entries:
                continue
            for k, coef in entries:
                rows += [nrow, nrow]
                cols += [2 * k, 2 * k + 1]
                vals += [coef, -coef]
            if is_relation:
                relation_rows.append(nrow)
                relation_slack.append(-float(np.dot(cells.values[list(constraint.cells)],
                                                    constraint.coefficients)))
            nrow += 1
        self.relation_rows = np.asarray(relation_rows, dtype=np.int32)
        self.relation_slack = np.maximum(np.asarray(relation_slack, dtype=float), 0.0)

        ncol = 2 * m
        lp = highspy.HighsLp()
        lp.num_col_ = ncol
        lp.num_row_ = nrow
        lp.col_cost_ = np.zeros(ncol)
        lp.col_lower_ = np.zeros(ncol)
        lp.col_upper_ = np.zeros(ncol)
        row_lower = np.zeros(nrow)
        row_upper = np.zeros(nrow)
        row_lower[self.relation_rows] = -_INF
        row_upper[self.relation_rows] = self.relation_slack
        lp.row_lower_ = row_lower
        lp.row_upper_ = row_upper
        row_index = np.asarray(rows, dtype=np.int64)
        col_index = np.asarray(cols, dtype=np.int64)
        order = np.lexsort((row_index, col_index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.searchsorted(col_index[order], np.arange(ncol + 1)).astype(
            np.int32
        )
        lp.a_matrix_.index_ = row_index[order].astype(np.int32)
        lp.a_matrix_.value_ = np.asarray(vals, dtype=float)[order]
        lp.a_matrix_.num_col_ = ncol
        lp.a_matrix_.num_row_ = nrow

        self.h = _new_highs()
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("presolve", "off")  # presolve would defeat the re-solves
        self.h.setOptionValue("threads", 1)
        self.h.passModel(lp)
        self.col_lower = np.zeros(ncol)
        self.col_upper = np.zeros(ncol)
        self.col_cost = np.zeros(ncol)

    # -- configuration -----------------------------------------------------------------
    def apply_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Set column bounds (local, 2 per cell), sending only what changed."""
        changed = np.flatnonzero((lower != self.col_lower) | (upper != self.col_upper))
        if changed.size:
            lo = np.where(np.isinf(lower[changed]), -_INF, lower[changed])
            up = np.where(np.isinf(upper[changed]), _INF, upper[changed])
            self.h.changeColsBounds(changed.size, changed.astype(np.int32), lo, up)
            self.col_lower[changed] = lower[changed]
            self.col_upper[changed] = upper[changed]

    def _apply_costs(self, costs: np.ndarray) -> None:
        changed = np.flatnonzero(costs != self.col_cost)
        if changed.size:
            self.h.changeColsCost(changed.size, changed.astype(np.int32), costs[changed])
            self.col_cost[changed] = costs[changed]

    def _free_bounds(
        self, free: np.ndarray, room_down: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        local_free = free[self.cols]
        down = self.room_down if room_down is None else room_down[self.cols]
        upper = np.zeros(2 * self.cols.size)
        upper[0::2] = np.where(local_free, self.room_up, 0.0)
        upper[1::2] = np.where(local_free, down, 0.0)
        return np.zeros(2 * self.cols.size), upper

    def set_free(self, free: np.ndarray, room_down: np.ndarray | None = None) -> None:
        """Let the cells in ``free`` (full mask) move; fix every other cell.

        room_down: how far each cell (full-length) may fall, if not to ``lower``: an
        insider's floors leave it less room.
        """
        self.apply_bounds(*self._free_bounds(free, room_down))

    # -- solving -----------------------------------------------------------------------
    def _run(self, from_truth: bool = True) -> highspy.HighsModelStatus:
        if from_truth:
            self.h.setBasis()  # start from y = 0: short pivots, sparse solutions
        self.h.run()
        self.stats.lps_solved += 1
        return self.h.getModelStatus()

    def _full(self, columns: np.ndarray) -> np.ndarray:
        y = np.zeros(self.n)
        local = columns[0::2] - columns[1::2]
        local[np.abs(local) <= _ZERO * (1.0 + np.abs(local).max(initial=0.0))] = 0.0
        y[self.cols] = local
        return y

    def extreme(
        self, cell: int, direction: int, penalty: np.ndarray | None = None
    ) -> tuple[float, Solution]:
        """Largest (UP) or smallest (DOWN) deviation of ``cell`` under the current
        bounds; inf when unbounded. Returns it with the solution (or ray) attaining it.

        penalty: optional small cost per unit of moving each cell (full-length), to
        steer the solution away from some cells. The value returned is then only a
        bound the solution proves (it may fall short of the extreme).
        """
        k = int(self.local[cell])
        if k < 0:
            raise ValueError(f"cell {cell} is not in this model")
        sign = -1.0 if direction == UP else 1.0  # HiGHS minimises
        if penalty is None:
            costs = np.zeros(2 * self.cols.size)
        else:
            costs = np.repeat(penalty[self.cols], 2)
        costs[2 * k] = sign
        costs[2 * k + 1] = -sign
        self._apply_costs(costs)
        status = self._run()
        if status == highspy.HighsModelStatus.kOptimal:
            y = self._full(np.asarray(self.h.getSolution().col_value))
            return float(y[cell]), Solution(y, ray=False)
        unbounded = (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        )
        if status in unbounded and direction == UP:
            return np.inf, Solution(self._ray(cell), ray=True)
        problem = self.h.modelStatusToString(status)
        raise RuntimeError(f"HiGHS could not bound cell {cell}: {problem}")

    def _ray(self, cell: int) -> np.ndarray:
        """An unbounded direction that raises ``cell``."""
        _, has_ray, ray = self.h.getPrimalRay()
        if has_ray:
            y = self._full(np.asarray(ray))
            rises_unbounded = np.isinf(self.col_upper[0::2])  # p columns free to grow
            local = y[self.cols]
            if y[cell] > 0 and np.all(local >= 0) and np.all(rises_unbounded[local > 0]):
                return y / y[cell]
        # Otherwise find one: an unbounded direction only raises cells free to rise
        # without limit and lowers none; capped at 1 it is the optimum of an LP. A
        # direction keeps every relation with no slack at all (a * d <= 0), or some
        # multiple of it would break one.
        lower, upper = self.col_lower.copy(), self.col_upper.copy()
        capped = np.zeros_like(upper)
        capped[0::2] = np.where(np.isinf(upper[0::2]), 1.0, 0.0)
        self.apply_bounds(np.zeros_like(lower), capped)
        self._relation_slack(np.zeros_like(self.relation_slack))
        try:
            status = self._run()
            y = self._full(np.asarray(self.h.getSolution().col_value))
            if status != highspy.HighsModelStatus.kOptimal or y[cell] <= 0:
                raise RuntimeError("HiGHS found no unbounded direction for an unbounded LP")
            return y / y[cell]
        finally:
            self.apply_bounds(lower, upper)
            self._relation_slack(self.relation_slack)

    def _relation_slack(self, slack: np.ndarray) -> None:
        if self.relation_rows.size:
            self.h.changeRowsBounds(self.relation_rows.size, self.relation_rows,
                                    np.full(self.relation_rows.size, -_INF), slack)

    def pattern(
        self,
        cell: int,
        direction: int,
        magnitude: float,
        free: np.ndarray,
        cell_costs: np.ndarray,
        room_down: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """The cheapest deviation that moves ``cell`` by exactly ``magnitude`` up or
        down, moving only ``free`` cells (each down by at most ``room_down``, if given),
        at ``cell_costs`` per unit moved. None if there is none."""
        k = int(self.local[cell])
        lower, upper = self._free_bounds(free, room_down)
        col = 2 * k + (0 if direction == UP else 1)
        other = 2 * k + (1 if direction == UP else 0)
        lower[col] = upper[col] = magnitude
        lower[other] = upper[other] = 0.0
        self.apply_bounds(lower, upper)
        costs = np.repeat(cell_costs[self.cols], 2)
        costs[2 * k] = costs[2 * k + 1] = 0.0
        self._apply_costs(costs)
        self.stats.patterns_solved += 1
        status = self._run(from_truth=False)
        if status == highspy.HighsModelStatus.kOptimal:
            return self._full(np.asarray(self.h.getSolution().col_value))
        if status in (
            highspy.HighsModelStatus.kInfeasible,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return None
        problem = self.h.modelStatusToString(status)
        raise RuntimeError(f"HiGHS failed on a deviation pattern: {problem}")
