"""Linear programming for disclosure control: attacking a pattern, and repairing it.

An attacker who sees the published cells of linked additive tables can bound every
withheld cell by linear programming: minimise and maximise the cell subject to all
the additive constraints, the published cells fixed at their values and the withheld
cells within what a reader may assume ([0, inf) for counts). That interval is what the
audit checks (``audit_cells``), for the public and for every insider (a force that knows
its own cells exactly).

Secondary suppression (``protect_cells``) repairs a pattern whose intervals are too
narrow: for a cell that needs its upper bound raised by m, it finds the cheapest
*deviation pattern* y (a change to the table that keeps every constraint: A·y = 0)
with y_cell = m, that moves no cell the attacker knows, keeps every cell within its
bounds, and moves as few published cells as possible; withholding the cells y moves
makes the cell's interval reach v + m, because v + y is a table the attacker cannot
rule out. This is the classic Fischetti-Salazar approach also used by tau-Argus
("optimal") and sdcTable. Rounds of audit-then-repair continue until the audit passes;
then secondary cells that turn out not to be needed are published again, largest first.

Both problems are solved with HiGHS through one model per task whose bounds and costs
are changed between solves (never rebuilt), over *deviations* from the true table
(y = x - v, split as y = p - q with p, q >= 0). The deviation form keeps every solution
close to the true table, so the solution that attains a bound for the public (its
*witness*) usually moves only a few cells: if it moves no cell a given insider knows,
the insider's bound is the same and needs no LP of its own. That is what keeps the
insider audit of 44 forces fast.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np
import pandas as pd

from vawg_pipeline.disclosure.problem import OUTSIDER, Line, LinkedCells, Protection

_INF = highspy.kHighsInf
_WITHHELD_COST = 1e-4
"""LP cost of moving a cell that is already withheld: nearly free, so repairs reuse the
existing pattern, but not zero, so the patterns found stay small."""

UP, DOWN = 0, 1
"""Directions of a bound: the maximum (hi) and the minimum (lo) of a cell."""


@dataclass
class EngineStats:
    """What the engine did, for the audit summary and the performance log."""

    lps_solved: int = 0
    patterns_solved: int = 0
    rounds: int = 0
    redundant_published: int = 0
    seconds: float = 0.0


class _DeviationModel:
    """One HiGHS LP over the deviations p, q >= 0 (x = v + p - q) of every cell.

    A cell that is published, or known to the attacker, is fixed (p = q = 0); a free
    cell may move within its bounds (p <= upper - v, q <= v - lower). All rows are the
    additive constraints with right-hand side 0, since the true table satisfies them.
    """

    def __init__(self, cells: LinkedCells, stats: EngineStats) -> None:
        self.n = cells.n
        self.stats = stats
        values = cells.values
        self.room_up = np.asarray(cells.upper - values, dtype=float)
        self.room_down = np.maximum(values - cells.lower, 0.0)
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("presolve", "off")  # presolve would defeat warm starts
        self.h.setOptionValue("threads", 1)

        ncol = 2 * self.n
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for r, constraint in enumerate(cells.constraints):
            for cell, coef in zip(constraint.cells, constraint.coefficients, strict=True):
                rows += [r, r]
                cols += [2 * cell, 2 * cell + 1]
                vals += [coef, -coef]
        nrow = len(cells.constraints)
        lp = highspy.HighsLp()
        lp.num_col_ = ncol
        lp.num_row_ = nrow
        lp.col_cost_ = np.zeros(ncol)
        lp.col_lower_ = np.zeros(ncol)
        lp.col_upper_ = np.zeros(ncol)
        lp.row_lower_ = np.zeros(nrow)
        lp.row_upper_ = np.zeros(nrow)
        order = np.lexsort((np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)))
        col_index = np.asarray(cols, dtype=np.int64)[order]
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.searchsorted(col_index, np.arange(ncol + 1)).astype(np.int32)
        lp.a_matrix_.index_ = np.asarray(rows, dtype=np.int32)[order]
        lp.a_matrix_.value_ = np.asarray(vals, dtype=float)[order]
        lp.a_matrix_.num_col_ = ncol
        lp.a_matrix_.num_row_ = nrow
        self.h.passModel(lp)
        self.col_upper = np.zeros(ncol)
        self.col_lower = np.zeros(ncol)
        self.col_cost = np.zeros(ncol)

    # -- configuration -------------------------------------------------------------
    def _apply_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
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

    def free_bounds(self, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Column bounds letting the cells in ``free`` move, fixing all others."""
        upper = np.zeros(2 * self.n)
        upper[0::2] = np.where(free, self.room_up, 0.0)
        upper[1::2] = np.where(free, self.room_down, 0.0)
        return np.zeros(2 * self.n), upper

    def set_free(self, free: np.ndarray) -> None:
        self._apply_bounds(*self.free_bounds(free))

    # -- solving ---------------------------------------------------------------------
    def _run(self) -> highspy.HighsModelStatus:
        self.h.run()
        self.stats.lps_solved += 1
        return self.h.getModelStatus()

    def _deviation(self, columns: np.ndarray) -> np.ndarray:
        return columns[0::2] - columns[1::2]

    def extreme(self, cell: int, direction: int) -> tuple[float, np.ndarray]:
        """Largest (UP) or smallest (DOWN) deviation of ``cell`` under the current bounds.

        Returns the deviation (inf when unbounded) and the witness: the cells moved by
        a solution (or unbounded ray) attaining it.
        """
        sign = -1.0 if direction == UP else 1.0  # HiGHS minimises
        costs = np.zeros(2 * self.n)
        costs[2 * cell] = sign
        costs[2 * cell + 1] = -sign
        self._apply_costs(costs)
        status = self._run()
        if status == highspy.HighsModelStatus.kOptimal:
            y = self._deviation(np.asarray(self.h.getSolution().col_value))
            return float(y[cell]), _support(y)
        if (
            status
            in (
                highspy.HighsModelStatus.kUnbounded,
                highspy.HighsModelStatus.kUnboundedOrInfeasible,
            )
            and direction == UP
        ):
            return np.inf, self._ray_witness(cell)
        problem = self.h.modelStatusToString(status)
        raise RuntimeError(f"HiGHS could not bound cell {cell}: {problem}")

    def _ray_witness(self, cell: int) -> np.ndarray:
        """The cells moved by an unbounded direction that raises ``cell``."""
        _, has_ray, ray = self.h.getPrimalRay()
        if has_ray:
            y = self._deviation(np.asarray(ray))
            if y[cell] > 0:
                return _support(y)
        # Fallback: an unbounded direction lies in the recession cone (cells free to
        # rise without limit rise, nothing falls); capping it at 1 makes it an LP.
        lower, upper = self.col_lower.copy(), self.col_upper.copy()
        capped = np.zeros_like(upper)
        capped[0::2] = np.where(np.isinf(upper[0::2]), 1.0, 0.0)
        self._apply_bounds(np.zeros_like(lower), capped)
        try:
            status = self._run()
            if status != highspy.HighsModelStatus.kOptimal:
                raise RuntimeError("HiGHS found no unbounded direction for an unbounded LP")
            y = self._deviation(np.asarray(self.h.getSolution().col_value))
            return _support(y)
        finally:
            self._apply_bounds(lower, upper)

    def pattern(
        self,
        cell: int,
        direction: int,
        magnitude: float,
        free: np.ndarray,
        cell_costs: np.ndarray,
    ) -> np.ndarray | None:
        """The cheapest deviation moving ``cell`` by ``magnitude`` up or down, moving
        only ``free`` cells; returns the cells it moves, or None if there is none."""
        lower, upper = self.free_bounds(free)
        col = 2 * cell + (0 if direction == UP else 1)
        other = 2 * cell + (1 if direction == UP else 0)
        lower[col] = upper[col] = magnitude
        lower[other] = upper[other] = 0.0
        self._apply_bounds(lower, upper)
        costs = np.repeat(cell_costs, 2)
        costs[2 * cell] = costs[2 * cell + 1] = 0.0
        self._apply_costs(costs)
        self.stats.patterns_solved += 1
        status = self._run()
        if status == highspy.HighsModelStatus.kOptimal:
            y = self._deviation(np.asarray(self.h.getSolution().col_value))
            return _support(y, scale=magnitude)
        if status in (
            highspy.HighsModelStatus.kInfeasible,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return None
        raise RuntimeError(f"HiGHS failed on a pattern: {self.h.modelStatusToString(status)}")


def _support(y: np.ndarray, scale: float = 1.0) -> np.ndarray:
    return np.flatnonzero(np.abs(y) > 1e-7 * max(1.0, abs(scale)))


# ---------------------------------------------------------------------------------------
# Requirements and their check
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """What one withheld cell needs against one attacker, after capping by what the
    attacker knows regardless of publication (its a-priori interval)."""

    upper: float  # hi >= v + upper
    lower: float  # lo <= v - lower
    sliding: float  # hi - lo >= sliding
    not_exact: bool  # hi - lo > 0
    room_up: float  # how far the cell can go up at all (a-priori hi - v)
    room_down: float  # how far down (v - a-priori lo)

    def satisfied(self, value: float, lo: float, hi: float, tol: float) -> bool:
        return (
            hi >= value + self.upper - tol
            and lo <= value - self.lower + tol
            and hi - lo >= self.sliding - tol
            and (not self.not_exact or hi - lo > tol)
        )


@dataclass
class AttackResult:
    """Every withheld cell's interval for every attacker, and whether all is safe.

    intervals: one row per (withheld cell, attacker that does not know it): cell (index),
        attacker (name), lo, hi (absolute, hi may be inf), width, required (the width
        the cell needed, after capping by the attacker's own knowledge), ok.
    """

    intervals: pd.DataFrame
    withheld: np.ndarray
    stats: EngineStats

    @property
    def passed(self) -> bool:
        return bool(self.intervals["ok"].all())

    def violations(self) -> pd.DataFrame:
        return self.intervals[~self.intervals["ok"]]

    def interval(self, cell: int, attacker: str = OUTSIDER) -> tuple[float, float]:
        """(lo, hi) of one cell for one attacker."""
        rows = self.intervals[
            (self.intervals["cell"] == cell) & (self.intervals["attacker"] == attacker)
        ]
        if rows.empty:
            raise KeyError(f"cell {cell} is not withheld, or is known to {attacker}")
        return float(rows["lo"].iloc[0]), float(rows["hi"].iloc[0])


class _Attack:
    """The state of an attack on one suppression pattern: every interval and witness.

    Intervals are kept per attacker in dense arrays (NaN where not evaluated: a cell
    that is published or that the attacker knows). Witnesses (the cells moved by the
    solution attaining a bound) are kept for the outsider for every bound, and for an
    insider only where the insider needed its own LP; elsewhere the insider's bound is
    the outsider's and so is its witness.
    """

    def __init__(
        self,
        cells: LinkedCells,
        protection: Protection,
        model: _DeviationModel,
        tol: float,
    ) -> None:
        self.cells = cells
        self.protection = protection
        self.model = model
        self.tol = tol
        self.names = cells.attacker_names()
        self.known = np.stack([cells.known_by(a) for a in self.names])
        self.nattack = len(self.names)
        self.apriori: dict[tuple[int, int], tuple[float, float]] = {}
        self.withheld = np.zeros(cells.n, dtype=bool)
        self.bounds = np.full((2, self.nattack, cells.n), np.nan)  # [UP]=hi dev, [DOWN]=lo dev
        self.witness: list[dict[tuple[int, int], np.ndarray]] = [{} for _ in range(self.nattack)]

    # -- evaluation --------------------------------------------------------------
    def evaluate(self, withheld: np.ndarray) -> None:
        """Compute every interval of every withheld cell for every attacker."""
        self.withheld = withheld.copy()
        self.bounds[:] = np.nan
        self.witness = [{} for _ in range(self.nattack)]
        self.model.set_free(withheld)
        for cell in np.flatnonzero(withheld):
            for direction in (UP, DOWN):
                dev, wit = self.model.extreme(int(cell), direction)
                self.bounds[direction, 0, cell] = dev
                self.witness[0][(int(cell), direction)] = wit
        if self.nattack == 1:
            return
        # Which insiders does each outsider witness touch (moves a withheld cell the
        # insider knows)? Only those need an LP of their own for that bound.
        known_withheld = self.known & withheld
        pending: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for key, wit in self.witness[0].items():
            if wit.size:
                for a in np.flatnonzero(known_withheld[:, wit].any(axis=1)):
                    if not self.known[a, key[0]]:
                        pending[int(a)].append(key)
        for a in range(1, self.nattack):
            targets = withheld & ~self.known[a]
            self.bounds[:, a, targets] = self.bounds[:, 0, targets]
            if pending.get(a):
                self.model.set_free(withheld & ~self.known[a])
                for cell, direction in pending[a]:
                    dev, wit = self.model.extreme(cell, direction)
                    self.bounds[direction, a, cell] = dev
                    self.witness[a][(cell, direction)] = wit

    def witness_of(self, a: int, cell: int, direction: int) -> np.ndarray:
        own = self.witness[a].get((cell, direction))
        return own if own is not None else self.witness[0][(cell, direction)]

    # -- requirements --------------------------------------------------------------
    def _apriori_interval(self, a: int, cell: int) -> tuple[float, float]:
        """What attacker ``a`` can tell about ``cell`` whatever is published: the
        deviation interval with only its own knowledge (and must-publish cells) fixed."""
        key = (a, cell)
        if key not in self.apriori:
            restore = self.model.col_lower.copy(), self.model.col_upper.copy()
            self.model.set_free(~self.known[a] & ~self.cells.must_publish)
            hi, _ = self.model.extreme(cell, UP)
            lo, _ = self.model.extreme(cell, DOWN)
            self.model._apply_bounds(*restore)
            self.apriori[key] = (lo, hi)
        return self.apriori[key]

    def requirement(self, a: int, cell: int, capped: bool) -> Requirement:
        """The requirement of ``cell`` against attacker ``a`` (in deviations from the
        true value); ``capped`` limits it to what the attacker's own knowledge allows."""
        p = self.protection
        if capped:
            lo, hi = self._apriori_interval(a, cell)
            room_up, room_down = hi, -lo
        else:
            room_up = float(self.model.room_up[cell])
            room_down = float(self.model.room_down[cell])
        return Requirement(
            upper=min(float(p.upper[cell]), room_up),
            lower=min(float(p.lower[cell]), room_down),
            sliding=min(float(p.sliding[cell]), room_up + room_down),
            not_exact=room_up + room_down > self.tol,
            room_up=room_up,
            room_down=room_down,
        )

    def _uncapped_ok(self, hi: np.ndarray, lo: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Vectorised check of the uncapped requirements (deviations)."""
        p, tol = self.protection, self.tol
        room_up = self.model.room_up[cells]
        room_down = self.model.room_down[cells]
        upper = np.minimum(p.upper[cells], room_up)
        lower = np.minimum(p.lower[cells], room_down)
        sliding = np.minimum(p.sliding[cells], room_up + room_down)
        with np.errstate(invalid="ignore"):
            width = hi - lo
            return (
                (hi >= upper - tol)
                & (lo <= -lower + tol)
                & (width >= sliding - tol)
                & ((width > tol) | (room_up + room_down <= tol))
            )

    def check(self, a: int, cell: int, lo: float, hi: float) -> tuple[bool, Requirement]:
        """Is ``cell`` safe against attacker ``a`` given its deviation interval?"""
        req = self.requirement(a, cell, capped=False)
        if req.satisfied(0.0, lo, hi, self.tol):
            return True, req
        req = self.requirement(a, cell, capped=True)
        return req.satisfied(0.0, lo, hi, self.tol), req

    def _evaluated(self, a: int) -> np.ndarray:
        return np.flatnonzero(self.withheld & ~self.known[a])

    def failures(self) -> list[tuple[int, int, Requirement]]:
        """Every (attacker, cell) that is not safe, outsider first, then by cell."""
        result = []
        for a in range(self.nattack):
            cells = self._evaluated(a)
            hi, lo = self.bounds[UP, a, cells], self.bounds[DOWN, a, cells]
            for k in np.flatnonzero(~self._uncapped_ok(hi, lo, cells)):
                ok, req = self.check(a, int(cells[k]), float(lo[k]), float(hi[k]))
                if not ok:
                    result.append((a, int(cells[k]), req))
        return result

    def interval_arrays(self) -> dict[str, np.ndarray]:
        """Every evaluated interval as flat arrays (absolute values, not deviations)."""
        values = self.cells.values
        parts: dict[str, list[np.ndarray]] = defaultdict(list)
        p = self.protection
        for a in range(self.nattack):
            cells = self._evaluated(a)
            hi, lo = self.bounds[UP, a, cells], self.bounds[DOWN, a, cells]
            ok = self._uncapped_ok(hi, lo, cells)
            required = np.maximum(p.sliding[cells], p.upper[cells] + p.lower[cells])
            for k in np.flatnonzero(~ok):
                good, req = self.check(a, int(cells[k]), float(lo[k]), float(hi[k]))
                ok[k] = good
                required[k] = max(req.sliding, req.upper + req.lower)
            parts["cell"].append(cells)
            parts["attacker"].append(np.full(cells.size, a))
            parts["lo"].append(values[cells] + lo)
            parts["hi"].append(values[cells] + hi)
            parts["required"].append(required)
            parts["ok"].append(ok)
        return {k: np.concatenate(v) if v else np.array([]) for k, v in parts.items()}

    # -- publishing a withheld cell again --------------------------------------------
    def try_publish(self, cell: int) -> bool:
        """Publish ``cell`` if every other withheld cell stays safe for every attacker;
        update the intervals and witnesses if so. Only bounds whose witness moved
        ``cell`` can change, so only those are solved again."""
        withheld = self.withheld.copy()
        withheld[cell] = False
        new: dict[tuple[int, int, int], tuple[float, np.ndarray]] = {}

        # The public first: re-solve every bound whose witness moves the cell.
        redo0 = [
            key
            for key, wit in self.witness[0].items()
            if key[0] != cell and withheld[key[0]] and _contains(wit, cell)
        ]
        if redo0:
            self.model.set_free(withheld)
            for c, direction in redo0:
                new[(0, c, direction)] = self.model.extreme(c, direction)
        if not self._still_safe(0, {c for c, _ in redo0}, new):
            return False

        known_withheld = self.known & withheld
        for a in range(1, self.nattack):
            redo: dict[tuple[int, int], None] = {}
            touched: set[int] = set()
            for (c, direction), wit in self.witness[a].items():
                if c != cell and withheld[c] and _contains(wit, cell):
                    redo[(c, direction)] = None  # its own witness moved the cell
            for c, direction in redo0:
                if self.known[a, c] or (c, direction) in redo:
                    continue
                if (c, direction) in self.witness[a]:
                    continue  # its own witness does not move the cell: still stands
                dev, wit = new[(0, c, direction)]
                if wit.size and known_withheld[a, wit].any():
                    redo[(c, direction)] = None
                else:
                    new[(a, c, direction)] = (dev, wit)  # the public's bound holds
                    touched.add(c)
            if redo:
                self.model.set_free(withheld & ~self.known[a])
                for c, direction in redo:
                    new[(a, c, direction)] = self.model.extreme(c, direction)
                    touched.add(c)
            if not self._still_safe(a, touched, new):
                return False

        # Commit.
        self.withheld = withheld
        self.bounds[:, :, cell] = np.nan
        for a in range(self.nattack):
            self.witness[a].pop((cell, UP), None)
            self.witness[a].pop((cell, DOWN), None)
        for (a, c, direction), (dev, wit) in new.items():
            self.bounds[direction, a, c] = dev
            public_witness = new.get((0, c, direction), (0.0, None))[1]
            if a == 0 or (c, direction) in self.witness[a] or wit is not public_witness:
                self.witness[a][(c, direction)] = wit
        return True

    def _still_safe(
        self,
        a: int,
        cells: Iterable[int],
        new: dict[tuple[int, int, int], tuple[float, np.ndarray]],
    ) -> bool:
        for c in cells:
            hi = new.get((a, c, UP), (self.bounds[UP, a, c], None))[0]
            lo = new.get((a, c, DOWN), (self.bounds[DOWN, a, c], None))[0]
            if not self.check(a, c, float(lo), float(hi))[0]:
                return False
        return True


def _contains(sorted_cells: np.ndarray, cell: int) -> bool:
    pos = np.searchsorted(sorted_cells, cell)
    return bool(pos < sorted_cells.size and sorted_cells[pos] == cell)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all(a == b))


def _tolerance(cells: LinkedCells) -> float:
    scale = float(cells.values.max()) if cells.n else 1.0
    return 1e-6 * max(1.0, scale)


# ---------------------------------------------------------------------------------------
# Public generic API
# ---------------------------------------------------------------------------------------


def audit_cells(cells: LinkedCells, withheld: np.ndarray, protection: Protection) -> AttackResult:
    """Attack a suppression pattern: every withheld cell's interval for the outsider
    and every insider, and whether each meets its requirement."""
    started = time.perf_counter()
    stats = EngineStats()
    withheld = np.asarray(withheld, dtype=bool)
    attack = _Attack(cells, protection, _DeviationModel(cells, stats), _tolerance(cells))
    attack.evaluate(withheld)
    arrays = attack.interval_arrays()
    frame = pd.DataFrame(
        {
            "cell": arrays["cell"].astype(np.int64),
            "attacker": [attack.names[int(a)] for a in arrays["attacker"]],
            "lo": arrays["lo"].astype(float),
            "hi": arrays["hi"].astype(float),
        }
    )
    frame["width"] = frame["hi"] - frame["lo"]
    frame["required"] = arrays["required"].astype(float)
    frame["ok"] = arrays["ok"].astype(bool)
    stats.seconds = time.perf_counter() - started
    return AttackResult(intervals=frame, withheld=withheld.copy(), stats=stats)


@dataclass
class SuppressionResult:
    """A protected pattern: the withheld cells and why.

    withheld: every withheld cell.
    line: cells withheld by the single-non-zero-line rule.
    secondary: cells withheld only to protect others.
    unresolved: (attacker, cell) pairs that could not be made safe (empty on success).
    """

    withheld: np.ndarray
    line: np.ndarray
    secondary: np.ndarray
    stats: EngineStats
    unresolved: list[tuple[str, int]] = field(default_factory=list)


class LineRule:
    """A line whose only non-zero part is withheld must withhold another part, or its
    published zeros would tell that everyone in the line is in the withheld part."""

    def __init__(self, cells: LinkedCells, lines: Sequence[Line]) -> None:
        self.values = cells.values
        self.allowed = ~cells.must_publish
        self.lines = [np.asarray(line.parts, dtype=np.int64) for line in lines]
        self.lines = [parts for parts in self.lines if parts.size > 1]
        self.lines_of: dict[int, list[int]] = defaultdict(list)
        for k, parts in enumerate(self.lines):
            for cell in parts:
                self.lines_of[int(cell)].append(k)

    def breached(self, parts: np.ndarray, withheld: np.ndarray) -> bool:
        nonzero = parts[self.values[parts] > 0]
        if nonzero.size != 1 or not withheld[nonzero[0]]:
            return False
        return not withheld[parts[parts != nonzero[0]]].any()

    def additions(self, withheld: np.ndarray) -> np.ndarray:
        """Cells to withhold so that no line breaches the rule: greedily the cell that
        mends most lines, then the first in cell order (all candidates are zeros)."""
        needs = []
        for parts in self.lines:
            if self.breached(parts, withheld):
                nonzero = parts[self.values[parts] > 0][0]
                candidates = parts[(parts != nonzero) & self.allowed[parts]]
                if candidates.size:
                    needs.append(set(candidates.tolist()))
        added = np.zeros(len(self.values), dtype=bool)
        while needs:
            coverage: dict[int, int] = defaultdict(int)
            for need in needs:
                for cell in need:
                    coverage[cell] += 1
            best = min(coverage, key=lambda c: (-coverage[c], c))
            added[best] = True
            needs = [need for need in needs if best not in need]
        return added

    def publishing_breaches(self, cell: int, withheld: np.ndarray) -> bool:
        """Would publishing ``cell`` make one of its lines breach the rule?"""
        trial = withheld.copy()
        trial[cell] = False
        return any(self.breached(self.lines[k], trial) for k in self.lines_of.get(cell, []))


def protect_cells(
    cells: LinkedCells,
    protection: Protection,
    initial: np.ndarray | None = None,
    *,
    lines: Sequence[Line] | None = None,
    start: np.ndarray | None = None,
    remove_redundant: bool = True,
    max_rounds: int = 100,
) -> SuppressionResult:
    """Secondary suppression: withhold more cells until every withheld cell is safe
    against every attacker, at the least cost (fewest cells, then least value).

    protection: requirements of the primary cells (every cell with a requirement is
        withheld from the start, and stays withheld).
    initial: further cells withheld from the start that stay withheld (for example
        cells a rule withholds); they, like the secondaries, need only not be exactly
        derivable.
    lines: if given, the single-non-zero-line rule is applied to them throughout.
    start: cells withheld from the start that may be published again if redundant.
    """
    started = time.perf_counter()
    stats = EngineStats()
    primary = protection.has_requirement()
    withheld = primary.copy()
    if initial is not None:
        withheld |= np.asarray(initial, dtype=bool)
    fixed = withheld.copy()  # never published again by the redundancy pass
    if start is not None:
        withheld |= np.asarray(start, dtype=bool)
    line_rule = LineRule(cells, lines) if lines else None
    line_cells = np.zeros(cells.n, dtype=bool)
    tol = _tolerance(cells)
    attack = _Attack(cells, protection, _DeviationModel(cells, stats), tol)
    pattern_model = _DeviationModel(cells, stats)

    def apply_line_rule() -> bool:
        if line_rule is None:
            return False
        added = line_rule.additions(withheld) & ~withheld
        withheld[added] = True
        fixed[added] = True
        line_cells[added] = True
        return bool(added.any())

    # Cost of withholding: fewest cells first, then least information (the cell's cost,
    # by default its value). The LP cost is per unit of deviation.
    base_costs = 1.0 + cells.cost / (float(cells.cost.sum()) + 1.0)

    def repair(a: int, cell: int, req: Requirement, lo: float, hi: float) -> bool:
        """Withhold the cells of the cheapest patterns that make ``cell`` safe against
        attacker ``a`` (lo, hi: its current deviation interval). False if none exists."""
        up_needed = max(req.upper, req.sliding - max(-lo, 0.0))
        up = up_needed if hi < up_needed - tol else 0.0
        down = req.lower if lo > -req.lower + tol else 0.0
        if up > req.room_up + tol:  # cannot go that far up: take the rest downwards
            up = req.room_up
            down = max(down, req.sliding - up)
        down = min(down, req.room_down)
        if req.not_exact and up <= tol and down <= tol and hi - lo <= tol:
            if req.room_up > tol:
                up = min(1.0, req.room_up)
            else:
                down = min(1.0, req.room_down)
        free = ~attack.known[a] & ~cells.must_publish
        costs = np.where(withheld, _WITHHELD_COST, base_costs)
        found = True
        for direction, magnitude in ((UP, up), (DOWN, down)):
            if magnitude <= tol:
                continue
            support = pattern_model.pattern(cell, direction, magnitude, free, costs)
            if support is None:
                found = False
            else:
                withheld[support] = True
        return found

    apply_line_rule()
    # Round 0: one pattern per primary cell against the public, without auditing
    # first (the pattern LP finds a free pattern when a cell is already safe).
    for cell in np.flatnonzero(primary):
        repair(0, int(cell), attack.requirement(0, int(cell), capped=False), 0.0, 0.0)

    for _ in range(max_rounds):
        stats.rounds += 1
        attack.evaluate(withheld)
        failures = attack.failures()
        if not failures:
            if apply_line_rule():
                continue  # newly withheld line cells need their own protection
            break
        before = int(withheld.sum())
        for a, cell, req in failures:
            lo = float(attack.bounds[DOWN, a, cell])
            hi = float(attack.bounds[UP, a, cell])
            repair(a, cell, req, lo, hi)
        if int(withheld.sum()) == before:
            break  # no progress: what remains cannot be repaired
    else:
        attack.evaluate(withheld)

    failures = attack.failures()
    if remove_redundant and not failures:
        candidates = np.flatnonzero(attack.withheld & ~fixed)
        # Publish the most informative cells first: highest cost (value), then index.
        for cell in sorted(candidates.tolist(), key=lambda c: (-float(cells.cost[c]), c)):
            if line_rule is not None and line_rule.publishing_breaches(cell, attack.withheld):
                continue
            if attack.try_publish(int(cell)):
                stats.redundant_published += 1
        withheld = attack.withheld.copy()

    stats.seconds = time.perf_counter() - started
    return SuppressionResult(
        withheld=withheld,
        line=line_cells,
        secondary=withheld & ~fixed,
        stats=stats,
        unresolved=[(attack.names[a], c) for a, c, _ in failures],
    )


__all__ = [
    "OUTSIDER",
    "AttackResult",
    "EngineStats",
    "Requirement",
    "SuppressionResult",
    "audit_cells",
    "protect_cells",
]
