"""Several MiniCloud processes on one store: crashes, stale versions, a busy SQLite file.

Each case runs on SQLite (a file in tmp_path) and, when ``MINICLOUD_TEST_MYSQL_URL`` is set, on
MySQL/MariaDB (every table of that database dropped first); the other processes are real ones.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from minicloud.app import MiniCloud
from minicloud.config import Config
from minicloud.model.errors import StoreError
from minicloud.model.objects import Cloud
from minicloud.state import store as store_module
from minicloud.state.store import Store
from tests.backends import BACKENDS, backend_url

REPO = Path(__file__).resolve().parents[2]
ROWS = 200


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL per backend: an SQLite file in tmp_path, or the emptied test database."""
    return backend_url(request.param, tmp_path)


def make_app(url: str, home: Path) -> MiniCloud:
    return MiniCloud(Config(home=home, db_url=url)).open()


def child(script: str, url: str, *args: str) -> subprocess.Popen[str]:
    """Another MiniCloud process: ``script`` gets the store URL as sys.argv[1]."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), url, *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_for_line(proc: subprocess.Popen[str], expected: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == expected:
            return
        if not line and proc.poll() is not None:
            break
    proc.kill()
    _, err = proc.communicate(timeout=30)
    pytest.fail(f"child did not print {expected!r}; stderr:\n{err}")


def kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


def assert_sqlite_intact(url: str) -> None:
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()


# -- crash consistency ---------------------------------------------------------------------------

# Writes ROWS clouds in one Inventory.write; Table.put is wrapped so that the process says where
# it is and sleeps there, to be killed (SIGKILL) at that exact point of the transaction.
WRITE_CLOUDS = """
import sys, time
from pathlib import Path
from minicloud.app import MiniCloud
from minicloud.config import Config
from minicloud.model.objects import Cloud
from minicloud.state.store import Table

url, prefix, stop_after, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
app = MiniCloud(Config(home=Path("."), db_url=url)).open()
real_put = Table.put
calls = 0

def put(self, *args, **kwargs):
    global calls
    if calls == stop_after:
        print("inside", flush=True)
        time.sleep(120)
    calls += 1
    return real_put(self, *args, **kwargs)

Table.put = put
with app.inventory.write() as tx:
    for i in range(rows):
        tx.put(Cloud(f"{prefix}-{i:03d}", "stub", f"loc {i}"))
print("committed", flush=True)
time.sleep(120)
"""


def count_clouds(url: str, prefix: str, home: Path) -> int:
    app = make_app(url, home)
    try:
        return sum(1 for c in app.inventory.cache.all("cloud") if c.name.startswith(prefix + "-"))
    finally:
        app.close()


def test_killed_inside_a_write_leaves_all_or_nothing(store_url: str, tmp_path: Path) -> None:
    # Killed before the first row, after one, in the middle, after the last (before commit).
    for stop_after in (0, 1, ROWS // 2, ROWS - 1):
        prefix = f"k{stop_after}"
        proc = child(WRITE_CLOUDS, store_url, prefix, str(stop_after), str(ROWS))
        try:
            wait_for_line(proc, "inside")
        finally:
            kill(proc)
        assert_sqlite_intact(store_url)
        assert count_clouds(store_url, prefix, tmp_path) == 0, f"killed at row {stop_after}"
    # Killed after the commit: everything is there.
    proc = child(WRITE_CLOUDS, store_url, "done", "-1", str(ROWS))
    try:
        wait_for_line(proc, "committed")
    finally:
        kill(proc)
    assert_sqlite_intact(store_url)
    assert count_clouds(store_url, "done", tmp_path) == ROWS
    # The store still takes writes after all this.
    app = make_app(store_url, tmp_path)
    try:
        with app.inventory.write() as tx:
            tx.put(Cloud("after", "stub", "x"))
        assert app.clouds.get("after").location == "x"
    finally:
        app.close()


# Writes batches of ROWS rows, each in one store.transaction, as fast as it can.
WRITE_ROWS = """
import sys
from minicloud.state.store import Store

