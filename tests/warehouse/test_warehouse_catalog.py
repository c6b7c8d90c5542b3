"""The published warehouse opens in the duckdb CLI users install, and describes itself.

The fixture lake of test_warehouse_models is built into a warehouse with every mart, as the
refresh publishes it; then the duckdb CLI from PyPI queries it through the views, and every
relation and column must carry the comment of warehouse/catalog.toml, the source that
docs/warehouse.md's catalogue is generated from.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.warehouse.duckdb_cli import DUCKDB_CLI_VERSION, cli_query
from tests.warehouse.lakes import lake_settings
from tests.warehouse.test_warehouse_models import build_fixture_lake
from warehouse.build import build_warehouse
from warehouse.catalog import (
    DOCS_BEGIN,
    DOCS_END,
    create_every_mart,
    load_catalog,
    relations_of,
    render_docs,
    replace_generated,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"
DAY = date(2026, 1, 5)
MART_SQL = "select cast(sum(inbound_contacts) as bigint) as inbound from mart_contact_kpis_hourly"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = lake_settings(tmp_path_factory.mktemp("catalog"))
    build_fixture_lake(settings)
    return build_warehouse(settings, marts=lambda con: create_every_mart(con, DAY, settings))


def test_the_duckdb_cli_users_install_queries_the_views(published: Path) -> None:
    with duckdb.connect(str(published), read_only=True) as con:
        contacts = con.execute("select contact_id, version from int_contacts order by 1").fetchall()
        inbound = con.execute(MART_SQL).fetchone()[0]
    assert contacts and inbound  # the fixture lake has contacts: the comparisons mean something

    (version,) = cli_query(published, "select version() as v")
    got = cli_query(published, "select contact_id, version from int_contacts order by 1")
    (marts,) = cli_query(published, MART_SQL)

    assert version["v"] == f"v{DUCKDB_CLI_VERSION}"
    assert [(r["contact_id"], r["version"]) for r in got] == contacts
    assert marts["inbound"] == inbound


def test_every_relation_and_column_carries_its_catalogue_comment(published: Path) -> None:
    catalog = load_catalog()
    with duckdb.connect(str(published), read_only=True) as con:
        relations = relations_of(con)
        comments = dict(
            con.execute(
                "select view_name, comment from duckdb_views() where not internal "
                "union all select table_name, comment from duckdb_tables()"
            ).fetchall()
        )
        columns = {
            (table, column): comment
            for table, column, comment in con.execute(
                "select table_name, column_name, comment from duckdb_columns() where not internal"
            ).fetchall()
        }
    assert {r.name for r in relations} >= {
        "lake_events",
        "stg_events",
        "int_contacts",
        "mart_churn_risk",
    }
    for relation in relations:
        assert comments[relation.name], relation.name
        assert comments[relation.name] == catalog.relation_comment(relation.name)
        for column in relation.columns:
            want = catalog.column_comment(relation.name, column.name)
            assert want, f"{relation.name}.{column.name} has no entry in warehouse/catalog.toml"
            assert columns[(relation.name, column.name)] == want, f"{relation.name}.{column.name}"


def test_the_comments_are_what_the_duckdb_cli_shows(published: Path) -> None:
    rows = cli_query(
        published,
        "select comment from duckdb_columns() where table_name = 'int_contacts' "
        "and column_name = 'talk_seconds'",
    )
    assert rows == [{"comment": load_catalog().column_comment("int_contacts", "talk_seconds")}]


def test_the_docs_catalogue_is_generated_from_the_same_source(published: Path) -> None:
    document = DOCS.read_text()
    with duckdb.connect(str(published), read_only=True) as con:
        generated = render_docs(relations_of(con))
    assert DOCS_BEGIN in document and DOCS_END in document
    assert replace_generated(document, generated) == document, (
        "docs/warehouse.md's catalogue is stale: run .venv/bin/python -m warehouse.catalog"
    )
