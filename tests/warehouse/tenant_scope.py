"""What the tenant-warehouse tests assert of a tenant's file against the warehouse it was built
from, relation by relation as the files' catalogs list them (never a hard-coded list)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.catalog import Relation, relations_of


def relations(path: Path) -> dict[str, Relation]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {r.name: r for r in relations_of(con)}


def comments(path: Path) -> dict[tuple[str, str], str | None]:
    """(relation, column or "") -> comment, for every relation and column of the file."""
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name, comment from duckdb_columns() "
            "where schema_name = 'main' and not internal"
        ).fetchall()
        tables = con.execute(
            "select table_name, comment from duckdb_tables() where schema_name = 'main' "
            "union all select view_name, comment from duckdb_views() "
            "where schema_name = 'main' and not internal"
        ).fetchall()
    return {**{(t, c): text for t, c, text in columns}, **{(t, ""): text for t, text in tables}}


def tenant_counts(path: Path, relation: str) -> dict[str | None, int]:
    """Rows of ``relation`` per tenant."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(f'select tenant, count(*) from "{relation}" group by all').fetchall()
    return dict(rows)


def assert_only_its_rows(main: Path, own: Path, tenant: str) -> int:
    """Every relation of ``main`` is in ``own`` with the same columns and comments; a relation
    with a tenant column holds exactly the tenant's rows of ``main``; one with a list of tenants
    names only this one. How many of the tenant's rows the file holds in all."""
    main_relations, own_relations = relations(main), relations(own)
    assert set(own_relations) == set(main_relations)
    main_comments, own_comments = comments(main), comments(own)
    assert own_comments == main_comments
    assert all(own_comments.values())
    rows = 0
    for name, relation in main_relations.items():
        columns = [c.name for c in relation.columns]
        assert [c.name for c in own_relations[name].columns] == columns, name
        if "tenant" in columns:
            own_counts = tenant_counts(own, name)
            assert set(own_counts) <= {tenant}, (name, own_counts)
            assert own_counts.get(tenant, 0) == tenant_counts(main, name).get(tenant, 0), name
            rows += own_counts.get(tenant, 0)
        elif "tenants" in columns:
            with duckdb.connect(str(own), read_only=True) as con:
                named = con.execute(f'select distinct unnest(tenants) from "{name}"').fetchall()
            assert set(named) <= {(tenant,)}, (name, named)
    return rows