url, prefix, batches, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store = Store(url).open()
print("open", flush=True)
for b in range(batches):
    with store.transaction():
        table = store.kind("image")
        for i in range(rows):
            ident = f"{prefix}-{b}-{i:03d}"  # an image's row, as the store reads it back
            table.put(f"crash/{ident}", "crash", {"cloud": "crash", "id": ident, "name": ident,
                                                  "prefix": prefix, "batch": b, "i": i})
store.close()
print("finished", flush=True)
"""


def test_killed_at_random_moments_leaves_whole_transactions(store_url: str) -> None:
    rng = random.Random(4)
    batches = 200
    committed_somewhere = False
    for run in range(5):
        prefix = f"run{run}"
        proc = child(WRITE_ROWS, store_url, prefix, str(batches), str(ROWS))
        try:
            wait_for_line(proc, "open")
            time.sleep(rng.uniform(0.05, 0.8))
        finally:
            kill(proc)
        assert_sqlite_intact(store_url)
        store = Store(store_url).open()
        try:
            rows = [data for data, _ in store.kind("image").rows("crash")
                    if data["prefix"] == prefix]
        finally:
            store.close()
        per_batch: dict[int, int] = {}
        for data in rows:
            per_batch[data["batch"]] = per_batch.get(data["batch"], 0) + 1
        assert all(n == ROWS for n in per_batch.values()), f"run {run}: {per_batch}"
        # The batches that made it are the first ones, in order, and not all of them.
        assert sorted(per_batch) == list(range(len(per_batch)))
        assert len(per_batch) < batches, "the writer finished before it was killed"
        committed_somewhere = committed_somewhere or bool(per_batch)
    assert committed_somewhere, "no run committed anything: the kills came too early"


# -- two processes, one object ---------------------------------------------------------------------

# Another MiniCloud: sets a cloud's location, and says so.
SET_LOCATION = """
import sys
from pathlib import Path
from minicloud.app import MiniCloud
from minicloud.config import Config

url, name, location = sys.argv[1], sys.argv[2], sys.argv[3]
app = MiniCloud(Config(home=Path("."), db_url=url)).open()
cloud = app.clouds.update(name, location)
print(f"{cloud.location} v{cloud.version}", flush=True)
app.close()
"""


def set_location_elsewhere(url: str, name: str, location: str) -> str:
    proc = child(SET_LOCATION, url, name, location)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out.strip()


def test_update_from_a_stale_session_goes_on_the_current_row(store_url: str,
                                                             tmp_path: Path) -> None:
    setup = make_app(store_url, tmp_path)
    try:
        with setup.inventory.write() as tx:
            tx.put(Cloud("shared", "stub", "Brussels"))
    finally:
        setup.close()

    b = make_app(store_url, tmp_path)  # this process: B, loaded before A's change
    try:
        assert b.clouds.get("shared").location == "Brussels"
        assert b.clouds.get("shared").version == 1
        # A (another process) changes the location and commits.
        assert set_location_elsewhere(store_url, "shared", "Liège") == "Liège v2"
        # B's cache says version 1; its update re-reads the row under the cloud's lock and
        # is written on top of A's version 2, never over a copy of version 1.
        assert b.clouds.update("shared", "Namur").location == "Namur"
        assert b.clouds.get("shared").version == 3
    finally:
        b.close()

    # No lost update: a fresh reader sees B's retry, written on top of A's change.
    c = make_app(store_url, tmp_path)
    try:
        cloud = c.clouds.get("shared")
        assert (cloud.location, cloud.version) == ("Namur", 3)
    finally:
        c.close()


def test_reload_sees_what_another_process_committed(store_url: str, tmp_path: Path) -> None:
    reader = make_app(store_url, tmp_path)
    try:
        with reader.inventory.write() as tx:
            tx.put(Cloud("seen", "stub", "v0"))
        for step in range(1, 4):
            # Reads in between (on MySQL a read left open would pin a REPEATABLE-READ snapshot).
            reader.inventory.reload()
            assert reader.clouds.get("seen").location == f"v{step - 1}"
            set_location_elsewhere(store_url, "seen", f"v{step}")
            # The cache is MiniCloud's view until a reload...
            assert reader.clouds.get("seen").location == f"v{step - 1}"
            reader.inventory.reload()
            # ...which sees the other process's commit.
            assert reader.clouds.get("seen").location == f"v{step}"
            assert reader.clouds.get("seen").version == step + 1
        assert reader.store.kind("cloud").get("seen/seen")[0]["location"] == "v3"
    finally:
        reader.close()


# -- a busy SQLite file --------------------------------------------------------------------------

# Holds a write transaction open on the store until killed.
HOLD_WRITE = """
import sys, time
from minicloud.state.store import Store

