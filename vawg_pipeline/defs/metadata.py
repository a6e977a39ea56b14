"""Dagster metadata builders: Markdown previews and column schemas, no personal data."""

from __future__ import annotations

import dagster as dg
import pandas as pd

_DAGSTER_TYPES = {"VARCHAR": "string", "DATE": "date", "BOOLEAN": "boolean",
                  "INTEGER": "integer", "TIMESTAMP": "timestamp", "BIGINT": "integer",
                  "DOUBLE": "float"}


def markdown_table(frame: pd.DataFrame, max_rows: int = 50) -> str:
    """A Markdown table (pipes escaped); an empty frame says so."""
    if frame is None or frame.empty:
        return "_(none)_"
    shown = frame.head(max_rows)

    def cell(value: object) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(str, shown.columns)) + " |",
             "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in shown.itertuples(index=False)]
    if len(frame) > max_rows:
        lines.append(f"\n_… {len(frame) - max_rows} more rows_")
    return "\n".join(lines)


def column_schema(columns: list[tuple[str, str, str]]) -> dg.TableSchema:
    """TableSchema from (name, SQL type, description) triples."""
    return dg.TableSchema(columns=[
        dg.TableColumn(
            name=name,
            type=_DAGSTER_TYPES.get(sql.split()[0], sql.split()[0].lower()),
            description=text,
            constraints=dg.TableColumnConstraints(nullable="NOT NULL" not in sql),
        )
        for name, sql, text in columns
    ])
