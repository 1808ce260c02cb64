"""Transactions that run again (state/retry.py, Store.retrying), and stores of several URLs.

The failures are made here (an error the server would give, raised inside the transaction or
in place of a commit's answer), so these cases run on every backend; the real thing (a Galera
node killed, a certification failure) is in tests/state/test_galera.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from minicloud.config import load_config
from minicloud.model.errors import ConfigError, StoreError
from minicloud.state.dburl import StoreURL, check_url, describe_url, explain
from minicloud.state.retry import (
    ATTEMPTS,
    CONFLICT,
    LOST,
    Backoff,
    RetryTransaction,
    classify,
)
from minicloud.state.store import META_TABLE, NODE_LOST, Store
from tests.backends import BACKENDS, MYSQL_URL, backend_url, intent_row, needs_mysql
from tests.state.test_store_mysql import closed_port, url_with

MYSQL = "mysql+pymysql://u:pw@db{n}.example.org:3306/mc?charset=utf8mb4"


class ServerSaid(Exception):
    """What the database driver raises: the server's error number and text."""


def failure(code: int, text: str = "") -> sa.exc.OperationalError:
    return sa.exc.OperationalError("COMMIT", {}, ServerSaid(code, text or f"error {code}"))


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    notices: list[str] = []
    opened = Store(backend_url(request.param, tmp_path), notify=notices.append).open()
    opened.backoff = Backoff(base=0.001, cap=0.002)
    opened.notices = notices  # type: ignore[attr-defined]
    yield opened
    opened.close()


def keys(store: Store) -> list[str]:
    return sorted(d["n"] for d, _ in store.table("intents").rows("c"))


# -- which failures run again ------------------------------------------------------------------

@pytest.mark.parametrize(("code", "reason"), [
    (1213, CONFLICT), (1205, CONFLICT), (2006, LOST), (2013, LOST), (2003, LOST),
    (1047, LOST), (1053, LOST), (1062, None), (1045, None), (1146, None)])
def test_which_server_errors_run_the_transaction_again(code: int, reason: str | None) -> None:
    assert classify(failure(code)) == reason
    assert classify(ServerSaid(code, "x")) == reason  # unwrapped, as the driver raises it


def test_a_connection_closed_under_the_driver_counts_as_lost() -> None:
    assert classify(sa.exc.InterfaceError("SELECT 1", {}, ServerSaid(0, "Connection "
                                                                     "already closed"))) == LOST
    assert classify(ValueError("bad value")) is None


def test_the_pauses_grow_with_jitter_and_stay_bounded() -> None:
    backoff = Backoff(base=0.1, cap=1.6)
    for attempt in range(1, 8):
        bound = min(1.6, 0.1 * 2 ** (attempt - 1))
        pauses = {backoff.pause(attempt) for _ in range(20)}
        assert all(bound / 2 <= p <= bound for p in pauses)
        assert len(pauses) > 1  # random: two sessions that collided do not collide in step


def test_the_galera_answers_are_one_line_each() -> None:
    url = MYSQL.format(n=1)
    not_primary = explain(url, failure(1047, "WSREP has not yet prepared node"))
    assert "not primary" in not_primary and "db1.example.org:3306/mc" in not_primary
    assert "busy" in explain(url, failure(1213, "Deadlock found"))
    assert all("pw" not in explain(url, failure(c)) for c in (1047, 1213, 1205))


# -- Store.retrying ----------------------------------------------------------------------------

def test_a_conflict_runs_the_whole_transaction_again(store: Any) -> None:
    runs: list[int] = []

    def body(conn: Any) -> str:
        runs.append(store.generation(conn, "c"))
        key = f"c/i{len(runs)}"
        store.table("intents").put(key, "c", intent_row(key, n=f"i{len(runs)}"), expected=0)
        if len(runs) == 1:
            raise failure(1213, "Deadlock found when trying to get lock")
        return "done"

    assert store.retrying(body, write=True, locks=("c",)) == "done"
    assert len(runs) == 2
    assert keys(store) == ["i2"]  # the first run left nothing behind
    assert store.notices == []  # a conflict is no lost node


