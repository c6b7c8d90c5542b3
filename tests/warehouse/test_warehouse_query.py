"""``omnicx sql`` and ``omnicx warehouse build`` on a small lake (no broker)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson
import pytest
from click.testing import CliRunner

from orchestration.commands.sql import sql
from orchestration.commands.warehouse import warehouse
from schemas.settings import Settings
from tests.warehouse.lakes import lake_settings, land
from warehouse.query import NotAQuery, connect_analyst, run, statements
from warehouse.replay import chosen_dead_letters
from warehouse.tables import EVENTS


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = lake_settings(tmp_path)
    land(
        settings,
        EVENTS,
        [
            {"event_id": "e1", "tenant": "acme", "channel": "voice", "ts": 1.5},
            {"event_id": "e2", "tenant": "acme", "channel": "chat", "ts": 2.25},
            {"event_id": "e3", "tenant": "initech", "channel": "voice", "ts": 3.0},
        ],
    )
    result = CliRunner().invoke(warehouse, ["build"], obj=settings)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"warehouse built at {settings.duckdb_file.resolve()}")
    return settings


QUERY = "select tenant, count(*) as events, sum(ts) as ts_sum from stg_events group by 1 order by 1"


def test_a_query_prints_an_aligned_table(settings: Settings) -> None:
    result = CliRunner().invoke(sql, [QUERY], obj=settings)

    assert result.exit_code == 0
    assert result.output.splitlines() == [
        " tenant  | events | ts_sum",
        "---------+--------+--------",
        " acme    |      2 |   3.75",
        " initech |      1 |    3.0",
        "(2 rows)",
    ]


def test_csv_and_json_formats(settings: Settings) -> None:
    as_csv = CliRunner().invoke(sql, ["--format", "csv", QUERY], obj=settings)
    as_json = CliRunner().invoke(sql, ["--format", "json", QUERY], obj=settings)

    assert as_csv.output.splitlines() == ["tenant,events,ts_sum", "acme,2,3.75", "initech,1,3.0"]
    assert orjson.loads(as_json.output) == [
        {"tenant": "acme", "events": 2, "ts_sum": 3.75},
        {"tenant": "initech", "events": 1, "ts_sum": 3.0},
    ]


def test_the_connection_is_read_only(settings: Settings) -> None:
    result = CliRunner().invoke(sql, ["create table t as select 1"], obj=settings)

    assert result.exit_code == 1
    assert "read-only" in result.output


def test_without_a_warehouse_it_says_how_to_build_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(sql, ["select 1"], obj=lake_settings(tmp_path))

    assert result.exit_code == 1
    assert "run `omnicx warehouse build` first" in result.output


def test_the_session_answers_each_statement_and_survives_errors(settings: Settings) -> None:
    typed = (
        "select count(*) as n\n"
        "  from stg_events;\n"
        "select * from no_such_table;\n"
        "select event_id from stg_events where channel = 'chat'; \n"
        "select 'last' as word"
    )
    result = CliRunner().invoke(sql, ["--format", "csv"], obj=settings, input=typed)

    assert result.exit_code == 1  # a piped script with a failed statement fails
    assert result.stdout.splitlines() == ["n", "3", "event_id", "e2", "word", "last"]
    (error,) = result.stderr.splitlines()
    assert error.startswith("error: Catalog Error: Table with name no_such_table does not exist")


def test_a_piped_script_without_errors_exits_0(settings: Settings) -> None:
    typed = "select count(*) as n from stg_events;\nselect 'last' as word;\n"
    result = CliRunner().invoke(sql, ["--format", "csv"], obj=settings, input=typed)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "n\n3\nword\nlast\n", "")


def test_statements_end_at_a_line_ending_with_a_semicolon() -> None:
    lines = ["select 1,\n", "  2;\n", "\n", ";\n", "select 'a;b'\n", "  ;  \n", "select 3"]
    assert list(statements(lines)) == ["select 1,\n  2;", "select 'a;b'\n  ;", "select 3"]


def lake_files(settings: Settings) -> list[Path]:
    return sorted(settings.lake_dir.rglob("*"))


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        # The attack: a file in the lake that claims offsets 0..999999999.
        (
            "copy (select * from lake_events where false) to "
            "'{lake}/events/day=2026-01-05/p0000-00000000000000000000-00000000000999999999.parquet'"
            " (format parquet)",
            "only SELECT statements run (not copy)",
        ),
        (
            "explain analyze copy (select 1) to '{lake}/events/day=2026-01-05/x.parquet'",
            "only SELECT statements run (not explain)",
        ),
        ("select * from read_csv('/etc/passwd')", 'Cannot access file "/etc/passwd"'),
        ("select * from read_parquet('{lake}/_sink/**/*')", "Cannot access file"),
        ("attach '{lake}/../other.duckdb' as other", "only SELECT statements run (not attach)"),
        ("pragma database_list", "only SELECT statements run (not pragma)"),
        ("set enable_external_access = true", "only SELECT statements run (not set)"),
        ("select 1; load httpfs", "only SELECT statements run (not load)"),
    ],
)
def test_analysts_reach_nothing_but_the_warehouse_and_the_lake(
    settings: Settings, statement: str, refusal: str
) -> None:
    before = lake_files(settings)

    result = CliRunner().invoke(
        sql, [statement.format(lake=settings.lake_dir.resolve())], obj=settings
    )

    assert result.exit_code == 1
    assert result.output.startswith("error: ")
    assert refusal in result.output
    assert lake_files(settings) == before


def test_the_replay_choice_is_analysts_sql_too(settings: Settings) -> None:
    """``replay-dead-letters --where`` is user SQL: it runs on the locked connection, as a query."""
    target = settings.lake_dir.resolve() / "events" / "day=2026-01-05" / "planted.parquet"
    hostile = (
        f"true) group by 1; copy (select 1) to '{target}' (format parquet); "
        "select dead_letter_id from stg_dead_letters where (true"
    )
    before = lake_files(settings)

    with pytest.raises(NotAQuery, match="not copy"):
        chosen_dead_letters(settings, hostile)
    with pytest.raises(duckdb.Error, match="Cannot access file"):
        chosen_dead_letters(settings, "exists (select * from read_csv('/etc/passwd'))")

    assert lake_files(settings) == before
    assert chosen_dead_letters(settings, "true") == []  # the lake holds no dead letter


def test_a_locked_connection_reads_the_lake_but_changes_no_setting(settings: Settings) -> None:
    with connect_analyst(settings) as con:
        assert run(con, "select count(*) as n from lake_events").rows == [(3,)]
        with pytest.raises(duckdb.Error, match="the configuration has been locked"):
            con.execute("set enable_external_access = true")
        with pytest.raises(duckdb.Error, match="Cannot access file"):
            con.execute("select * from read_text('/etc/hostname')")
