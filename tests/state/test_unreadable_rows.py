"""Rows that do not fit, met by the store's own reads (issue 23 item 6, "What to build" 8):
skipped and named (table and key), whatever column is wrong, never rewritten; a lock row that
holds no number never makes a session miss a change; an unreadable schema version or store id
is said, not repaired."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy

from minicloud.app import MiniCloud
from minicloud.config import Config
from minicloud.model.errors import StoreError
from minicloud.state.store import META_TABLE, Store

CLOUD = "TryStack"


def execute(url: str, sql: str, **params: Any) -> list[Any]:
    engine = sqlalchemy.create_engine(Store(url).url.sa())
    try:
        with engine.begin() as conn:
            result = conn.execute(sqlalchemy.text(sql), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def network_row(url: str, name: str) -> tuple[str, str]:
    [(key, data)] = execute(url, "SELECT `key`, data FROM networks WHERE name = :name"
                            if "mysql" in url.split(":", 1)[0] else
                            "SELECT key, data FROM networks WHERE name = :name", name=name)
    return key, data


def quoted(url: str, column: str) -> str:
    return f"`{column}`" if url.startswith("mysql") else f'"{column}"'


@pytest.fixture
def demo(demo_app: MiniCloud) -> Iterator[tuple[MiniCloud, str]]:
    """The demo, closed: each case opens the sessions it needs on its store."""
    url = demo_app.config.db_url
    yield demo_app, url.rendered() if url.text else f"sqlite:///{url.sqlite_file}"


def session(app: MiniCloud, notices: list[str] | None = None) -> MiniCloud:
    """Another session on the store, reading rows as they are asked for (a command)."""
    return MiniCloud(Config(home=app.config.home, db_url=app.config.db_url),
                     notify=(notices.append if notices is not None else lambda line: None)
                     ).open(load=False)


# -- records ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage", [
    "data = NULL", "data = 'not json'", "data = '[1, 2]'", "cloud = 'Elsewhere'",
    "name = 'Renamed'", "name = NULL", "json subnets null", "json subnets text",
    "json owned text", "json cloud removed",
])
def test_a_row_that_does_not_fit_is_skipped_named_and_left_as_it_is(
        demo: tuple[MiniCloud, str], damage: str) -> None:
    app, url = demo
    key, data = network_row(url, "LondonNet")
    if damage.startswith("json"):
        _, field, how = damage.split()
        changed = json.loads(data)
        if how == "removed":
            del changed[field]
        else:
            changed[field] = None if how == "null" else "text"
        execute(url, "UPDATE networks SET data = :data WHERE " + quoted(url, "key") + " = :key",
                data=json.dumps(changed), key=key)
    else:
        execute(url, f"UPDATE networks SET {damage} WHERE {quoted(url, 'key')} = :key", key=key)
    before = execute(url, f"SELECT * FROM networks WHERE {quoted(url, 'key')} = :key", key=key)
    notices: list[str] = []
    other = session(app, notices)
    try:
        names = [n.name for n in other.networks.all(CLOUD)]
        assert "LondonNet" not in names and "AntwerpNet" in names
        other.sync.refresh()  # the cloud reports it: the row is still not written over
        other.report_skipped()
    finally:
        other.close()
    assert execute(url, f"SELECT * FROM networks WHERE {quoted(url, 'key')} = :key",
                   key=key) == before
    assert notices[-1] == ("skipped 1 unreadable row(s) of the store (a newer MiniCloud's, or "
                           f"damaged): networks/{key}")
    # Neither "adopted" nor drift: the object is there, in a row this MiniCloud cannot read
    # (except when the row is under another cloud: reads of this cloud never meet it, and
    # the write that adopts it is the first to).
    said = [line for line in notices if "LondonNet" in line]
    assert said == ([f"network LondonNet in cloud {CLOUD} was created by MiniCloud but not "
                     "recorded: adopted"] if "cloud =" in damage else []), notices


def test_the_store_s_own_reads_name_what_they_skip(demo: tuple[MiniCloud, str]) -> None:
    app, url = demo
    key, _ = network_row(url, "LondonNet")
    execute(url, f"UPDATE networks SET data = 'x' WHERE {quoted(url, 'key')} = :key", key=key)
    store = Store(url).open()
    try:
        assert store.kind("network").get(key) is None
        assert store.take_skipped() == [f"networks/{key}"]
        assert store.unreadable("networks", key)
    finally:
        store.close()


# -- lock rows ---------------------------------------------------------------------------------

def set_meta(url: str, name: str, value: Any) -> None:
    execute(url, f"UPDATE {META_TABLE} SET value = :value WHERE name = :name",
            value=value, name=name)


def meta(url: str, name: str) -> Any:
    rows = execute(url, f"SELECT value FROM {META_TABLE} WHERE name = :name", name=name)
    return rows[0][0] if rows else None


@pytest.mark.parametrize("value", ["many", None, "-1", "2.5"])
def test_a_lock_row_without_a_number_is_named_and_its_generation_unknown(
        demo: tuple[MiniCloud, str], value: Any) -> None:
    _, url = demo
    set_meta(url, f"lock/{CLOUD}", value)
    first, second = Store(url), Store(url)
    try:
        one, two = first.generations(), second.generations()
        # Unknown: no number a real generation has, and none another session reads.
        assert one[CLOUD] < 0 and two[CLOUD] < 0 and one[CLOUD] != two[CLOUD]
        assert first.take_skipped() == [f"{META_TABLE}/lock/{CLOUD}"]
    finally:
        first.close()
        second.close()
    assert meta(url, f"lock/{CLOUD}") == value  # reading rewrote nothing


def test_a_write_sets_a_damaged_generation_past_what_any_session_holds(
        demo: tuple[MiniCloud, str]) -> None:
    """No session misses the change: one that read the cloud before the damage (at
    generation G) and one that read it after both re-read it after the write."""
    app, url = demo
    before, during = session(app), None
    try:
        assert "Fresh" not in [n.name for n in before.networks.all(CLOUD)]
        held = before.inventory.generations[CLOUD]
        set_meta(url, f"lock/{CLOUD}", "many")
        during = session(app)
        assert "Fresh" not in [n.name for n in during.networks.all(CLOUD)]
        writer = session(app)
        try:
            writer.networks.create(CLOUD, "Fresh", "10.10.77.0/24")
        finally:
            writer.close()
        now = int(meta(url, f"lock/{CLOUD}"))
        assert now > held + 1_000_000  # not counted again from 0, nor from anything held
        for reader in (before, during):
            reader.routers.all(CLOUD)  # any read of the cloud finds the new generation...
            assert "Fresh" in [n.name for n in reader.networks.all(CLOUD)]  # ...and re-reads
    finally:
        before.close()
        if during is not None:
            during.close()


@pytest.mark.parametrize("value", ["many", None, "7", "x:abc", "7:"])
def test_an_unreadable_token_is_named_and_stands_for_nothing(demo: tuple[MiniCloud, str],
                                                             value: Any) -> None:
    """A token tells a cloud's rows apart from a copy's at the same generation (saved views
    are kept under it): one that is no ``GENERATION:RANDOM`` stands for no rows at all."""
    app, url = demo
    set_meta(url, f"token/{CLOUD}", value)
    store = Store(url)
    try:
        generation = store.generations()[CLOUD]
        assert store.token(CLOUD, generation) is None
        assert store.take_skipped() == [f"{META_TABLE}/token/{CLOUD}"]
    finally:
        store.close()
    assert meta(url, f"token/{CLOUD}") == value  # reading rewrote nothing
    writer = session(app)
    try:
        writer.networks.create(CLOUD, "Fresh", "10.10.77.0/24")
    finally:
        writer.close()
    written = meta(url, f"token/{CLOUD}")  # the next bump writes a new one, as always
    assert written.startswith(f"{generation + 1}:") and len(written) > len(f"{generation}:")


# -- the schema version and the store's id -----------------------------------------------------

@pytest.mark.parametrize("value", ["many", None, "3.0"])
def test_an_unreadable_schema_version_is_said_not_repaired(demo: tuple[MiniCloud, str],
                                                           value: Any) -> None:
    _, url = demo
    set_meta(url, "schema", value)
    with pytest.raises(StoreError) as caught:
        Store(url).open()
    assert f"{META_TABLE}/schema" in str(caught.value) and "\n" not in str(caught.value)
    assert meta(url, "schema") == value


@pytest.mark.parametrize("value", [None, "", "not-an-id!"])
def test_an_unreadable_store_id_is_named_and_kept(demo: tuple[MiniCloud, str],
                                                  value: Any) -> None:
    app, url = demo
    set_meta(url, "store_id", value)
    notices: list[str] = []
    other = session(app, notices)
    try:
        other.topology.tree()
        other.report_skipped()
        assert other.store.identity is None  # so no saved view is kept under it
    finally:
        other.close()
    assert notices == ["skipped 1 unreadable row(s) of the store (a newer MiniCloud's, or "
                       f"damaged): {META_TABLE}/store_id"]
    assert meta(url, "store_id") == value
