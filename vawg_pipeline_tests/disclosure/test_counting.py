"""Counting case-level rows into long-form tables with margins."""

from __future__ import annotations

import pandas as pd
import pytest

from vawg_pipeline.disclosure.counting import count_table
from vawg_pipeline.disclosure.specs import TOTAL, TableSpec, load_table_specs
from vawg_pipeline_tests.disclosure.synthetic import forces, levels_for, make_rows

SPECS = {s.table_id: s for s in load_table_specs()}


def _rows(records: list[tuple]) -> pd.DataFrame:
    columns = ["force_code", "case_reference", "case_type", "vawg_category", "status"]
    frame = pd.DataFrame.from_records(records, columns=columns)
    frame["subject_role"] = "police officer"
    frame["restriction"] = "none"
    frame["victim_relationship"] = "colleague"
    frame["outcome"] = ["no further action" if s == "finalised" else None for s in frame.status]
    return frame


ROWS = _rows(
    [
        ("kent", "K1", "conduct", "domestic abuse", "finalised"),
        ("kent", "K1", "conduct", "sexual offence", "finalised"),  # 2 subjects, 1 case
        ("kent", "K2", "complaint", "domestic abuse", "ongoing"),
        ("essex", "K1", "complaint", "domestic abuse", "ongoing"),  # same ref, other force
    ]
)
LEVELS = {
    "force": ["essex", "kent", "surrey"],
    "case_type": ["complaint", "conduct"],
    "vawg_category": ["domestic abuse", "sexual offence", "indecent exposure"],
    "outcome": ["no further action", "dismissed"],
}


def _value(table: pd.DataFrame, **where: str) -> int:
    mask = pd.Series(True, index=table.index)
    for dim, value in where.items():
        mask &= table[dim] == value
    assert mask.sum() == 1
    return int(table.loc[mask, "value"].iloc[0])


def test_cases_count_distinct_references_within_a_force() -> None:
    table = count_table(SPECS["cases_by_force"], ROWS, LEVELS)
    assert _value(table, force="kent", case_type="conduct") == 1
    assert _value(table, force="kent", case_type=TOTAL) == 2
    assert _value(table, force="essex", case_type="complaint") == 1
    assert _value(table, force=TOTAL, case_type=TOTAL) == 3


def test_individuals_count_rows() -> None:
    table = count_table(SPECS["individuals_by_force_and_vawg_category"], ROWS, LEVELS)
    assert _value(table, force="kent", vawg_category="domestic abuse") == 2
    assert _value(table, force=TOTAL, vawg_category=TOTAL) == 4


def test_zero_cells_and_all_combinations_appear_in_display_order() -> None:
    table = count_table(SPECS["cases_by_force"], ROWS, LEVELS)
    assert list(table.columns) == ["force", "case_type", "value"]
    assert len(table) == 4 * 3
    assert list(table["force"].drop_duplicates()) == ["essex", "kent", "surrey", TOTAL]
    assert list(table["case_type"].drop_duplicates()) == ["complaint", "conduct", TOTAL]
    assert _value(table, force="surrey", case_type=TOTAL) == 0
    assert table["value"].dtype == "int64"


def test_finalised_population_keeps_finalised_rows_only() -> None:
    table = count_table(SPECS["individuals_by_outcome"], ROWS, LEVELS)
    assert _value(table, outcome=TOTAL, case_type=TOTAL) == 2
    assert _value(table, outcome="no further action", case_type="conduct") == 2


@pytest.mark.parametrize("table_id", sorted(SPECS))
def test_every_total_is_the_sum_of_what_it_totals(table_id: str) -> None:
    codes = forces(6)
    rows = make_rows(300, codes, seed=4)
    spec = SPECS[table_id]
    table = count_table(spec, rows, levels_for(codes))
    for dim in spec.dimensions:
        others = [d for d in spec.dimensions if d != dim]
        parts = table[table[dim] != TOTAL]
        totals = table[table[dim] == TOTAL]
        summed = parts.groupby(others, sort=False)["value"].sum() if others else None
        for _, row in totals.iterrows():
            if others:
                key = tuple(row[o] for o in others)
                key = key[0] if len(key) == 1 else key
                assert summed.loc[key] == row["value"]
            else:
                assert parts["value"].sum() == row["value"]


def test_unknown_category_is_an_error() -> None:
    rows = ROWS.assign(vawg_category=["domestic abuse", "other", "other", "other"])
    with pytest.raises(ValueError, match="not in the levels"):
        count_table(SPECS["individuals_by_force_and_vawg_category"], rows, LEVELS)


def test_missing_levels_is_an_error() -> None:
    with pytest.raises(KeyError, match="no levels"):
        count_table(SPECS["individuals_by_role"], ROWS, LEVELS)


def test_a_level_named_total_is_refused() -> None:
    spec = TableSpec("t", "T", "cases", "all", ("case_type",), "d")
    with pytest.raises(ValueError, match="literally"):
        count_table(spec, ROWS, {"case_type": ["complaint", TOTAL]})
