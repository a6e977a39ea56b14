"""The national store's schema, documented in the database itself (``COMMENT ON``).

Analysts open the store's snapshot with whatever DuckDB client they have, so every file
is written in a storage format DuckDB 1.4 (the long-term-support line) can read.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import duckdb

from vawg_pipeline.contract import load_contract

# duckdb 2.0 writes a storage format older clients cannot open; 1.4 LTS reads this one.
STORAGE_VERSION = "v1.4.0"
DUCKDB_CONFIG = {"storage_compatibility_version": STORAGE_VERSION}


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a store file in the analysts' storage format (the parent must exist)."""
    return duckdb.connect(str(path), read_only=read_only,
                          config={} if read_only else dict(DUCKDB_CONFIG))


TABLES: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "store_metadata": (
        "Facts about this store: the pseudonym key's fingerprint, the schema version.",
        [
            ("key", "VARCHAR PRIMARY KEY", "Name of the fact."),
            ("value", "VARCHAR", "Its value."),
        ],
    ),
    "forces": (
        "The force registry: every force expected to send a return.",
        [
            ("force_code", "VARCHAR PRIMARY KEY", "Force code, as the landing folder names it."),
            ("force_name", "VARCHAR NOT NULL", "Force name."),
            ("approx_officers", "INTEGER", "Rough headcount, only for sizing sample data."),
        ],
    ),
    "submissions": (
        "One row per return file seen (per force and content): accepted (the force's "
        "current return), superseded (replaced by a newer accepted return), refused "
        "(unreadable; the previous return stays), or withdrawn.",
        [
            ("force_code", "VARCHAR NOT NULL", "Force that sent the file."),
            ("file_name", "VARCHAR NOT NULL", "File name as the force sent it."),
            ("sha256", "VARCHAR NOT NULL", "SHA-256 of the file's bytes."),
            ("received_at", "TIMESTAMP NOT NULL", "File modification time (UTC)."),
            ("ingested_at", "TIMESTAMP NOT NULL", "When the pipeline read it (UTC)."),
            ("status", "VARCHAR NOT NULL",
             "accepted, superseded, refused or withdrawn."),
            ("error", "VARCHAR", "Why the file was refused, naming the file and problem."),
            ("rows_read", "INTEGER", "Data rows read (title, header, blank, totals rows "
             "excluded)."),
            ("rows_stored", "INTEGER", "Rows stored in cases."),
            ("rows_quarantined", "INTEGER",
             "Distinct rows quarantined; rows_read = rows_stored + rows_quarantined."),
            ("sheets", "VARCHAR", "Data sheets read, comma-separated."),
            ("extra_columns", "VARCHAR", "Columns ignored as not in the contract."),
            ("reader_version", "VARCHAR", "The reader that judged the file: package "
             "version and contract fingerprint. A file refused by an older reader, or "
             "under another name, is read again."),
        ],
    ),
    "cases": (
        "One row per valid subject-per-case row of every force's current return, "
        "with canonical values. The subject is pseudonymised; names and notes never "
        "reach this table.",
        [],  # filled from the contract below
    ),
    "quarantine": (
        "One row per problem of every quarantined row of each force's current return "
        "(a row with two problems appears twice). value is NULL where it is personal "
        "data.",
        [
            ("force_code", "VARCHAR NOT NULL", "Force whose return holds the row."),
            ("file_name", "VARCHAR NOT NULL", "File the row came from."),
            ("source_sha256", "VARCHAR NOT NULL", "SHA-256 of that file."),
            ("sheet", "VARCHAR NOT NULL", "Sheet (for a CSV, the file's stem)."),
            ("row_number", "INTEGER NOT NULL",
             "Row number as a spreadsheet program shows it (1-based, counting title and "
             "header rows; for a CSV, the record number)."),
            ("field", "VARCHAR NOT NULL", "Canonical field the problem is about."),
            ("reason", "VARCHAR NOT NULL", "The problem in plain words."),
            ("value", "VARCHAR", "The offending value as normalised, NULL if personal."),
        ],
    ),
}

_SQL_TYPES = {"text": "VARCHAR", "category": "VARCHAR", "date": "DATE", "flag": "BOOLEAN"}


def _case_columns() -> list[tuple[str, str, str]]:
    columns = [("force_code", "VARCHAR NOT NULL", "Force whose return holds the row.")]
    for f in load_contract().stored:
        if f.name == "subject_reference":
            columns.append((
                "subject_pseudonym", "VARCHAR NOT NULL",
                "Keyed HMAC-SHA256 pseudonym of the force and the subject's reference: "
                "the same subject in the same force always has the same pseudonym.",
            ))
            continue
        accepted = f" One of: {', '.join(f.canonical_values)}." if f.values else ""
        null = " NOT NULL" if f.required else ""
        columns.append((f.name, _SQL_TYPES[f.kind] + null, f.description + accepted))
    columns += [
        ("source_sha256", "VARCHAR NOT NULL", "SHA-256 of the return file."),
        ("source_sheet", "VARCHAR NOT NULL", "Sheet of the return the row came from."),
        ("source_row", "INTEGER NOT NULL", "Row number in that sheet, as a spreadsheet "
         "program shows it."),
    ]
    return columns


def table_columns(table: str) -> list[tuple[str, str, str]]:
    return _case_columns() if table == "cases" else TABLES[table][1]


def sql_text(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


# The store's record of the schema it was last given (in store_metadata).
SCHEMA_FINGERPRINT_KEY = "schema_fingerprint"


def schema_statements() -> list[str]:
    """Every statement that creates the tables (if missing) and writes their comments."""
    statements = []
    for table, (comment, _) in TABLES.items():
        columns = table_columns(table)
        body = ", ".join(f"{name} {sql}" for name, sql, _ in columns)
        statements.append(f"CREATE TABLE IF NOT EXISTS {table} ({body})")
        # A store made by an earlier version gains the columns added since (nullable).
        statements += [f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {sql}"
                       for name, sql, _ in columns
                       if "NOT NULL" not in sql and "PRIMARY KEY" not in sql]
        statements.append(f"COMMENT ON TABLE {table} IS {sql_text(comment)}")
        statements += [f"COMMENT ON COLUMN {table}.{name} IS {sql_text(text)}"
                       for name, _, text in columns]
    return statements


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and (re)write every table and column comment, in one
    transaction, unless the store already holds exactly this schema.

    The statements' fingerprint is recorded in ``store_metadata``: every run opens the
    store several times, and writing 49 comments, each its own commit, cost ~0.2 s an
    opening.
    """
    statements = schema_statements()
    fingerprint = hashlib.sha256("\n".join(statements).encode()).hexdigest()
    with contextlib.suppress(duckdb.CatalogException):  # a new store has no tables yet
        # fetchall: a result left unfinished would block the connection's next use.
        recorded = con.execute("SELECT value FROM store_metadata WHERE key = ?",
                               [SCHEMA_FINGERPRINT_KEY]).fetchall()
        if recorded == [(fingerprint,)]:
            return
    con.execute("BEGIN")
    try:
        for statement in statements:
            con.execute(statement)
        con.execute("DELETE FROM store_metadata WHERE key = ?", [SCHEMA_FINGERPRINT_KEY])
        con.execute("INSERT INTO store_metadata VALUES (?, ?)",
                    [SCHEMA_FINGERPRINT_KEY, fingerprint])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
