"""Planted problems: each breaks exactly the rule it names, and the clean rows survive."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from vawg_pipeline.contract.fields import load_contract, normalise_value
from vawg_pipeline.sample.generator import (
    PLANT_KINDS,
    generate_force_rows,
    plant_quarantine_rows,
)

from .readback import parse_date

RECEIVED = datetime(2022, 5, 3, 9, 0)
KEY = ["case_reference", "subject_reference"]


@pytest.fixture(params=[1, 2, 3, 4, 5])
def planted(request: pytest.FixtureRequest) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    rng = np.random.default_rng(request.param)
    clean = generate_force_rows("kent", 60, rng, as_of=date(2022, 5, 2))
    rows, problems = plant_quarantine_rows(clean, rng, received_at=RECEIVED)
    return clean, rows, problems


def test_one_problem_row_per_kind(planted: tuple) -> None:
    clean, rows, problems = planted
    kinds = Counter(p.kind for p in problems)
    assert set(kinds) == set(PLANT_KINDS)
    assert kinds["conflicting_duplicate"] == 2 and kinds["case_conflict"] == 2
    assert all(kinds[k] == 1 for k in PLANT_KINDS
               if k not in ("conflicting_duplicate", "case_conflict"))
    # Every planted problem is one extra row.
    assert len(rows) == len(clean) + len(problems)


def test_clean_rows_are_kept_in_order(planted: tuple) -> None:
    clean, rows, problems = planted
    planted_keys = {(p.case_reference, p.subject_reference) for p in problems
                    if p.kind != "exact_duplicate"}
    keys = list(zip(rows["case_reference"], rows["subject_reference"], strict=True))
    kept = rows[[k not in planted_keys for k in keys]]
    kept = kept[~kept.duplicated(keep="first")].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, clean.astype(object).where(clean.notna(), None))


def _row(rows: pd.DataFrame, problem: object) -> pd.DataFrame:
    return rows[(rows["case_reference"] == problem.case_reference)
                & (rows["subject_reference"] == problem.subject_reference)]


def test_each_problem_breaks_its_rule(planted: tuple) -> None:
    contract = load_contract()
    clean, rows, problems = planted
    clean_cases = set(clean["case_reference"])
    for p in problems:
        match = _row(rows, p)
        row = match.iloc[-1]
        value = row[p.field]
        if p.kind == "unknown_value":
            assert isinstance(value, str) and value == p.value
            assert contract[p.field].value_lookup.get(normalise_value(value)) is None
        elif p.kind == "month_first_date":
            month, day, _ = value.split("/")
            assert int(day) > 12 and int(month) <= 12
            assert parse_date(value) is None
        elif p.kind == "unreadable_date":
            assert parse_date(value) is None
        elif p.kind == "future_date":
            assert value > RECEIVED.date()
        elif p.kind == "date_before_1990":
            assert value.year < 1990
        elif p.kind == "finalised_before_recorded":
            assert row["status"] == "finalised" and value < row["date_recorded"]
        elif p.kind == "finalised_without_outcome":
            assert row["status"] == "finalised" and value is None
            assert row["date_finalised"] is not None
        elif p.kind == "ongoing_with_outcome":
            assert row["status"] == "ongoing" and value in contract["outcome"].values
        elif p.kind == "blank_required":
            assert value is None and contract[p.field].required
            assert contract[p.field].blank is None
        elif p.kind == "exact_duplicate":
            assert len(match) == 2
            assert match.iloc[0].equals(match.iloc[1])
            assert match.index[1] > match.index[0]  # the later copy is the duplicate
        elif p.kind == "conflicting_duplicate":
            assert len(match) == 2 and not match.iloc[0].equals(match.iloc[1])
        elif p.kind == "case_conflict":
            case = rows[rows["case_reference"] == p.case_reference]
            assert len(case) == 2 and case[p.field].nunique() == 2
        # Apart from the exact duplicate, problems live in cases of their own.
        if p.kind != "exact_duplicate":
            assert p.case_reference not in clean_cases


def test_chosen_kinds_only() -> None:
    rng = np.random.default_rng(0)
    clean = generate_force_rows("dorset", 10, rng)
    rows, problems = plant_quarantine_rows(clean, rng, ["future_date", "exact_duplicate"])
    assert sorted(p.kind for p in problems) == ["exact_duplicate", "future_date"]
    assert len(rows) == 12
    with pytest.raises(ValueError, match="unknown plant kinds"):
        plant_quarantine_rows(clean, rng, ["made_up"])


def test_nothing_to_copy_plants_nothing() -> None:
    empty = generate_force_rows("dorset", 0, np.random.default_rng(0))
    rows, problems = plant_quarantine_rows(empty, np.random.default_rng(0))
    assert rows.empty and problems == []
