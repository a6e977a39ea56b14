"""The generic statistical disclosure control problem: cells linked by additive constraints.

This is the level the reference tools (tau-Argus, sdcTable) work at, and the level their
test tables are written in: a set of *cells* (each a non-negative count or magnitude),
*additive constraints* between them (a total equals the sum of what it totals, possibly
across several linked tables), *protection levels* for the sensitive cells, and the
*attackers* to protect them from. The published-table machinery in ``suppression.py``
and ``audit.py`` builds one of these from the pipeline's tables; the tests build them
by hand from the reference tools' fixtures.

Conventions (as in tau-Argus and sdcTable):

- a withheld cell is known to lie in [lower, upper] (default [0, +inf));
- a protected cell with value v needs its feasible interval [lo, hi] given what is
  published to satisfy hi >= v + upper protection, lo <= v - lower protection and
  hi - lo >= sliding protection; every withheld cell, protected or not, must also not
  be exactly derivable (lo < hi);
- an attacker other than the public ("outsider") knows some cells exactly (an insider:
  a force knows its own figures). A cell known to an attacker is not protected against
  that attacker, and a cell the attacker can work out from its own knowledge alone
  (whatever is published) is protected only as far as that knowledge allows;
- an insider may also know a floor under cells it does not know: its own contribution
  to a cell that adds up every force (a national table), which the cell is at least.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

OUTSIDER = "outsider"
"""The attacker who knows only what is published."""


@dataclass(frozen=True)
class Constraint:
    """sum(coefficients[k] * x[cells[k]]) == 0 over the true values."""

    cells: tuple[int, ...]
    coefficients: tuple[float, ...]

    @staticmethod
    def total(total_cell: int, parts: Iterable[int]) -> Constraint:
        """total == sum(parts), written as sum(parts) - total == 0."""
        part_list = tuple(int(p) for p in parts)
        return Constraint(
            cells=(*part_list, int(total_cell)),
            coefficients=(*(1.0 for _ in part_list), -1.0),
        )


def at_most(small: int, large: int) -> Constraint:
    """A relation ``x[small] <= x[large]``, written as x[small] - x[large] <= 0."""
    return Constraint(cells=(int(small), int(large)), coefficients=(1.0, -1.0))


@dataclass(frozen=True)
class Line:
    """One line of a table: ``total`` equals the sum of ``parts`` (cell indices). Used by
    the rule that a line whose only non-zero part is withheld withholds another part."""

    total: int
    parts: tuple[int, ...]

    def constraint(self) -> Constraint:
        return Constraint.total(self.total, self.parts)


@dataclass
class LinkedCells:
    """Cells, their true values, the additive constraints that link them, and attackers.

    values: true value of each cell (non-negative).
    constraints: additive relations holding on the true values.
    labels: a readable name per cell (never includes the value).
    lower, upper: what a reader can assume about a withheld cell (default [0, inf)).
    cost: information lost by withholding the cell, used to choose secondary cells
        among patterns with the same number of cells (default: the value, as tau-Argus).
    must_publish: cells that may never be withheld as a secondary (a rule, such as the
        single-non-zero-line rule, may still withhold them); readers may take them as
        public knowledge unless they are withheld.
    relations: inequalities holding on the true values, each read as
        ``sum(coefficients[k] * x[cells[k]]) <= 0``: what a reader knows of how cells of
        different tables compare (a cell's cases are at most its individuals).
    attackers: insiders by name -> mask of the cells each knows exactly. The outsider
        (knows only what is published) is always attacked as well.
    floors: insiders by name -> per cell, a value the insider knows the cell is at
        least (its own contribution); raises ``lower`` for that insider only.
    """

    values: np.ndarray
    constraints: list[Constraint]
    labels: list[str] = field(default_factory=list)
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    cost: np.ndarray | None = None
    must_publish: np.ndarray | None = None
    attackers: dict[str, np.ndarray] = field(default_factory=dict)
    floors: dict[str, np.ndarray] = field(default_factory=dict)
    relations: list[Constraint] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=float)
        n = len(self.values)
        if not self.labels:
            self.labels = [f"cell {i}" for i in range(n)]
        if len(self.labels) != n:
            raise ValueError("one label per cell")
        self.lower = _vector(self.lower, n, 0.0)
        self.upper = _vector(self.upper, n, np.inf)
        self.cost = _vector(self.cost, n, None) if self.cost is not None else self.values.copy()
        self.must_publish = (
            np.zeros(n, dtype=bool)
            if self.must_publish is None
            else np.asarray(self.must_publish, dtype=bool)
        )
        if np.any(self.values < 0) or not np.all(np.isfinite(self.values)):
            raise ValueError("cell values must be finite and non-negative")
        if np.any(self.lower > self.values) or np.any(self.upper < self.values):
            raise ValueError("every value must lie within its [lower, upper] bounds")
        for kind, items in (("constraint", self.constraints), ("relation", self.relations)):
            for c in items:
                if len(c.cells) != len(c.coefficients) or not c.cells:
                    raise ValueError(f"malformed {kind} {c}")
                if min(c.cells) < 0 or max(c.cells) >= n:
                    raise ValueError(f"{kind} {c} refers to a cell out of range")
                values = self.values[list(c.cells)]
                residual = float(np.dot(values, c.coefficients))
                tolerance = 1e-6 * (1.0 + float(np.abs(values).sum()))
                # A constraint holds as an equality, a relation as "at most zero".
                if residual > tolerance or (kind == "constraint" and residual < -tolerance):
                    names = ", ".join(self.labels[i] for i in c.cells)
                    raise ValueError(f"{kind} over [{names}] does not hold on the values")
        attackers: dict[str, np.ndarray] = {}
        for name, mask in self.attackers.items():
            if name == OUTSIDER:
                raise ValueError(f"{OUTSIDER!r} is reserved for the public attacker")
            known = np.asarray(mask, dtype=bool)
            if known.shape != (n,):
                raise ValueError(f"attacker {name!r}: mask must have one entry per cell")
            attackers[str(name)] = known
        self.attackers = attackers
        floors: dict[str, np.ndarray] = {}
        for name, floor in self.floors.items():
            if name not in attackers:
                raise ValueError(f"floors given for {name!r}, which is not an insider")
            values = np.asarray(floor, dtype=float)
            if values.shape != (n,) or np.any(values > self.values + 1e-9):
                raise ValueError(f"insider {name!r}: one floor per cell, none above its value")
            floors[str(name)] = values
        self.floors = floors

    @property
    def n(self) -> int:
        return len(self.values)

    def attacker_names(self) -> list[str]:
        """The outsider first, then the insiders in a stable (sorted) order."""
        return [OUTSIDER, *sorted(self.attackers)]

    def lower_for(self, attacker: str) -> np.ndarray:
        """What ``attacker`` knows each cell is at least: ``lower``, or its floor."""
        if attacker in self.floors:
            return np.maximum(self.lower, self.floors[attacker])
        return self.lower

    def known_by(self, attacker: str) -> np.ndarray:
        """Mask of the cells ``attacker`` knows exactly whatever is published."""
        if attacker == OUTSIDER:
            return np.zeros(self.n, dtype=bool)
        return self.attackers[attacker]


@dataclass
class Protection:
    """Required protection per cell (zero where a cell has no requirement).

    upper: hi - v must be at least this (tau-Argus/sdcTable "UPL").
    lower: v - lo must be at least this ("LPL").
    sliding: hi - lo must be at least this ("SPL").
    Every withheld cell must in any case not be exactly derivable.
    """

    upper: np.ndarray
    lower: np.ndarray
    sliding: np.ndarray

    @staticmethod
    def for_cells(
        n: int,
        cells: Iterable[int] | np.ndarray,
        *,
        upper: float | Sequence[float] = 0.0,
        lower: float | Sequence[float] = 0.0,
        sliding: float | Sequence[float] = 0.0,
    ) -> Protection:
        """Protection levels for the given cells (index list or boolean mask)."""
        index = _indices(cells, n)
        result = Protection(np.zeros(n), np.zeros(n), np.zeros(n))
        result.upper[index] = upper
        result.lower[index] = lower
        result.sliding[index] = sliding
        return result

    def has_requirement(self) -> np.ndarray:
        return (self.upper > 0) | (self.lower > 0) | (self.sliding > 0)


def mask_of(cells: Iterable[int] | np.ndarray, n: int) -> np.ndarray:
    """A boolean mask over n cells from an index list or a mask."""
    mask = np.zeros(n, dtype=bool)
    mask[_indices(cells, n)] = True
    return mask


def _indices(cells: Iterable[int] | np.ndarray, n: int) -> np.ndarray:
    array = np.asarray(list(cells) if not isinstance(cells, np.ndarray) else cells)
    if array.dtype == bool:
        if array.shape != (n,):
            raise ValueError("a mask needs one entry per cell")
        return np.flatnonzero(array)
    return array.astype(int)


def _vector(value: np.ndarray | Sequence[float] | float | None, n: int, default: float | None):
    if value is None:
        return np.full(n, default, dtype=float)
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return np.full(n, float(array))
    if array.shape != (n,):
        raise ValueError("per-cell vectors must have one entry per cell")
    return array.copy()
