"""Primary suppression, the single-non-zero-line rule and cells shared across tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vawg_pipeline.disclosure.audit import audit
from vawg_pipeline.disclosure.linking import link_tables
from vawg_pipeline.disclosure.specs import TOTAL, DisclosureRules
from vawg_pipeline.disclosure.suppression import protect
from vawg_pipeline_tests.disclosure.tables_for_tests import rows_from_counts, tables_for

RULES = DisclosureRules()
FORCES = ["essex", "kent", "surrey", "sussex"]
CATEGORIES = ["domestic abuse", "sexual offence", "sexual harassment"]
LEVELS = {"force": FORCES, "vawg_category": CATEGORIES, "case_type": ["complaint", "conduct"]}
FORCE_TABLE = "individuals_by_force_and_vawg_category"


def _force_tables(counts: list[list[int]], *extra: str):
    rows = rows_from_counts(["force", "vawg_category"], LEVELS, np.array(counts))
    return tables_for([FORCE_TABLE, *extra], rows, LEVELS)


def _cell(table: pd.DataFrame, **where: str) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for dim, value in where.items():
        mask &= table[dim] == value
    return table[mask].iloc[0]


def test_small_counts_are_primary_and_zeros_and_large_counts_are_not() -> None:
    counts = [[20, 3, 0], [15, 12, 9], [30, 8, 1], [25, 14, 6]]
    tables, specs = _force_tables(counts)
    out = protect(tables, specs, RULES)[FORCE_TABLE]
    assert _cell(out, force="essex", vawg_category="sexual offence").withheld_reason == "primary"
    assert _cell(out, force="surrey", vawg_category="sexual harassment").withheld
    zero = _cell(out, force="essex", vawg_category="sexual harassment")
    small = out[(out.value >= 1) & (out.value <= 4)]
    assert small.withheld.all() and (small.withheld_reason == "primary").all()
    assert not (out.withheld & (out.withheld_reason.isna())).any()
    assert zero.value == 0
    assert audit({FORCE_TABLE: out}, specs, RULES).passed


def test_a_total_that_is_small_is_primary_too() -> None:
    counts = [[2, 1, 0], [15, 12, 9], [30, 8, 6], [25, 14, 6]]
    tables, specs = _force_tables(counts)
    out = protect(tables, specs, RULES)[FORCE_TABLE]
    total = _cell(out, force="essex", vawg_category=TOTAL)
    assert total.value == 3 and total.withheld_reason == "primary"
    assert audit({FORCE_TABLE: out}, specs, RULES).passed


def test_no_small_cell_means_nothing_is_withheld() -> None:
    counts = [[20, 5, 0], [15, 12, 9], [30, 8, 0], [25, 14, 6]]
    tables, specs = _force_tables(counts, "individuals_by_vawg_category")
    out = protect(tables, specs, RULES)
    for table in out.values():
        assert not table.withheld.any()
        assert table.withheld_reason.isna().all()
    assert audit(out, specs, RULES).passed


def test_a_line_with_a_single_withheld_nonzero_cell_withholds_another_cell() -> None:
    # Kent's only cases are 3 of domestic abuse: its published zeros would say that
    # everyone Kent reported is in that category.
    counts = [[20, 6, 7], [3, 0, 0], [30, 8, 9], [25, 14, 6]]
    tables, specs = _force_tables(counts)
    out = protect(tables, specs, RULES)[FORCE_TABLE]
    kent = out[(out.force == "kent") & (out.vawg_category != TOTAL)]
    assert kent.withheld.sum() >= 2
    assert (kent.withheld_reason == "primary-line").any()
    line_cell = kent[kent.withheld_reason == "primary-line"].iloc[0]
    assert line_cell.value == 0
    report = audit({FORCE_TABLE: out}, specs, RULES)
    assert report.passed, report.violations
    assert report.summary()["primary-line"] >= 1


def test_the_line_rule_can_be_switched_off_and_the_audit_then_ignores_it() -> None:
    counts = [[20, 6, 7], [3, 0, 0], [30, 8, 9], [25, 14, 6]]
    tables, specs = _force_tables(counts)
    rules = DisclosureRules(protect_zeros_in_single_nonzero_lines=False)
    out = protect(tables, specs, rules)[FORCE_TABLE]
    assert not (out.withheld_reason == "primary-line").any()
    assert audit({FORCE_TABLE: out}, specs, rules).passed
    breached = audit({FORCE_TABLE: out}, specs, RULES)
    kent = out[(out.force == "kent") & (out.vawg_category != TOTAL)]
    if kent.withheld.sum() == 1:
        assert not breached.passed
        assert any("zeros" in v for v in breached.violations)


def test_shared_cells_are_one_cell_and_are_withheld_alike() -> None:
    counts = [[20, 2, 7], [9, 0, 6], [30, 8, 9], [25, 14, 6]]
    rows = rows_from_counts(["force", "vawg_category"], LEVELS, np.array(counts))
    ids = [FORCE_TABLE, "individuals_by_vawg_category"]
    tables, specs = tables_for(ids, rows, LEVELS)
    linked = link_tables(tables, specs)
    by_force, by_category = (linked.row_cells[t] for t in ids)
    national = tables[FORCE_TABLE].force == TOTAL
    case_total = tables["individuals_by_vawg_category"].case_type == TOTAL
    assert sorted(by_force[national.to_numpy()]) == sorted(by_category[case_total.to_numpy()])
    out = protect(tables, specs, RULES)
    margin = out[FORCE_TABLE][national].set_index("vawg_category").withheld
    other = out["individuals_by_vawg_category"][case_total].set_index("vawg_category").withheld
    assert margin.sort_index().equals(other.sort_index())
    assert audit(out, specs, RULES).passed


def test_disagreeing_shared_cells_are_refused() -> None:
    counts = [[20, 2, 7], [9, 0, 6], [30, 8, 9], [25, 14, 6]]
    rows = rows_from_counts(["force", "vawg_category"], LEVELS, np.array(counts))
    ids = [FORCE_TABLE, "individuals_by_vawg_category"]
    tables, specs = tables_for(ids, rows, LEVELS)
    broken = tables["individuals_by_vawg_category"].copy()
    broken.loc[len(broken) - 1, "value"] += 1
    try:
        link_tables({**tables, "individuals_by_vawg_category": broken}, specs)
    except ValueError as error:
        assert "shared cells must agree" in str(error)
    else:
        raise AssertionError("inconsistent shared cells were accepted")


def test_a_shared_cell_withheld_in_one_table_only_is_caught() -> None:
    counts = [[20, 2, 7], [9, 1, 6], [30, 0, 9], [25, 1, 6]]  # sexual offence total: 4
    rows = rows_from_counts(["force", "vawg_category"], LEVELS, np.array(counts))
    ids = [FORCE_TABLE, "individuals_by_vawg_category"]
    tables, specs = tables_for(ids, rows, LEVELS)
    out = protect(tables, specs, RULES)
    national = out["individuals_by_vawg_category"]
    national["withheld"] = False  # publish everything in the national table
    report = audit(out, specs, RULES)
    assert not report.passed
    assert report.summary()["inconsistent_shared_cells"] > 0
    assert any("published in others" in v for v in report.violations)
    assert any("is published but is a count between 1 and 4" in v for v in report.violations)


def test_insiders_protect_against_a_force_knowing_its_own_figures() -> None:
    # Two forces: each knows its own row, so the other's row is the national row minus
    # its own. Withholding only within the rows would not protect against that.
    levels = {"force": ["kent", "essex"], "vawg_category": CATEGORIES}
    counts = np.array([[3, 9, 8], [7, 6, 12]])
    rows = rows_from_counts(["force", "vawg_category"], levels, counts)
    tables, specs = tables_for([FORCE_TABLE], rows, levels)
    national = tables[FORCE_TABLE].force == TOTAL

    public_only = DisclosureRules(insiders=False)
    out = protect(tables, specs, public_only)
    assert audit(out, specs, public_only).passed
    assert not out[FORCE_TABLE][national].withheld.any()
    # ... but Essex, knowing its own row, would read Kent's 3 off the national row.
    failing = audit(out, specs, RULES)
    assert not failing.passed
    assert any("force essex, knowing its own figures" in v for v in failing.violations)

    out = protect(tables, specs, RULES)
    report = audit(out, specs, RULES)
    assert report.passed, report.violations
    assert out[FORCE_TABLE][national].withheld.any()
    kent_primary = report.detail[
        (report.detail.cell == "force=kent, vawg_category=domestic abuse")
        & (report.detail.attacker != "outsider")
    ]
    assert list(kent_primary.attacker) == ["essex"]  # Kent is not protected from itself
    assert (kent_primary.width >= 5).all()


def test_protect_is_deterministic_and_keeps_true_values() -> None:
    counts = [[20, 2, 7], [9, 1, 6], [30, 8, 3], [2, 14, 6]]
    tables, specs = _force_tables(counts, "individuals_by_vawg_category")
    first = protect(tables, specs, RULES)
    second = protect(dict(reversed(list(tables.items()))), specs, RULES)
    for table_id in tables:
        pd.testing.assert_frame_equal(first[table_id], second[table_id])
        pd.testing.assert_series_equal(first[table_id].value, tables[table_id].value)


def test_the_report_never_shows_a_withheld_value_or_an_insider_range() -> None:
    counts = [[20, 2, 7], [9, 1, 6], [30, 8, 3], [2, 14, 6]]
    tables, specs = _force_tables(counts)
    out = protect(tables, specs, RULES)
    report = audit(out, specs, RULES)
    assert list(report.cells.columns) == ["table_id", "cell", "attacker", "lo", "hi", "width", "ok"]
    assert "value" not in report.cells.columns and "withheld_reason" not in report.cells.columns
    insiders = report.cells[report.cells.attacker != "outsider"]
    assert len(insiders) and insiders[["lo", "hi", "width"]].isna().all().all()
    public = report.cells[report.cells.attacker == "outsider"]
    assert public[["lo", "hi"]].notna().all().all()
    summary = report.summary()
    assert summary["passed"] and summary["lps_solved"] > 0 and summary["seconds"] >= 0
    assert summary["primary"] == 4
