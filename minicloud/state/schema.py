"""Creating and repairing the store's schema, through ``dataset`` (DESIGN.md section 5).

Every step is idempotent and runs outside any transaction (DDL commits implicitly on MySQL);
each one finishes before a Ctrl-C or TERM is honoured.  The schema version is written last, so
a store without it is new or half-made and the next open simply runs these steps again.  Two
processes may race here: "already exists" counts as done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from . import signals
from .dburl import StoreURL, describe_url
from .table import CLOUD_LENGTH, KEY_LENGTH, META_TABLE, NAME_LENGTH, decode, encode, name_of

log = logging.getLogger(__name__)


def _step(what: str, action: Callable[[], Any], done: Callable[[], bool]) -> None:
    """One DDL step; a failure is fine when another process did the same meanwhile."""
    import sqlalchemy as sa

    with signals.deferred():
        try:
            action()
        except sa.exc.SQLAlchemyError:
            if not done():
                raise
            log.info("schema step done meanwhile by another process: %s", what)
    signals.stepped()


def _connect(url: StoreURL) -> Any:
    with signals.deferred():  # a half-imported module would break the rest of the session
        import dataset  # heavy (alembic): only when the schema needs work

    kwargs: dict[str, Any] = {}
    if url.is_sqlite:
        kwargs["connect_args"] = {"timeout": 5}
    # dataset takes text: the URL object's own rendering, which reads back as the same URL.
    return dataset.connect(url.rendered(), engine_kwargs=kwargs, ensure_schema=False)


def _record_table(db: Any, name: str) -> None:
    """Create (or complete) one table of keyed JSON records."""
    types = db.types
    _step(f"create table {name}",
          lambda: db.create_table(name, primary_id="key",
                                  primary_type=types.string(KEY_LENGTH),
                                  primary_increment=False),
          lambda: name in db.tables)
    table = db.load_table(name)
    columns: tuple[tuple[str, Any, dict[str, Any]], ...] = (
               ("cloud", types.string(CLOUD_LENGTH), {}),
               ("name", types.string(NAME_LENGTH), {}),
               ("data", types.text, {}),
               ("version", types.integer, {"nullable": False, "server_default": "0"}))
    # A table older than the name column, or one whose migration was cut short (the schema
    # version is written last, so an interrupted migration is done again from the start).
    migrate = "name" not in table.columns or "key" in table.columns and _unnamed(db, name)
    for column, kind, options in columns:
        if column in table.columns:
            continue
        _step(f"add {name}.{column}", partial(table.create_column, column, kind, **options),
              partial(_has_column, db, name, column))
        if column == "version":
            # Rows written before row versions (an older MiniCloud) are at version 1.
            _step(f"version rows of {name}",
                  lambda: db.executable.execute(table.table.update().values(version=1)),
                  lambda: False)
            db.executable.commit()
            log.info("table %s: added row versions", name)
    if migrate:
        migrate_rows(db, name)
    _indexes(db, name)


def _unnamed(db: Any, name: str) -> bool:
    """Rows without a name yet (a migration that was interrupted)."""
    import sqlalchemy as sa

    t = db.load_table(name).table
    query = sa.select(t.c.key).where(t.c.name.is_(None)).limit(1)
    return db.executable.execute(query).first() is not None


def _indexes(db: Any, name: str) -> None:
    """A cloud's rows, and a name, are found by index (a write reads no more)."""
    import sqlalchemy as sa

    table = db.load_table(name).table
    indexes = [sa.Index(f"ix_{name}_{column}", table.c[column]) for column in ("cloud", "name")]

    def create() -> None:
        for index in indexes:
            index.create(db.executable, checkfirst=True)

    _step(f"index {name}", create, partial(_has_index, db, name, f"ix_{name}_name"))
    db.executable.commit()


def _has_index(db: Any, table: str, index: str) -> bool:
    import sqlalchemy as sa

    return index in {i["name"] for i in sa.inspect(db.executable).get_indexes(table)}


def migrate_rows(db: Any, name: str) -> None:
    """Rows of a store older than schema 2: fill the name column (empty for a nameless
    object), write the JSON compact.  Idempotent."""
    import sqlalchemy as sa

    t = db.load_table(name).table
    rows = db.executable.execute(sa.select(t.c.key, t.c.data)).fetchall()
    updates = []
    for row in rows:
        data = decode(name, row.key, row.data)
        if data is not None:  # unreadable rows stay as they are
            updates.append({"b_key": row.key, "b_name": name_of(data), "b_data": encode(data)})
    if updates:
        statement = t.update().where(t.c.key == sa.bindparam("b_key")).values(
            name=sa.bindparam("b_name"), data=sa.bindparam("b_data"))
        _step(f"name the rows of {name}",
              lambda: db.executable.execute(statement, updates), lambda: False)
    db.executable.commit()


def _has_column(db: Any, table: str, column: str) -> bool:
    return column in db.load_table(table).columns


def _meta_table(db: Any, meta: str) -> None:
    _step(f"create table {meta}",
          lambda: db.create_table(meta, primary_id="name",
                                  primary_type=db.types.string(64), primary_increment=False),
          lambda: meta in db.tables)
    table = db.load_table(meta)
    if "value" not in table.columns:
        _step(f"add {meta}.value", lambda: table.create_column("value", db.types.string(255)),
              lambda: "value" in db.load_table(meta).columns)


def create_tables(url: StoreURL, names: list[str]) -> None:
    db = _connect(url)
    try:
        for name in names:
            _record_table(db, name)
    finally:
        db.close()


def create_schema(url: StoreURL, names: list[str], version: int) -> None:
    """Every table, column and index (the rows of an older store brought to this version),
    then (last) the schema version."""
    db = _connect(url)
    try:
        for name in names:
            _record_table(db, name)
        _meta_table(db, META_TABLE)
        meta = db.load_table(META_TABLE)
        _step("write the schema version",
              lambda: meta.upsert({"name": "schema", "value": str(version)}, ["name"]),
              lambda: False)
    finally:
        db.close()
    log.info("store %s: schema %s ready", describe_url(url), version)
