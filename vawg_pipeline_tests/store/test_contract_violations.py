"""What the store promises analysts, checked on the store itself: each rule catches its
own kind of breakage, and only that."""

from __future__ import annotations

from pathlib import Path

import pytest

from vawg_pipeline.contract import load_contract
from vawg_pipeline.ingest.returns import ingest_return
from vawg_pipeline.store import national, queries
from vawg_pipeline_tests.conftest import good_row, write_xlsx

# (rule, SQL that breaks it on exactly `rows` rows)
BREAKAGES = [
    ("vawg_category not canonical",
     "UPDATE cases SET vawg_category = 'DA' WHERE source_row IN (2, 3)", 2),
    ("subject not a pseudonym",
     "UPDATE cases SET subject_pseudonym = 'MP100004' WHERE source_row = 4", 1),
    ("finalised without outcome",
     "UPDATE cases SET outcome = NULL WHERE source_row IN (5, 6, 7)", 3),
    ("duplicate (force, case, subject)",
     "INSERT INTO cases SELECT * FROM cases WHERE source_row = 8", 1),
    ("row not from the force's accepted return",
     "UPDATE cases SET source_sha256 = repeat('0', 64) WHERE source_row IN (9, 10)", 2),
]


@pytest.fixture
def store(tmp_path: Path, key):
    con = national.open_store(tmp_path / "warehouse" / "vawg.duckdb", key)
    rows = [good_row(i) for i in range(12)]
    national.replace_force_return(
        con, ingest_return(write_xlsx(tmp_path / "kent.xlsx", rows), "kent", key))
    yield con
    con.close()


def _violations(con) -> dict[str, int]:
    table = queries.contract_violations(con, load_contract())
    return dict(zip(table["rule"], table["rows breaking it"], strict=True))


def test_a_store_written_by_the_pipeline_breaks_no_rule(store) -> None:
    found = _violations(store)
    assert len(found) > len(BREAKAGES)  # one rule per category and required field too
    assert set(found.values()) == {0}


@pytest.mark.parametrize(("rule", "breakage", "rows"), BREAKAGES,
                         ids=[b[0] for b in BREAKAGES])
def test_each_rule_counts_exactly_its_own_breakage(store, rule, breakage, rows) -> None:
    store.execute(breakage)
    found = _violations(store)
    assert found[rule] == rows
    assert {r: n for r, n in found.items() if n} == {rule: rows}
