"""What the pipeline publishes, and the rules that keep it safe to publish.

A *table spec* says which aggregate table is published: what it counts (cases or
individuals), over which population (every case in the reporting period, or only the
finalised ones, for outcome tables) and broken down by which dimensions. The specs are
data, kept in ``tables.toml`` beside this module, so adding a table is an edit to that
file, not to code.

The *disclosure rules* say which counts are too small to publish (primary suppression),
how wide the range of values consistent with the published tables must be for every
withheld small count (the protection width), and whether the protection must also hold
against a force that knows its own figures (insiders). They are recorded in every
release's manifest, so they are a plain frozen dataclass.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

TOTAL = "Total"
"""The literal label of a margin in every published table."""

UNITS = ("cases", "individuals")
POPULATIONS = ("all", "finalised")

DIMENSION_COLUMNS: dict[str, str] = {
    "force": "force_code",
    "case_type": "case_type",
    "vawg_category": "vawg_category",
    "subject_role": "subject_role",
    "restriction": "restriction",
    "victim_relationship": "victim_relationship",
    "outcome": "outcome",
}
"""Dimension name -> column of the case-level rows it is read from."""

CASE_LEVEL_DIMENSIONS = frozenset({"force", "case_type"})
"""Dimensions that are constant within a case, the only ones a ``cases`` table may use
(a case can have several subjects with different roles, categories or outcomes, so
counting distinct cases by those would not add up to the case total)."""

DEFAULT_TABLES_FILE = Path(__file__).with_name("tables.toml")


@dataclass(frozen=True)
class TableSpec:
    """One published table: what it counts and how it is broken down."""

    table_id: str
    title: str
    unit: str  # 'cases' | 'individuals'
    population: str  # 'all' | 'finalised'
    dimensions: tuple[str, ...]
    description: str

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.table_id or not self.table_id.replace("_", "").isalnum():
            problems.append(f"table_id {self.table_id!r} must be a non-empty identifier")
        if self.unit not in UNITS:
            problems.append(f"unit {self.unit!r} is not one of {UNITS}")
        if self.population not in POPULATIONS:
            problems.append(f"population {self.population!r} is not one of {POPULATIONS}")
        if not self.dimensions:
            problems.append("a table needs at least one dimension")
        unknown = [d for d in self.dimensions if d not in DIMENSION_COLUMNS]
        if unknown:
            problems.append(f"unknown dimensions {unknown}; known: {sorted(DIMENSION_COLUMNS)}")
        if len(set(self.dimensions)) != len(self.dimensions):
            problems.append("a dimension appears twice")
        if self.unit == "cases":
            not_case_level = [d for d in self.dimensions if d not in CASE_LEVEL_DIMENSIONS]
            if not_case_level:
                problems.append(
                    f"a 'cases' table may only use case-level dimensions "
                    f"{sorted(CASE_LEVEL_DIMENSIONS)}, not {not_case_level}"
                )
        if problems:
            raise ValueError(f"table spec {self.table_id!r}: " + "; ".join(problems))


def load_table_specs(path: Path | str | None = None) -> list[TableSpec]:
    """Read the published tables' specs from ``tables.toml`` (or ``path``), in file order."""
    source = Path(path) if path is not None else DEFAULT_TABLES_FILE
    with source.open("rb") as handle:
        document = tomllib.load(handle)
    entries = document.get("table", [])
    if not entries:
        raise ValueError(f"{source}: no [[table]] entries")
    specs: list[TableSpec] = []
    for entry in entries:
        expected = {"table_id", "title", "unit", "population", "dimensions", "description"}
        missing = expected - entry.keys()
        extra = entry.keys() - expected
        if missing or extra:
            raise ValueError(
                f"{source}: table {entry.get('table_id', '?')!r}: "
                f"missing keys {sorted(missing)}, unknown keys {sorted(extra)}"
            )
        specs.append(
            TableSpec(
                table_id=str(entry["table_id"]),
                title=str(entry["title"]).strip(),
                unit=str(entry["unit"]),
                population=str(entry["population"]),
                dimensions=tuple(str(d) for d in entry["dimensions"]),
                description=" ".join(str(entry["description"]).split()),
            )
        )
    ids = [s.table_id for s in specs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{source}: duplicate table_id {duplicates}")
    return specs


@dataclass(frozen=True)
class DisclosureRules:
    """The statistical disclosure control rules (OUTPUTS.md, "Disclosure rules").

    threshold: counts 1 .. threshold-1 are withheld (primary suppression).
    protect_zeros_in_single_nonzero_lines: a line (a row or column with its total) whose
        only non-zero interior cell is withheld withholds one more cell of that line (a
        zero may serve); otherwise the published zeros tell that everyone in the line is
        in the withheld category.
    protection_width: for every primary-withheld cell, hi - lo of its feasible interval
        must be at least this (an unbounded hi passes).
    insiders: also protect against each force knowing its own cells exactly.
    force_dimension: the dimension whose values are the insiders.
    secondary_may_use_zeros: zeros may be withheld as secondary suppressions (if not,
        only the line rule withholds zeros). If neither can withhold a zero, a reader
        knows every withheld cell is at least 1, and the audit uses that lower bound.
    remove_redundant: after protection, publish again any secondary cell that turns out
        not to be needed (greedy, largest first).
    max_rounds: safety limit on audit/repair rounds of the secondary suppression.
    """

    threshold: int = 5
    protect_zeros_in_single_nonzero_lines: bool = True
    protection_width: int = 5
    insiders: bool = True
    force_dimension: str = "force"
    secondary_may_use_zeros: bool = True
    remove_redundant: bool = True
    max_rounds: int = 100

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError("threshold must be at least 1 (1 means nothing is primary)")
        if self.protection_width < 0:
            raise ValueError("protection_width must not be negative")
        if self.max_rounds < 1:
            raise ValueError("max_rounds must be at least 1")

    @property
    def withheld_lower_bound(self) -> int:
        """The lower bound a reader can assume for a withheld cell: 0 if the rules can
        withhold a zero, else 1 (every withheld cell is then known to be non-zero)."""
        can_withhold_zero = (
            self.protect_zeros_in_single_nonzero_lines or self.secondary_may_use_zeros
        )
        return 0 if can_withhold_zero else 1

    def is_small(self, value: float) -> bool:
        """True for a count the primary rule withholds (1 .. threshold-1)."""
        return 1 <= value <= self.threshold - 1

    def as_dict(self) -> dict[str, Any]:
        """The rules as plain data, for a release manifest."""
        return asdict(self)
