"""An independent, deliberately naive audit, to check the engine against.

It shares nothing with the engine but the problem definition: a fresh HiGHS model per
question, over the cells' values themselves (not deviations), no reduction, no warm
start, no certificates. Slow, and obviously right: for each withheld cell and each
attacker it minimises and maximises the cell with every published or known cell fixed
at its value and every withheld cell within its bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from vawg_pipeline.disclosure.problem import OUTSIDER, LinkedCells, Protection


def _bound(cells: LinkedCells, fixed: np.ndarray, cell: int, maximise: bool) -> float:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    n = cells.n
    lower = np.where(fixed, cells.values, cells.lower)
    upper = np.where(fixed, cells.values, cells.upper)
    inf = highspy.kHighsInf
    h.addVars(n, lower, np.where(np.isinf(upper), inf, upper))
    for constraint in cells.constraints:
        h.addRow(
            0.0,
            0.0,
            len(constraint.cells),
            np.asarray(constraint.cells, dtype=np.int32),
            np.asarray(constraint.coefficients, dtype=float),
        )
    h.changeColCost(cell, -1.0 if maximise else 1.0)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        return float(h.getSolution().col_value[cell])
    if maximise and status in (
        highspy.HighsModelStatus.kUnbounded,
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    ):
        return np.inf
    raise AssertionError(f"reference LP failed: {h.modelStatusToString(status)}")


@dataclass
class Verdict:
    cell: int
    attacker: str
    lo: float
    hi: float
    ok: bool


def reference_audit(
    cells: LinkedCells, withheld: np.ndarray, protection: Protection, tol: float = 1e-6
) -> list[Verdict]:
    """Every (withheld cell, attacker not knowing it) interval and verdict."""
    verdicts = []
    v = cells.values
    for attacker in cells.attacker_names():
        known = cells.known_by(attacker)
        fixed = ~withheld | known
        prior_fixed = known | cells.must_publish
        for cell in np.flatnonzero(withheld & ~known):
            lo = _bound(cells, fixed, cell, maximise=False)
            hi = _bound(cells, fixed, cell, maximise=True)
            # What the attacker could tell whatever were published caps the requirement.
            plo = _bound(cells, prior_fixed, cell, maximise=False)
            phi = _bound(cells, prior_fixed, cell, maximise=True)
            need_up = min(protection.upper[cell], phi - v[cell])
            need_down = min(protection.lower[cell], v[cell] - plo)
            need_width = min(protection.sliding[cell], phi - plo)
            ok = (
                hi >= v[cell] + need_up - tol
                and lo <= v[cell] - need_down + tol
                and hi - lo >= need_width - tol
                and (hi - lo > tol or phi - plo <= tol)
            )
            verdicts.append(Verdict(int(cell), attacker, lo, hi, bool(ok)))
    return verdicts


def reference_passes(cells: LinkedCells, withheld: np.ndarray, protection: Protection) -> bool:
    return all(v.ok for v in reference_audit(cells, withheld, protection))


__all__ = ["OUTSIDER", "Verdict", "reference_audit", "reference_passes"]
