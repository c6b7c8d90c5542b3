"""``omnicx sql``: read-only SQL on the warehouse, one query or an interactive session."""

from __future__ import annotations

import sys

import click

from orchestration.commands.options import tabular_format
from schemas.settings import Settings

RACE_ATTEMPTS = 3


@click.command()
@click.argument("query", required=False)
@click.option(
    "--tenant",
    metavar="NAME",
    help="Query this tenant's own warehouse file (its rows only; no file access at all).",
)
@tabular_format
@click.pass_obj
def sql(settings: Settings, query: str | None, tenant: str | None, fmt: str) -> None:
    """Run QUERY on the warehouse (read-only), or, without QUERY, read statements ending in `;`
    from standard input and answer each one (exit code 1 when one of them failed, unless typed at
    a terminal).

    Only SELECT statements run, and they read nothing but the warehouse and the lake: no other
    file, database, extension or setting (docs/warehouse.md, "Analyst isolation"). With
    --tenant, they read the tenant's own file and nothing else (docs/tenancy.md).

    The connection never locks the file: queries run while the sink lands and the warehouse is
    rebuilt. Each statement of a session sees the newest build.
    """
    import duckdb

    from schemas.settings import SettingsError
    from warehouse.build import WarehouseMissing
    from warehouse.query import connect_analyst, render, run, statements
    from warehouse.tenant_warehouse import connect_tenant_analyst

    def connect() -> duckdb.DuckDBPyConnection:
        if tenant is None:
            return connect_analyst(settings)
        return connect_tenant_analyst(settings, tenant)

    # A query that reads the intermediate layer's files while a build rewrites them may fail
    # reading a file replaced under it: it runs again, on the newest build, up to
    # RACE_ATTEMPTS times in all (docs/warehouse.md, "Analyst isolation"). A query that is
    # wrong fails the same way each time, at the cost of parsing it again.
    def answer(text: str) -> bool:
        try:
            for attempt in range(1, RACE_ATTEMPTS + 1):
                try:
                    with connect() as con:
                        result = run(con, text)
                    break
                except duckdb.Error:
                    if attempt == RACE_ATTEMPTS:
                        raise
        except (duckdb.Error, WarehouseMissing, SettingsError) as exc:
            click.echo(f"error: {' '.join(str(exc).split())}", err=True)  # one line
            return False
        if result.columns:
            click.echo(render(result, fmt))
        return True

    if query is not None:
        if not answer(query):
            raise SystemExit(1)
        return
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo("omnicx sql (read-only); end statements with ';', Ctrl-D to quit", err=True)
    failed = [text for text in statements(_lines(interactive)) if not answer(text)]
    # A script piped in fails as a whole when one of its statements failed (it went on with
    # the others, like the duckdb CLI); a person at the prompt has seen each error already.
    if failed and not interactive:
        raise SystemExit(1)


def _lines(interactive: bool):
    prompt = "omnicx> "
    while True:
        if interactive:
            click.echo(prompt, nl=False, err=True)
        line = sys.stdin.readline()
        if not line:
            return
        prompt = "omnicx> " if line.rstrip().endswith(";") else "   ...> "
        yield line
