"""Counting the case-level rows into the published tables, before any suppression.

A table counts either *individuals* (subject-per-case rows, as the NPCC counts them:
"653 conduct cases against 672 individuals") or *cases* (distinct case references within
a force). Every table has a ``Total`` margin for each dimension, and every category
appears even when nobody falls in it (a zero is information a reader needs, and the
suppression must see it). The margins are computed by summing the interior, so each
Total equals the sum of what it totals by construction; for ``cases`` that equals the
distinct count too, because the only dimensions a cases table may use (force, case
type) are constant within a case.

Two counters make the same frames: :func:`count_table` over a pandas frame of rows (for
tests and pure use) and :func:`count_table_duckdb`, which leaves the grouping to DuckDB
so the rows never leave the database (a million rows would otherwise be copied into
pandas only to be reduced to a few hundred cells). Both fill the same dense grid and add
the margins the same way.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from vawg_pipeline.disclosure.specs import DIMENSION_COLUMNS, TOTAL, TableSpec

CASE_KEY = ("force_code", "case_reference")
# The most cells (levels, plus one for a value outside them, multiplied over the
# dimensions) a shared counting query may group by: beyond it, a table per query.
MAX_SHARED_GRID_CELLS = 500_000


def count_table(
    spec: TableSpec, rows: pd.DataFrame, levels: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """Count ``rows`` into the long-form table ``spec`` describes, margins included.

    rows: one row per subject per case (already limited to the reporting period).
    levels: every value of each dimension in display order (all categories, so zero
        cells appear; for ``force`` the codes of the forces with an accepted return).

    Returns one column per dimension (levels, then ``Total``, all combinations, the
    first dimension varying slowest) and ``value`` (int64, the true count).
    """
    dims = list(spec.dimensions)
    dim_levels = _checked_levels(spec, levels)
    columns = [DIMENSION_COLUMNS[d] for d in dims]
    absent = sorted(_needed_columns(spec) - set(rows.columns))
    if absent:
        raise KeyError(f"{spec.table_id}: rows lack columns {absent}")

    data = rows
    if spec.population == "finalised":
        data = data[data["status"] == "finalised"]
    if spec.unit == "cases":
        # One row per case; case_type and force are case-level, so any row of a case
        # carries the case's values. Sorting makes the kept row deterministic.
        data = data.sort_values(list(CASE_KEY), kind="stable").drop_duplicates(
            list(CASE_KEY), keep="first"
        )

    # Interior counts on a dense grid, so empty categories count zero.
    shape = tuple(len(dim_levels[d]) for d in dims)
    codes = []
    for d, column in zip(dims, columns, strict=True):
        values = data[column]
        if values.isna().any():
            raise ValueError(f"{spec.table_id}: {column} has missing values")
        categorical = pd.Categorical(values.astype(str), categories=dim_levels[d])
        unknown = sorted(set(values.astype(str)) - set(dim_levels[d]))
        if unknown:
            raise ValueError(
                f"{spec.table_id}: {column} has values not in the levels of {d}: {unknown}"
            )
        codes.append(np.asarray(categorical.codes, dtype=np.int64))
    interior = np.zeros(shape, dtype=np.int64)
    if len(data):
        np.add.at(interior, tuple(codes), 1)
    return _long_frame(dims, dim_levels, interior)


def _checked_levels(
    spec: TableSpec, levels: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """The levels of ``spec``'s dimensions as strings, refused if unusable."""
    dims = list(spec.dimensions)
    missing_levels = [d for d in dims if d not in levels]
    if missing_levels:
        raise KeyError(f"{spec.table_id}: no levels given for {missing_levels}")
    dim_levels = {d: [str(v) for v in levels[d]] for d in dims}
    for d, values in dim_levels.items():
        if TOTAL in values:
            raise ValueError(f"{spec.table_id}: {d} has a category literally named {TOTAL!r}")
        if len(set(values)) != len(values):
            raise ValueError(f"{spec.table_id}: {d} lists a category twice")
    return dim_levels


def _needed_columns(spec: TableSpec) -> set[str]:
    needed = {DIMENSION_COLUMNS[d] for d in spec.dimensions}
    needed |= {"status"} if spec.population == "finalised" else set()
    needed |= set(CASE_KEY) if spec.unit == "cases" else set()
    return needed


def _long_frame(
    dims: list[str], dim_levels: Mapping[str, list[str]], interior: np.ndarray
) -> pd.DataFrame:
    """The long-form table of a dense interior grid, margins padded on."""
    # Pad each axis with its margin, computed by summing: additivity by construction.
    full = interior
    for axis in range(len(dims)):
        full = np.concatenate([full, full.sum(axis=axis, keepdims=True)], axis=axis)

    labels = [dim_levels[d] + [TOTAL] for d in dims]
    records = list(itertools.product(*labels))
    frame = pd.DataFrame.from_records(records, columns=dims)
    for d in dims:
        frame[d] = frame[d].astype(object)
    frame["value"] = full.reshape(-1).astype(np.int64)
    return frame


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def group_sql(unit: str, population: str, columns: Sequence[str], rows_sql: str) -> str:
    """The query counting the rows ``rows_sql`` selects, of one unit and population, by
    ``columns`` (one row per non-empty interior cell, its count last).

    Only interiors are grouped: the margins are summed from them afterwards (as
    count_table does), so every Total is the sum of what it totals. For ``cases`` the
    rows are first reduced to one per case (force_code, case_reference), each case-level
    value taken as its minimum: ingestion quarantines a case whose rows disagree on a
    case-level field, so they agree, and one row per case makes the interior cells add up
    to the distinct case count by construction (as count_table's one-row-per-case does).
    """
    quoted = [_quote(c) for c in columns]
    where = "WHERE status = 'finalised'" if population == "finalised" else ""
    if unit == "cases":
        keys = [_quote(c) for c in CASE_KEY]
        per_case = ", ".join([*keys, *(f"min({c}) AS {c}" for c in quoted if c not in keys)])
        source = f"(SELECT {per_case} FROM period_rows {where} GROUP BY {', '.join(keys)})"
        where = ""
    else:
        source = "period_rows"
    grouped = ", ".join(quoted)
    return (f"WITH period_rows AS ({rows_sql}) "
            f"SELECT {grouped}, count(*) AS n FROM {source} {where} GROUP BY {grouped}")


