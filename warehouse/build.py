"""The analysts' DuckDB file: views over the lake, built aside and swapped in atomically.

DuckDB lets one process write a database file, or many read it, never both. So nobody ever
writes the file analysts open: ``build_warehouse`` copies it next to it, brings the copy up to
date, then renames it over the old one (``os.replace``, atomic). A reader that opened the old
file keeps reading it; the next one opens the new file; nobody meets a lock or a half-built file.

The file holds views (plus the marts another step materializes into it through the ``marts``
hook): ``lake_<table>`` views read the lake's Parquet files through absolute globs at query
time, so they see every file landed since the build; the ``stg_*`` and ``int_*`` views of
``warehouse/sql/{staging,intermediate}`` are layered on them. Tables and views that a previous
build or the marts hook put in the file stay in the copy, with their comments: copying the file
is one sequential write, where re-inserting every table's rows into a fresh file cost a one-day
refresh more with every day of history.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from schemas.settings import Settings
from warehouse.catalog import apply_comments
from warehouse.file_lock import exclusive_lock
from warehouse.materialize import FILE_VIEWS, Refreshed, file_view_sql, materialise
from warehouse.tables import LAKE_TABLES, LakeTable

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).with_name("sql")
VIEW_LAYERS = ("staging", "intermediate")  # marts are another step's (see ``marts`` below)

# The storage format the warehouse file is written in: that of DuckDB 1.4 (LTS), so that every
# client from 1.4 on opens it (the duckdb CLI users install, 1.5, reads no newer format).
STORAGE_COMPATIBILITY_VERSION = "v1.4.0"

# The views this module makes; anything else in a previous file is carried over.
_LAYER_PREFIXES = ("lake_", "stg_", "mat_", "int_")

MartsHook = Callable[[duckdb.DuckDBPyConnection], None]


class WarehouseMissing(RuntimeError):
    """The warehouse file has not been built yet."""


@dataclass(frozen=True)
class Model:
    """One ``.sql`` file: a query (CTEs ending in ``select * from final``) named by its file."""

    name: str
    layer: str
    sql: str

    def references(self, names: set[str]) -> set[str]:
        code = re.sub(r"--[^\n]*", "", self.sql)
        return (set(re.findall(r"[a-z_][a-z0-9_]*", code.lower())) & names) - {self.name}


def layer_models(layer: str, sql_dir: Path = SQL_DIR) -> list[Model]:
    return [
        Model(path.stem, layer, path.read_text().strip().rstrip(";"))
        for path in sorted((sql_dir / layer).glob("*.sql"))
    ]


def in_dependency_order(models: list[Model]) -> list[Model]:
    """Every model after the models it reads (file order otherwise); ValueError on a cycle."""
    names = {m.name for m in models}
    waiting = {m.name: m.references(names) for m in models}
    ordered: list[Model] = []
    done: set[str] = set()
    while len(ordered) < len(models):
        ready = [m for m in models if m.name not in done and waiting[m.name] <= done]
        if not ready:
            stuck = sorted(set(waiting) - done)
            raise ValueError(f"models reference each other in a cycle: {stuck}")
        ordered += ready
        done |= {m.name for m in ready}
    return ordered


def lake_view_sql(table: LakeTable, lake_dir: Path) -> str:
    """The view of one lake table: every file's rows, one per (partition, offset).

    A row sits in two files while a compaction's replaced parts wait out their grace period
    (warehouse.compaction); ``qualify`` keeps one. The typed empty select gives the view its
    columns while the table has no file yet (a new topic, an empty lake).
    """
    return _lake_view(table, _landed_files_sql(table, lake_dir))


def lake_files_view_sql(table: LakeTable, files: list[Path]) -> str:
    """The view of one lake table over exactly ``files`` (some of its day folders' files)."""
    if not files:
        return _lake_view(table, "")
    paths = "[" + ", ".join(_literal(str(p.resolve())) for p in files) + "]"
    return _lake_view(
        table,
        f"""select * from read_parquet(
        {paths}, hive_partitioning = true, union_by_name = true
    )
    union all by name
    """,
    )


def _lake_view(table: LakeTable, landed_files_sql: str) -> str:
    columns = table.duckdb_columns()
    typed_nulls = ", ".join(f"cast(null as {duck}) as {_ident(name)}" for name, duck in columns)
    names = ", ".join(_ident(name) for name, _ in columns)
    return f"""create or replace view lake_{table.name} as
with landed as (
    {landed_files_sql}select {typed_nulls} where false
)
select {names} from landed
qualify row_number() over (partition by _kafka_partition, _kafka_offset) = 1"""


def _landed_files_sql(table: LakeTable, lake_dir: Path) -> str:
    """The read of the table's Parquet files, united with what follows it; nothing while the
    table has no file. DuckDB before 2.0 (the duckdb CLI users have) fails on a glob without
    files and lacks ``allow_empty``: such a table's view shows its files from the next build."""
    directory = lake_dir.resolve() / table.name
    if not any(directory.glob("day=*/*.parquet")):
        return ""
    pattern = _literal(str(directory / "day=*" / "*.parquet"))
    return f"""select * from read_parquet(
        {pattern}, hive_partitioning = true, union_by_name = true
    )
    union all by name
    """


def materialise_latest(settings: Settings) -> Refreshed:
    """Bring the materialised latest versions (``warehouse.materialize``) up to date with the
    lake: only the lake days changed since the last call are recomputed."""
    staging = {model.name: model.sql for model in layer_models("staging")}
    return materialise(settings.lake_dir, settings.intermediate_dir, staging, lake_files_view_sql)


def create_views(
    con: duckdb.DuckDBPyConnection,
    lake_dir: Path,
    intermediate_dir: Path,
    created: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The lake, staging, materialised (``mat_*``, over ``intermediate_dir``) and intermediate
    views, in ``con``, and those of models that no longer exist dropped (then the other views
    that no longer bind created again, or dropped); the statements that define them, by view
    name. ``created``: the statements the views in ``con`` were created with, when known; a
    view whose statement is the same is left as it is (with its comments)."""
    statements = [lake_view_sql(table, lake_dir) for table in LAKE_TABLES]
    models = [m for layer in VIEW_LAYERS for m in layer_models(layer)]
    # The views over intermediate files stand between the models they are made from and the
    # int_* that read them: placeholders that name that model let in_dependency_order put them.
    placeholders = [
        Model(name, "materialised", made_from) for name, made_from in FILE_VIEWS.items()
    ]
    for model in in_dependency_order(models + placeholders):
        if model.name in FILE_VIEWS:
            statements.append(file_view_sql(model.name, intermediate_dir))
        else:
            statements.append(f"create or replace view {_ident(model.name)} as\n{model.sql}")
    by_name = {_VIEW_STATEMENT.match(s).group(1): s for s in statements}
    existing = set(_views(con, layers=True))
    changed = False
    for name, statement in by_name.items():  # in dependency order
        # DuckDB checks a view's columns against those it was created with: after a changed
        # view, the views that may read it are created again
        changed = changed or name not in existing or (created or {}).get(name) != statement
        if changed:
            con.execute(statement)
    stale = existing - set(by_name)  # views of models that no longer exist
    for name in stale:
        con.execute(f"drop view {_ident(name)}")
    if changed or stale:  # binding a view reads the schema of every Parquet file it reads
        _rebind_other_views(con)
    return by_name


# ``create or replace view NAME as QUERY`` as this module writes it, and as DuckDB returns a
# view's definition (``CREATE VIEW NAME AS QUERY;``)
_VIEW_STATEMENT = re.compile(r'create (?:or replace )?view "?(\w+)"? as\s(.*?);?\s*$', re.I | re.S)


def _views(con: duckdb.DuckDBPyConnection, *, layers: bool) -> dict[str, str]:
    """The query of each view in ``con`` by name: the layers' views, or the others."""
    rows = con.execute(
        "select view_name, sql from duckdb_views() where database_name = current_database() "
        "and schema_name = 'main' and not internal order by view_oid"
    ).fetchall()
    return {
        name: _VIEW_STATEMENT.match(sql).group(2)
        for name, sql in rows
        if name.startswith(_LAYER_PREFIXES) == layers
    }


# The warehouse files this process published: their identity on disk when published, and the
# statements of their views. A build that copies a file still as this process left it (the
# refresh's three builds) creates only the views whose statement changed.
_published: dict[Path, tuple[tuple[int, int, int], dict[str, str]]] = {}


def build_warehouse(
    settings: Settings, marts: MartsHook | None = None, *, fresh: bool = False
) -> Path:
    """Bring the warehouse file up to date with the lake and the SQL models in a copy of it,
    and swap it in; its path.

    ``marts`` is called with a read-write connection to the new file once the views exist, to
    materialize marts into it before it is published. ``fresh``: a new file into which the
    previous one's tables and views are inserted, not a copy, so that no byte of rows deleted
    before (erased or expired personal data a copy can keep in its free space) is carried over;
    that costs more with every day of history.
    """
    target = settings.duckdb_file.resolve()

    refreshed = materialise_latest(settings)
    log.debug("materialised latest versions of %d lake days", refreshed.total_days)
    target.parent.mkdir(parents=True, exist_ok=True)
    # One build of the file at a time, each from the file the last one published: two builds
    # copying the same file (two refresh runs at once: the sensor's and a schedule's, or
    # `omnicx refresh` beside them) would each publish their own copy, and the last rename
    # would drop what the other wrote (its days' marts).
    with exclusive_lock(build_lock(target)):
        identity, created = _published.get(target, (None, None))
        if fresh or identity != _identity(target):
            created = None
        views: dict[str, str] = {}

        def fill(con: duckdb.DuckDBPyConnection) -> None:
            views.update(create_views(con, settings.lake_dir, settings.intermediate_dir, created))
            if fresh and target.exists():
                _carry_over(con, target)
            if marts is not None:
                marts(con)

        publish(target, fill, previous=None if fresh else target)
        _published[target] = (_identity(target), views)
    return target


def build_lock(target: Path) -> Path:
    """The file whose lock a build of ``target`` holds from its copy to its rename."""
    return target.with_name(f".{target.name}.lock")


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def publish(
    target: Path,
    fill: Callable[[duckdb.DuckDBPyConnection], None],
    previous: Path | None = None,
) -> Path:
    """Build a DuckDB file beside ``target`` (a copy of ``previous`` when that exists, else
    empty; ``fill`` writes it, then every relation gets its catalogue comment where it lacks it)
    and rename it
    over ``target`` atomically; ``target``.

    A build killed halfway leaves only its own temp file, removed by the next build."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(target)
    building = target.with_name(f".{target.name}.build-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        if previous is not None and previous.exists():
            # readers only ever open the published file read-only, and it is checkpointed
            # (no WAL) before being published: a plain copy of it is consistent
            shutil.copyfile(previous, building)
        with _connect_for_build(building) as con:
            # What is materialized here must not depend on the builder's time zone.
            con.execute("set TimeZone = 'UTC'")
            fill(con)
            _comment(con)
            con.execute("checkpoint")
        _fsync(building)
        os.replace(building, target)
        _fsync(target.parent)
    finally:
        for leftover in (building, building.with_name(building.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return target


def _connect_for_build(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-write connection that writes the file in the storage format of
    ``STORAGE_COMPATIBILITY_VERSION``, whatever DuckDB builds it."""
    config = {"storage_compatibility_version": STORAGE_COMPATIBILITY_VERSION}
    return duckdb.connect(str(path), config=config)


def _comment(con: duckdb.DuckDBPyConnection) -> None:
    """Every relation's and column's comment from the catalogue (warehouse/catalog.toml)."""
    missing = apply_comments(con)
    if missing:
        log.warning("not in warehouse/catalog.toml, so without a comment: %s", ", ".join(missing))


def connect_read_only(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse file: never blocks, nor is blocked by, a build."""
    path = settings.duckdb_file
    if not path.exists():
        raise WarehouseMissing(f"no warehouse at {path}: run `omnicx warehouse build` first")
    return duckdb.connect(str(path), read_only=True)


def _carry_over(con: duckdb.DuckDBPyConnection, previous: Path) -> None:
    """Insert the tables and views a previous build or the marts hook added (marts, knobs) into
    a fresh file."""
    con.execute(f"attach {_literal(str(previous))} as previous (read_only)")
    try:
        tables = con.execute(
            "select table_name from duckdb_tables() "
            "where database_name = 'previous' and schema_name = 'main' order by table_oid"
        ).fetchall()
        for (name,) in tables:
            con.execute(
                f"create table {_ident(name)} as select * from previous.main.{_ident(name)}"
            )
        views = con.execute(
            "select view_name, sql from duckdb_views() where database_name = 'previous' "
            "and schema_name = 'main' and not internal order by view_oid"
        ).fetchall()
    finally:
        con.execute("detach previous")
    for name, sql in views:
        if name.startswith(_LAYER_PREFIXES):
            continue  # rebuilt from the .sql files, or a model that no longer exists
        try:
            con.execute(sql)
        except duckdb.Error as exc:  # it read something that no longer exists
            log.warning("view %s of the previous warehouse not carried over: %s", name, exc)


def _rebind_other_views(con: duckdb.DuckDBPyConnection) -> None:
    """The views beyond the layers (a previous build's or a marts hook's) that no longer bind
    created again from their definition, or dropped when they read a relation that is gone."""
    for name, query in _views(con, layers=False).items():
        try:
            con.execute(f"select * from {_ident(name)} limit 0")
        except duckdb.Error:
            try:
                con.execute(f"create or replace view {_ident(name)} as {query}")
            except duckdb.Error as exc:
                log.warning("view %s of the previous warehouse dropped: %s", name, exc)
                con.execute(f"drop view {_ident(name)}")


def _remove_abandoned_builds(target: Path) -> None:
    """Delete the files of builds whose process died (kill -9) before cleaning up."""
    for path in target.parent.glob(f".{target.name}.build-*"):
        pid = path.name.split(".build-")[1].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
