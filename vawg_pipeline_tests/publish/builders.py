"""A real national store in a temporary folder, filled with made-up returns.

Each force's return goes in through ``replace_force_return`` (the store's own write
path) as an ``IngestResult``, so the store has the shape ingestion gives it:
submissions, cases with canonical values, quarantine counts.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from vawg_pipeline.contract import load_contract
from vawg_pipeline.forces import load_forces
from vawg_pipeline.ingest.returns import CASE_COLUMNS, QUARANTINE_COLUMNS, IngestResult
from vawg_pipeline.store import national

PERIOD_START = date(2021, 10, 1)
PERIOD_END = date(2022, 3, 31)

_WEIGHTS = {
    "case_type": [0.45, 0.55],
    "vawg_category": [0.30, 0.20, 0.18, 0.08, 0.06, 0.10, 0.05, 0.03],
    "subject_role": [0.82, 0.12, 0.02, 0.03, 0.01],
    "restriction": [0.05, 0.15, 0.80],
    "victim_relationship": [0.40, 0.20, 0.25, 0.05, 0.05, 0.05],  # last: blank
    "outcome": [0.30, 0.35, 0.12, 0.08, 0.04, 0.03, 0.04, 0.03, 0.01],
}


def _values(field: str) -> list[str]:
    return load_contract()[field].canonical_values


def make_cases(force_code: str, n_rows: int, sha: str, rng: np.random.Generator,
               outside_period: int = 0) -> pd.DataFrame:
    """``n_rows`` subject-per-case rows in the period, plus some recorded outside it."""
    records = []
    case = 0
    total = n_rows + outside_period
    while len(records) < total:
        case += 1
        case_type = str(rng.choice(_values("case_type"), p=_WEIGHTS["case_type"]))
        in_period = len(records) < n_rows
        start = PERIOD_START if in_period else PERIOD_END + timedelta(days=30)
        recorded = start + timedelta(days=int(rng.integers(0, 180)))
        for subject in range(int(rng.choice([1, 2, 3], p=[0.85, 0.12, 0.03]))):
            if len(records) >= total:
                break
            finalised = rng.random() < 0.6
            relationship = rng.choice(
                [*_values("victim_relationship"), None], p=_WEIGHTS["victim_relationship"])
            records.append({
                "force_code": force_code,
                "case_reference": f"{force_code[:3].upper()}-{case:05d}",
                "case_type": case_type,
                "date_recorded": recorded,
                "subject_pseudonym": hashlib.sha256(
                    f"{force_code}/{case}/{subject}".encode()).hexdigest()[:32],
                "subject_role": str(rng.choice(_values("subject_role"),
                                               p=_WEIGHTS["subject_role"])),
                "subject_rank": None,
                "subject_gender": "not recorded",
                "vawg_category": str(rng.choice(_values("vawg_category"),
                                                p=_WEIGHTS["vawg_category"])),
                "allegation_category": None,
                "victim_relationship": None if relationship is None else str(relationship),
                "criminal_investigation": False,
                "restriction": str(rng.choice(_values("restriction"),
                                              p=_WEIGHTS["restriction"])),
                "status": "finalised" if finalised else "ongoing",
                "outcome": (str(rng.choice(_values("outcome"), p=_WEIGHTS["outcome"]))
                            if finalised else None),
                "date_finalised": recorded + timedelta(days=20) if finalised else None,
                "source_sha256": sha,
                "source_sheet": "Sheet1",
                "source_row": len(records) + 3,
            })
    frame = pd.DataFrame.from_records(records, columns=CASE_COLUMNS)
    return frame


def ingest_result(force_code: str, n_rows: int, seed: int, quarantined: int = 0,
                  file_name: str | None = None, outside_period: int = 2) -> IngestResult:
    rng = np.random.default_rng(seed)
    sha = hashlib.sha256(f"{force_code}-{seed}-{n_rows}".encode()).hexdigest()
    cases = make_cases(force_code, n_rows, sha, rng, outside_period=outside_period)
    quarantine = pd.DataFrame.from_records([
        {"force_code": force_code, "file_name": file_name or f"{force_code}.xlsx",
         "source_sha256": sha, "sheet": "Sheet1", "row_number": 900 + k,
         "field": "case_type", "reason": "not an accepted value", "value": "x"}
        for k in range(quarantined)
    ], columns=QUARANTINE_COLUMNS)
    return IngestResult(
        force_code=force_code, file_name=file_name or f"{force_code} return.xlsx",
        sha256=sha, received_at=datetime(2022, 4, 20, 9, 30) + timedelta(minutes=seed),
        cases=cases, quarantine=quarantine, rows_read=len(cases) + quarantined,
        rows_quarantined=quarantined, sheets=["Sheet1"],
    )


def build_store(path: Path, n_forces: int = 8, rows_per_force: int = 30, seed: int = 1,
                sizes: dict[str, int] | None = None, refused: tuple[str, ...] = (),
                file_names: dict[str, str] | None = None) -> list[str]:
    """A store at ``path`` with the first ``n_forces`` forces of the registry sending
    returns (``refused`` forces send only an unreadable file). Returns the codes of the
    forces with an accepted return."""
    forces = [f.code for f in load_forces()]
    chosen = forces[:n_forces]
    con = national.open_store(Path(path))
    try:
        national.sync_forces(con, load_forces())
        accepted = []
        for k, code in enumerate(chosen):
            if code in refused:
                national.record_refusal(con, code, f"{code}.xlsx", "0" * 64,
                                        datetime(2022, 4, 21), "the file is encrypted")
                continue
            n_rows = (sizes or {}).get(code, rows_per_force)
            result = ingest_result(code, n_rows, seed + k, quarantined=k % 3,
                                   file_name=(file_names or {}).get(code))
            national.replace_force_return(con, result)
            accepted.append(code)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return accepted


def force_sizes(n_forces: int, n_rows: int, seed: int = 0) -> dict[str, int]:
    """Rows per force, roughly proportional to headcount, ``n_rows`` in all."""
    forces = list(load_forces())[:n_forces]
    weights = np.array([max(f.approx_officers, 500) for f in forces], dtype=float)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_rows, weights / weights.sum())
    return {f.code: int(max(c, 1)) for f, c in zip(forces, counts, strict=True)}
