"""The store on a MariaDB Galera cluster (scripts/galera-test-cluster.sh; issue 27, first part).

Runs when ``MINICLOUD_GALERA_URLS`` is set (the script prints it; CI starts the cluster),
otherwise skipped with that reason.  Each test holds the cluster alone (nodes are killed, cut
off and restarted) and leaves all three nodes Synced.  What the tests rely on, checked here:
``SELECT ... FOR UPDATE`` locks only on its own node, so two sessions on two nodes both "hold"
a cloud's lock, and only a write makes the later commit fail certification (1213).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from minicloud.drivers.stub.location import Location, LocationError
from minicloud.model.errors import StoreError
from minicloud.state.store import META_TABLE, NODE_LOST, Store
from tests.backends import Cluster, intent_row, needs_galera, seed_mysql
from tests.consistency import minicloud, open_app

pytestmark = needs_galera

CLOUD = "Lab"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster().held() as held:
        seed_mysql(held.node(1))  # an empty store of the current schema, seen by every node
        yield held


def database(cluster: Cluster) -> str:
    return make_url(cluster.node(1)).database or ""


def quick(store: Store) -> Store:
    """No pauses between runs: the tests wait for nothing but the cluster."""
    store.backoff.base = store.backoff.cap = 0.01
    return store


def lock_generation(store: Store, name: str) -> int:
    return store.generations().get(name, 0)


# -- the cluster and the store's view of it ----------------------------------------------------

def test_the_cluster_has_three_synced_nodes_and_a_proxy(cluster: Cluster) -> None:
    for url in [*cluster.urls, cluster.proxy_url]:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                status = dict(conn.execute(sa.text(
                    "SHOW STATUS WHERE Variable_name IN ('wsrep_cluster_size', "
                    "'wsrep_local_state_comment', 'wsrep_cluster_status')")).fetchall())
        finally:
            engine.dispose()
        assert status == {"wsrep_cluster_size": "3", "wsrep_local_state_comment": "Synced",
                          "wsrep_cluster_status": "Primary"}, url


def test_every_table_has_a_primary_key_and_is_innodb(cluster: Cluster) -> None:
    store = Store(cluster.node(1)).open()
    store.close()
    engine = sa.create_engine(cluster.node(1))
    try:
        with engine.connect() as conn:
            tables = dict(conn.execute(sa.text(
                "SELECT table_name, engine FROM information_schema.tables "
                "WHERE table_schema = :db"), {"db": database(cluster)}).fetchall())
            keyed = set(conn.execute(sa.text(
                "SELECT table_name FROM information_schema.table_constraints "
                "WHERE table_schema = :db AND constraint_type = 'PRIMARY KEY'"),
                {"db": database(cluster)}).scalars())
    finally:
        engine.dispose()
    assert META_TABLE in tables and "stub_networks" in tables  # MiniCloud's and the Stub's
    assert set(tables) == keyed, set(tables) - keyed
    assert set(tables.values()) == {"InnoDB"}, tables


def test_reads_on_a_galera_node_are_causal(cluster: Cluster) -> None:
    store = Store(cluster.node(2)).open()
    try:
        with store.transaction() as conn:
            assert conn.info["galera"] is True
            assert conn.execute(sa.text("SELECT @@session.wsrep_sync_wait")).scalar() == 1
    finally:
        store.close()


# -- two sessions on two nodes ------------------------------------------------------------------

def _holding_together(stores: list[Store], body: Any) -> list[Any]:
    """Run ``body(store, conn, first_run)`` in a transaction holding the lock of CLOUD on
    each store at once, both holders waiting for each other inside it the first time (so
    that both hold the lock when the first commits).  Each result, or the error raised."""
    both = threading.Barrier(len(stores), timeout=20)
    results: list[Any] = [None] * len(stores)

    def run(i: int) -> None:
        runs = [0]

        def locked(conn: Any) -> Any:
            runs[0] += 1
            if runs[0] == 1:
                both.wait()
            return body(stores[i], conn, runs[0])

        try:
            results[i] = (stores[i].retrying(locked, write=True, locks=(CLOUD,)), runs[0])
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_two_sessions_on_two_nodes_bumping_one_lock_both_succeed_in_turn(
        cluster: Cluster) -> None:
    stores = [quick(Store(cluster.node(n)).open()) for n in (1, 2)]
    try:
        before = lock_generation(stores[0], CLOUD)
        results = _holding_together(
            stores, lambda store, conn, run: store.bump(conn, CLOUD))
        assert all(isinstance(r, tuple) for r in results), results
        # One commit failed certification and its whole transaction ran again, on top of
        # the other's: no bump is lost.
        assert sorted(runs for _, runs in results) == [1, 2], results
        assert sorted(generation for generation, _ in results) == [before + 1, before + 2]
        assert lock_generation(stores[1], CLOUD) == before + 2
    finally:
        for store in stores:
            store.close()


def test_two_lock_holders_on_two_nodes_writing_other_rows_are_serialized(
        cluster: Cluster) -> None:
    """What the write protocol's first transaction does: read the lock's generation, check
    the store, record an intent (a row of its own).  Without a write to the lock, both would
    commit, each having checked a store without the other's intent."""
    stores = [quick(Store(cluster.node(n)).open()) for n in (1, 2)]
    seen: list[tuple[int, int]] = []

    def record(store: Store, conn: Any, run: int) -> int:
        table = store.table("intents")
        others = len(table.rows(CLOUD))
        seen.append((run, others))
        key = f"{CLOUD}/intent-{id(store)}"
        table.put(key, CLOUD, intent_row(key), expected=0)
        return others

    try:
        results = _holding_together(stores, record)
        assert all(isinstance(r, tuple) for r in results), results
        # The one that ran again saw the other's intent: the check it makes is never blind.
        assert sorted(r[0] for r in results) == [0, 1], (results, seen)
        assert len(stores[0].table("intents").rows(CLOUD)) == 2
    finally:
        for store in stores:
            store.close()


