"""Building small published tables from given interior counts, for the tests."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from vawg_pipeline.disclosure.counting import count_table
from vawg_pipeline.disclosure.problem import Constraint, LinkedCells
from vawg_pipeline.disclosure.specs import TableSpec, load_table_specs

SPECS: dict[str, TableSpec] = {s.table_id: s for s in load_table_specs()}
DEFAULTS = {
    "force_code": "kent",
    "case_type": "conduct",
    "vawg_category": "domestic abuse",
    "subject_role": "police officer",
    "restriction": "none",
    "victim_relationship": "colleague",
    "status": "finalised",
    "outcome": "no further action",
}
COLUMN = {"force": "force_code"}


def rows_from_counts(
    dims: Sequence[str], levels: Mapping[str, Sequence[str]], counts: np.ndarray
) -> pd.DataFrame:
    """Case-level rows (one case per row) whose interior counts over ``dims`` are
    ``counts`` (an array shaped by the levels of ``dims``)."""
    records = []
    serial = 0
    for index in itertools.product(*(range(len(levels[d])) for d in dims)):
        for _ in range(int(counts[index])):
            serial += 1
            record = dict(DEFAULTS)
            record["case_reference"] = f"R{serial}"
            for d, k in zip(dims, index, strict=True):
                record[COLUMN.get(d, d)] = levels[d][k]
            records.append(record)
    columns = [*DEFAULTS, "case_reference"]
    return pd.DataFrame.from_records(records, columns=columns).astype(object)


def tables_for(
    table_ids: Sequence[str], rows: pd.DataFrame, levels: Mapping[str, Sequence[str]]
) -> tuple[dict[str, pd.DataFrame], dict[str, TableSpec]]:
    specs = {t: SPECS[t] for t in table_ids}
    full_levels = {d: list(levels.get(d, [DEFAULTS[COLUMN.get(d, d)]])) for d in _dims(specs)}
    return {t: count_table(s, rows, full_levels) for t, s in specs.items()}, specs


def _dims(specs: Mapping[str, TableSpec]) -> list[str]:
    return sorted({d for s in specs.values() for d in s.dimensions})


def grid_cells(
    rows: Sequence[str],
    cols: Sequence[str],
    interior: Sequence[Sequence[float]],
    total: str = "Total",
    **kwargs: object,
) -> tuple[LinkedCells, dict[tuple[str, str], int]]:
    """A two-way table with row, column and grand totals as a generic cell problem.
    Returns it with a map (row label, column label) -> cell index; totals use ``total``."""
    counts = np.asarray(interior, dtype=float)
    full = np.zeros((len(rows) + 1, len(cols) + 1))
    full[:-1, :-1] = counts
    full[-1, :-1] = counts.sum(axis=0)
    full[:-1, -1] = counts.sum(axis=1)
    full[-1, -1] = counts.sum()
    row_labels = [*rows, total]
    col_labels = [*cols, total]
    index = {
        (r, c): i * len(col_labels) + j
        for i, r in enumerate(row_labels)
        for j, c in enumerate(col_labels)
    }
    constraints = [
        Constraint.total(index[(r, total)], [index[(r, c)] for c in cols]) for r in row_labels
    ] + [Constraint.total(index[(total, c)], [index[(r, c)] for r in rows]) for c in col_labels]
    labels = [f"{r} x {c}" for r in row_labels for c in col_labels]
    cells = LinkedCells(values=full.reshape(-1), constraints=constraints, labels=labels, **kwargs)  # type: ignore[arg-type]
    return cells, index