def count_table_duckdb(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    rows_sql: str,
    levels: Mapping[str, Sequence[str]],
    params: Sequence[Any] = (),
) -> pd.DataFrame:
    """As :func:`count_table`, but over the rows ``rows_sql`` selects in DuckDB (with
    ``params`` bound), grouped there: only the interior counts come back.

    ``rows_sql`` must yield the columns count_table reads (the dimension columns,
    ``status`` for a finalised table, force_code and case_reference for a cases table),
    with a blank victim_relationship already spelled as its category. The result is the
    frame count_table gives for the same rows, and the same errors are raised for absent
    columns, missing values and values outside the levels.
    """
    return count_tables_duckdb(con, [spec], rows_sql, levels, params)[spec.table_id]


def count_tables_duckdb(
    con: duckdb.DuckDBPyConnection,
    specs: Sequence[TableSpec],
    rows_sql: str,
    levels: Mapping[str, Sequence[str]],
    params: Sequence[Any] = (),
) -> dict[str, pd.DataFrame]:
    """Every table of ``specs``, as :func:`count_table_duckdb` counts it, by table id.

    The tables of one unit and population share one query (see below).
    """
    checked = {s.table_id: _checked_levels(s, levels) for s in specs}
    available = set(_columns_of(con, rows_sql, params))
    for spec in specs:
        absent = sorted(_needed_columns(spec) - available)
        if absent:
            raise KeyError(f"{spec.table_id}: rows lack columns {absent}")

    # One query per unit and population, grouped by every dimension any of its tables
    # uses: each table's cells are sums of those finer cells. For cases the costly
    # one-row-per-case reduction then runs once, not per table; for individuals one scan
    # serves every table (a few tens of thousands of groups for a million rows, summed
    # in numpy), where a query per table cost ~30 ms each. Should configured tables make
    # that shared grid too large, their tables are counted one query each.
    members: dict[tuple[str, str], list[TableSpec]] = {}
    for spec in specs:
        members.setdefault((spec.unit, spec.population), []).append(spec)
    queries: list[tuple[str, str, list[TableSpec]]] = []
    for (unit, population), group in members.items():
        shared = {d: checked[s.table_id][d] for s in group for d in s.dimensions}
        if math.prod(len(v) + 1 for v in shared.values()) <= MAX_SHARED_GRID_CELLS:
            queries.append((unit, population, group))
        else:
            queries += [(unit, population, [s]) for s in group]

    order = list(DIMENSION_COLUMNS)
    interiors: dict[str, np.ndarray] = {}
    for unit, population, group in queries:
        used = {d for s in group for d in s.dimensions}
        columns = tuple(DIMENSION_COLUMNS[d] for d in order if d in used)
        counted = con.execute(group_sql(unit, population, columns, rows_sql),
                              list(params)).fetchnumpy()
        for s in group:
            interiors[s.table_id] = _dense_interior(s, checked[s.table_id], counted)
    return {s.table_id: _long_frame(list(s.dimensions), checked[s.table_id],
                                    interiors[s.table_id])
            for s in specs}


def _dense_interior(spec: TableSpec, dim_levels: Mapping[str, list[str]],
                    counted: Mapping[str, np.ndarray]) -> np.ndarray:
    """The grouped counts (a column per grouped column, the count in ``n``) summed onto
    the dense grid of the table's levels, checked as count_table checks its rows."""
    dims = list(spec.dimensions)
    index = []
    for d in dims:
        # The same checks, in the same order, as count_table's.
        column = DIMENSION_COLUMNS[d]
        values = pd.Series(counted[column], dtype=object)
        if values.isna().any():
            raise ValueError(f"{spec.table_id}: {column} has missing values")
        positions = pd.Index(dim_levels[d]).get_indexer(values.astype(str))
        if (positions < 0).any():
            unknown = sorted(set(values.astype(str)[positions < 0]))
            raise ValueError(
                f"{spec.table_id}: {column} has values not in the levels of {d}: {unknown}"
            )
        index.append(positions.astype(np.int64))
    interior = np.zeros(tuple(len(dim_levels[d]) for d in dims), dtype=np.int64)
    if len(counted["n"]):
        np.add.at(interior, tuple(index), np.asarray(counted["n"], dtype=np.int64))
    return interior


def _columns_of(
    con: duckdb.DuckDBPyConnection, rows_sql: str, params: Sequence[Any]
) -> list[str]:
    """The column names ``rows_sql`` yields (planned, no rows read)."""
    con.execute(f"SELECT * FROM ({rows_sql}) LIMIT 0", list(params))
    return [d[0] for d in con.description]
