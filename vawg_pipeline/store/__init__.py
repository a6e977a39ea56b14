"""The national DuckDB store: schema, replace-a-force transactions, snapshot."""
