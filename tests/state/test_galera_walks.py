"""The heavier half of issue 27's "Done means", on a MariaDB Galera cluster
(scripts/galera-test-cluster.sh; runs when ``MINICLOUD_GALERA_URLS`` is set, otherwise skipped
with that reason).  The races with two processes on two nodes are in tests/state/
test_write_races.py and tests/state/test_interruptions.py (``race_places``).

- A kill walk: one node SIGKILLed at every write commit of the multi-step operations (create
  an instance and give it a public IP, Reset, Destroy, ``clouds add``), just before the COMMIT
  is sent (the client loses its answer) and just after it returned (tests/node_kill.py), the
  client going on through the proxy or through the other nodes of its URL list.  After the node
  is back (Synced), a new process's ``refresh`` and ``reset --yes`` leave each cloud as it was
  before MiniCloud touched it, nothing pending, the store holding exactly what the clouds hold,
  and the three nodes hold the same rows, table by table: nothing lost, duplicated or ghost.
- A partition while writes go on: the majority keeps writing, the cut-off node refuses writes
  in one line; when it rejoins it has everything, and nothing written on either side is lost.

Heavy: a sample of the points by default; at ``MINICLOUD_TEST_VOLUME=full`` every point at both
moments, the two ways in taking turns along each walk (each point killed once per moment).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from minicloud.model.kinds import KINDS
from tests.backends import Cluster, StartingPoint, needs_galera, on_server, seed_mysql
from tests.consistency import REPO, SCRUBBED, minicloud, open_app, picture, seed_foreign
from tests.volume import FULL, sample, shared

pytestmark = [*needs_galera, pytest.mark.heavy]

LAB, EDGE = "Lab", "Edge"
CREATE_VM = ["instances", "create", "vm", "--cloud", LAB, "--image", "cirros", "--flavor",
             "m1.tiny", "--network", "theirs"]
# (name, setup commands, the operation: commands run one after the other in one process)
OPERATIONS: list[tuple[str, list[list[str]], list[list[str]]]] = [
    ("instance with a public IP", [], [CREATE_VM, ["instances", "connect", "vm"]]),
    ("reset", [["instances", "connect", "legacy"], ["instances", "stop", "legacy"],
               ["networks", "create", "mine", "--cloud", LAB, "--cidr", "10.62.0.0/24",
                "--router", "corp"]],
     [["reset", "--yes"]]),
    ("destroy", [["networks", "create", "mine", "--cloud", LAB, "--cidr", "10.63.0.0/24"]],
     [["destroy", "--yes"]]),
    ("clouds add", [], [["clouds", "add", EDGE, "--type", "stub"]]),
]
MOMENTS = ["before", "after"]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster().held() as held:
        seed_mysql(held.node(1))
        yield held


def _database(cluster: Cluster) -> str:
    return make_url(cluster.node(1)).database or ""


def _base(home: Path, url: str) -> dict[str, Any]:
    """Cloud Lab with other people's resources in it; its picture."""
    app = open_app(home, url)
    try:
        app.clouds.add(LAB, "stub", "the lab")
        seed_foreign(app, LAB)
        return picture(app, LAB)
    finally:
        app.close()


