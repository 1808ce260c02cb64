"""Stub clouds of an older MiniCloud, moved once from its store into their location.

Before the Stub had a location of its own, MiniCloud kept its clouds in tables ``stub_*`` of
its own store.  At the first use of a Stub cloud whose location is not the store's own
database, those rows (every Stub cloud's, ghosts of removed clouds included: a cloud keeps its
resources) are copied into the location, marked there, then deleted from the store; the mark
says ``copied`` until the store's rows are gone, then ``done``, so a move cut short by a kill is
finished by the next session and never copies twice.  A row already in the location is kept as
the location has it.  On MySQL the store's database is the default location: its tables are
read where they are and nothing moves.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .location import EVERY_CLOUD, MOVED, TABLES, Location, LocationError, sqlite_file

log = logging.getLogger("minicloud.drivers.stub")

COPIED, DONE = "copied", "done"


def same_database(a: str, b: str) -> bool:
    """Two URLs of one database (SQLite files compared by their real path)."""
    pa, pb = sqlite_file(a), sqlite_file(b)
    if pa is not None and pb is not None:
        return pa not in ("", ":memory:") and os.path.realpath(pa) == os.path.realpath(pb)
    return a == b


def take_over(location: Location, store_url: str) -> int:
    """Move what ``store_url``'s Stub tables hold into ``location`` (once); the number of
    rows copied."""
    if same_database(location.url, store_url):
        return 0
    if location.open().opened_with.get(MOVED) == DONE:
        return 0  # every session but the first: read with the schema's version, no lock
    with location.transaction(EVERY_CLOUD) as tx:
        state = tx.meta(MOVED)
        if state == DONE:
            return 0
        copied = 0
        if state is None:
            old = _read(store_url, location)
            for kind, rows in old.items():
                table = location.table(kind)
                present = {r.key for r in tx.conn.execute(table.select()).fetchall()}
                fresh = [dict(row) for row in rows if row["key"] not in present]
                if fresh:
                    tx.conn.execute(table.insert(), fresh)
                copied += len(fresh)
            tx.set_meta(MOVED, COPIED if any(old.values()) else DONE)
            if not any(old.values()):
                return 0
    _delete(store_url, location)
    with location.transaction(EVERY_CLOUD) as tx:
        tx.set_meta(MOVED, DONE)
    if copied:
        log.warning("moved %d Stub rows from the store into their location %s", copied,
                    location)
    return copied


def _engine(store_url: str) -> Any:
    import sqlalchemy as sa

    path = sqlite_file(store_url)
    if path is not None:
        if not path or path == ":memory:" or not os.path.exists(path):
            return None
        return sa.create_engine(store_url, connect_args={"timeout": 5})
    # A cluster's nodes: any one holds every row (a move happens once, at an upgrade).
    return sa.create_engine(store_url.split()[0], pool_pre_ping=True)


def _read(store_url: str, location: Location) -> dict[str, list[dict[str, Any]]]:
    """Every row of the store's Stub tables, by kind (nothing when it has none); they have
    the columns of the location's own."""
    import sqlalchemy as sa

    engine = _engine(store_url)
    if engine is None:
        return {}
    try:
        existing = set(sa.inspect(engine).get_table_names())
        found: dict[str, list[dict[str, Any]]] = {}
        with engine.connect() as conn:
            for kind, name in TABLES.items():
                if name in existing:
                    result = conn.execute(sa.select(location.table(kind))).mappings().all()
                    found[kind] = [dict(row) for row in result]
        return found
    except sa.exc.SQLAlchemyError as exc:
        raise LocationError("failed", f"the store's Stub tables cannot be read: "
                                      f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}"
                            ) from None
    finally:
        engine.dispose()


def _delete(store_url: str, location: Location) -> None:
    import sqlalchemy as sa

    engine = _engine(store_url)
    if engine is None:
        return
    try:
        existing = set(sa.inspect(engine).get_table_names())
        with engine.begin() as conn:
            for kind, name in TABLES.items():
                if name in existing:
                    conn.execute(location.table(kind).delete())
    except sa.exc.SQLAlchemyError as exc:
        raise LocationError("failed", f"the store's Stub tables cannot be emptied: "
                                      f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}"
                            ) from None
    finally:
        engine.dispose()