def test_retries_run_out_in_one_line_having_changed_nothing(store: Any) -> None:
    runs = [0]

    def body(conn: Any) -> None:
        runs[0] += 1
        key = f"c/i{runs[0]}"
        store.table("intents").put(key, "c", intent_row(key, n="x"), expected=0)
        raise failure(1213, "Deadlock found when trying to get lock")

    with pytest.raises(StoreError) as raised:
        store.retrying(body, write=True, locks=("c",))
    assert runs[0] == ATTEMPTS
    text = str(raised.value)
    assert "busy" in text and "nothing was changed" in text and "\n" not in text
    assert keys(store) == []


def test_a_node_lost_during_a_write_says_one_line_and_runs_again(store: Any) -> None:
    runs = [0]

    def body(conn: Any) -> None:
        runs[0] += 1
        key = f"c/i{runs[0]}"
        store.table("intents").put(key, "c", intent_row(key, n=f"i{runs[0]}"), expected=0)
        if runs[0] == 1:
            raise failure(2013, "Lost connection to MySQL server during query")

    store.retrying(body, write=True, locks=("c",))
    assert runs[0] == 2
    assert store.notices == [NODE_LOST]
    assert keys(store) == ["i2"]


def test_a_read_that_lost_its_node_runs_again_without_a_word(store: Any) -> None:
    runs = [0]

    def body(conn: Any) -> int:
        runs[0] += 1
        if runs[0] == 1:
            raise failure(2006, "MySQL server has gone away")
        return len(store.table("intents").rows("c"))

    assert store.retrying(body) == 0
    assert store.notices == []


def test_nested_retrying_is_part_of_the_open_transaction(store: Any) -> None:
    runs = [0]

    def inner(conn: Any) -> None:
        runs[0] += 1
        raise failure(1213)

    with pytest.raises(RetryTransaction), store.transaction(write=True):
        store.retrying(inner, write=True)
    assert runs[0] == 1  # the outermost transaction is the one to run again


def _losing_the_answer(store: Any, after_commit: bool) -> list[int]:
    """The next commit's answer is lost (2013): after the commit happened, or before."""
    lost = [0]
    commit = store._commit

    def answer_lost(tx: Any) -> None:
        if lost[0] == 0:
            lost[0] += 1
            if after_commit:
                commit(tx)
            raise failure(2013, "Lost connection to MySQL server during query")
        commit(tx)

    store._commit = answer_lost
    return lost


@pytest.mark.parametrize("after_commit", [True, False], ids=["committed", "not committed"])
def test_a_commit_whose_answer_was_lost_is_verified_by_reading_back(
        store: Any, after_commit: bool) -> None:
    lost = _losing_the_answer(store, after_commit)
    runs = [0]

    def body(conn: Any) -> str:
        runs[0] += 1  # a new id every run, as an intent has: running again would duplicate
        key = f"c/i{runs[0]}"
        store.table("intents").put(key, "c", intent_row(key, n=f"i{runs[0]}"), expected=0)
        return f"i{runs[0]}"

    def verify(conn: Any) -> bool:
        return store.table("intents").get(f"c/i{runs[0]}") is not None

    made = store.retrying(body, write=True, locks=("c",), verify=verify)
    assert lost == [1]
    assert keys(store) == [made]  # exactly one, whichever way the commit went
    assert made == ("i1" if after_commit else "i2")
    assert store.notices == ([] if after_commit else [NODE_LOST])


