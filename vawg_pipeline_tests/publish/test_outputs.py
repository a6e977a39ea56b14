"""The published files, opened as an analyst would: DuckDB, CSV, the workbook."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pytest

from vawg_pipeline.disclosure.specs import TOTAL, load_table_specs
from vawg_pipeline.publish.chart import chart_figure
from vawg_pipeline.publish.release import file_sha256
from vawg_pipeline.publish.safety import FORMULA_STARTS, guard_text, primary_breaches
from vawg_pipeline.publish.tables import DIMENSION_TITLES, WITHHELD
from vawg_pipeline.publish.workbook import COVERAGE_SHEET, sheet_name, value_heading
from vawg_pipeline.store.schema import STORAGE_VERSION, connect
from vawg_pipeline_tests.publish.conftest import HOSTILE_NAMES, PERIOD, REFUSED, Published

SPECS = load_table_specs()
FIXED = ["catalogue", "coverage", "audit", "release"]


def open_published(published: Published) -> duckdb.DuckDBPyConnection:
    return connect(published.release.paths.duckdb, read_only=True)


def test_published_file_is_read_only_in_the_analysts_format(published: Published) -> None:
    con = open_published(published)
    try:
        tags = con.execute("SELECT tags FROM duckdb_databases() "
                           "WHERE database_name = current_database()").fetchone()[0]
        assert tags["storage_version"].startswith(STORAGE_VERSION)
        with pytest.raises(duckdb.Error):
            con.execute("CREATE TABLE x (a INTEGER)")
    finally:
        con.close()


LTS_PYTHON = os.environ.get("VAWG_DUCKDB_LTS_PYTHON")


@pytest.mark.skipif(not LTS_PYTHON, reason="set VAWG_DUCKDB_LTS_PYTHON to a python with "
                    "duckdb 1.4 (.ci/run does)")
def test_duckdb_lts_clients_can_open_the_published_file(published: Published) -> None:
    script = ("import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True); "
              "print(duckdb.__version__, "
              "c.execute('select count(*) from catalogue').fetchone()[0], "
              "c.execute(\"select count(*) from cases_by_force where display = '[c]'\")"
              ".fetchone()[0])")
    out = subprocess.run([LTS_PYTHON, "-c", script, str(published.release.paths.duckdb)],
                         capture_output=True, text=True, check=True).stdout.split()
    table = published.built.publication.tables["cases_by_force"]
    assert out[0].startswith("1.4") and out[1] == str(len(SPECS))
    assert out[2] == str(int(table["value"].isna().sum()))


def test_every_catalogue_table_exists_with_its_columns_and_comments(
    published: Published,
) -> None:
    con = open_published(published)
    try:
        catalogue = con.execute("SELECT * FROM catalogue").df()
        assert list(catalogue.columns) == ["table_id", "title", "unit", "population",
                                           "dimensions", "description"]
        assert catalogue["table_id"].tolist() == [s.table_id for s in SPECS]
        for row in catalogue.itertuples(index=False):
            dims = row.dimensions.split(",")
            columns = con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                "ORDER BY column_index", [row.table_id]).fetchall()
            assert columns == ([(d, "VARCHAR") for d in dims]
                               + [("value", "INTEGER"), ("display", "VARCHAR")])
        tables = {r[0]: r[1] for r in con.execute(
            "SELECT table_name, comment FROM duckdb_tables() WHERE NOT internal").fetchall()}
        assert set(tables) == {s.table_id for s in SPECS} | set(FIXED)
        assert all(comment for comment in tables.values())
        uncommented = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE NOT internal AND (comment IS NULL OR comment = '')").fetchall()
        assert uncommented == []
    finally:
        con.close()


def test_withheld_cells_are_null_and_shown_as_c(published: Published) -> None:
    con = open_published(published)
    withheld_total = 0
    try:
        for spec in SPECS:
            frame = con.execute(f"SELECT * FROM {spec.table_id}").df()
            withheld = frame["value"].isna()
            assert (frame.loc[withheld, "display"] == WITHHELD).all()
            shown = frame.loc[~withheld]
            assert (shown["display"] == shown["value"].astype(int).astype(str)).all()
            withheld_total += int(withheld.sum())
            # As decided by the suppression, row for row.
            decided = published.built.candidate.protected[spec.table_id]["withheld"]
            assert withheld.tolist() == decided.tolist()
    finally:
        con.close()
    assert withheld_total > 0  # the fixture store has small counts to protect


def test_no_published_value_is_1_to_4(published: Published) -> None:
    con = open_published(published)
    try:
        for spec in SPECS:
            small = con.execute(f"SELECT count(*) FROM {spec.table_id} "
                                "WHERE value BETWEEN 1 AND 4").fetchone()[0]
            assert small == 0, spec.table_id
    finally:
        con.close()
    assert primary_breaches(published.built.publication.tables, 5) == []


def test_totals_are_sums_of_the_true_counts(published: Published) -> None:
    for spec in SPECS:
        frame = published.built.candidate.protected[spec.table_id]
        dims = list(spec.dimensions)
        for d in dims:
            others = [o for o in dims if o != d]
            parts = frame[frame[d] != TOTAL]
            totals = frame[frame[d] == TOTAL]
            if others:
                summed = parts.groupby(others)["value"].sum()
                stated = totals.set_index(others)["value"]
                assert (summed.sort_index() == stated.sort_index()).all(), (spec.table_id, d)
            else:
                assert parts["value"].sum() == totals["value"].iloc[0]


def test_grand_totals_match_the_store(published: Published) -> None:
    con = connect(published.store, read_only=True)
    try:
        individuals, cases, finalised = con.execute("""
            SELECT count(*), count(DISTINCT (force_code, case_reference)),
                   count(*) FILTER (WHERE status = 'finalised')
            FROM cases WHERE date_recorded BETWEEN ? AND ?""",
            [PERIOD.start, PERIOD.end]).fetchone()
    finally:
        con.close()
    for spec in SPECS:
        frame = published.built.candidate.protected[spec.table_id]
        grand = frame[(frame[list(spec.dimensions)] == TOTAL).all(axis=1)]["value"].item()
        expected = (cases if spec.unit == "cases"
                    else finalised if spec.population == "finalised" else individuals)
        assert grand == expected, spec.table_id


def test_force_dimension_lists_only_forces_with_an_accepted_return(
    published: Published,
) -> None:
    table = published.built.publication.tables["cases_by_force"]
    assert list(dict.fromkeys(table["force"])) == [*published.accepted, TOTAL]
    coverage = published.built.publication.coverage.set_index("force_code")
    assert coverage.loc[REFUSED, "status"] == "refused"
    assert not coverage.loc[REFUSED, "included"]
    assert len(coverage) == 44  # every force of the registry
    assert (coverage["status"] == "no return").sum() == 44 - 9


def test_csv_files_match_the_duckdb_tables(published: Published) -> None:
    paths = published.release.paths
    con = open_published(published)
    try:
        for name in [s.table_id for s in SPECS] + FIXED:
            types = dict(con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                "ORDER BY column_index", [name]).fetchall())
            csv = paths.csv_folder / f"{name}.csv"
            struct = "{" + ", ".join(f"'{c}': '{t}'" for c, t in types.items()) + "}"
            from_csv = con.execute(
                f"SELECT * FROM read_csv('{csv}', header = true, columns = {struct}, "
                "nullstr = '', timestampformat = '%Y-%m-%dT%H:%M:%S')").fetchall()
            from_table = con.execute(f"SELECT * FROM {name}").fetchall()
            assert from_csv == from_table, name
            assert len(from_table) > 0
    finally:
        con.close()


def _cells(ws: openpyxl.worksheet.worksheet.Worksheet) -> list[object]:
    return [c.value for row in ws.iter_rows() for c in row if c.value is not None]


def test_workbook_cell_by_cell(published: Published) -> None:
    pub = published.built.publication
    wb = openpyxl.load_workbook(published.release.paths.workbook)
    expected_sheets = (["Cover", "Contents", "Notes"]
                       + [sheet_name(k) for k in range(1, len(SPECS) + 1)] + [COVERAGE_SHEET])
    assert wb.sheetnames == expected_sheets
    for ws in wb.worksheets:
        assert not ws.merged_cells.ranges, ws.title

    cover = "\n".join(str(v) for v in _cells(wb["Cover"]))
    assert "Violence against women and girls" in cover
    assert PERIOD.label() in cover and "Source:" in cover and "Contact" in cover
    assert published.release.release_id in cover

    notes = "\n".join(str(v) for v in _cells(wb["Notes"]))
    assert WITHHELD in notes and "Disclosure rules" in notes and "1 to 4" in notes
    # Zeros can be withheld: a note saying a withheld count is not zero would let a
    # reader bound it below by 1, narrower than the audit protects.
    assert "zero included" in notes and "not zero" not in notes
    refused_name = pub.coverage.set_index("force_code").loc[REFUSED, "force_name"]
    assert refused_name in notes

    contents = _cells(wb["Contents"])
    for spec in SPECS:
        assert spec.title in contents

    for position, spec in enumerate(SPECS, start=1):
        ws = wb[sheet_name(position)]
        assert str(ws["A1"].value).startswith(spec.title)
        instructions = next(v for v in _cells(ws) if str(v).startswith("This worksheet"))
        assert f"{WITHHELD} marks a withheld value. [note" in instructions
        assert "  " not in instructions and " ." not in instructions
        ref = ws.tables[spec.table_id].ref
        rows = [[c.value for c in row] for row in ws[ref]]
        header, body = rows[0], rows[1:]
        assert header == [DIMENSION_TITLES[d] for d in spec.dimensions] + [value_heading(spec)]
        table = pub.tables[spec.table_id]
        assert len(body) == len(table)  # no blank or extra rows inside the table
        for cells, row in zip(body, table.itertuples(index=False), strict=True):
            assert all(v is not None for v in cells)
            assert cells[:-1] == [getattr(row, d) for d in spec.dimensions]
            if pd.isna(row.value):
                assert cells[-1] == WITHHELD
            else:
                assert type(cells[-1]) is int and cells[-1] == row.value
        # The title row is above the table, not inside it.
        first_table_row = int("".join(ch for ch in ref.split(":")[0] if ch.isdigit()))
        assert first_table_row > 1

    coverage = wb[COVERAGE_SHEET]
    instructions = next(v for v in _cells(coverage) if str(v).startswith("This worksheet"))
    assert "does not apply. [note" in instructions and " ." not in instructions
    ref = coverage.tables["coverage"].ref
    body = [[c.value for c in row] for row in coverage[ref]][1:]
    assert len(body) == len(pub.coverage)
    rates = [r[-1] for r in body]
    assert all(isinstance(v, int | float) or v == "[x]" for v in rates)


def test_no_published_text_starts_with_a_formula_character(published: Published) -> None:
    paths = published.release.paths
    texts: list[str] = []
    con = open_published(published)
    try:
        for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT internal").fetchall():
            frame = con.execute(f"SELECT * FROM {name}").df()
            for column in frame.columns:
                texts.append(column)
                texts += [v for v in frame[column] if isinstance(v, str)]
        coverage_names = con.execute("SELECT file_name FROM coverage").df()["file_name"]
    finally:
        con.close()
    for path in paths.csv_folder.glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            texts += [cell for record in csv.reader(handle) for cell in record]
    wb = openpyxl.load_workbook(paths.workbook)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate)
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    assert texts and not [t for t in texts if t.startswith(FORMULA_STARTS)]
    # The hostile file names are published, neutralised, not dropped.
    for name in HOSTILE_NAMES.values():
        assert guard_text(name) in set(coverage_names)
        assert guard_text(name).startswith("'")


def test_audit_table_shows_no_withheld_value(published: Published) -> None:
    con = open_published(published)
    try:
        audit = con.execute("SELECT * FROM audit").df()
    finally:
        con.close()
    assert audit["ok"].all() and len(audit) > 0
    insiders = audit[audit["attacker"] != "outsider"]
    assert insiders[["lo", "hi", "width"]].isna().all().all()
    assert set(audit.columns) == {"table_id", "cell", "attacker", "lo", "hi", "width", "ok"}
    assert "withheld_reason" not in audit.columns


def test_manifest_records_inputs_version_rules_and_audit(published: Published) -> None:
    release = published.release
    manifest = json.loads((release.release_dir / "manifest.json").read_text())
    assert manifest["release_id"] == release.release_id
    assert manifest["release_id"].endswith(manifest["content_hash"][:10])
    assert set(manifest["inputs"]) == set(published.accepted)
    con = connect(published.store, read_only=True)
    try:
        shas = dict(con.execute("SELECT force_code, sha256 FROM submissions "
                                "WHERE status = 'accepted'").fetchall())
    finally:
        con.close()
    assert {f: v["sha256"] for f, v in manifest["inputs"].items()} == shas
    assert manifest["code_version"]["package"]
    assert manifest["rules"]["threshold"] == 5
    assert manifest["audit"]["passed"] is True
    # Counts per reason would say how likely a [c] is to hide 1 to 4: not published.
    assert "primary" not in manifest["audit"]["summary"]
    assert REFUSED in manifest["forces_missing"]
    for relative, sha in manifest["files"].items():
        assert file_sha256(release.release_dir / relative) == sha
        assert file_sha256(release.paths.folder / relative) == sha  # live = release


def test_chart_draws_no_bar_for_a_withheld_cell(published: Published) -> None:
    pub = published.built.publication
    table = pub.tables["individuals_by_vawg_category"]
    interior = table[(table["vawg_category"] != TOTAL) & (table["case_type"] != TOTAL)]
    fig = chart_figure(pub)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    heights = sorted(int(p.get_height()) for p in ax.patches)
    assert heights == sorted(int(v) for v in interior["value"].dropna())
    assert labels.count(WITHHELD) == int(interior["value"].isna().sum())
    assert published.release.paths.chart.read_bytes().startswith(b"\x89PNG")


def test_guard_text() -> None:
    for bad in ("=1+1", "+44", "-3", "@x", "\tx", "\rx"):
        assert guard_text(bad) == "'" + bad
    for fine in ("domestic abuse", "Total", "[c]", "12", "", "a=b"):
        assert guard_text(fine) == fine
    assert guard_text(np.int64(3)) == 3


def test_a_publishing_run_loads_the_chart_library_in_the_background() -> None:
    """The published-outputs resource starts matplotlib's import when a run sets it up,
    once, on a thread of its own; the chart step then finds it loaded."""
    code = """
import sys, threading
import dagster as dg
from vawg_pipeline.defs.resources import PublishedOutputs
assert "matplotlib.figure" not in sys.modules
resource = PublishedOutputs()
resource.setup_for_execution(dg.build_init_resource_context())
resource.setup_for_execution(dg.build_init_resource_context())
loaders = [t for t in threading.enumerate() if t.name == "vawg-chart-preload"]
assert len(loaders) <= 1, loaders
for t in loaders:
    t.join()
assert "matplotlib.figure" in sys.modules and "matplotlib.backends.backend_agg" in sys.modules
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
