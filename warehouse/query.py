"""Read-only queries on the warehouse and their output as a table, CSV or JSON
(``omnicx sql``).

Analysts' SQL runs on a connection that can change nothing and read nothing but the warehouse
file and the lake (docs/warehouse.md, "Analyst isolation"). Two locks, both DuckDB's:

- the connection's configuration: external access off, except the lake's table directories
  (``allowed_directories``), then the configuration locked, so no statement can read another
  file (``read_csv('/etc/passwd')``), attach a database, load an extension or change a setting;
- the statements themselves, as DuckDB's parser reads them: only SELECT runs. DuckDB lets a
  connection write where it may read (a ``COPY ... TO`` into an allowed directory succeeds, and
  so does ``EXPLAIN ANALYZE COPY``), and ``PRAGMA`` is not a setting, so everything but a query
  is refused before it runs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import orjson

from schemas.settings import Settings
from warehouse.build import connect_read_only
from warehouse.tables import LAKE_TABLES

FORMATS = ("table", "csv", "json")
_MAX_CELL = 60  # table output only: longer values are cut, with an ellipsis


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


class NotAQuery(duckdb.Error):
    """A statement that is not a SELECT: analysts' SQL only reads."""


def connect_analyst(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse that reaches no file but the lake's and cannot
    be given more (see the module's docstring); use ``run`` to execute analysts' SQL on it.

    The settings are the database instance's, which DuckDB shares between the connections of
    one process to one file: open it in a process holding no other connection to the warehouse
    (``omnicx sql`` connects anew for each statement)."""
    con = connect_read_only(settings)
    lake = settings.lake_dir.resolve()
    table_dirs = [f"{lake / table.name}/" for table in LAKE_TABLES]  # not the sink's own files
    table_dirs.append(f"{settings.intermediate_dir.resolve()}/")  # what the int_* views read
    return lock_down(con, table_dirs)


def lock_down(
    con: duckdb.DuckDBPyConnection, allowed_directories: list[str]
) -> duckdb.DuckDBPyConnection:
    """``con``, reaching no file but those under ``allowed_directories`` (none: only its own
    database), no extension, and no setting any more: its configuration is locked."""
    con.execute("set allowed_directories = ?", [allowed_directories])
    con.execute("set autoload_known_extensions = false")
    con.execute("set autoinstall_known_extensions = false")
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")
    return con


def run(con: duckdb.DuckDBPyConnection, sql: str) -> Result:
    """Run ``sql`` (several statements: the last one's rows), refusing it whole if any
    statement is not a SELECT (NotAQuery)."""
    parsed = duckdb.extract_statements(sql)
    for statement in parsed:
        if statement.type != duckdb.StatementType.SELECT:
            kind = statement.type.name.lower()
            raise NotAQuery(f"omnicx sql is read-only: only SELECT statements run (not {kind})")
    result = Result([], [])
    for statement in parsed:
        cursor = con.execute(statement.query)
        if cursor.description is not None:
            result = Result([d[0] for d in cursor.description], cursor.fetchall())
    return result


def render(result: Result, fmt: str) -> str:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([[_text(v, csv_null="") for v in row] for row in result.rows])
        return out.getvalue().rstrip("\n")
    if fmt == "json":
        objects = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        return orjson.dumps(objects, default=_json_default).decode()
    return _table(result)


def _table(result: Result) -> str:
    cells = [[_cut(_text(v)) for v in row] for row in result.rows]
    widths = [
        max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(result.columns)
    ]
    numeric = [
        bool(result.rows)
        and all(isinstance(row[i], int | float | Decimal) or row[i] is None for row in result.rows)
        for i in range(len(result.columns))
    ]

    def line(values: list[str]) -> str:
        padded = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return " " + " | ".join(padded).rstrip()

    count = len(result.rows)
    return "\n".join(
        [
            line(result.columns),
            "-" + "-+-".join("-" * w for w in widths) + "-",
            *(line(row) for row in cells),
            f"({count} row{'' if count == 1 else 's'})",
        ]
    )


def _text(value: Any, csv_null: str = "NULL") -> str:
    if value is None:
        return csv_null
    if isinstance(value, list | dict):
        return orjson.dumps(value, default=_json_default).decode()
    return str(value)


def _cut(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return str(value)  # intervals, UUIDs, blobs ...


def statements(lines: Iterable[str]) -> Iterator[str]:
    """The statements typed at the REPL: lines gathered until one ends with ``;`` (what is left
    at the end of input counts as a last statement)."""
    pending: list[str] = []
    for line in lines:
        pending.append(line.rstrip("\n"))
        if line.rstrip().endswith(";"):
            text = "\n".join(pending).strip()
            pending = []
            if text.rstrip(";").strip():
                yield text
    leftover = "\n".join(pending).strip()
    if leftover:
        yield leftover
