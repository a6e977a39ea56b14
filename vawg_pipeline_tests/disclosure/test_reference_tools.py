"""Cross-checks against sdcTable and tau-Argus on their own test tables.

The numbers and the expected results come from the tools' test suites (see
``reference_tables.py``); the comparison is summarised in REFERENCE_RESULTS.md. For
each: the audit must flag the unsafe pattern, the suppression must protect it, and the
independent naive audit (``reference_audit.py``) must agree with the engine.
"""

from __future__ import annotations

import numpy as np
import pytest

from vawg_pipeline.disclosure.engine import audit_cells, protect_cells
from vawg_pipeline.disclosure.problem import Constraint, LinkedCells, Protection, mask_of
from vawg_pipeline_tests.disclosure import reference_tables as ref
from vawg_pipeline_tests.disclosure.reference_audit import reference_audit
from vawg_pipeline_tests.disclosure.tables_for_tests import grid_cells


def _sdctable_bounds(values: np.ndarray) -> float:
    """sdcTable's default a-priori upper bound of every cell: 1.5 x the largest."""
    return 1.5 * float(np.max(values))


def _agree_with_reference(cells: LinkedCells, withheld: np.ndarray, protection: Protection):
    engine = audit_cells(cells, withheld, protection)
    naive = {(v.cell, v.attacker): v for v in reference_audit(cells, withheld, protection)}
    assert len(naive) == len(engine.intervals)
    for row in engine.intervals.itertuples(index=False):
        other = naive[(row.cell, row.attacker)]
        assert row.ok == other.ok, (cells.labels[row.cell], row.attacker)
        if row.attacker == "outsider" or row.exact:
            assert row.lo == pytest.approx(other.lo, abs=1e-6)
            assert row.hi == pytest.approx(other.hi, abs=1e-6)
    return engine


# -- sdcTable test-simpleheuristic.R ------------------------------------------------------


def _simpleheuristic():
    interior = np.asarray(ref.SIMPLEHEURISTIC_COUNTS, dtype=float)
    cells, index = grid_cells(
        ref.SIMPLEHEURISTIC_ROWS, ref.SIMPLEHEURISTIC_COLS, interior, total="tot"
    )
    cells.upper = np.full(cells.n, _sdctable_bounds(cells.values))
    flagged = [index[k] for k in ref.SIMPLEHEURISTIC_FLAGGED]
    # sdcTable's default protection levels: LPL = UPL = 1.
    protection = Protection.for_cells(cells.n, flagged, upper=1, lower=1)
    return cells, index, flagged, protection


def test_simpleheuristic_audit_catches_the_exactly_derivable_cell() -> None:
    cells, index, flagged, protection = _simpleheuristic()
    withheld = mask_of(flagged, cells.n)
    # Every row and column with a flagged cell holds at least two of them...
    grid = withheld.reshape(5, 5)[:4, :4]
    assert all(n == 0 or n >= 2 for n in [*grid.sum(axis=0), *grid.sum(axis=1)])
    # ... yet (w, b) is exact: rows w + x and columns a + c pin it down.
    result = _agree_with_reference(cells, withheld, protection)
    assert not result.passed
    failing = result.violations()
    assert list(failing.cell) == [index[ref.SIMPLEHEURISTIC_EXACT]]
    assert result.interval(index[ref.SIMPLEHEURISTIC_EXACT]) == (47.0, 47.0)


def test_simpleheuristic_suppression_protects_it_with_one_secondary() -> None:
    cells, index, _, protection = _simpleheuristic()
    result = protect_cells(cells, protection)
    assert result.secondary.sum() == ref.SIMPLEHEURISTIC_EXPECTED_SECONDARIES
    audit = _agree_with_reference(cells, result.withheld, protection)
    assert audit.passed
    lo, hi = audit.interval(index[ref.SIMPLEHEURISTIC_EXACT])
    assert lo <= 46 and hi >= 48


# -- sdcTable test-protectTable.r -----------------------------------------------------------


def _microdata1():
    cells, index = grid_cells(
        ref.MICRODATA1_REGIONS, ref.MICRODATA1_GENDERS, ref.MICRODATA1_COUNTS, total="total"
    )
    cells.upper = np.full(cells.n, _sdctable_bounds(cells.values))
    protection = Protection.for_cells(cells.n, [index[ref.MICRODATA1_FLAGGED]], upper=1, lower=1)
    return cells, index, protection


def test_protecttable_single_primary_is_flagged_and_protected_like_opt() -> None:
    cells, index, protection = _microdata1()
    alone = _agree_with_reference(
        cells, mask_of([index[ref.MICRODATA1_FLAGGED]], cells.n), protection
    )
    assert not alone.passed  # its row and column totals give it away
    result = protect_cells(cells, protection)
    withheld = {key for key, i in index.items() if result.withheld[i]}
    assert withheld == ref.MICRODATA1_EXPECTED_WITHHELD
    assert _agree_with_reference(cells, result.withheld, protection).passed


