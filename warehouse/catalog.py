"""The warehouse catalogue: what every relation and column holds, from ``catalog.toml``.

It is the one source of two things that must not drift apart: the ``COMMENT ON`` statements
every build writes into the warehouse (so ``duckdb_columns()``, ``duckdb_views()`` and any SQL
client's schema browser show them), and the catalogue section of docs/warehouse.md, generated
between two markers (``python -m warehouse.catalog`` rewrites it; a test fails when it is stale).

``catalog.toml`` has a ``[common]`` table of columns that mean the same wherever they appear,
and a ``[relations.<name>]`` table per relation: ``comment`` (its grain), optionally ``like``
(another relation whose column comments it reuses) and ``columns`` (its own column comments,
which win over ``like`` and ``[common]``).
"""

from __future__ import annotations

import sys
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import duckdb

from schemas.settings import Settings, with_overrides

CATALOG_FILE = Path(__file__).with_name("catalog.toml")
DOCS_BEGIN = (
    "<!-- catalogue: generated from warehouse/catalog.toml by `python -m warehouse.catalog` -->"
)
DOCS_END = "<!-- end of the generated catalogue -->"


@dataclass(frozen=True)
class Catalog:
    common: dict[str, str]
    relations: dict[str, dict]

    def relation_comment(self, relation: str) -> str | None:
        entry = self.relations.get(relation)
        return None if entry is None else entry["comment"]

    def column_comment(self, relation: str, column: str) -> str | None:
        entry = self.relations.get(relation, {})
        own = entry.get("columns", {}).get(column)
        if own is not None:
            return own
        if "like" in entry:
            inherited = self.column_comment(entry["like"], column)
            if inherited is not None:
                return inherited
        return self.common.get(column)


@cache
def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    data = tomllib.loads(path.read_text())
    return Catalog(common=data.get("common", {}), relations=data.get("relations", {}))


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str  # "table" or "view"
    columns: tuple[Column, ...]


def relations_of(con: duckdb.DuckDBPyConnection) -> list[Relation]:
    """The user relations of the connection's main schema, in name order, with their columns."""
    rows = con.execute(
        """
        select c.table_name, coalesce(t.kind, 'view'), c.column_name, c.data_type
        from duckdb_columns() as c
        left join (select table_name, 'table' as kind from duckdb_tables()
                   where database_name = current_database() and schema_name = 'main') as t
            using (table_name)
        where c.database_name = current_database() and c.schema_name = 'main' and not c.internal
        order by c.table_name, c.column_index
        """
    ).fetchall()
    relations: dict[str, Relation] = {}
    for name, kind, column, data_type in rows:
        current = relations.get(name, Relation(name, kind, ()))
        relations[name] = Relation(name, kind, (*current.columns, Column(column, data_type)))
    return list(relations.values())


def apply_comments(con: duckdb.DuckDBPyConnection, catalog: Catalog | None = None) -> list[str]:
    """``COMMENT ON`` every relation and column the catalogue describes, where the comment is
    not that already (a build starts from a copy of the previous file); what the catalogue does
    not describe (``relation`` or ``relation.column``), for the caller to report."""
    catalog = catalog or load_catalog()
    missing: list[str] = []
    con.execute("begin transaction")  # one commit rather than one per statement: 6x faster
    try:
        _comment_relations(con, catalog, missing)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return missing


def _comment_relations(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, missing: list[str]
) -> None:
    current = _comments(con)
    for relation in relations_of(con):
        comment = catalog.relation_comment(relation.name)
        if comment is None:
            missing.append(relation.name)
            continue
        kind = "table" if relation.kind == "table" else "view"
        if current.get((relation.name, None)) != comment:
            con.execute(f"comment on {kind} {_ident(relation.name)} is {_literal(comment)}")
        for column in relation.columns:
            text = catalog.column_comment(relation.name, column.name)
            if text is None:
                missing.append(f"{relation.name}.{column.name}")
                continue
            if current.get((relation.name, column.name)) != text:
                target = f"{_ident(relation.name)}.{_ident(column.name)}"
                con.execute(f"comment on column {target} is {_literal(text)}")


def _comments(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str | None], str | None]:
    """The comments the relations (column None) and columns of the main schema carry."""
    rows = con.execute(
        """
        select table_name, null, comment from duckdb_tables()
        where database_name = current_database() and schema_name = 'main'
        union all
        select view_name, null, comment from duckdb_views()
        where database_name = current_database() and schema_name = 'main' and not internal
        union all
        select table_name, column_name, comment from duckdb_columns()
        where database_name = current_database() and schema_name = 'main' and not internal
        """
    ).fetchall()
    return {(relation, column): comment for relation, column, comment in rows}


def render_docs(relations: list[Relation], catalog: Catalog | None = None) -> str:
    """The markdown catalogue of ``relations``: grain, then every column's type and meaning."""
    catalog = catalog or load_catalog()
    parts = []
    for relation in sorted(relations, key=_doc_order):
        lines = [
            f"### {relation.name}",
            "",
            f"{relation.kind.title()}. {catalog.relation_comment(relation.name) or ''}".rstrip(),
            "",
            "| column | type | meaning |",
            "| --- | --- | --- |",
        ]
        for column in relation.columns:
            meaning = (catalog.column_comment(relation.name, column.name) or "").replace("|", "\\|")
            lines.append(f"| `{column.name}` | {column.type} | {meaning} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def replace_generated(document: str, generated: str) -> str:
    """``document`` with the text between the catalogue markers replaced by ``generated``."""
    begin, end = document.index(DOCS_BEGIN), document.index(DOCS_END)
    return document[: begin + len(DOCS_BEGIN)] + "\n\n" + generated + "\n\n" + document[end:]


_LAYER_ORDER = ("lake_", "stg_", "int_", "kpi_", "mart_")


def _doc_order(relation: Relation) -> tuple[int, str]:
    prefix = next((i for i, p in enumerate(_LAYER_ORDER) if relation.name.startswith(p)), 99)
    return prefix, relation.name


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_every_mart(con: duckdb.DuckDBPyConnection, day: date, settings: Settings) -> None:
    """Every mart in a warehouse being built: the KPI marts refreshed for ``day``, and the
    forecast's and staffing's tables (the planning assets fill them) and the retention's,
    empty."""
    from warehouse.forecast import create_forecast_tables
    from warehouse.kpi_marts import refresh_marts
    from warehouse.retention import prune_marts
    from warehouse.staffing import create_staffing_table

    refresh_marts(con, day, day, settings)
    create_forecast_tables(con)
    create_staffing_table(con)
    prune_marts(con, {})  # kpi_retention, which the retention job writes


def empty_warehouse_relations() -> list[Relation]:
    """The relations of a warehouse built on an empty lake, every mart included."""
    # Imported here: the build imports this module to write the comments.
    from warehouse.build import build_warehouse

    with tempfile.TemporaryDirectory() as home:
        settings = with_overrides(Settings(), home=Path(home))
        day = date(2026, 1, 5)
        path = build_warehouse(settings, marts=lambda con: create_every_mart(con, day, settings))
        with duckdb.connect(str(path), read_only=True) as con:
            return relations_of(con)


def main() -> None:
    """Rewrite the catalogue section of docs/warehouse.md from a warehouse built on an empty
    lake, with every mart (``python -m warehouse.catalog [DOCS_FILE]``)."""
    default = Path(__file__).resolve().parents[1] / "docs" / "warehouse.md"
    docs = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    generated = render_docs(empty_warehouse_relations())
    docs.write_text(replace_generated(docs.read_text(), generated))


if __name__ == "__main__":
    main()
