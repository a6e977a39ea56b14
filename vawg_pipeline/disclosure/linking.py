"""Turning the published tables into one set of linked cells.

Tables that count the same thing share cells: two rows of two tables are the same cell
when they have the same unit, the same population and the same non-Total dimension
values. The ``force = Total`` row of cases_by_force *is* the cases_by_case_type table;
the VAWG category margins of individuals_by_vawg_category and of
individuals_by_force_and_vawg_category are the same numbers. Suppression must treat
them as one variable, or a cell withheld in one table could be read off another.

Every table contributes one additive constraint per *line*: for each dimension and
each combination of values of the other dimensions (Totals included), the sum over the
dimension's categories equals the row with that dimension at Total.

An insider is a force: it knows every cell whose force value is its own code, in every
table that has the force dimension. In a table without it (a national table) the force
knows its own contribution to every cell, and so that the cell is at least that much:
given the forces' contributions, those are its floors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vawg_pipeline.disclosure.problem import Constraint, Line, LinkedCells, at_most
from vawg_pipeline.disclosure.specs import TOTAL, TableSpec

CASES_UNIT, INDIVIDUALS_UNIT = "cases", "individuals"
ALL_POPULATION = "all"

CellKey = tuple[str, str, tuple[tuple[str, str], ...]]
"""(unit, population, sorted ((dimension, value), ...) without Totals)."""


@dataclass
class LinkedTables:
    """The published tables as one cell problem, and where each table row lives."""

    cells: LinkedCells
    keys: list[CellKey]
    lines: list[Line]
    row_cells: dict[str, np.ndarray]  # table_id -> cell index of each row, in row order
    row_labels: dict[str, list[str]]  # table_id -> readable 'dim=value, ...' per row
    table_order: list[str]

    def cell_tables(self) -> list[list[str]]:
        """For each cell, the tables it appears in (in table order)."""
        result: list[list[str]] = [[] for _ in range(self.cells.n)]
        for table_id in self.table_order:
            for cell in dict.fromkeys(self.row_cells[table_id].tolist()):
                result[cell].append(table_id)
        return result


def cell_label(key: CellKey) -> str:
    """A readable, table-independent name for a cell (never its value)."""
    unit, population, coords = key
    where = ", ".join(f"{d}={v}" for d, v in coords) or "grand total"
    scope = unit if population == "all" else f"{unit} ({population})"
    return f"{scope}: {where}"


def row_label(dimensions: Sequence[str], values: Sequence[object]) -> str:
    """The 'dim=value, dim=value' label of one table row."""
    return ", ".join(f"{d}={v}" for d, v in zip(dimensions, values, strict=True))


def link_tables(
    tables: Mapping[str, pd.DataFrame],
    specs: Mapping[str, TableSpec],
    *,
    value_column: str = "value",
    force_dimension: str | None = "force",
    withheld_lower_bound: float = 0.0,
    contributions: Mapping[str, pd.DataFrame] | None = None,
) -> LinkedTables:
    """Build the linked cell problem of ``tables`` (long form, as ``count_table`` makes).

    contributions: for tables without the force dimension, each force's own counts:
        the table's rows with a leading ``force_dimension`` column (long form, the
        table's Totals included; a force ``Total`` row is ignored). They become the
        insiders' floors.

    Tables are taken in table_id order so that the cell numbering, and so every
    tie-break of the solver, does not depend on the order the caller listed them in.
    Raises ValueError if two tables disagree about a shared cell.
    """
    missing = sorted(set(tables) - set(specs))
    if missing:
        raise KeyError(f"no spec for tables {missing}")
    order = sorted(tables)
    index: dict[CellKey, int] = {}
    keys: list[CellKey] = []
    values: list[float] = []
    row_cells: dict[str, np.ndarray] = {}
    row_labels: dict[str, list[str]] = {}
    lines: dict[tuple[int, tuple[int, ...]], Line] = {}

    for table_id in order:
        spec = specs[table_id]
        frame = tables[table_id]
        dims = list(spec.dimensions)
        absent = [c for c in (*dims, value_column) if c not in frame.columns]
        if absent:
            raise KeyError(f"{table_id}: missing columns {absent}")
        columns = [frame[d].astype(str).to_numpy() for d in dims]
        coords_of_rows = list(zip(*columns, strict=True))
        table_values = pd.to_numeric(frame[value_column]).to_numpy(dtype=float)
        cells = np.empty(len(frame), dtype=np.int64)
        for row, coords in enumerate(coords_of_rows):
            key: CellKey = (
                spec.unit,
                spec.population,
                tuple(sorted((d, v) for d, v in zip(dims, coords, strict=True) if v != TOTAL)),
            )
            cell = index.get(key)
            if cell is None:
                cell = len(keys)
                index[key] = cell
                keys.append(key)
                values.append(table_values[row])
            elif values[cell] != table_values[row]:
                raise ValueError(
                    f"{table_id}: {row_label(dims, coords)} is {table_values[row]:g} here but "
                    f"{values[cell]:g} in another table: shared cells must agree"
                )
            cells[row] = cell
        row_cells[table_id] = cells
        row_labels[table_id] = [row_label(dims, coords) for coords in coords_of_rows]

        # One line per (dimension, values of the other dimensions).
        for position in range(len(dims)):
            totals: dict[tuple, int] = {}
            parts: dict[tuple, list[int]] = {}
            for row, coords in enumerate(coords_of_rows):
                others = coords[:position] + coords[position + 1 :]
                if coords[position] == TOTAL:
                    totals[others] = int(cells[row])
                else:
                    parts.setdefault(others, []).append(int(cells[row]))
            for others, total_cell in totals.items():
                members = tuple(parts.get(others, []))
                if not members:
                    continue
                canonical = (total_cell, tuple(sorted(members)))
                lines.setdefault(canonical, Line(total=total_cell, parts=members))

    value_array = np.asarray(values, dtype=float)
    lower = np.where(value_array > 0, min(withheld_lower_bound, 1.0), 0.0)
    lower[_cases_of_some_individuals(index, value_array)] = 1.0
    attackers: dict[str, np.ndarray] = {}
    if force_dimension:
        by_force: dict[str, list[int]] = {}
        for cell, (_, _, coords) in enumerate(keys):
            for d, v in coords:
                if d == force_dimension:
                    by_force.setdefault(v, []).append(cell)
        for force, members in sorted(by_force.items()):
            mask = np.zeros(len(keys), dtype=bool)
            mask[members] = True
            attackers[force] = mask
    floors = _floors(contributions or {}, specs, index, value_column, force_dimension) \
        if force_dimension else {}
    for force in floors:
        attackers.setdefault(force, np.zeros(len(keys), dtype=bool))

    line_list = list(lines.values())
    cells_problem = LinkedCells(
        values=value_array,
        constraints=[line.constraint() for line in line_list],
        labels=[cell_label(k) for k in keys],
        lower=lower,
        attackers=dict(sorted(attackers.items())),
        floors=floors,
        relations=cross_unit_relations(index),
    )
    return LinkedTables(
        cells=cells_problem,
        keys=keys,
        lines=line_list,
        row_cells=row_cells,
        row_labels=row_labels,
        table_order=order,
    )


def cross_unit_relations(index: Mapping[CellKey, int]) -> list[Constraint]:
    """What any reader knows of cells of different units or populations: the cases of
    a cell are at most its individuals (every case has a subject in the cell), and a
    cell of finalised cases at most the same cell of all cases.

    Without them, a withheld count of a force's cases could be narrowed by its
    published individuals, though no table links the two by a sum.
    """
    relations: list[Constraint] = []
    for (unit, population, coords), cell in index.items():
        if unit == CASES_UNIT:
            larger = index.get((INDIVIDUALS_UNIT, population, coords))
            if larger is not None:
                relations.append(at_most(cell, larger))
        if population != ALL_POPULATION:
            larger = index.get((unit, ALL_POPULATION, coords))
            if larger is not None:
                relations.append(at_most(cell, larger))
    return relations


def _cases_of_some_individuals(index: Mapping[CellKey, int],
                               values: np.ndarray) -> list[int]:
    """Cells of cases whose individuals' cell is not zero: every individual is the
    subject of a case, so a reader who sees (or bounds) any individuals there knows of
    at least one case, whatever a withheld cases count could otherwise be."""
    return [cell for (unit, population, coords), cell in index.items()
            if unit == CASES_UNIT and values[cell] > 0
            and (INDIVIDUALS_UNIT, population, coords) in index]


def _floors(
    contributions: Mapping[str, pd.DataFrame], specs: Mapping[str, TableSpec],
    index: Mapping[CellKey, int], value_column: str, force_dimension: str,
) -> dict[str, np.ndarray]:
    """Per force, the floor of every cell: its own contribution (0 where it has none)."""
    floors: dict[str, np.ndarray] = {}
    for table_id, frame in sorted(contributions.items()):
        spec = specs[table_id]
        if force_dimension in spec.dimensions:
            raise ValueError(f"{table_id}: a force-level table needs no contributions")
        dims = list(spec.dimensions)
        # A force Total is all forces together: the table itself, nobody's share.
        frame = frame[frame[force_dimension].astype(str) != TOTAL]
        coords = frame[dims].astype(str)
        # One key lookup per distinct cell of the table, not per row: groups are
        # numbered in order of first appearance, as drop_duplicates keeps them.
        cell_of_group = []
        for values in coords.drop_duplicates().itertuples(index=False, name=None):
            key: CellKey = (spec.unit, spec.population, tuple(sorted(
                (d, v) for d, v in zip(dims, values, strict=True) if v != TOTAL)))
            if key not in index:
                raise ValueError(f"{table_id}: contribution to a cell no table has: {key}")
            cell_of_group.append(index[key])
        cells = np.asarray(cell_of_group, dtype=np.int64)[
            coords.groupby(dims, sort=False).ngroup().to_numpy()]
        own = pd.to_numeric(frame[value_column]).to_numpy(dtype=float)
        forces, force_of_row = np.unique(frame[force_dimension].astype(str).to_numpy(),
                                         return_inverse=True)
        for number, force in enumerate(forces.tolist()):
            mine = force_of_row == number
            floor = floors.setdefault(force, np.zeros(len(index)))
            np.maximum.at(floor, cells[mine], own[mine])
    return floors