@pytest.mark.parametrize("singletons", [False, True])
def test_protecttable_singletons_as_insiders(singletons: bool) -> None:
    # sdcTable's detectSingletons protects each respondent of a one-person cell against
    # the other: here that is an insider who knows its own cell.
    counts = ref.SINGLETON_COUNTS
    n = len(counts) + 1
    values = np.asarray([*counts, sum(counts)], dtype=float)
    primary = [i for i, v in enumerate(counts) if 1 <= v <= 1]
    attackers = {f"respondent of {ref.SINGLETON_REGIONS[i]}": mask_of([i], n) for i in primary}
    cells = LinkedCells(
        values=values,
        constraints=[Constraint.total(n - 1, range(n - 1))],
        labels=[*ref.SINGLETON_REGIONS, "tot"],
        upper=np.full(n, _sdctable_bounds(values)),
        must_publish=values == 0,  # sdcTable never suppresses empty ('z') cells
        attackers=attackers if singletons else {},
    )
    protection = Protection.for_cells(n, primary, upper=1, lower=1)
    result = protect_cells(cells, protection)
    assert result.secondary.sum() == ref.SINGLETON_EXPECTED_SECONDARIES[singletons]
    assert _agree_with_reference(cells, result.withheld, protection).passed


# -- sdcTable test-linked-tables.r ------------------------------------------------------------


def _linked(which: str = "both"):
    regions = list(ref.LINKED_REGIONS)
    labels = ["Total", *regions]
    values = [sum(ref.LINKED_REGIONS.values()), *ref.LINKED_REGIONS.values()]
    constraints = []
    for name, groups in (("county", ref.LINKED_BY_COUNTY), ("size", ref.LINKED_BY_SIZE)):
        if which not in ("both", name):
            continue
        group_cells = []
        for group, members in groups.items():
            labels.append(group)
            values.append(sum(ref.LINKED_REGIONS[m] for m in members))
            group_cells.append(len(labels) - 1)
            constraints.append(
                Constraint.total(len(labels) - 1, [labels.index(m) for m in members])
            )
        constraints.append(Constraint.total(0, group_cells))
    values_array = np.asarray(values, dtype=float)
    cells = LinkedCells(
        values=values_array,
        constraints=constraints,
        labels=labels,
        upper=np.full(len(values), _sdctable_bounds(values_array)),
        must_publish=values_array == 0,
    )
    primary = [i for i, v in enumerate(values) if 1 <= v <= ref.LINKED_MAX_PRIMARY]
    protection = Protection.for_cells(cells.n, primary, upper=1, lower=1)
    return cells, labels, primary, protection


@pytest.mark.parametrize("which", ["county", "size"])
def test_linked_tables_each_table_alone_is_safe(which: str) -> None:
    cells, _, primary, protection = _linked(which)
    assert _agree_with_reference(cells, mask_of(primary, cells.n), protection).passed
    assert protect_cells(cells, protection).secondary.sum() == 0


def test_linked_tables_together_reveal_k_and_one_secondary_protects_it() -> None:
    cells, labels, primary, protection = _linked()
    assert sorted(labels[i] for i in primary) == ["A", "B", "K", "L", "M"]
    audit = _agree_with_reference(cells, mask_of(primary, cells.n), protection)
    assert [labels[c] for c in audit.violations().cell] == [ref.LINKED_EXACT]
    assert audit.interval(labels.index(ref.LINKED_EXACT)) == (3.0, 3.0)
    result = protect_cells(cells, protection)
    assert [labels[i] for i in np.flatnonzero(result.secondary)] == [ref.LINKED_EXPECTED_SECONDARY]
    assert _agree_with_reference(cells, result.withheld, protection).passed


# -- checkTauArgus Batch/ex1 ----------------------------------------------------------------


def test_tau_argus_ex1_opt_pattern() -> None:
    interior = [[ref.TAU_ARGUS_EX1[(r, g)] for g in ("male", "female")] for r in "ABCD"]
    cells, index = grid_cells(list("ABCD"), ["male", "female"], interior)
    assert cells.values[index[("Total", "Total")]] == ref.TAU_ARGUS_EX1_TOTAL
    unsafe = index[ref.TAU_ARGUS_EX1_UNSAFE]
    level = ref.TAU_ARGUS_EX1_MANUAL_PERCENT / 100 * cells.values[unsafe]
    protection = Protection.for_cells(cells.n, [unsafe], upper=level, lower=level)
    assert not _agree_with_reference(cells, mask_of([unsafe], cells.n), protection).passed
    # A row-only pattern is not enough either: the column totals give both cells away.
    row_only = mask_of([unsafe, index[("A", "male")]], cells.n)
    assert not _agree_with_reference(cells, row_only, protection).passed
    result = protect_cells(cells, protection)
    secondaries = {key for key, i in index.items() if result.secondary[i]}
    assert secondaries == ref.TAU_ARGUS_EX1_EXPECTED_SECONDARIES
    audit = _agree_with_reference(cells, result.withheld, protection)
    assert audit.passed
    lo, hi = audit.interval(unsafe)
    assert lo <= 137 - level and hi >= 137 + level
