"""Counting case-level rows into long-form tables with margins."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vawg_pipeline.disclosure import counting
from vawg_pipeline.disclosure.counting import count_table, count_table_duckdb, count_tables_duckdb
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


# --- the DuckDB counter agrees with count_table ------------------------------------

ROW_COLUMNS = ["force_code", "case_reference", "case_type", "vawg_category", "subject_role",
               "restriction", "victim_relationship", "outcome", "status"]
SYNTHETIC = levels_for(forces(44))


def _duckdb_tables(rows: pd.DataFrame, specs: list[TableSpec],
                   levels: dict[str, list[str]], each_alone: bool = True,
                   ) -> dict[str, pd.DataFrame]:
    """Every table counted in DuckDB from ``rows``: all at once (queries shared) and, if
    ``each_alone``, each on its own; both must agree."""
    con = duckdb.connect()
    try:
        con.register("rows_frame", rows)
        together = count_tables_duckdb(con, specs, "SELECT * FROM rows_frame", levels)
        for spec in specs if each_alone else []:
            alone = count_table_duckdb(con, spec, "SELECT * FROM rows_frame", levels)
            pd.testing.assert_frame_equal(alone, together[spec.table_id])
        return together
    finally:
        con.close()


def _assert_counters_agree(rows: pd.DataFrame, levels: dict[str, list[str]],
                           specs: list[TableSpec] | None = None, each_alone: bool = True,
                           ) -> None:
    specs = specs if specs is not None else list(SPECS.values())
    counted = _duckdb_tables(rows, specs, levels, each_alone)
    for spec in specs:
        pd.testing.assert_frame_equal(counted[spec.table_id],
                                      count_table(spec, rows, levels),
                                      obj=spec.table_id)


@st.composite
def random_rows(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Random subject-per-case rows (case-level fields agree within a case, as ingestion
    guarantees), a random subset of categories used, and levels for all of them."""
    codes = draw(st.lists(st.sampled_from(forces(44)), min_size=1, max_size=6, unique=True))
    levels = {**SYNTHETIC, "force": codes}
    records = []
    for case in range(draw(st.integers(0, 40))):
        force = draw(st.sampled_from(codes))
        # Case references repeat across forces: a case is (force, reference).
        reference = f"C{draw(st.integers(0, case))}"
        case_type = draw(st.sampled_from(levels["case_type"]))
        if any(r["force_code"] == force and r["case_reference"] == reference
               for r in records):
            continue  # that case exists: its case_type is already drawn
        for _ in range(draw(st.integers(1, 3))):
            finalised = draw(st.booleans())
            records.append({
                "force_code": force, "case_reference": reference, "case_type": case_type,
                "vawg_category": draw(st.sampled_from(levels["vawg_category"])),
                "subject_role": draw(st.sampled_from(levels["subject_role"])),
                "restriction": draw(st.sampled_from(levels["restriction"])),
                "victim_relationship": draw(st.sampled_from(levels["victim_relationship"])),
                "outcome": draw(st.sampled_from(levels["outcome"])) if finalised else None,
                "status": "finalised" if finalised else "ongoing",
            })
    frame = pd.DataFrame.from_records(records, columns=ROW_COLUMNS).astype(object)
    return frame, levels


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(random_rows())
def test_duckdb_counter_equals_count_table_on_random_rows(
    drawn: tuple[pd.DataFrame, dict[str, list[str]]],
) -> None:
    rows, levels = drawn
    _assert_counters_agree(rows, levels, each_alone=False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_duckdb_counter_equals_count_table_at_national_shape(seed: int) -> None:
    rows = make_rows(3000, forces(44), seed=seed)
    _assert_counters_agree(rows, SYNTHETIC)


def test_tables_of_one_unit_and_population_share_one_query(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queries: list[str] = []
    real_group_sql = counting.group_sql
    monkeypatch.setattr(counting, "group_sql",
                        lambda *args: queries.append(args[0]) or real_group_sql(*args))
    _assert_counters_agree(make_rows(500, forces(44), seed=4), SYNTHETIC, each_alone=False)
    assert len(queries) == len({(s.unit, s.population) for s in SPECS.values()})


def test_tables_too_many_to_share_a_query_are_counted_one_query_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Configured tables whose shared grid would be too large: each its own query,
    the same counts."""
    monkeypatch.setattr(counting, "MAX_SHARED_GRID_CELLS", 1)
    queries: list[str] = []
    real_group_sql = counting.group_sql
    monkeypatch.setattr(counting, "group_sql",
                        lambda *args: queries.append(args[0]) or real_group_sql(*args))
    rows = make_rows(500, forces(44), seed=3)
    _assert_counters_agree(rows, SYNTHETIC, each_alone=False)
    assert len(queries) == len(SPECS)


def test_duckdb_counter_keeps_count_tables_own_examples() -> None:
    _assert_counters_agree(ROWS, LEVELS, [SPECS["cases_by_force"],
                                          SPECS["individuals_by_force_and_vawg_category"],
                                          SPECS["individuals_by_outcome"]])
    table = _duckdb_tables(ROWS, [SPECS["cases_by_force"]], LEVELS)["cases_by_force"]
    assert _value(table, force="kent", case_type=TOTAL) == 2  # 2 cases, 3 rows
    assert _value(table, force=TOTAL, case_type=TOTAL) == 3


@pytest.mark.parametrize(("change", "error", "match"), [
    ({"vawg_category": ["domestic abuse", "other", "other", "other"]}, ValueError,
     "not in the levels"),
    ({"vawg_category": ["domestic abuse", None, "sexual offence", "domestic abuse"]},
     ValueError, "missing values"),
])
def test_duckdb_counter_refuses_what_count_table_refuses(
    change: dict[str, list[object]], error: type[Exception], match: str
) -> None:
    rows = ROWS.assign(**change)
    spec = SPECS["individuals_by_force_and_vawg_category"]
    with pytest.raises(error, match=match):
        count_table(spec, rows, LEVELS)
    with pytest.raises(error, match=match):
        _duckdb_tables(rows, [spec], LEVELS)


def test_duckdb_counter_refuses_bad_levels_and_absent_columns() -> None:
    con = duckdb.connect()
    try:
        con.register("rows_frame", ROWS)
        with pytest.raises(KeyError, match="no levels"):
            count_table_duckdb(con, SPECS["individuals_by_role"], "SELECT * FROM rows_frame",
                               LEVELS)
        spec = TableSpec("t", "T", "cases", "all", ("case_type",), "d")
        with pytest.raises(ValueError, match="literally"):
            count_table_duckdb(con, spec, "SELECT * FROM rows_frame",
                               {"case_type": ["complaint", TOTAL]})
        with pytest.raises(KeyError, match="rows lack columns"):
            count_table_duckdb(con, SPECS["cases_by_force"],
                               "SELECT force_code, case_type FROM rows_frame", LEVELS)
    finally:
        con.close()


def test_duckdb_counter_binds_parameters() -> None:
    con = duckdb.connect()
    try:
        con.register("rows_frame", ROWS)
        table = count_table_duckdb(con, SPECS["cases_by_force"],
                                   "SELECT * FROM rows_frame WHERE force_code = ?", LEVELS,
                                   ["kent"])
    finally:
        con.close()
    assert _value(table, force=TOTAL, case_type=TOTAL) == 2
    assert _value(table, force="essex", case_type=TOTAL) == 0
