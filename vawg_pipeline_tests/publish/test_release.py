"""Releases: atomic swap under an open reader, no new release without new numbers,
nothing unsafe ever written, and the restricted staging hand-over."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from vawg_pipeline.disclosure.specs import load_table_specs
from vawg_pipeline.publish import Built, UnsafeRelease, build_publication, publish
from vawg_pipeline.publish.release import PublishedPaths, file_sha256, list_releases
from vawg_pipeline.publish.staging import (
    StagingError,
    load_candidate,
    require_passing_verdict,
    save_candidate,
    save_verdict,
)
from vawg_pipeline.publish.tables import ReportingPeriod
from vawg_pipeline_tests.publish.conftest import build_from, make_store

# An analyst's session in another process: opens the published file read-only, reads,
# waits (holding it open) until told, reads again through the same connection.
ANALYST = r"""
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
def look():
    release = con.execute("SELECT release_id FROM release").fetchone()[0]
    rows = con.execute("SELECT count(*) FROM cases_by_force").fetchone()[0]
    total = con.execute(
        "SELECT display FROM cases_by_case_type WHERE case_type = 'Total'").fetchone()[0]
    return f"{release}|{rows}|{total}"
print(look(), flush=True)
sys.stdin.readline()
print(look(), flush=True)
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("release"))[0]


@pytest.fixture(scope="module")
def built(store: Path) -> Built:
    return build_from(store)


def _snapshot(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        release = con.execute("SELECT release_id FROM release").fetchone()[0]
        tables = con.execute("SELECT count(*) FROM catalogue").fetchone()[0]
        return f"{release}|{tables}"
    finally:
        con.close()


def test_same_numbers_make_no_new_release(tmp_path: Path, store: Path, built: Built) -> None:
    target = tmp_path / "vawg_published.duckdb"
    first = publish(built.publication, target)
    inode = target.stat().st_ino
    again = publish(build_from(store).publication, target)  # a whole fresh re-run
    assert first.new_release and not again.new_release
    assert again.release_id == first.release_id and again.replaced == []
    assert [m["release_id"] for m in list_releases(PublishedPaths(target))] == [
        first.release_id]
    assert target.stat().st_ino == inode  # not even rewritten


def test_a_lost_live_file_is_restored_without_a_new_release(
    tmp_path: Path, built: Built
) -> None:
    target = tmp_path / "vawg_published.duckdb"
    first = publish(built.publication, target)
    paths = first.paths
    (paths.csv_folder / "coverage.csv").unlink()
    paths.workbook.unlink()
    again = publish(built.publication, target)
    assert not again.new_release
    assert sorted(again.replaced) == ["csv/coverage.csv", "vawg_published.xlsx"]
    for relative, sha in first.manifest["files"].items():
        assert file_sha256(paths.folder / relative) == sha


def test_new_numbers_swap_in_under_an_open_reader(
    tmp_path: Path, store: Path, built: Built
) -> None:
    target = tmp_path / "vawg_published.duckdb"
    first = publish(built.publication, target)
    analyst = subprocess.Popen([sys.executable, "-c", ANALYST, str(target)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        before = analyst.stdout.readline().strip()
        assert before.startswith(first.release_id)

        # Meanwhile other readers keep opening the live file: each must find a whole one.
        seen: list[str] = []
        errors: list[Exception] = []
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                try:
                    seen.append(_snapshot(target))
                except Exception as error:  # noqa: BLE001 - any failure is the finding
                    errors.append(error)
                time.sleep(0.002)

        shorter = build_from(store, ReportingPeriod.parse("2021-10-01", "2022-01-31"))
        poller = threading.Thread(target=poll)
        poller.start()
        started = time.perf_counter()
        second = publish(shorter.publication, target)
        took = time.perf_counter() - started
        time.sleep(0.2)
        stop.set()
        poller.join()

        assert second.new_release and second.release_id != first.release_id
        assert took < 30  # the open session did not hold the run up
        assert errors == [] and len(seen) > 10
        assert {s.split("|")[0] for s in seen} <= {first.release_id, second.release_id}
        assert all(s.endswith("|8") for s in seen)  # every catalogue row, every time
        assert _snapshot(target).startswith(second.release_id)

        analyst.stdin.write("\n")
        analyst.stdin.flush()
        after = analyst.stdout.readline().strip()
        assert after == before  # the open session still reads the old release, whole
    finally:
        analyst.kill()
        analyst.wait()
    assert len(list_releases(PublishedPaths(target))) == 2
    assert (first.release_dir / "manifest.json").is_file()  # old release kept


def test_tables_no_longer_published_leave_the_csv_folder(
    tmp_path: Path, store: Path, built: Built
) -> None:
    target = tmp_path / "vawg_published.duckdb"
    publish(built.publication, target)
    specs = [s for s in load_table_specs() if s.table_id != "individuals_by_outcome"]
    con = duckdb.connect(str(store), read_only=True)
    try:
        fewer = build_publication(con, built.publication.period, built.publication.rules,
                                  specs)
    finally:
        con.close()
    result = publish(fewer.publication, target)
    assert result.new_release
    assert not (result.paths.csv_folder / "individuals_by_outcome.csv").exists()
    assert (result.paths.csv_folder / "cases_by_force.csv").exists()


def test_an_unsafe_publication_is_never_written(tmp_path: Path, built: Built) -> None:
    target = tmp_path / "vawg_published.duckdb"
    failed = dataclasses.replace(built.publication, audit_passed=False)
    with pytest.raises(UnsafeRelease, match="audit"):
        publish(failed, target)

    tables = dict(built.publication.tables)
    leaky = tables["cases_by_case_type"].copy()
    leaky.loc[0, ["value", "display"]] = [3, "3"]
    tables["cases_by_case_type"] = leaky
    with pytest.raises(UnsafeRelease, match="between 1 and 4"):
        publish(dataclasses.replace(built.publication, tables=tables), target)
    assert not target.exists() and not (tmp_path / "releases").exists()


def test_staging_needs_a_passing_verdict_on_the_same_candidate(
    tmp_path: Path, built: Built
) -> None:
    folder = tmp_path / "staging"
    staged_hash = save_candidate(folder, built.candidate)
    loaded = load_candidate(folder)
    assert loaded.content_hash() == staged_hash == built.candidate.content_hash()
    for spec in loaded.specs:
        pd.testing.assert_frame_equal(loaded.protected[spec.table_id],
                                      built.candidate.protected[spec.table_id])
    with pytest.raises(StagingError, match="not been audited"):
        require_passing_verdict(folder, loaded)
    save_verdict(folder, staged_hash, built.report)
    assert require_passing_verdict(folder, loaded)["passed"] is True

    save_verdict(folder, staged_hash, built.report, passed=False, problems=["too narrow"])
    with pytest.raises(StagingError, match="too narrow"):
        require_passing_verdict(folder, loaded)

    # A verdict is about one candidate: staging another drops it.
    save_verdict(folder, staged_hash, built.report)
    save_candidate(folder, built.candidate)
    with pytest.raises(StagingError, match="not been audited"):
        require_passing_verdict(folder, loaded)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
