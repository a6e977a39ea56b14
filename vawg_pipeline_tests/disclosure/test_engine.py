"""The generic engine: linked cells, protection levels, attackers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vawg_pipeline.disclosure.engine import audit_cells, protect_cells
from vawg_pipeline.disclosure.linking import link_tables
from vawg_pipeline.disclosure.problem import Constraint, LinkedCells, Protection, mask_of
from vawg_pipeline.disclosure.specs import TableSpec
from vawg_pipeline_tests.disclosure.tables_for_tests import grid_cells


def test_a_cell_whose_totals_are_withheld_too_is_unbounded_above() -> None:
    cells, index = grid_cells(["r1", "r2"], ["c1", "c2"], [[3, 9], [8, 12]])
    withheld = [index[k] for k in [("r1", "c1"), ("r1", "Total"), ("Total", "c1")]]
    withheld.append(index[("Total", "Total")])
    protection = Protection.for_cells(cells.n, [index[("r1", "c1")]], sliding=5)
    result = audit_cells(cells, withheld, protection)
    assert result.passed
    lo, hi = result.interval(index[("r1", "c1")])
    assert lo == 0 and hi == np.inf


def test_a_lone_small_cell_is_exactly_derivable_and_repaired_with_a_rectangle() -> None:
    cells, index = grid_cells(["r1", "r2"], ["c1", "c2"], [[3, 9], [8, 12]])
    primary = [index[("r1", "c1")]]
    protection = Protection.for_cells(cells.n, primary, sliding=5)
    assert audit_cells(cells, primary, protection).interval(primary[0]) == (3.0, 3.0)
    result = protect_cells(cells, protection)
    interior = {k for k, i in index.items() if result.withheld[i]}
    assert interior == {("r1", "c1"), ("r1", "c2"), ("r2", "c1"), ("r2", "c2")}
    assert audit_cells(cells, result.withheld, protection).passed


def test_width_requirement_needs_more_than_non_derivability() -> None:
    # r1 x c1 = 1 with a rectangle through small cells can only move by 2: too narrow.
    cells, index = grid_cells(["r1", "r2", "r3"], ["c1", "c2"], [[1, 2], [2, 40], [30, 50]])
    rectangle = [index[k] for k in [("r1", "c1"), ("r1", "c2"), ("r2", "c1"), ("r2", "c2")]]
    protection = Protection.for_cells(cells.n, rectangle[:3], sliding=5)
    narrow = audit_cells(cells, rectangle, protection)
    assert not narrow.passed
    lo, hi = narrow.interval(index[("r1", "c1")])
    assert (lo, hi) == (0.0, 3.0)
    result = protect_cells(cells, protection)
    assert audit_cells(cells, result.withheld, protection).passed


def test_must_publish_cells_are_never_withheld() -> None:
    cells, index = grid_cells(["r1", "r2", "r3"], ["c1", "c2"], [[3, 9], [8, 12], [7, 6]])
    cells.must_publish = mask_of([index[("r2", "c2")], index[("r2", "c1")]], cells.n)
    protection = Protection.for_cells(cells.n, [index[("r1", "c1")]], sliding=5)
    result = protect_cells(cells, protection)
    assert not result.withheld[cells.must_publish].any()
    assert audit_cells(cells, result.withheld, protection).passed


def test_an_attacker_is_not_protected_from_what_it_already_knows() -> None:
    # One force: it knows its row, and the national row equals it. Nothing can hide
    # the national row from that force, so it is not counted against the pattern.
    values = np.array([3.0, 9.0, 12.0, 3.0, 9.0, 12.0])  # force row, national row
    constraints = [
        Constraint.total(2, [0, 1]),
        Constraint.total(5, [3, 4]),
        Constraint.total(3, [0]),
        Constraint.total(4, [1]),
        Constraint.total(5, [2]),
    ]
    cells = LinkedCells(values, constraints, attackers={"kent": mask_of([0, 1, 2], 6)})
    protection = Protection.for_cells(6, [0, 3], sliding=5)
    result = protect_cells(cells, protection)
    audit = audit_cells(cells, result.withheld, protection)
    assert audit.passed
    national = audit.intervals[(audit.intervals.attacker == "kent") & (audit.intervals.cell == 3)]
    assert national.width.iloc[0] == 0 and national.required.iloc[0] == 0


def test_protection_levels_up_and_down_are_both_met() -> None:
    cells, index = grid_cells(["r1", "r2", "r3"], ["c1", "c2"], [[40, 9], [8, 12], [30, 6]])
    cell = index[("r1", "c1")]
    protection = Protection.for_cells(cells.n, [cell], upper=6, lower=8)
    result = protect_cells(cells, protection)
    audit = audit_cells(cells, result.withheld, protection)
    assert audit.passed
    lo, hi = audit.interval(cell)
    assert lo <= 32 and hi >= 46


def test_inconsistent_values_are_refused() -> None:
    with pytest.raises(ValueError, match="does not hold"):
        LinkedCells(np.array([1.0, 2.0, 4.0]), [Constraint.total(2, [0, 1])])


def _line_with_an_insider(floors: list[float] | None) -> LinkedCells:
    """One published total over three parts; one insider (kent) who knows no part
    exactly but, with ``floors``, knows each part is at least its own contribution."""
    values = [4.0, 2.0, 7.0, 13.0]  # x1 + x2 + x3 = T
    return LinkedCells(
        values, [Constraint.total(3, [0, 1, 2])],
        labels=["x1", "x2", "x3", "T"],
        attackers={"kent": mask_of([], 4)},
        floors={"kent": floors} if floors is not None else {},
    )


def test_an_insiders_own_contributions_narrow_what_it_can_tell() -> None:
    """Kent's own 3, 2 and 6 under x1, x2, x3: with x1 and x2 withheld beside a published
    total, Kent knows x1 is between its 3 and 13 - 7 - 2 = 4: width 1, not 5."""
    protection = Protection.for_cells(4, [0, 1], sliding=5)
    blind = audit_cells(_line_with_an_insider(None), [0, 1], protection)
    assert blind.passed and blind.interval(0, "kent") == (0.0, 6.0)
    informed = audit_cells(_line_with_an_insider([3.0, 2.0, 6.0, 0.0]), [0, 1], protection)
    assert not informed.passed
    assert informed.interval(0, "kent") == (3.0, 4.0)
    assert informed.interval(0) == (0.0, 6.0)  # the public knows no floors


def test_suppression_protects_against_an_insiders_floors() -> None:
    cells = _line_with_an_insider([3.0, 2.0, 6.0, 0.0])
    protection = Protection.for_cells(4, [0, 1], sliding=5)
    result = protect_cells(cells, protection)
    assert not result.unresolved
    audit = audit_cells(cells, result.withheld, protection)
    assert audit.passed
    lo, hi = audit.interval(0, "kent")
    assert hi - lo >= 5
    assert result.withheld[3]  # the total had to go too


def test_a_floor_above_the_value_is_refused() -> None:
    with pytest.raises(ValueError, match="none above its value"):
        _line_with_an_insider([5.0, 0.0, 0.0, 0.0])


def test_forces_shares_of_a_national_table_become_their_floors() -> None:
    national = TableSpec("by_type", "T", "individuals", "all", ("case_type",), "d")
    per_force = TableSpec("by_force", "F", "individuals", "all", ("force", "case_type"), "d")
    table = pd.DataFrame({"case_type": ["complaint", "conduct", "Total"],
                          "value": [6, 9, 15]})
    forces = pd.DataFrame({"force": ["kent", "kent", "kent", "essex", "essex", "essex"],
                           "case_type": ["complaint", "conduct", "Total"] * 2,
                           "value": [2, 5, 7, 4, 4, 8]})
    shares = pd.DataFrame({"force": ["kent", "kent", "essex", "Total"],
                           "case_type": ["complaint", "conduct", "conduct", "conduct"],
                           "value": [2, 5, 4, 9]})
    linked = link_tables({"by_type": table, "by_force": forces},
                         {"by_type": national, "by_force": per_force},
                         contributions={"by_type": shares})
    cells = linked.cells
    assert sorted(cells.attackers) == ["essex", "kent"]  # a force "Total" is nobody
    complaint = linked.row_cells["by_type"][0]
    conduct = linked.row_cells["by_type"][1]
    assert cells.lower_for("kent")[[complaint, conduct]].tolist() == [2.0, 5.0]
    assert cells.lower_for("essex")[[complaint, conduct]].tolist() == [0.0, 4.0]
    assert cells.lower[complaint] == 0.0  # the public knows no shares


def test_a_share_of_a_cell_no_table_has_is_refused() -> None:
    national = TableSpec("by_type", "T", "individuals", "all", ("case_type",), "d")
    table = pd.DataFrame({"case_type": ["complaint", "Total"], "value": [6, 6]})
    shares = pd.DataFrame({"force": ["kent"], "case_type": ["conduct"], "value": [1]})
    with pytest.raises(ValueError, match="contribution to a cell no table has"):
        link_tables({"by_type": table}, {"by_type": national},
                    contributions={"by_type": shares})


def _cases_and_individuals(relations: bool) -> LinkedCells:
    """Four forces' cases (Kent 30, Dorset 15, Wiltshire 10, Cumbria 4; 59 in all) and
    the individuals of three of them (15, 10, 5): every case has one subject but one
    of Cumbria's, which has two."""
    from vawg_pipeline.disclosure.problem import at_most

    values = [30, 15, 10, 4, 59, 15, 10, 5]
    return LinkedCells(
        values=np.array(values, dtype=float),
        constraints=[Constraint.total(4, [0, 1, 2, 3])],
        labels=["cases kent", "cases dorset", "cases wiltshire", "cases cumbria",
                "cases total", "individuals dorset", "individuals wiltshire",
                "individuals cumbria"],
        relations=[at_most(1, 5), at_most(2, 6), at_most(3, 7)] if relations else [],
    )