def test_the_loser_of_a_race_without_retries_is_refused_in_one_line(cluster: Cluster) -> None:
    """Today's write protocol runs its transactions once: the loser's commit fails
    certification and it says so in one line, having changed nothing."""
    stores = [Store(cluster.node(n)).open() for n in (1, 2)]
    both = threading.Barrier(2, timeout=20)
    errors: list[BaseException | None] = [None, None]

    def run(i: int) -> None:
        try:
            with stores[i].transaction(write=True, locks=(CLOUD,)):
                both.wait()
                key = f"{CLOUD}/i{i}"
                stores[i].table("intents").put(key, CLOUD, intent_row(key, n=i), expected=0)
        except StoreError as err:
            errors[i] = err

    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        failed = [e for e in errors if e is not None]
        assert len(failed) == 1, errors
        text = str(failed[0])
        assert "busy" in text and "nothing was changed" in text and "\n" not in text
        assert len(stores[0].table("intents").rows(CLOUD)) == 1
    finally:
        for store in stores:
            store.close()


def test_two_stub_calls_holding_one_cloud_on_two_nodes_collide_in_one_line(
        cluster: Cluster) -> None:
    """A Stub cloud's default location on a MySQL store is the store's database: on Galera
    its calls take the cloud's lock on their own node, and the lock row is written, so the
    later of two holders on two nodes fails whole (busy, one line) instead of both writing."""
    locations = [Location(cluster.node(n)).open() for n in (1, 2)]
    both = threading.Barrier(2, timeout=20)
    errors: list[BaseException | None] = [None, None]

    def run(i: int) -> None:
        try:
            with locations[i].transaction(CLOUD) as tx:
                tx.rows("network")  # what a call checks (a free address, a name) under the lock
                both.wait()
                tx.insert("network", f"net-{i}", {"name": f"n{i}"})  # rows of its own
        except LocationError as err:
            errors[i] = err

    try:
        with locations[0].transaction(CLOUD):
            pass  # the lock row exists (a first call): only the lock's own write can collide
        threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        failed = [e for e in errors if e is not None]
        assert len(failed) == 1, errors
        assert "busy" in str(failed[0]) and "\n" not in str(failed[0]), failed
        with locations[0].transaction(CLOUD) as tx:
            assert len(tx.rows("network")) == 1
    finally:
        for location in locations:
            location.close()


# -- a node lost --------------------------------------------------------------------------------

