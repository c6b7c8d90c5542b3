"""The stitched customer key of each materialised contact (``int_contacts.customer_key``).

A contact's key is the smallest current customer key of its identifiers. Looked up per query,
it joins every contact with every identifier's key, whatever day the query asks for (most of a
day query's time over a year). So the materialisation stores it in each contact's day file, and
keeps it right as keys change:

- the customer keys' pass records the identifiers whose key may have changed (those of its
  changed days, before and after) in ``mat_customer_keys/_touched.parquet``;
- the contacts' pass computes the key of the contacts of its changed days, then finds the
  contacts of the other days that hold a touched identifier (through ``_id_hashes``, one hash
  per identifier, stored with each contact) and records those whose key differs from their day
  file's in ``mat_contact_versions/_rekeyed.parquet``, which the ``mat_contact_versions`` view
  applies. A day file recomputed later drops its contacts' entries.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.parquet_sql import literal, paths, write_atomically

REKEYED_FILE = "_rekeyed.parquet"
TOUCHED_FILE = "_touched.parquet"
ID_HASHES = "_id_hashes"

_KEYS_OF = """select f.business_day, f.contact_id, min(k.customer_key) as customer_key
    from {contacts} as f, unnest(f.customer_ids) as ids (identifier)
    inner join current_keys as k on k.tenant = f.tenant and k.identifier = ids.identifier
    group by all"""


def current_keys(con: duckdb.DuckDBPyConnection, keys_sql: str | None) -> None:
    """The temp view ``current_keys`` (tenant, identifier, customer_key): ``keys_sql``, the
    materialised customer keys, or none while there are none."""
    rows = keys_sql or (
        "select cast(null as varchar) as tenant, cast(null as varchar) as identifier, "
        "cast(null as varchar) as customer_key where false"
    )
    con.execute(
        "create or replace temp view current_keys as "
        f"select tenant, identifier, customer_key from ({rows})"
    )


def add_customer_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Give the temp table ``fresh`` (the changed days' latest contact versions) its contacts'
    customer keys and identifier hashes."""
    con.execute(
        f"""create temp table keyed as
        select f.*, k.customer_key, list_transform(f.customer_ids, lambda i: hash(i)) as {ID_HASHES}
        from fresh as f
        left join ({_KEYS_OF.format(contacts="fresh")}) as k
            on k.business_day = f.business_day and k.contact_id = f.contact_id"""
    )
    con.execute("drop table fresh")
    con.execute("alter table keyed rename to fresh")


def write_touched(con: duckdb.DuckDBPyConnection, keys_dir: Path, old_files: list[Path]) -> None:
    """Add the identifiers of the customer keys' pass (``fresh``, and the replaced day files
    ``old_files``) to the touched ones not yet handled by a contacts' pass."""
    target = keys_dir / TOUCHED_FILE
    parts = ["select tenant, identifier from fresh"]
    parts += [f"select tenant, identifier from read_parquet({paths(old_files)})"] * bool(old_files)
    parts += [f"select * from read_parquet({literal(str(target))})"] * target.exists()
    write_atomically(con, " union ".join(parts), target)


def rekey(
    con: duckdb.DuckDBPyConnection, contacts_dir: Path, keys_dir: Path, changed: set[str]
) -> None:
    """Rewrite ``_rekeyed.parquet`` for the touched identifiers, then forget them."""
    touched = keys_dir / TOUCHED_FILE
    target = contacts_dir / REKEYED_FILE
    others = [p for p in sorted(contacts_dir.glob("day=*.parquet")) if p.stem[4:] not in changed]
    con.execute(
        "create temp table rekeyed (business_day date, contact_id varchar, customer_key varchar)"
    )
    if target.exists():
        con.execute(f"insert into rekeyed select * from read_parquet({literal(str(target))})")
        con.execute(
            "delete from rekeyed where cast(business_day as varchar) in "
            f"(select unnest({sorted(changed)!r}::varchar[]))"
        )
    if touched.exists() and others:
        con.execute(
            f"""create temp table affected as
            select distinct business_day, contact_id from (
                select business_day, contact_id, unnest({ID_HASHES}) as h
                from read_parquet({paths(others)})
            ) where h in (select hash(identifier) from read_parquet({literal(str(touched))}))"""
        )
        days = [
            str(d) for (d,) in con.execute("select distinct business_day from affected").fetchall()
        ]
        if days:
            files = [contacts_dir / f"day={day}.parquet" for day in days]
            con.execute(
                f"""create temp table again as
                select business_day, contact_id, tenant, customer_ids, customer_key
                from read_parquet({paths(files)})
                as c where exists (
                    select 1 from affected as x
                    where x.business_day = c.business_day and x.contact_id = c.contact_id
                )"""
            )
            con.execute(
                """delete from rekeyed where exists (
                    select 1 from affected as x
                    where x.business_day = rekeyed.business_day
                    and x.contact_id = rekeyed.contact_id
                )"""
            )
            con.execute(
                f"""insert into rekeyed
                select a.business_day, a.contact_id, k.customer_key
                from again as a
                left join ({_KEYS_OF.format(contacts="again")}) as k
                    on k.business_day = a.business_day and k.contact_id = a.contact_id
                where k.customer_key is distinct from a.customer_key"""
            )
    write_atomically(con, "select * from rekeyed", target)
    touched.unlink(missing_ok=True)


def rekeyed_sql(rows_sql: str, rekeyed: Path) -> str:
    """``rows_sql`` (the materialised contacts) with the keys of ``_rekeyed.parquet`` applied."""
    return f"""select m.* exclude ({ID_HASHES}) replace (
    case when r.contact_id is null then m.customer_key else r.customer_key end as customer_key
)
from ({rows_sql}) as m
left join read_parquet({literal(str(rekeyed.resolve()))}) as r
    on r.business_day = m.business_day and r.contact_id = m.contact_id"""