def _killing(home: Path, url: str, moment: str, nth: int, commands: list[list[str]]
             ) -> subprocess.CompletedProcess[str]:
    """The operation in one process whose N-th write commit kills its node (node_kill)."""
    environ = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    environ.update(MINICLOUD_HOME=str(home), HOME=str(home), MINICLOUD_DB_URL=url,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                            environ.get("PYTHONPATH")])))
    args = [arg for i, command in enumerate(commands) for arg in ([*(["+"] if i else []),
                                                                    *command])]
    return subprocess.run([sys.executable, "-m", "tests.node_kill", moment, str(nth), "--",
                           *args], cwd=home, env=environ, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def _count(done: subprocess.CompletedProcess[str]) -> int:
    line = next(x for x in done.stderr.splitlines() if x.startswith("node_kill:"))
    return int(line.split()[1])


def _killed(done: subprocess.CompletedProcess[str]) -> int | None:
    for line in done.stderr.splitlines():
        if line.startswith("node_kill: killed node "):
            return int(line.split()[3])
    return None


def _as_it_was(home: Path, url: str, before: dict[str, Any], what: str, where: str) -> None:
    """A new process's refresh and Reset leave each cloud as it was before MiniCloud touched
    it; the store holds exactly what the clouds hold, nothing pending."""
    for args in (["refresh"], ["reset", "--yes"]):
        done = minicloud(home, url, *args)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (where, args, done)
    app = open_app(home, url)
    try:
        clouds = sorted(c.name for c in app.clouds.all())
        if what == "destroy":
            assert clouds == [] or clouds == [LAB], (where, clouds)
            if not clouds:
                assert all(app.store.kind(kind).rows() == [] for kind in KINDS), where
                return
        assert picture(app, LAB) == before, where
        for cloud in clouds:
            shown = picture(app, cloud)
            for kind, listed in (("network", "networks"), ("router", "routers"),
                                 ("instance", "instances"), ("public_ip", "public_ips")):
                names = sorted(o.name for o in app.inventory.cache.all(kind, cloud))
                assert names == sorted(e[0] for e in shown[listed]), (where, cloud, kind)
        if what == "clouds add" and EDGE in clouds:
            edge = picture(app, EDGE)
            assert ("public", True, ("203.0.113.0/24",)) in edge["networks"], (where, edge)
            assert ("default", 0) in edge["security_groups"], (where, edge)
        assert app.inventory.cache.all("intent") == [], where
        assert app.inventory.cache.all("change") == [], where
    finally:
        app.close()


# Every (operation, moment, way in) walks its own points; by default a few of them.
WAYS_IN = ["node URLs", "the proxy"]
WALKS = [(op, moment, through) for op in OPERATIONS for moment in MOMENTS for through in WAYS_IN]


@pytest.mark.parametrize(
    ("operation", "moment", "through"), sample(WALKS, every=4, offset=1),
    ids=[f"{o[0]}-{m}-{t}" for o, m, t in sample(WALKS, every=4, offset=1)])
def test_a_node_killed_at_every_commit_point_loses_and_duplicates_nothing(
        operation: tuple[str, list[list[str]], list[list[str]]], moment: str, through: str,
        cluster: Cluster, tmp_path: Path) -> None:
    what, setup, commands = operation
    point = StartingPoint(cluster.node(1), tmp_path)

    def build(home: Path, url: str) -> dict[str, Any]:
        before = _base(home, url)
        for args in setup:
            assert minicloud(home, url, *args).returncode == 0, args
        return before

    before = point.build(build)
    home, url = point.copy("count")
    total = _count(_killing(home, url, moment, 0, commands))
    assert total >= 2, (what, total)
    database = _database(cluster)
    walked = 0
    # At full volume the two ways in take turns (node URLs the odd commits, the proxy the even
    # ones): each commit point of each operation is killed once at each moment.
    points = (shared(range(1, total + 1), WAYS_IN, through) if FULL
              else sample(range(1, total + 1), every=4, offset=len(what)))
    for n in points:
        home, url = point.copy(f"p{n}")
        # The client's way in: every node's URL (node 1 first), or the proxy (node 1 first).
        client = (" ".join(on_server(url, u) for u in cluster.urls) if through == "node URLs"
                  else on_server(url, cluster.proxy_url))
        done = _killing(home, client, moment, n, commands)
        where = f"{what}: node killed {moment} write commit {n} of {total}, through {through}"
        killed = _killed(done)
        assert killed is not None, (where, done.stderr)
        assert "Traceback" not in done.stderr, (where, done.stderr)
        # The client went on through another node: the command finished.
        assert done.returncode == 0, (where, done.stdout, done.stderr)
        cluster.restart(killed)
        _as_it_was(home, url, before, what, where)
        cluster.assert_same_everywhere(database)
        walked += 1
    print(f"kill walk: {what}, {moment} the commit, through {through}: {walked} of {total} "
          "points walked")  # the figures of the note (pytest -s shows them)
    assert walked >= 1


# -- a partition while writes go on -------------------------------------------------------------

def test_a_partition_while_the_majority_writes_loses_nothing(cluster: Cluster,
                                                             tmp_path: Path) -> None:
    """Node 3 is cut off (its group traffic stopped) while a process keeps creating networks
    through nodes 1 and 2: every write on node 3 is refused in one line (not primary), every
    write of the majority is kept; when node 3 rejoins it has all of them."""
    home = tmp_path / "home"
    home.mkdir()
    majority = f"{cluster.node(1)} {cluster.node(2)}"
    assert minicloud(home, majority, "clouds", "add", LAB, "--type", "stub").returncode == 0
    made: list[str] = []
    failures: list[Any] = []
    stop = threading.Event()
    rounds = 12 if FULL else 4

    def write() -> None:
        for i in range(rounds):
            if stop.is_set():
                return
            done = minicloud(home, majority, "networks", "create", f"m{i}", "--cloud", LAB,
                             "--cidr", f"10.90.{i}.0/24")
            if done.returncode == 0:
                made.append(f"m{i}")
            else:
                failures.append(done)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        cluster.isolate(3)
        refused = []
        for i in range(2 if FULL else 1):
            done = minicloud(home, cluster.node(3), "networks", "create", f"cut{i}", "--cloud",
                             LAB, "--cidr", f"10.91.{i}.0/24")
            refused.append(done)
    finally:
        writer.join(300)
        stop.set()
    for done in refused:
        assert done.returncode in (1, 2), done
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "not primary" in lines[0], done.stderr
    assert failures == [], failures
    assert len(made) == rounds
    cluster.rejoin(3)
    rows = cluster.assert_same_everywhere(_database(cluster))
    stored = sorted(r[2] for r in rows["networks"] if r[1] == LAB)
    assert stored == sorted([*made, "public"]), stored  # the majority's, none of the refused
    listed = minicloud(home, cluster.node(3), "networks", "list")
    assert listed.returncode == 0 and all(name in listed.stdout for name in made), listed
    # A node killed (not cut off) while the majority writes: the same, once it is back.
    cluster.kill(2)
    after = minicloud(home, f"{cluster.node(2)} {cluster.node(1)}", "networks", "create",
                      "late", "--cloud", LAB, "--cidr", "10.92.0.0/24")
    assert after.returncode == 0 and after.stderr == "", after
    cluster.restart(2)
    rows = cluster.assert_same_everywhere(_database(cluster))
    assert "late" in {r[2] for r in rows["networks"] if r[1] == LAB}