def test_a_node_lost_while_a_session_is_idle_is_transparent(cluster: Cluster,
                                                            tmp_path: Path) -> None:
    notices: list[str] = []
    app = open_app(tmp_path, " ".join(cluster.urls))
    app.store.notify = notices.append
    try:
        app.clouds.add(CLOUD, "stub", "the lab")
        cluster.kill(1)  # the node this session uses, between two commands
        app.networks.create(CLOUD, "n1", "10.1.0.0/24")
        assert [n.name for n in app.networks.all(CLOUD) if not n.external] == ["n1"]
        assert notices == []
    finally:
        app.close()
    # A new process with the same URLs goes on too, without a word.
    done = minicloud(tmp_path, " ".join(cluster.urls), "networks", "create", "n2",
                     "--cloud", CLOUD, "--cidr", "10.2.0.0/24")
    assert done.returncode == 0 and done.stderr == "", done
    cluster.restart(1)
    rows = cluster.assert_same_everywhere(database(cluster))
    assert sorted(r[2] for r in rows["networks"] if r[1] == CLOUD) == ["n1", "n2", "public"]


@pytest.mark.parametrize("through", ["node URLs", "the proxy"])
def test_a_node_lost_during_a_write_is_retried_on_another_without_a_duplicate(
        cluster: Cluster, through: str) -> None:
    url = " ".join(cluster.urls) if through == "node URLs" else cluster.proxy_url
    notices: list[str] = []
    store = Store(url, notify=notices.append).open()
    runs = [0]

    killed: list[int] = []

    def body(conn: Any) -> None:
        runs[0] += 1
        first = f"{CLOUD}/first"
        store.table("intents").put(first, CLOUD, intent_row(first, n=1), expected=0)
        if runs[0] == 1:  # the node this transaction runs on (the proxy chose one)
            killed.append(cluster.number(conn))
            cluster.kill(killed[0])
        second = f"{CLOUD}/second"
        store.table("intents").put(second, CLOUD, intent_row(second, n=2), expected=0)
        store.bump(conn, CLOUD)

    try:
        before = lock_generation(store, CLOUD)
        store.retrying(body, write=True, locks=(CLOUD,))
        assert notices == [NODE_LOST]
        assert runs[0] == 2
        assert sorted(d["n"] for d, _ in store.table("intents").rows(CLOUD)) == [1, 2]
        assert lock_generation(store, CLOUD) == before + 1
    finally:
        store.close()
    cluster.restart(killed[0])
    rows = cluster.assert_same_everywhere(database(cluster))
    assert [r[0] for r in rows["intents"]] == [f"{CLOUD}/first", f"{CLOUD}/second"]


# -- a partition --------------------------------------------------------------------------------

def test_a_node_cut_off_refuses_writes_in_one_line_and_rejoins_with_everything(
        cluster: Cluster, tmp_path: Path) -> None:
    assert minicloud(tmp_path, cluster.node(1), "clouds", "add", CLOUD,
                     "--type", "stub").returncode == 0
    cluster.isolate(3)
    refused = minicloud(tmp_path, cluster.node(3), "networks", "create", "n1",
                        "--cloud", CLOUD, "--cidr", "10.1.0.0/24")
    assert refused.returncode in (1, 2), refused
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "not primary" in lines[0], refused.stderr
    assert "Traceback" not in refused.stderr
    # The majority goes on meanwhile; a session naming the cut-off node first skips it.
    done = minicloud(tmp_path, f"{cluster.node(3)} {cluster.node(2)}", "networks", "create",
                     "n2", "--cloud", CLOUD, "--cidr", "10.2.0.0/24")
    assert done.returncode == 0 and done.stderr == "", done
    assert minicloud(tmp_path, cluster.node(1), "networks", "create", "n3", "--cloud", CLOUD,
                     "--cidr", "10.3.0.0/24").returncode == 0
    cluster.rejoin(3)
    rows = cluster.assert_same_everywhere(database(cluster))
    assert sorted(r[2] for r in rows["networks"] if r[1] == CLOUD) == ["n2", "n3", "public"]
    listed = minicloud(tmp_path, cluster.node(3), "networks", "list")
    assert listed.returncode == 0 and "n3" in listed.stdout
