"""The publishing stage's shortcuts: counting in DuckDB, one audit per candidate carried
with it, and the protection reused when the counts have not changed. Each must give
exactly what the long way gives, and none may weaken the blocking check."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from vawg_pipeline.defs import publishing
from vawg_pipeline.disclosure.specs import DisclosureRules, load_table_specs
from vawg_pipeline.publish import staging, tables
from vawg_pipeline.publish.tables import (
    AuditOutcome,
    audit_candidate,
    audit_disagreements,
    build_candidate,
    count_period_tables,
    count_tables,
    dimension_levels,
    publication,
    read_period_rows,
)
from vawg_pipeline.store import national
from vawg_pipeline.store.schema import connect
from vawg_pipeline_tests.publish.builders import ingest_result
from vawg_pipeline_tests.publish.conftest import PERIOD, RULES, make_store
from vawg_pipeline_tests.publish.test_assets import ASSETS, resources

SPECS = load_table_specs()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("reuse"))[0]


def _read(store: Path, fn: Callable[[Any], Any]) -> Any:
    con = connect(store, read_only=True)
    try:
        return fn(con)
    finally:
        con.close()


def _counting(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[int]:
    """Count the calls of ``module.name`` (still calling through)."""
    calls: list[int] = []
    real = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_counting_in_duckdb_equals_counting_the_rows_in_pandas(store: Path) -> None:
    """On a real store: blank relationships, rows outside the period, a refused force."""
    def both(con: Any) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
        levels = dimension_levels(tables.accepted_forces(con))
        return (count_period_tables(con, PERIOD, SPECS, levels),
                count_tables(SPECS, read_period_rows(con, PERIOD), levels))

    in_duckdb, in_pandas = _read(store, both)
    for spec in SPECS:
        pd.testing.assert_frame_equal(in_duckdb[spec.table_id], in_pandas[spec.table_id])
    relationships = in_duckdb["individuals_by_victim_relationship"]
    assert (relationships.loc[relationships["victim_relationship"] == "not known",
                              "value"] > 0).any()


def test_each_forces_share_counted_with_the_tables_equals_its_own_rows_counted(
    store: Path,
) -> None:
    """The tables and the forces' shares come from the same grouped queries: each
    share must be exactly that force's rows counted on their own, and the tables the
    same as counted without shares."""
    def counted(con: Any) -> tuple[Any, ...]:
        levels = dimension_levels(tables.accepted_forces(con))
        return (levels, *tables.count_period(con, PERIOD, SPECS, levels, "force"),
                count_period_tables(con, PERIOD, SPECS, levels),
                read_period_rows(con, PERIOD))

    levels, counts, shares, counts_alone, rows = _read(store, counted)
    for spec in SPECS:
        pd.testing.assert_frame_equal(counts[spec.table_id], counts_alone[spec.table_id])
    without_force = [s for s in SPECS if "force" not in s.dimensions]
    assert sorted(shares) == sorted(s.table_id for s in without_force)
    assert len(levels["force"]) > 1
    for spec in without_force:
        share = shares[spec.table_id]
        for force in levels["force"]:
            own = count_tables([spec], rows[rows["force_code"] == force], levels)
            mine = share[share["force"] == force].drop(columns="force")
            pd.testing.assert_frame_equal(mine.reset_index(drop=True),
                                          own[spec.table_id].reset_index(drop=True))


def test_equal_counts_reuse_the_protection_and_other_counts_do_not(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _read(store, lambda con: build_candidate(con, PERIOD, RULES, SPECS))
    assert first.counts_hash and not first.reused_protection
    protects = _counting(monkeypatch, tables, "protect")

    again = _read(store, lambda con: build_candidate(con, PERIOD, RULES, SPECS,
                                                     previous=first))
    assert protects == [] and again.reused_protection
    assert again.content_hash() == first.content_hash()
    assert again.protection_hash() == first.protection_hash()

    # Other rules, or other counts (a shorter period), are protected afresh.
    wider = DisclosureRules(protection_width=6)
    other = _read(store, lambda con: build_candidate(con, PERIOD, wider, SPECS,
                                                     previous=first))
    assert protects == [1] and not other.reused_protection
    shorter = dataclasses.replace(PERIOD, end=PERIOD.end.replace(month=1))
    other = _read(store, lambda con: build_candidate(con, shorter, RULES, SPECS,
                                                     previous=first))
    assert protects == [1, 1] and not other.reused_protection

    # A previous candidate whose hash matches but whose counts do not is not trusted.
    forged = dataclasses.replace(first, protected={
        k: v.assign(value=v["value"] + 1) for k, v in first.protected.items()})
    other = _read(store, lambda con: build_candidate(con, PERIOD, RULES, SPECS,
                                                     previous=forged))
    assert protects == [1, 1, 1] and not other.reused_protection


def test_the_audit_travels_with_the_candidate_and_is_checked_by_hash(
    store: Path, tmp_path: Path
) -> None:
    candidate = _read(store, lambda con: build_candidate(con, PERIOD, RULES, SPECS))
    outcome = AuditOutcome.of(audit_candidate(candidate), candidate)
    folder = tmp_path / "staging"
    staging.save_candidate(folder, candidate, outcome)
    staged = staging.load_staged(folder)
    assert staged.candidate.counts_hash == candidate.counts_hash
    assert staged.audit is not None and staged.audit.digest() == outcome.digest()
    pd.testing.assert_frame_equal(staged.audit.table, outcome.table)
    assert audit_disagreements(staged.audit, outcome) == []
    # The published form is the same from the report and from the staged outcome.
    from_report = publication(candidate, audit_candidate(candidate))
    from_staged = publication(staged.candidate, staged.audit)
    pd.testing.assert_frame_equal(from_staged.audit, from_report.audit)
    assert from_staged.content_hash() == from_report.content_hash()
    assert {k: v for k, v in from_staged.audit_summary.items() if k != "seconds"} == {
        k: v for k, v in from_report.audit_summary.items() if k != "seconds"}

    # An outcome about other tables is refused; an altered staged report is found out.
    other = dataclasses.replace(candidate, protected={
        k: v.assign(withheld=True) for k, v in candidate.protected.items()})
    with pytest.raises(staging.StagingError, match="not about this candidate"):
        staging.save_candidate(folder, other, outcome)
    con = connect(folder / staging.CANDIDATE_FILE)
    try:
        con.execute("UPDATE audit SET lo = lo + 1 WHERE lo IS NOT NULL")
    finally:
        con.close()
    with pytest.raises(staging.StagingError, match="audit report does not read back"):
        staging.load_staged(folder)
    assert staging.previous_staged(folder) is None  # nothing to reuse, no error


def test_disagreements_between_reports_are_found(store: Path) -> None:
    candidate = _read(store, lambda con: build_candidate(con, PERIOD, RULES, SPECS))
    outcome = AuditOutcome.of(audit_candidate(candidate), candidate)
    assert len(outcome.table) > 0
    table = outcome.table.copy()
    table.loc[table["lo"].notna().idxmax(), "lo"] += 0.5
    assert any("lo" in p for p in audit_disagreements(
        dataclasses.replace(outcome, table=table), outcome))
    flipped = outcome.table.assign(ok=~outcome.table["ok"])
    assert audit_disagreements(dataclasses.replace(outcome, table=flipped), outcome)
    assert audit_disagreements(dataclasses.replace(outcome, passed=not outcome.passed),
                               outcome)
    assert audit_disagreements(dataclasses.replace(outcome, of_tables="other"), outcome)


def test_one_audit_per_step_and_none_in_the_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, accepted = make_store(tmp_path)
    res = resources(tmp_path, store)
    audits = _counting(monkeypatch, publishing, "audit_candidate")
    protects = _counting(monkeypatch, tables, "protect")

    first = dg.materialize(ASSETS, resources=res)
    assert first.success
    assert len(audits) == 2  # published_tables once, the check once; the release none
    assert len(protects) == 1

    # Nothing changed: the protection and its audit are reused; the check audits.
    again = dg.materialize(ASSETS, resources=res)
    assert again.success
    assert len(audits) == 3 and len(protects) == 1
    table_events = [e for e in again.get_asset_materialization_events()
                    if e.asset_key == publishing.table_key(SPECS[0])]
    assert table_events[0].materialization.metadata[
        "protection reused (counts unchanged)"].value is True
    assert all(c.passed for c in again.get_asset_check_evaluations())

    # One force resubmits other numbers: protected and audited afresh, a new release.
    con = national.open_store(store)
    try:
        national.replace_force_return(con, ingest_result(accepted[0], 45, seed=99))
        con.execute("CHECKPOINT")
    finally:
        con.close()
    third = dg.materialize(ASSETS, resources=res)
    assert third.success
    assert len(audits) == 5 and len(protects) == 2
    releases = [e.materialization.metadata for e in third.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey("published_release")]
    assert releases[0]["new release"].value is True


def _direct(store: Path, folder: Path) -> tuple[Any, Any]:
    res = resources(folder, store)
    return res["store"], res["published"]


def test_the_check_fails_a_staged_report_that_is_not_the_audits(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    store_res, published_res = _direct(store, tmp_path)
    list(publishing.published_tables(dg.build_asset_context(), store=store_res,
                                     published=published_res))
    folder = publishing.staging_folder(store_res, "EPHEMERAL")
    staged = staging.load_staged(folder)
    assert staged.audit is not None and staged.audit.passed
    # A consistently staged, but wrong, report: wider ranges than the tables allow.
    doctored = dataclasses.replace(staged.audit,
                                   table=staged.audit.table.assign(hi=float("nan")))
    staging.save_candidate(folder, staged.candidate, doctored)

    checks = list(publishing.disclosure_audit(dg.build_asset_check_context(),
                                              store=store_res, published=published_res))
    assert checks and not any(c.passed for c in checks)
    verdict = staging.load_verdict(folder)
    assert verdict is not None and not verdict["passed"]
    assert any("staged audit report" in v for v in verdict["violations"])
    with pytest.raises(staging.StagingError):
        publishing.published_release(dg.build_asset_context(), store=store_res,
                                     published=published_res)
    assert not (tmp_path / "published" / "vawg_published.duckdb").exists()


def test_the_release_publishes_only_the_report_the_check_approved(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    store_res, published_res = _direct(store, tmp_path)
    list(publishing.published_tables(dg.build_asset_context(), store=store_res,
                                     published=published_res))
    list(publishing.disclosure_audit(dg.build_asset_check_context(), store=store_res,
                                     published=published_res))
    folder = publishing.staging_folder(store_res, "EPHEMERAL")
    verdict = staging.load_verdict(folder)
    assert verdict is not None and verdict["passed"] and verdict["audit_digest"]
    staged = staging.load_staged(folder)
    assert staging.require_staged_audit(staged, verdict) is staged.audit
    with pytest.raises(staging.StagingError, match="not the one"):
        staging.require_staged_audit(staged, {**verdict, "audit_digest": "0" * 64})
    with pytest.raises(staging.StagingError, match="not the one"):
        staging.require_staged_audit(dataclasses.replace(staged, audit=None), verdict)

    result = publishing.published_release(dg.build_asset_context(), store=store_res,
                                          published=published_res)
    assert result.metadata["audit"] == "passed"
    con = connect(tmp_path / "published" / "vawg_published.duckdb", read_only=True)
    try:
        published_audit = con.execute("SELECT * FROM audit").df()
    finally:
        con.close()
    assert len(published_audit) == len(staged.audit.table)
    assert list(published_audit["cell"]) == list(staged.audit.table["cell"])


def test_a_failed_stage_is_never_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    store, _ = make_store(tmp_path)
    res = resources(tmp_path, store)
    real_audit = publishing.audit_candidate

    def failing_audit(candidate: Any) -> Any:
        return dataclasses.replace(real_audit(candidate), passed=False,
                                   violations=["a cell is too narrowly bounded"])

    monkeypatch.setattr(publishing, "audit_candidate", failing_audit)
    assert not dg.materialize(ASSETS, resources=res, raise_on_error=False).success
    monkeypatch.setattr(publishing, "audit_candidate", real_audit)
    protects = _counting(monkeypatch, tables, "protect")
    result = dg.materialize(ASSETS, resources=res)
    assert result.success and len(protects) == 1  # decided afresh, then released
    assert all(c.passed for c in result.get_asset_check_evaluations())


def test_each_forces_own_share_of_the_national_tables_is_counted_and_staged(
    store: Path, tmp_path: Path
) -> None:
    """What an insider knows of a table without the force dimension is its own share of
    every cell: those shares add up to the table, and travel with the candidate."""
    candidate = _read(store, lambda con: build_candidate(con, PERIOD, RULES, SPECS))
    national = {s.table_id for s in SPECS if RULES.force_dimension not in s.dimensions}
    assert set(candidate.contributions) == national
    for table_id, shares in candidate.contributions.items():
        spec = candidate.specs_by_id[table_id]
        assert set(shares["force"]) <= set(candidate.forces)
        summed = shares.groupby(list(spec.dimensions), sort=False)["value"].sum()
        table = candidate.protected[table_id].set_index(list(spec.dimensions))["value"]
        assert (summed.reindex(table.index, fill_value=0) == table).all(), table_id
    folder = tmp_path / "staging"
    staging.save_candidate(folder, candidate)
    staged = staging.load_staged(folder).candidate
    for table_id, shares in candidate.contributions.items():
        pd.testing.assert_frame_equal(staged.contributions[table_id], shares,
                                      check_dtype=False)
    # A change in who contributed what (same totals) is a different protection problem.
    moved = {k: v.assign(force=v["force"].iloc[::-1].to_numpy())
             for k, v in candidate.contributions.items()}
    assert tables.counts_fingerprint(RULES, SPECS, candidate.forces, candidate.protected,
                                     candidate.contributions) == candidate.counts_hash
    assert (tables.counts_fingerprint(RULES, SPECS, candidate.forces, candidate.protected,
                                      moved)
            != candidate.counts_hash)


def test_two_runs_at_once_each_release_their_own_audited_candidate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sensor's run stages its candidate while the nightly run sits between its
    audit and its release: neither audits or releases the other's candidate."""
    store, _ = make_store(tmp_path)
    store_res, published_res = _direct(store, tmp_path)
    current = {"run": "nightly"}
    monkeypatch.setattr(publishing, "run_id_of", lambda context: current["run"])

    def tables(run: str) -> None:
        current["run"] = run
        list(publishing.published_tables(dg.build_asset_context(), store=store_res,
                                         published=published_res))

    def check_and_release(run: str) -> dict:
        current["run"] = run
        checks = list(publishing.disclosure_audit(dg.build_asset_check_context(),
                                                  store=store_res, published=published_res))
        assert checks and all(c.passed for c in checks)
        return publishing.published_release(dg.build_asset_context(), store=store_res,
                                            published=published_res).metadata

    tables("nightly")
    tables("sensor")
    assert check_and_release("nightly")["audit"] == "passed"
    assert check_and_release("sensor")["audit"] == "passed"
    stages = sorted(p.name for p in publishing.staging_root(store_res).iterdir())
    assert stages == ["nightly", "sensor"]  # kept for a day: a run may still need its own


def test_a_run_overtaken_by_a_later_one_does_not_release_its_older_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nightly run counts first, the sensor's run counts and releases, then the
    nightly run reaches its release: its numbers are the older ones, not released."""
    store, _ = make_store(tmp_path)
    store_res, published_res = _direct(store, tmp_path)
    current = {"run": "nightly"}
    monkeypatch.setattr(publishing, "run_id_of", lambda context: current["run"])

    def step(run: str, what: str) -> dict | None:
        current["run"] = run
        if what == "tables":
            list(publishing.published_tables(dg.build_asset_context(), store=store_res,
                                             published=published_res))
            return None
        list(publishing.disclosure_audit(dg.build_asset_check_context(), store=store_res,
                                         published=published_res))
        return publishing.published_release(dg.build_asset_context(), store=store_res,
                                            published=published_res).metadata

    step("nightly", "tables")
    step("sensor", "tables")
    sensor = step("sensor", "release")
    assert sensor["overtaken by a newer run's release"] is False
    nightly = step("nightly", "release")
    assert nightly["overtaken by a newer run's release"] is True
    assert nightly["release id"] == sensor["release id"]
