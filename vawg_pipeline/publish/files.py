"""Writing the published DuckDB file and its CSV files.

The DuckDB file documents itself: every table and column has a ``COMMENT ON``, and it
is written in the storage format DuckDB 1.4 (the long-term-support line analysts'
clients run) can read. The CSV files are exported from that finished file, so they
hold exactly what the DuckDB tables hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from vawg_pipeline.disclosure.specs import TableSpec
from vawg_pipeline.publish.tables import (
    AUDIT_COLUMNS,
    CATALOGUE_COLUMNS,
    COVERAGE_COLUMNS,
    DIMENSION_TITLES,
    Publication,
)
from vawg_pipeline.store.schema import connect, sql_text

RELEASE_COLUMNS: list[tuple[str, str, str]] = [
    ("release_id", "VARCHAR NOT NULL", "Release identifier: creation time (UTC) and a "
     "short hash of the published content."),
    ("created_at", "TIMESTAMP NOT NULL", "When the release was made (UTC)."),
    ("period_start", "DATE NOT NULL", "First day of the reporting period (date recorded)."),
    ("period_end", "DATE NOT NULL", "Last day of the reporting period (inclusive)."),
    ("content_hash", "VARCHAR NOT NULL", "SHA-256 of the published numbers, catalogue "
     "and coverage: equal hashes mean the same numbers."),
    ("code_version", "VARCHAR NOT NULL", "vawg-pipeline version (and git commit) that "
     "made the release."),
    ("audit_passed", "BOOLEAN NOT NULL", "True: the disclosure audit passed (a release "
     "is only made when it does)."),
]

FIXED_TABLES: dict[str, str] = {
    "catalogue": "Every published table: its id, title, unit, population, dimensions and "
    "description.",
    "coverage": "Every force of the registry: the return file it contributed (file name, "
    "SHA-256, received time), its status and its quarantine rate, so a reader can see "
    "which forces are missing from the tables.",
    "audit": "The disclosure audit of this release: for every withheld cell and every "
    "attacker who does not know it (the public, and each force knowing its own "
    "figures), whether the range of values consistent with everything published is "
    "wide enough. Withheld values themselves are never shown.",
    "release": "This release: its id, when it was made, the reporting period, the "
    "content hash and the code version.",
}


@dataclass(frozen=True)
class ReleaseInfo:
    release_id: str
    created_at: datetime
    content_hash: str
    code_version: str


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_columns(spec: TableSpec) -> list[tuple[str, str, str]]:
    """(name, SQL type, comment) of a published table's columns."""
    unit = "cases" if spec.unit == "cases" else "individuals (subject-per-case rows)"
    columns = [
        (d, "VARCHAR NOT NULL",
         f"{DIMENSION_TITLES.get(d, d)}: " + (
             "force code" if d == "force" else "the return contract's canonical label")
         + ", or Total for the sum over all of them.")
        for d in spec.dimensions
    ]
    columns += [
        ("value", "INTEGER", f"Number of {unit}; NULL where withheld to protect the people "
         "involved."),
        ("display", "VARCHAR NOT NULL", "The number as text, or [c] where withheld "
         "(confidential)."),
    ]
    return columns


def table_comment(spec: TableSpec, period_label: str) -> str:
    population = ("finalised cases only" if spec.population == "finalised"
                  else "all cases")
    return (f"{spec.title}. {spec.description} Unit: {spec.unit}; population: "
            f"{population}; reporting period {period_label} (date recorded).")


def _create(con: duckdb.DuckDBPyConnection, name: str, comment: str,
            columns: list[tuple[str, str, str]], frame: pd.DataFrame) -> None:
    body = ", ".join(f"{_ident(c)} {sql}" for c, sql, _ in columns)
    con.execute(f"CREATE TABLE {_ident(name)} ({body})")
    view = f"frame_{name}"
    con.register(view, frame)
    try:
        select = ", ".join(
            f"CAST({_ident(c)} AS {sql.split()[0]})" for c, sql, _ in columns)
        con.execute(f"INSERT INTO {_ident(name)} SELECT {select} FROM {_ident(view)}")
    finally:
        con.unregister(view)
    con.execute(f"COMMENT ON TABLE {_ident(name)} IS {sql_text(comment)}")
    for c, _, text in columns:
        con.execute(f"COMMENT ON COLUMN {_ident(name)}.{_ident(c)} IS {sql_text(text)}")


def write_published_duckdb(path: Path, pub: Publication, release: ReleaseInfo) -> Path:
    """Write the published DuckDB file at ``path`` (which must not exist yet)."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists: a published file is written once")
    con = connect(path)
    try:
        con.execute("BEGIN")
        for spec in pub.specs:
            _create(con, spec.table_id, table_comment(spec, pub.period.label()),
                    table_columns(spec), pub.tables[spec.table_id])
        _create(con, "catalogue", FIXED_TABLES["catalogue"], CATALOGUE_COLUMNS,
                pub.catalogue)
        _create(con, "coverage", FIXED_TABLES["coverage"], COVERAGE_COLUMNS, pub.coverage)
        _create(con, "audit", FIXED_TABLES["audit"], AUDIT_COLUMNS, pub.audit)
        release_row = pd.DataFrame([{
            # To the second, as the release id and the CSV export give it.
            "release_id": release.release_id,
            "created_at": release.created_at.replace(microsecond=0),
            "period_start": pub.period.start, "period_end": pub.period.end,
            "content_hash": release.content_hash, "code_version": release.code_version,
            "audit_passed": pub.audit_passed,
        }])
        _create(con, "release", FIXED_TABLES["release"], RELEASE_COLUMNS, release_row)
        con.execute("COMMIT")
        con.execute("CHECKPOINT")  # everything in the file itself, no WAL left beside it
    finally:
        con.close()
    return path


def published_table_names(pub: Publication) -> list[str]:
    """Tables of the published file, in the order they are written."""
    return [s.table_id for s in pub.specs] + list(FIXED_TABLES)


def write_csvs(duckdb_path: Path, folder: Path, tables: list[str]) -> dict[str, Path]:
    """One CSV per table of the published file, exported from the file itself."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    con = connect(duckdb_path, read_only=True)
    try:
        for name in tables:
            target = folder / f"{name}.csv"
            # Exported in the table's stored order; NULL as an empty field.
            con.execute(
                f"COPY (SELECT * FROM {_ident(name)}) TO {sql_text(str(target))} "
                "(HEADER, DELIMITER ',', QUOTE '\"', NULLSTR '', "
                "TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%S')"
            )
            written[name] = target
    finally:
        con.close()
    return written