store = Store(sys.argv[1]).open()
with store.transaction():
    store.kind("image").put("holder/1", "holder", {"held": True})
    print("holding", flush=True)
    time.sleep(120)
"""


def test_sqlite_writer_waits_then_says_busy(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # The wait is the store's busy timeout; a shorter one shows the same behaviour sooner.
    monkeypatch.setattr(store_module, "SQLITE_BUSY_SECONDS", 1)
    url = f"sqlite:///{tmp_path / 'minicloud.db'}"
    store = Store(url).open()  # opened before the other process starts writing
    holder = child(HOLD_WRITE, url)
    try:
        wait_for_line(holder, "holding")
        try:
            started = time.monotonic()
            with pytest.raises(StoreError) as err:
                store.kind("image").put("writer/1", "writer", {"n": 1})
            waited = time.monotonic() - started
            message = str(err.value)
            assert "busy" in message
            assert str(tmp_path / "minicloud.db").lstrip("/") in message
            assert "\n" not in message and "Traceback" not in message
            assert waited >= 1  # it waited for the lock (the store's timeout) before giving up
            # Reads still work while the other process writes (they see committed data only).
            assert store.kind("image").rows() == []
        finally:
            store.close()
    finally:
        kill(holder)
    # Once the holder is gone (killed: its transaction rolled back), writes go through.
    assert_sqlite_intact(url)
    store = Store(url).open()
    try:
        assert store.kind("image").put("writer/1", "writer", {"n": 1}) == 1
        assert store.kind("image").get("holder/1") is None
    finally:
        store.close()


def test_sqlite_store_opens_and_reads_while_another_process_writes(tmp_path: Path) -> None:
    # `minicloud topology` only reads: another MiniCloud's open write transaction must not stop
    # it from starting (SQLite lets readers in while a writer holds its RESERVED lock).
    url = f"sqlite:///{tmp_path / 'minicloud.db'}"
    setup = make_app(url, tmp_path)
    try:
        with setup.inventory.write() as tx:
            tx.put(Cloud("there", "stub", "Mons"))
    finally:
        setup.close()
    holder = child(HOLD_WRITE, url)
    try:
        wait_for_line(holder, "holding")
        started = time.monotonic()
        app = make_app(url, tmp_path)
        try:
            assert app.clouds.get("there").location == "Mons"
            assert app.inventory.cache.all("image") == []
        finally:
            app.close()
        assert time.monotonic() - started < 4, "opening waited for the other writer"
    finally:
        kill(holder)


def test_two_writers_of_one_cloud_at_once_wait_for_each_other(store_url: str) -> None:
    """Two sessions that take one cloud's lock at the same moment: the second waits for the
    first, neither is refused (on InnoDB, making the lock row with INSERT IGNORE before
    locking it took a shared lock that both then wanted to upgrade: a deadlock)."""
    import threading

    stores = [Store(store_url).open() for _ in range(2)]
    with stores[0].transaction(write=True, locks=("Lab",)):
        pass  # the lock row exists, as it does after a cloud's first write
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def write(store: Store) -> None:
        start.wait()
        try:
            for _ in range(40):
                with store.transaction(write=True, locks=("Lab",)) as conn:
                    store.bump(conn, "Lab")
        except StoreError as err:
            failures.append(err)

    threads = [threading.Thread(target=write, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for store in stores:
        store.close()
    assert failures == []
    check = Store(store_url).open()
    try:
        assert check.generations().get("Lab") == 80  # every write went through, one by one
    finally:
        check.close()
