"""Shared fixtures: one real national store, its publication and one release.

Module-scoped where read-only, so the LP work (protect and audit) runs once per module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vawg_pipeline.disclosure.specs import DisclosureRules
from vawg_pipeline.forces import load_forces
from vawg_pipeline.publish import Built, ReleaseResult, ReportingPeriod, build_publication, publish
from vawg_pipeline.store.schema import connect
from vawg_pipeline_tests.publish.builders import build_store

PERIOD = ReportingPeriod.parse("2021-10-01", "2022-03-31")
RULES = DisclosureRules()

FORCES = [f.code for f in load_forces()]
REFUSED = FORCES[7]  # sends only an unreadable file: listed in coverage, not counted
# Force-supplied file names a spreadsheet would run as formulas if published as sent.
HOSTILE_NAMES = {
    FORCES[1]: '=HYPERLINK("http://example.invalid","x").xlsx',
    FORCES[2]: "-2+3 return.xlsx",
    FORCES[3]: "@SUM(A1) return.csv",
}


@dataclass
class Published:
    store: Path
    built: Built
    release: ReleaseResult
    accepted: list[str]


def make_store(folder: Path) -> tuple[Path, list[str]]:
    store = folder / "warehouse" / "vawg.duckdb"
    accepted = build_store(store, n_forces=9, rows_per_force=30, seed=3,
                           refused=(REFUSED,), file_names=HOSTILE_NAMES,
                           sizes={FORCES[5]: 4, FORCES[6]: 12})
    return store, accepted


def build_from(store: Path, period: ReportingPeriod = PERIOD) -> Built:
    con = connect(store, read_only=True)
    try:
        return build_publication(con, period, RULES)
    finally:
        con.close()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    folder = tmp_path_factory.mktemp("published")
    store, accepted = make_store(folder)
    built = build_from(store)
    release = publish(built.publication, folder / "out" / "vawg_published.duckdb")
    yield Published(store=store, built=built, release=release, accepted=accepted)
