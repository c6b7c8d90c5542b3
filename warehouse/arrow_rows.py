"""Rows made in Python into a DuckDB table in one statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb


def insert_columns(
    con: duckdb.DuckDBPyConnection, table: str, columns: Mapping[str, Sequence[object]]
) -> None:
    """Append to ``table`` the rows whose values ``columns`` holds column by column (each list
    as long as the others), matched to the table's columns by name, as one scan of an Arrow
    table: ``executemany`` runs a statement per row (2 s for the 5,040 rows of a forecast,
    docs/performance.md)."""
    import pyarrow as pa

    incoming = pa.table(dict(columns))
    if incoming.num_rows == 0:
        return
    con.register("incoming_rows", incoming)
    try:
        con.execute(f"insert into {table} by name select * from incoming_rows")
    finally:
        con.unregister("incoming_rows")