def test_a_withheld_count_of_cases_is_bounded_by_the_published_individuals() -> None:
    """59 - 30 - 15 - 10 = 4 <= Cumbria's cases <= its 5 individuals: a width of 1,
    though no table sums cases and individuals together."""
    withheld = [1, 2, 3]
    protection = Protection.for_cells(8, [3], sliding=5)
    unrelated = audit_cells(_cases_and_individuals(relations=False), withheld, protection)
    assert unrelated.passed and unrelated.interval(3) == (0.0, 29.0)
    related = audit_cells(_cases_and_individuals(relations=True), withheld, protection)
    assert related.interval(3) == (4.0, 5.0) and not related.passed


def test_protection_widens_a_count_the_individuals_would_narrow() -> None:
    cells = _cases_and_individuals(relations=True)
    protection = Protection.for_cells(cells.n, [3], sliding=5)
    result = protect_cells(cells, protection, initial=mask_of([1, 2, 3], cells.n))
    audit = audit_cells(cells, result.withheld, protection)
    assert audit.passed
    lo, hi = audit.interval(3)
    assert hi - lo >= 5


def test_linked_tables_relate_cases_to_individuals_and_finalised_to_all() -> None:
    specs = {
        "cases": TableSpec("cases", "Cases", "cases", "all", ("force",), ""),
        "people": TableSpec("people", "People", "individuals", "all", ("force",), ""),
        "closed": TableSpec("closed", "Closed", "individuals", "finalised", ("force",), ""),
    }
    frame = pd.DataFrame({"force": ["a", "b", "Total"]})
    tables = {"cases": frame.assign(value=[3, 4, 7]), "people": frame.assign(value=[5, 4, 9]),
              "closed": frame.assign(value=[2, 1, 3])}
    linked = link_tables(tables, specs)
    labels = linked.cells.labels
    pairs = {(labels[r.cells[0]], labels[r.cells[1]]) for r in linked.cells.relations}
    assert ("cases: force=a", "individuals: force=a") in pairs
    assert ("cases: grand total", "individuals: grand total") in pairs
    assert ("individuals (finalised): force=b", "individuals: force=b") in pairs
    assert len(pairs) == 6


