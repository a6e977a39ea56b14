"""The publishing assets and the blocking audit check, run by Dagster on real files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import dagster as dg
import pytest

from vawg_pipeline.defs import publishing
from vawg_pipeline.defs.resources import NationalStore, PublishedOutputs
from vawg_pipeline.disclosure.specs import load_table_specs
from vawg_pipeline_tests.publish.conftest import make_store

SPECS = load_table_specs()
ASSETS = [publishing.published_tables, publishing.disclosure_audit,
          publishing.published_release]


def resources(folder: Path, store: Path) -> dict[str, dg.ConfigurableResource]:
    return {
        "store": NationalStore(path=str(store), pseudonym_key="test-key-not-secret"),
        "published": PublishedOutputs(path=str(folder / "published" /
                                               "vawg_published.duckdb")),
    }


def release_metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    events = [e for e in result.get_asset_materialization_events()
              if e.asset_key == dg.AssetKey("published_release")]
    assert len(events) == 1
    return {k: v.value for k, v in events[0].materialization.metadata.items()}


def test_materialize_publishes_every_table_after_the_audit(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    res = resources(tmp_path, store)
    result = dg.materialize(ASSETS, resources=res)
    assert result.success

    tables = {e.asset_key: e.materialization.metadata
              for e in result.get_asset_materialization_events()
              if e.asset_key != dg.AssetKey("published_release")}
    assert set(tables) == {publishing.table_key(s) for s in SPECS}
    for spec in SPECS:
        metadata = tables[publishing.table_key(spec)]
        assert metadata["audit"].value == "passed"
        assert metadata["dagster/row_count"].value > 0
        names = [c.name for c in metadata["dagster/column_schema"].value.columns]
        assert names == [*spec.dimensions, "value", "display"]
        assert "|" in metadata["table (as published)"].value  # a Markdown table
        assert "secondary" in metadata["withheld cells by rule"].value
        stages = metadata["seconds per stage (all tables)"].value
        assert set(stages) == {"aggregate", "suppress", "audit"}
        assert all(seconds >= 0 for seconds in stages.values())

    checks = result.get_asset_check_evaluations()
    assert len(checks) == len(SPECS)
    assert all(c.passed and c.check_name == "disclosure_audit" for c in checks)
    specs = {s.key.asset_key: s for s in publishing.disclosure_audit.check_specs}
    assert all(spec.blocking for spec in specs.values())

    first = release_metadata(result)
    assert first["new release"] is True
    assert str(first["chart"]).startswith("![")
    assert "data:image/png;base64," in str(first["chart"])
    for key in ("published DuckDB", "workbook", "CSV folder", "chart path",
                "release folder"):
        assert Path(str(first[key])).exists(), key
    # The candidate with its true counts stays beside the store, not with the outputs.
    run_id = result.run_id
    assert (store.parent / publishing.STAGING_FOLDER / run_id / "candidate.duckdb").exists()
    assert not list((tmp_path / "published").rglob("candidate*"))

    again = dg.materialize(ASSETS, resources=res)
    second = release_metadata(again)
    assert second["new release"] is False
    assert second["release id"] == first["release id"]


def test_a_failing_audit_blocks_the_release(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real_audit = publishing.audit_candidate

    def failing_audit(candidate):  # the engine's report, with one violation added
        report = real_audit(candidate)
        return dataclasses.replace(report, passed=False,
                                   violations=["a cell is too narrowly bounded"])

    monkeypatch.setattr(publishing, "audit_candidate", failing_audit)
    store, _ = make_store(tmp_path)
    res = resources(tmp_path, store)
    result = dg.materialize(ASSETS, resources=res, raise_on_error=False)

    assert not result.success
    checks = result.get_asset_check_evaluations()
    assert checks and not any(c.passed for c in checks)
    assert dg.AssetKey("published_release") not in {
        e.asset_key for e in result.get_asset_materialization_events()}
    assert not (tmp_path / "published" / "vawg_published.duckdb").exists()
    assert not list((tmp_path / "published").rglob("*.csv"))


def test_the_project_definitions_include_publishing() -> None:
    from vawg_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert {publishing.table_key(s) for s in SPECS} <= keys
    assert dg.AssetKey("published_release") in keys
    for spec in SPECS:
        node = graph.get(publishing.table_key(spec))
        assert node.group_name == "published"
        assert dg.AssetKey("national_store") in node.parent_keys
    release = graph.get(dg.AssetKey("published_release"))
    assert release.parent_keys == {publishing.table_key(s) for s in SPECS}
    assert "team:npcc-vawg-data" in release.owners
