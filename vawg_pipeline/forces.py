"""The force registry: the national list of forces that send a return.

The list is data (``forces.csv`` beside this module, the codes of
shared/npcc-return/forces.csv): adding a force is one line there. ``approx_officers`` is
a rough headcount used only to size sample data.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

FORCES_FILE = "forces.csv"


@dataclass(frozen=True)
class Force:
    code: str
    name: str
    approx_officers: int


@cache
def load_forces() -> tuple[Force, ...]:
    """Every force of the registry, in the file's order (alphabetical by code)."""
    text = resources.files(__package__).joinpath(FORCES_FILE).read_text(encoding="utf-8")
    forces = tuple(
        Force(code=row["code"].strip(), name=row["name"].strip(),
              approx_officers=int(row.get("approx_officers") or 0))
        for row in csv.DictReader(io.StringIO(text))
        if row.get("code", "").strip()
    )
    codes = [f.code for f in forces]
    if len(set(codes)) != len(codes):
        raise ValueError(f"{FORCES_FILE}: a force code appears twice")
    return forces


def force_codes() -> list[str]:
    return [f.code for f in load_forces()]


def force_by_code(code: str) -> Force:
    for force in load_forces():
        if force.code == code:
            return force
    raise KeyError(f"{code!r} is not a force code of the registry ({FORCES_FILE})")
