"""Attacking a suppression pattern, and repairing it, by linear programming.

An attacker who sees the published cells of linked additive tables can bound every
withheld cell by linear programming: minimise and maximise the cell subject to all
the additive constraints, with the published cells fixed at their values and the
withheld cells within what a reader may assume ([0, inf) for counts). That interval
is what the audit checks (``audit_cells``), for the public and for every insider (a
force that knows its own cells exactly, so that they are fixed too).

Secondary suppression (``protect_cells``) repairs a pattern whose intervals are too
narrow. For a cell that must be able to rise by m, it finds the cheapest *deviation
pattern*: a change y to the table that keeps every additive constraint (A·y = 0),
moves the cell by m, moves no cell the attacker knows and keeps every cell within its
bounds, at the least cost in newly withheld cells. Withholding the cells y moves makes
v + y a table the attacker cannot rule out, so the cell's interval reaches v + m. This
is the classic Fischetti-Salazar approach, as in tau-Argus's optimal method and
sdcTable. Rounds of audit-then-repair continue until the audit passes; then secondary
cells that turn out not to be needed are published again, most informative first.

Speed comes from *certificates*. Every LP solution is a whole table consistent with
what its attacker knows, and it stays one for any other attacker whose known cells it
does not move. The engine keeps every solution and pattern it finds and, before
solving an LP for a cell, checks whether some kept table already proves the cell wide
enough; only the cells not yet proved safe cost an LP. With 44 forces as insiders,
that removes almost all of the insiders' LPs. The public's intervals in the audit
report are always solved exactly. While suppressing, the LPs are steered (by a tiny
cost) away from moving secondary cells, so that their certificates still hold when
the redundancy pass publishes one of those cells again.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vawg_pipeline.disclosure.lp import DOWN, UP, DeviationModel, EngineStats, Solution
from vawg_pipeline.disclosure.problem import OUTSIDER, Line, LinkedCells, Protection

_WITHHELD_COST = 1e-4
"""LP cost per unit of moving a cell that is already withheld: nearly free, so repairs
reuse the existing pattern, but not zero, so that the patterns found stay small."""


_STEER_COST = 1e-3
"""Cost per unit of moving a secondary cell in the redundancy pass's LPs: small
enough to leave bounds essentially unchanged, large enough to steer solutions away."""


@dataclass(frozen=True)
class Requirement:
    """What one withheld cell needs against one attacker, in deviations from its true
    value, after capping by what the attacker can tell whatever is published."""

    upper: float  # hi >= v + upper
    lower: float  # lo <= v - lower
    sliding: float  # hi - lo >= sliding
    not_exact: bool  # hi - lo > 0
    room_up: float  # how far the cell can go up at all
    room_down: float  # how far down

    def satisfied(self, lo: float, hi: float, tol: float) -> bool:
        return (
            hi >= self.upper - tol
            and lo <= -self.lower + tol
            and hi - lo >= self.sliding - tol
            and (not self.not_exact or hi - lo > tol)
        )


class _Certificates:
    """Deviation vectors proved consistent with the current pattern, and the bounds
    they prove for every attacker.

    Each certificate is a table v + y satisfying every constraint and bound and moving
    only withheld cells (or an unbounded direction of such tables). It holds for every
    attacker whose known cells it does not move and whose floors it respects, for as
    long as the cells it moves stay withheld. ``hi``/``lo`` (attackers x cells,
    deviations) are the largest and smallest value any valid certificate gives each
    cell: the cell's true interval for that attacker contains [v + lo, v + hi]. They
    are kept up to date as certificates arrive, and recomputed only for the cells a
    suspended certificate moved.
    """

    def __init__(self, n: int, known: np.ndarray, room_down: np.ndarray, tol: float) -> None:
        self.n = n
        self.known = known
        self.room_down = room_down  # attackers x cells: how far each may fall
        self.tol = tol
        self.k = 0
        self.y = np.zeros((256, n))
        self.ray = np.zeros(256, dtype=bool)
        self.alive = np.zeros(256, dtype=bool)
        self.touch = np.zeros((256, known.shape[0]), dtype=bool)
        self.hi = np.zeros((known.shape[0], n))  # the true table (y = 0) always holds
        self.lo = np.zeros((known.shape[0], n))

    def add(self, solution: Solution) -> None:
        moved = np.flatnonzero(solution.y)
        if not moved.size:
            return
        if self.k == len(self.ray):
            grow = len(self.ray)
            self.y = np.vstack([self.y, np.zeros((grow, self.n))])
            self.ray = np.concatenate([self.ray, np.zeros(grow, dtype=bool)])
            self.alive = np.concatenate([self.alive, np.zeros(grow, dtype=bool)])
            self.touch = np.vstack([self.touch, np.zeros((grow, self.touch.shape[1]), bool)])
        # It does not hold for an attacker whose known cells it moves, or who knows a
        # cell it lowers is more than that (the cell's floor).
        touch = self.known[:, moved].any(axis=1) | (
            solution.y[moved] < -self.room_down[:, moved] - self.tol).any(axis=1)
        self.y[self.k] = solution.y
        self.ray[self.k] = solution.ray
        self.alive[self.k] = True
        self.touch[self.k] = touch
        self.k += 1
        holds_for = np.flatnonzero(~touch)
        if solution.ray:
            rises = moved[solution.y[moved] > 0]
            self.hi[np.ix_(holds_for, rises)] = np.inf
        else:
            block = np.ix_(holds_for, moved)
            self.hi[block] = np.maximum(self.hi[block], solution.y[moved])
            self.lo[block] = np.minimum(self.lo[block], solution.y[moved])

    def suspend(self, cell: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Set aside the certificates that move ``cell`` (about to be published) and
        recompute the bounds they contributed to. Returns what ``resume`` needs."""
        index = np.flatnonzero(self.alive[: self.k] & (self.y[: self.k, cell] != 0))
        self.alive[index] = False
        affected = np.flatnonzero((self.y[index] != 0).any(axis=0))
        saved = (index, affected, self.hi[:, affected].copy(), self.lo[:, affected].copy())
        self._recompute(affected)
        return saved

    def resume(self, saved: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> None:
        index, affected, hi, lo = saved
        self.alive[index] = True
        self.hi[:, affected] = np.maximum(self.hi[:, affected], hi)
        self.lo[:, affected] = np.minimum(self.lo[:, affected], lo)

    def _recompute(self, cells: np.ndarray) -> None:
        if not cells.size:
            return
        alive = np.flatnonzero(self.alive[: self.k])
        values = self.y[np.ix_(alive, cells)]
        holds = ~self.touch[alive]
        rays = self.ray[alive]
        hi = np.zeros((self.known.shape[0], cells.size))
        lo = np.zeros_like(hi)
        for a in range(self.known.shape[0]):
            points = holds[:, a] & ~rays
            if points.any():
                hi[a] = np.maximum(values[points].max(axis=0), 0.0)
                lo[a] = np.minimum(values[points].min(axis=0), 0.0)
            directions = holds[:, a] & rays
            if directions.any():
                hi[a, (values[directions] > 0).any(axis=0)] = np.inf
        self.hi[:, cells] = hi
        self.lo[:, cells] = lo


class _Auditor:
    """Intervals of every withheld cell for every attacker, kept up to date.

    The bounds (``lo``/``hi``, deviations per attacker and cell) are those proved by
    certificates; an exact LP adds its solution as a certificate, so they are exact
    where ``exact_lo``/``exact_hi`` say so. A cell is settled when its bounds meet
    its requirement, or when its exact bounds show that they cannot.
    """

    def __init__(
        self, cells: LinkedCells, protection: Protection, stats: EngineStats, tol: float
    ) -> None:
        self.cells = cells
        self.protection = protection
        self.stats = stats
        self.tol = tol
        self.names = cells.attacker_names()
        self.nattack = len(self.names)
        self.known = np.stack([cells.known_by(a) for a in self.names])
        self.room_up = cells.upper - cells.values
        # How far each cell may fall for each attacker: to its lower bound, or to the
        # floor an insider knows (its own contribution).
        self.room_down = np.stack(
            [np.maximum(cells.values - cells.lower_for(a), 0.0) for a in self.names])
        self.certificates = _Certificates(cells.n, self.known, self.room_down, tol)
        self.model: DeviationModel | None = None
        self.model_cells = np.zeros(cells.n, dtype=bool)
        self._full: DeviationModel | None = None
        self.apriori: dict[tuple[int, int], tuple[float, float]] = {}
        self.withheld = np.zeros(cells.n, dtype=bool)
        shape = (self.nattack, cells.n)
        self.exact_lo = np.zeros(shape, dtype=bool)
        self.exact_hi = np.zeros(shape, dtype=bool)
        # Cells the LPs' solutions should avoid moving (the secondaries, which the
        # redundancy pass may publish again): a small cost per unit moved.
        self.avoid: np.ndarray | None = None
        # Cells withheld by a rule; a must-publish cell among them is not public.
        self.rule_withheld = np.zeros(cells.n, dtype=bool)

    @property
    def lo(self) -> np.ndarray:
        return self.certificates.lo

    @property
    def hi(self) -> np.ndarray:
        return self.certificates.hi

    @property
    def full(self) -> DeviationModel:
        """A model over every cell (published ones may move): patterns, a-priori."""
        if self._full is None:
            self._full = DeviationModel(self.cells, self.stats)
        return self._full

    # -- evaluation --------------------------------------------------------------------
    def evaluate(self, withheld: np.ndarray, exact_public: bool = False) -> None:
        """Settle every withheld cell for every attacker under ``withheld``, which must
        contain the pattern of every earlier call (patterns only grow between calls;
        cells are published again only through ``try_publish``)."""
        self.withheld = withheld.copy()
        if self.model is None or (withheld & ~self.model_cells).any():
            self.model = DeviationModel(self.cells, self.stats, subset=withheld)
            self.model_cells = withheld.copy()
        self.exact_lo[:] = False
        self.exact_hi[:] = False
        first = 0
        if exact_public:
            self.model.set_free(withheld)
            for cell in np.flatnonzero(withheld).tolist():
                self._solve(0, cell, UP)
                self._solve(0, cell, DOWN)
            first = 1
        for a in range(first, self.nattack):
            self._settle(a)

    def _targets(self, a: int) -> np.ndarray:
        return np.flatnonzero(self.withheld & ~self.known[a])

    def _solve(self, a: int, cell: int, direction: int, steer: bool = False) -> None:
        """Bound ``cell`` for attacker ``a`` (model already configured): exactly, or,
        if ``steer``, with the solution steered away from the cells in ``avoid``
        (then the bound is only proven, not exact). The solution is kept as a
        certificate, which may settle other cells too."""
        assert self.model is not None
        penalty = self.avoid if steer else None
        dev, solution = self.model.extreme(cell, direction, penalty)
        self.certificates.add(solution)
        exact = self.exact_hi if direction == UP else self.exact_lo
        bounds = self.hi if direction == UP else self.lo
        if penalty is None:
            bounds[a, cell] = dev
            exact[a, cell] = True

    def _settle(self, a: int) -> None:
        """Solve bounds for the cells of attacker ``a`` not proved safe yet: first
        steered (if cells to avoid are set), then exactly for what is still unsafe."""
        targets = self._targets(a)
        failing = targets[~self._uncapped_ok(a, targets)]
        if not failing.size:
            return
        assert self.model is not None
        self.model.set_free(self.withheld & ~self.known[a], self.room_down[a])
        passes = (True, False) if self.avoid is not None else (False,)
        for steer in passes:
            for cell in failing.tolist():
                for direction in (UP, DOWN):
                    if self._uncapped_ok(a, np.array([cell]))[0]:
                        break
                    exact = self.exact_hi if direction == UP else self.exact_lo
                    if not exact[a, cell]:
                        self._solve(a, cell, direction, steer)

    # -- requirements ------------------------------------------------------------------
    def _uncapped_ok(self, a: int, cells: np.ndarray) -> np.ndarray:
        p, tol = self.protection, self.tol
        hi, lo = self.hi[a, cells], self.lo[a, cells]
        room_up, room_down = self.room_up[cells], self.room_down[a, cells]
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

    def _apriori(self, a: int, cell: int) -> tuple[float, float]:
        """What attacker ``a`` can tell about ``cell`` whatever is published: its
        interval with only the attacker's knowledge (and the must-publish cells that
        no rule withholds) fixed."""
        key = (a, cell)
        if key not in self.apriori:
            public = self.cells.must_publish & ~self.rule_withheld
            self.full.set_free(~self.known[a] & ~public, self.room_down[a])
            hi, _ = self.full.extreme(cell, UP)
            lo, _ = self.full.extreme(cell, DOWN)
            self.apriori[key] = (lo, hi)
        return self.apriori[key]

    def requirement(self, a: int, cell: int, capped: bool) -> Requirement:
        """The requirement of ``cell`` against ``a``; ``capped`` limits it to what the
        attacker's own knowledge leaves possible (an LP, so only asked on failure)."""
        p = self.protection
        if capped:
            lo, hi = self._apriori(a, cell)
            room_up, room_down = hi, -lo
        else:
            room_up, room_down = float(self.room_up[cell]), float(self.room_down[a, cell])
        return Requirement(
            upper=min(float(p.upper[cell]), room_up),
            lower=min(float(p.lower[cell]), room_down),
            sliding=min(float(p.sliding[cell]), room_up + room_down),
            not_exact=room_up + room_down > self.tol,
            room_up=room_up,
            room_down=room_down,
        )

    def check(self, a: int, cell: int) -> tuple[bool, Requirement]:
        lo, hi = float(self.lo[a, cell]), float(self.hi[a, cell])
        req = self.requirement(a, cell, capped=False)
        if req.satisfied(lo, hi, self.tol):
            return True, req
        req = self.requirement(a, cell, capped=True)
        return req.satisfied(lo, hi, self.tol), req

    def failures(
        self, attackers: Sequence[int] | None = None
    ) -> list[tuple[int, int, Requirement]]:
        """Every (attacker, cell) not safe (after settling), public first, by cell."""
        result = []
        for a in range(self.nattack) if attackers is None else attackers:
            targets = self._targets(a)
            for cell in targets[~self._uncapped_ok(a, targets)].tolist():
                ok, req = self.check(a, cell)
                if not ok:
                    result.append((a, cell, req))
        return result

    # -- publishing a withheld cell again ------------------------------------------------
    def try_publish(self, cell: int) -> bool:
        """Publish ``cell`` if every other withheld cell stays safe for every attacker
        (and commit); otherwise leave the pattern as it was."""
        saved = (self.withheld.copy(), self.exact_lo.copy(), self.exact_hi.copy())
        token = self.certificates.suspend(cell)
        affected = token[1]
        # Bounds attained by a certificate that moved the cell may no longer be exact.
        self.exact_lo[:, affected] = False
        self.exact_hi[:, affected] = False
        self.withheld[cell] = False
        for a in range(self.nattack):
            self._settle(a)
            if self.failures([a]):
                self.withheld, self.exact_lo, self.exact_hi = saved
                self.certificates.resume(token)
                return False
        return True

    def interval_frame(self) -> pd.DataFrame:
        """Every (withheld cell, attacker) interval with its requirement and verdict."""
        values = self.cells.values
        frames = []
        for a in range(self.nattack):
            targets = self._targets(a)
            ok = self._uncapped_ok(a, targets)
            required = np.maximum(
                self.protection.sliding[targets],
                self.protection.upper[targets] + self.protection.lower[targets],
            ).astype(float)
            for k in np.flatnonzero(~ok).tolist():
                good, req = self.check(a, int(targets[k]))
                ok[k] = good
                required[k] = max(req.sliding, req.upper + req.lower)
            frames.append(
                pd.DataFrame(
                    {
                        "cell": targets.astype(np.int64),
                        "attacker": self.names[a],
                        "lo": values[targets] + self.lo[a, targets],
                        "hi": values[targets] + self.hi[a, targets],
                        "exact": self.exact_lo[a, targets] & self.exact_hi[a, targets],
                        "required": required,
                        "ok": ok,
                    }
                )
            )
        columns = ["cell", "attacker", "lo", "hi", "exact", "required", "ok"]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
        frame.insert(4, "width", frame["hi"] - frame["lo"])
        return frame


def _tolerance(cells: LinkedCells) -> float:
    scale = float(cells.values.max()) if cells.n else 1.0
    return 1e-6 * max(1.0, scale)


# ---------------------------------------------------------------------------------------
# The audit
# ---------------------------------------------------------------------------------------


@dataclass
class AttackResult:
    """Every withheld cell's interval for every attacker, and whether all is safe.

    intervals: one row per (withheld cell, attacker that does not know it): cell
        (index), attacker (name), lo, hi (absolute; hi may be inf), width, exact,
        required (the width the cell needed, after capping by the attacker's own
        knowledge), ok. The public's intervals are exact; an insider's are exact where
        ``exact``, otherwise proven inner bounds (its true interval is at least as wide).
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
        """(lo, hi) of one withheld cell for one attacker."""
        rows = self.intervals[
            (self.intervals["cell"] == cell) & (self.intervals["attacker"] == attacker)
        ]
        if rows.empty:
            raise KeyError(f"cell {cell} is not withheld, or is known to {attacker}")
        return float(rows["lo"].iloc[0]), float(rows["hi"].iloc[0])


def audit_cells(
    cells: LinkedCells, withheld: np.ndarray | Sequence[int], protection: Protection
) -> AttackResult:
    """Attack a suppression pattern: the exact interval of every withheld cell for the
    public, a proof (or the exact interval) for every insider, and every verdict."""
    started = time.perf_counter()
    stats = EngineStats()
    mask = np.asarray(withheld)
    if mask.dtype != bool:
        mask = np.isin(np.arange(cells.n), mask)
    auditor = _Auditor(cells, protection, stats, _tolerance(cells))
    auditor.rule_withheld = mask.copy()
    auditor.evaluate(mask, exact_public=True)
    frame = auditor.interval_frame()
    stats.seconds = time.perf_counter() - started
    return AttackResult(intervals=frame, withheld=mask.copy(), stats=stats)


# ---------------------------------------------------------------------------------------
# Secondary suppression
# ---------------------------------------------------------------------------------------


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
                candidates = parts[parts != nonzero]
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
    remove_redundant: publish again, most informative first, every secondary cell
        whose publication keeps everything safe.
    """
    started = time.perf_counter()
    stats = EngineStats()
    primary = protection.has_requirement()
    withheld = primary.copy()
    if initial is not None:
        withheld |= np.asarray(initial, dtype=bool)
    fixed = withheld.copy()  # never published again by the redundancy pass
    line_rule = LineRule(cells, lines) if lines else None
    line_cells = np.zeros(cells.n, dtype=bool)
    tol = _tolerance(cells)
    auditor = _Auditor(cells, protection, stats, tol)
    patterns = auditor.full
    auditor.rule_withheld = fixed.copy()

    def apply_line_rule() -> bool:
        if line_rule is None:
            return False
        added = line_rule.additions(withheld) & ~withheld
        withheld[added] = True
        fixed[added] = True
        line_cells[added] = True
        if (added & cells.must_publish).any():
            auditor.rule_withheld = fixed.copy()
            auditor.apriori.clear()  # those cells are no longer public knowledge
        return bool(added.any())

    # Cost of withholding: fewest cells first, then least information (the cell's cost,
    # by default its value). The LP cost is per unit of deviation.
    base_costs = 1.0 + cells.cost / (float(cells.cost.sum()) + 1.0)

    def repair(a: int, cell: int, req: Requirement, lo: float, hi: float) -> None:
        """Withhold the cells of the cheapest patterns that make ``cell`` safe against
        attacker ``a``, given its current deviation interval [lo, hi]."""
        up_needed = max(req.upper, req.sliding - max(-lo, 0.0))
        up = up_needed if hi < up_needed - tol else 0.0
        down = req.lower if lo > -req.lower + tol else 0.0
        if up > req.room_up + tol:  # cannot rise that far: take the rest downwards
            up = req.room_up
            down = max(down, req.sliding - up)
        down = min(down, req.room_down)
        if req.not_exact and up <= tol and down <= tol and hi - lo <= tol:
            if req.room_up > tol:
                up = min(1.0, req.room_up)
            else:
                down = min(1.0, req.room_down)
        free = ~auditor.known[a] & (~cells.must_publish | withheld)
        costs = np.where(withheld, _WITHHELD_COST, base_costs)
        for direction, magnitude in ((UP, up), (DOWN, down)):
            if magnitude > tol:
                y = patterns.pattern(cell, direction, magnitude, free, costs,
                                     auditor.room_down[a])
                if y is not None:
                    withheld[y != 0] = True
                    auditor.certificates.add(Solution(y, ray=False))

    apply_line_rule()
    # Round 0: one pattern per primary cell against the public, without auditing first
    # (the pattern LP finds a free pattern when a cell is already safe).
    for cell in np.flatnonzero(primary).tolist():
        repair(0, cell, auditor.requirement(0, cell, capped=False), 0.0, 0.0)

    failures: list[tuple[int, int, Requirement]] = []
    for _ in range(max_rounds):
        stats.rounds += 1
        # Certificates that do not lean on secondaries survive their publication later.
        auditor.avoid = np.where(withheld & ~fixed, _STEER_COST, 0.0)
        auditor.evaluate(withheld)
        failures = auditor.failures()
        if not failures:
            if apply_line_rule():
                continue  # newly withheld line cells need protecting in turn
            break
        before = (int(withheld.sum()), auditor.certificates.k)
        for a, cell, req in failures:
            repair(a, cell, req, float(auditor.lo[a, cell]), float(auditor.hi[a, cell]))
        if (int(withheld.sum()), auditor.certificates.k) == before:
            break  # no progress: what remains cannot be repaired
    else:
        auditor.evaluate(withheld)
        failures = auditor.failures()

    if remove_redundant and not failures:
        candidates = np.flatnonzero(withheld & ~fixed).tolist()
        # Certificates that do not lean on secondaries survive their publication.
        auditor.avoid = np.where(withheld & ~fixed, _STEER_COST, 0.0)
        # Publish the most informative cells first: highest cost (value), then index.
        for cell in sorted(candidates, key=lambda c: (-float(cells.cost[c]), c)):
            if line_rule is not None and line_rule.publishing_breaches(cell, auditor.withheld):
                continue
            if auditor.try_publish(cell):
                stats.redundant_published += 1
        withheld = auditor.withheld.copy()

    stats.seconds = time.perf_counter() - started
    return SuppressionResult(
        withheld=withheld,
        line=line_cells,
        secondary=withheld & ~fixed,
        stats=stats,
        unresolved=[(auditor.names[a], c) for a, c, _ in failures],
    )


__all__ = [
    "OUTSIDER",
    "AttackResult",
    "EngineStats",
    "LineRule",
    "Requirement",
    "SuppressionResult",
    "audit_cells",
    "protect_cells",
]
