"""Counting the case-level rows into the published tables, before any suppression.

A table counts either *individuals* (subject-per-case rows, as the NPCC counts them:
"653 conduct cases against 672 individuals") or *cases* (distinct case references within
a force). Every table has a ``Total`` margin for each dimension, and every category
appears even when nobody falls in it (a zero is information a reader needs, and the
suppression must see it). The margins are computed by summing the interior, so each
Total equals the sum of what it totals by construction; for ``cases`` that equals the
distinct count too, because the only dimensions a cases table may use (force, case
type) are constant within a case.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from vawg_pipeline.disclosure.specs import DIMENSION_COLUMNS, TOTAL, TableSpec

CASE_KEY = ("force_code", "case_reference")


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
    missing_levels = [d for d in dims if d not in levels]
    if missing_levels:
        raise KeyError(f"{spec.table_id}: no levels given for {missing_levels}")
    dim_levels = {d: [str(v) for v in levels[d]] for d in dims}
    for d, values in dim_levels.items():
        if TOTAL in values:
            raise ValueError(f"{spec.table_id}: {d} has a category literally named {TOTAL!r}")
        if len(set(values)) != len(values):
            raise ValueError(f"{spec.table_id}: {d} lists a category twice")

    columns = [DIMENSION_COLUMNS[d] for d in dims]
    needed = set(columns) | ({"status"} if spec.population == "finalised" else set())
    needed |= set(CASE_KEY) if spec.unit == "cases" else set()
    absent = sorted(needed - set(rows.columns))
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
