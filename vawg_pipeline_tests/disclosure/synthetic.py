"""Synthetic case-level rows for the disclosure tests: the national shape, made up.

Forces are sized roughly by headcount (the Metropolitan Police is the largest by far),
cases have one to three subjects, and the categories are skewed as in the NPCC
baseline (most complaint cases are about use of force, most subjects are officers),
so the tables have the mix of large and small counts the real ones have.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vawg_pipeline.disclosure.counting import count_table
from vawg_pipeline.disclosure.specs import TableSpec, load_table_specs

FORCE_SIZES = {
    "avon-and-somerset": 3100, "bedfordshire": 1300, "british-transport-police": 3000,
    "cambridgeshire": 1600, "cheshire": 2200, "city-of-london": 900, "cleveland": 1400,
    "cumbria": 1250, "derbyshire": 1900, "devon-and-cornwall": 3500, "dorset": 1300,
    "durham": 1200, "dyfed-powys": 1250, "essex": 3600, "gloucestershire": 1200,
    "greater-manchester": 7500, "gwent": 1400, "hampshire": 3100, "hertfordshire": 2200,
    "humberside": 2100, "kent": 4000, "lancashire": 3200, "leicestershire": 2200,
    "lincolnshire": 1150, "merseyside": 3900, "metropolitan": 34500, "norfolk": 1800,
    "north-wales": 1600, "north-yorkshire": 1500, "northamptonshire": 1400,
    "northumbria": 3500, "nottinghamshire": 2300, "south-wales": 3400,
    "south-yorkshire": 3000, "staffordshire": 1800, "suffolk": 1350, "surrey": 2100,
    "sussex": 3100, "thames-valley": 4800, "warwickshire": 1050, "west-mercia": 2400,
    "west-midlands": 7300, "west-yorkshire": 5900, "wiltshire": 1050,
}  # fmt: skip

LEVELS: dict[str, list[str]] = {
    "case_type": ["complaint", "conduct"],
    "vawg_category": [
        "domestic abuse",
        "sexual offence",
        "sexual harassment",
        "abuse of position for a sexual purpose",
        "indecent exposure",
        "stalking or harassment",
        "online or image-based abuse",
        "other vawg",
    ],
    "subject_role": ["police officer", "police staff", "special constable", "pcso", "other"],
    "restriction": ["suspended", "restricted duties", "none"],
    "victim_relationship": [
        "member of the public",
        "colleague",
        "partner or ex-partner",
        "family member",
        "not known",
    ],
    "outcome": [
        "no case to answer",
        "no further action",
        "reflective practice",
        "management action",
        "written warning",
        "final written warning",
        "dismissed",
        "resigned or retired",
        "other",
    ],
}

_WEIGHTS: dict[str, list[float]] = {
    "case_type": [0.45, 0.55],
    "vawg_category": [0.30, 0.20, 0.18, 0.08, 0.06, 0.10, 0.05, 0.03],
    "subject_role": [0.82, 0.12, 0.02, 0.03, 0.01],
    "restriction": [0.05, 0.15, 0.80],
    "victim_relationship": [0.45, 0.20, 0.25, 0.05, 0.05],
    "outcome": [0.30, 0.35, 0.12, 0.08, 0.04, 0.03, 0.04, 0.03, 0.01],
}


def forces(count: int = 44) -> list[str]:
    return sorted(FORCE_SIZES)[:count]


def make_rows(n_rows: int, force_codes: list[str], seed: int = 0) -> pd.DataFrame:
    """About ``n_rows`` subject-per-case rows spread over ``force_codes``."""
    rng = np.random.default_rng(seed)
    sizes = np.array([FORCE_SIZES.get(f, 2000) for f in force_codes], dtype=float)
    records = []
    case_number = 0
    while len(records) < n_rows:
        force = force_codes[rng.choice(len(force_codes), p=sizes / sizes.sum())]
        case_number += 1
        case_type = rng.choice(LEVELS["case_type"], p=_WEIGHTS["case_type"])
        for _ in range(int(rng.choice([1, 2, 3], p=[0.85, 0.12, 0.03]))):
            status = "finalised" if rng.random() < 0.6 else "ongoing"
            row = {
                "force_code": force,
                "case_reference": f"C{case_number:05d}",
                "case_type": case_type,
                "status": status,
                "outcome": (
                    rng.choice(LEVELS["outcome"], p=_WEIGHTS["outcome"])
                    if status == "finalised"
                    else None
                ),
            }
            for dim in ("vawg_category", "subject_role", "restriction", "victim_relationship"):
                row[dim] = rng.choice(LEVELS[dim], p=_WEIGHTS[dim])
            records.append(row)
    frame = pd.DataFrame.from_records(records)
    for column in frame.columns:
        frame[column] = frame[column].astype(object)
    return frame


def levels_for(force_codes: list[str]) -> dict[str, list[str]]:
    return {**LEVELS, "force": list(force_codes)}


def minimum_set(
    n_rows: int = 1500, n_forces: int = 44, seed: int = 0
) -> tuple[dict[str, pd.DataFrame], dict[str, TableSpec]]:
    """The minimum published set counted from synthetic rows."""
    codes = forces(n_forces)
    rows = make_rows(n_rows, codes, seed)
    specs = {s.table_id: s for s in load_table_specs()}
    levels = levels_for(codes)
    tables = {tid: count_table(spec, rows, levels) for tid, spec in specs.items()}
    return tables, specs