def test_published_individuals_tell_a_withheld_cases_count_is_at_least_one() -> None:
    """A force's 4 cases withheld and its 5 individuals published: every individual is
    the subject of a case, so its cases are at least 1, not 0, and [1, 5] is too narrow.
    The linked problem knows it, the audit fails, protection widens the interval."""
    specs = {
        "cases": TableSpec("cases", "Cases", "cases", "all", ("force",), ""),
        "people": TableSpec("people", "People", "individuals", "all", ("force",), ""),
    }
    frame = pd.DataFrame({"force": ["a", "b", "c", "Total"]})
    tables = {"cases": frame.assign(value=[4, 30, 20, 54]),
              "people": frame.assign(value=[5, 40, 20, 65])}
    linked = link_tables(tables, specs, force_dimension=None)
    cells = linked.cells
    a_cases = cells.labels.index("cases: force=a")
    assert cells.lower[a_cases] == 1.0
    assert cells.lower[cells.labels.index("individuals: force=a")] == 0.0
    protection = Protection.for_cells(cells.n, [a_cases], sliding=5)
    withheld = mask_of([a_cases, cells.labels.index("cases: force=b")], cells.n)
    audit = audit_cells(cells, withheld, protection)
    assert audit.interval(a_cases) == (1.0, 5.0) and not audit.passed
    result = protect_cells(cells, protection, initial=withheld)
    lo, hi = audit_cells(cells, result.withheld, protection).interval(a_cases)
    assert hi - lo >= 5
