"""Small helpers of the materialised intermediate layer: Parquet files written by DuckDB
atomically, and paths as SQL literals."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb


def write_atomically(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    """The rows of ``query`` as a zstd Parquet file at ``target``: a temp name, then a rename
    (a reader sees the old file or the new one, never a part)."""
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    con.execute(f"copy ({query}) to {literal(str(temp))} (format parquet, compression zstd)")
    os.replace(temp, target)


def paths(files: list[Path]) -> str:
    """A DuckDB list literal of the files' absolute paths (for ``read_parquet``)."""
    return "[" + ", ".join(literal(str(p.resolve())) for p in files) + "]"


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