def test_without_verify_a_lost_answer_runs_a_body_that_is_right_to_run_again(store: Any) -> None:
    _losing_the_answer(store, after_commit=True)
    runs = [0]

    def body(conn: Any) -> None:  # insert-if-missing: finds its own commit the second time
        runs[0] += 1
        if store.table("intents").get("c/only") is None:
            store.table("intents").put("c/only", "c", intent_row("c/only", n="only"), expected=0)

    store.retrying(body, write=True)
    assert runs[0] == 2
    assert keys(store) == ["only"]


def test_lock_rows_are_written_only_on_galera(store: Any) -> None:
    with store.transaction(write=True, locks=("c",)) as conn:
        assert not conn.info.get("galera")
    names = [n for n in store.generations()]
    assert names == ["c"]
    with store.transaction() as conn:
        meta = store.sa_table(META_TABLE)
        held = conn.execute(sa.select(meta.c.name).where(meta.c.name.like("held/%"))).all()
    assert held == []


# -- several URLs ------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", [pytest.param("mysql", marks=needs_mysql)])
def test_a_node_that_does_not_answer_is_skipped_without_a_word(backend: str,
                                                              tmp_path: Path) -> None:
    backend_url(backend, tmp_path)
    dead = url_with(MYSQL_URL, port=closed_port())
    notices: list[str] = []
    store = Store(f"{dead} {MYSQL_URL}", notify=notices.append).open()
    try:
        store.table("intents").put("c/a", "c", intent_row("c/a", n="a"), expected=0)
        assert keys(store) == ["a"]
        assert store.node_url == StoreURL.of(MYSQL_URL)
        assert notices == []
    finally:
        store.close()
    with pytest.raises(StoreError, match="server unreachable"):
        Store(f"{dead} {url_with(MYSQL_URL, port=closed_port())}").open()


def test_several_urls_are_one_store_setting(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    one, two = MYSQL.format(n=1), MYSQL.format(n=2)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINICLOUD_HOME", str(tmp_path))
    monkeypatch.delenv("MINICLOUD_DB_PASSWORD", raising=False)
    monkeypatch.setenv("MINICLOUD_DB_URL", f"  {one}   {two} ")
    assert load_config().db_url.texts == (one, two)
    monkeypatch.delenv("MINICLOUD_DB_URL")
    (tmp_path / "minicloud.ini").write_text(f"[database]\nurl = {one}\n    {two}\n")
    assert load_config().db_url.texts == (one, two)
    assert describe_url(f"{one} {two}") == "db1.example.org:3306/mc, db2.example.org:3306/mc"
    assert str(load_config().db_url) == "db1.example.org:3306/mc, db2.example.org:3306/mc"
    # The password goes into every node's URL object (MINICLOUD_DB_PASSWORD).
    bare = "mysql+pymysql://u@db{n}/mc"
    nodes = StoreURL.of(f"{bare.format(n=1)} {bare.format(n=2)}").with_password("s3").nodes
    assert [node.rendered() for node in nodes] == \
        ["mysql+pymysql://u:s3@db1/mc", "mysql+pymysql://u:s3@db2/mc"]
    assert all("s3" not in str(node) for node in nodes)


def test_an_sqlite_path_with_spaces_is_one_url(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "my home"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINICLOUD_HOME", str(home))
    monkeypatch.delenv("MINICLOUD_DB_URL", raising=False)
    assert load_config().db_url == StoreURL.sqlite(home / "minicloud.db")
    assert StoreURL.of(f"sqlite:///{home}/minicloud.db").nodes == (load_config().db_url,)
    store = Store(load_config().db_url).open()
    try:
        assert store.node_url.sqlite_file == str(home / "minicloud.db")
        assert (home / "minicloud.db").exists()
    finally:
        store.close()


@pytest.mark.parametrize(("urls", "words"), [
    (f"{MYSQL.format(n=1)} sqlite:///x.db", "an SQLite store is one file"),
    (f"{MYSQL.format(n=1)} postgresql://db/mc", "store URL 2 of 2"),
])
def test_a_list_of_urls_that_cannot_be_one_cluster_is_refused(urls: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        check_url(urls)
