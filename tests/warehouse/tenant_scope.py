"""What the tenant-warehouse tests assert of a tenant's file against the warehouse it was built
from, relation by relation as the files' catalogs list them (never a hard-coded list)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.catalog import Relation, relations_of


@dataclass(frozen=True)
class Scope:
    """A warehouse file's relations, comments and rows per tenant of each relation with a
    tenant column (read once: the main file's views read the whole lake)."""

    relations: dict[str, Relation]
    comments: dict[tuple[str, str], str | None]
    counts: dict[str, dict[str | None, int]]


def scope(path: Path) -> Scope:
    with duckdb.connect(str(path), read_only=True) as con:
        relations = {r.name: r for r in relations_of(con)}
        columns = con.execute(
            "select table_name, column_name, comment from duckdb_columns() "
            "where schema_name = 'main' and not internal"
        ).fetchall()
        tables = con.execute(
            "select table_name, comment from duckdb_tables() where schema_name = 'main' "
            "union all select view_name, comment from duckdb_views() "
            "where schema_name = 'main' and not internal"
        ).fetchall()
        counts = {
            name: dict(
                con.execute(f'select tenant, count(*) from "{name}" group by all').fetchall()
            )
            for name, relation in relations.items()
            if "tenant" in {c.name for c in relation.columns}
        }
    comments = {**{(t, c): text for t, c, text in columns}, **{(t, ""): text for t, text in tables}}
    return Scope(relations, comments, counts)


def tenant_counts(path: Path, relation: str) -> dict[str | None, int]:
    """Rows of ``relation`` per tenant."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(f'select tenant, count(*) from "{relation}" group by all').fetchall()
    return dict(rows)


def assert_only_its_rows(main: Scope, own_path: Path, tenant: str) -> int:
    """Every relation of ``main`` is in the file at ``own_path`` with the same columns and
    comments; a relation with a tenant column holds exactly the tenant's rows of ``main``; one
    with a list of tenants names only this one. How many of the tenant's rows the file holds."""
    own = scope(own_path)
    assert set(own.relations) == set(main.relations)
    assert own.comments == main.comments
    assert all(own.comments.values())
    for name, relation in main.relations.items():
        columns = [c.name for c in relation.columns]
        assert [c.name for c in own.relations[name].columns] == columns, name
        if "tenants" in columns:
            with duckdb.connect(str(own_path), read_only=True) as con:
                named = con.execute(f'select distinct unnest(tenants) from "{name}"').fetchall()
            assert set(named) <= {(tenant,)}, (name, named)
    for name, counts in main.counts.items():
        assert set(own.counts[name]) <= {tenant}, (name, own.counts[name])
        assert own.counts[name].get(tenant, 0) == counts.get(tenant, 0), name
    return sum(counts.get(tenant, 0) for counts in own.counts.values())
