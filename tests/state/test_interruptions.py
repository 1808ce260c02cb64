"""Killed at every commit (DESIGN.md section 7): a one-shot write is killed after its N-th
commit (MiniCloud's or the Stub cloud's, or a schema step), for every N the operation has;
then a restart, ``refresh`` and ``reset --yes`` must leave the cloud as it was before
MiniCloud touched it, foreign resources included, with exit 0.  An interrupted first start is
finished by the next one.  Two processes racing for the same name: one wins, one is refused;
on a Galera cluster (when ``MINICLOUD_GALERA_URLS`` is set) the two run on two different nodes
(``race_store``: the race helpers take a store and the pair of URLs the processes use).

Heavy: by default a sample of the operations and kill points on SQLite; ``MINICLOUD_TEST_VOLUME
=full`` walks every point of every operation, the backends (SQLite, MariaDB) and the signals
(SIGKILL, SIGINT) taking turns along it (``turn_of``): each point is interrupted once, and each
pair lands at every kind of step.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backends import (
    BACKENDS,
    RACE_BACKENDS,
    RacePlaces,
    StartingPoint,
    backend_url,
    drop_all_tables,
    race_places,
    turn_of,
)
from tests.consistency import minicloud, open_app, picture, seed_foreign, start
from tests.volume import FULL, sample

pytestmark = pytest.mark.heavy

CLOUD = "Lab"
CIDR = ["--cloud", CLOUD, "--cidr"]
# (name, setup commands, the operation walked)
OPERATIONS: list[tuple[str, list[list[str]], list[str]]] = [
    ("attach to a foreign router", [["networks", "create", "mine", *CIDR, "10.60.0.0/24"]],
     ["routers", "attach", "corp", "mine"]),
    ("create a network on a foreign router", [],
     ["networks", "create", "mine", *CIDR, "10.61.0.0/24", "--router", "corp"]),
    ("detach from a foreign router", [], ["routers", "detach", "corp", "theirs"]),
    ("clear a foreign gateway", [], ["routers", "gateway", "corp", "--clear"]),
    ("stop a foreign server", [], ["instances", "stop", "legacy"]),
    ("connect to a foreign server", [], ["instances", "connect", "legacy"]),
    ("create an instance", [],
     ["instances", "create", "vm", "--cloud", CLOUD, "--image", "cirros", "--flavor",
      "m1.tiny", "--network", "theirs", "--security-group", "public_ssh"]),
    ("create a router", [], ["routers", "create", "r1", "--cloud", CLOUD,
                             "--gateway", "public"]),
    ("remove an instance with its public IP",
     [["instances", "create", "vm", "--cloud", CLOUD, "--image", "cirros", "--flavor",
       "m1.tiny", "--network", "theirs"], ["instances", "connect", "vm"]],
     ["instances", "remove", "vm"]),
    ("remove a network on a foreign router",
     [["networks", "create", "mine", *CIDR, "10.63.0.0/24", "--router", "corp"]],
     ["networks", "remove", "mine"]),
    ("remove a router with networks",
     [["routers", "create", "r1", "--cloud", CLOUD, "--gateway", "public"],
      ["networks", "create", "mine", *CIDR, "10.64.0.0/24", "--router", "r1"]],
     ["routers", "remove", "r1"]),
    ("reset", [["instances", "connect", "legacy"], ["instances", "stop", "legacy"],
               ["networks", "create", "mine", *CIDR, "10.62.0.0/24", "--router", "corp"]],
     ["reset", "--yes"]),
]
SIGNALS = ["KILL", "INT"] if FULL else ["KILL"]
WALKED = sample(OPERATIONS, every=8, offset=6)
MAX_POINTS = 60


def _base(home: Path, url: str) -> dict[str, Any]:
    """The lab cloud with other people's resources in it; returns its picture."""
    app = open_app(home, url)
    try:
        app.clouds.add(CLOUD, "stub", "the lab")
        seed_foreign(app, CLOUD)
        return picture(app, CLOUD)
    finally:
        app.close()


def _prepared(db_url: str, tmp_path: Path, setup: list[list[str]] = ()
              ) -> tuple[StartingPoint, dict[str, Any]]:
    """The base (and ``setup``'s commands run on it), made once for a whole walk."""
    point = StartingPoint(db_url, tmp_path)

    def build(home: Path, url: str) -> dict[str, Any]:
        before = _base(home, url)
        for args in setup:
            assert minicloud(home, url, *args).returncode == 0, args
        return before

    return point, point.build(build)


def _check_recovers(home: Path, url: str, before: dict[str, Any], what: str) -> None:
    for args in (["refresh"], ["reset", "--yes"]):
        done = minicloud(home, url, *args)
        assert done.returncode == 0, (what, args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, (what, done.stderr)
    app = open_app(home, url)
    try:
        assert picture(app, CLOUD) == before, what
        assert app.inventory.cache.all("intent") == [], what
        assert app.inventory.cache.all("change") == [], what
    finally:
        app.close()


def _empty(db_url: str, tmp_path: Path, name: str) -> str:
    """A store of its own for one walk point, with nothing in it yet (not even tables)."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/{name}.db"
    drop_all_tables(db_url)
    return db_url


@pytest.mark.parametrize("signal", SIGNALS)
@pytest.mark.parametrize("operation", WALKED, ids=[op[0] for op in WALKED])
def test_killed_at_every_commit(operation: tuple[str, list[list[str]], list[str]], signal: str,
                                db_url: str, tmp_path: Path) -> None:
    name, setup, command = operation
    point, before = _prepared(db_url, tmp_path, setup)
    points, finished = 0, False
    for n in sample(turn_of(range(1, MAX_POINTS + 1), db_url, signal, SIGNALS), every=5,
                    offset=1):
        home, url = point.copy(f"p{n}")
        done = minicloud(home, url, *command, kill_after=f"{n}:{signal}")
        assert "Traceback" not in done.stderr, (name, n, done.stderr)
        if signal == "INT":  # Ctrl-C: 130 and one line, unless it was done before it landed
            assert done.returncode in (0, 130), (name, n, done.stderr)
            assert done.returncode == 0 or \
                done.stderr.strip().startswith("minicloud: interrupted"), (name, n, done.stderr)
        _check_recovers(home, url, before, f"{name}, killed after commit {n}")
        if done.returncode in (0, 1, 2):
            finished = True  # it ended before its N-th commit: every point was walked
            break
        points += 1
        shutil.rmtree(home.parent, ignore_errors=True)
    assert finished, f"{name}: still running after {MAX_POINTS} commits; walk further"
    assert points >= 1, f"{name}: no commit to interrupt"


@pytest.mark.parametrize("signal", SIGNALS)
def test_an_interrupted_first_start_is_finished_by_the_next(signal: str, db_url: str,
                                                           tmp_path: Path) -> None:
    steps, finished = 0, False
    # At full volume the backends and signals take turns along the walk: the steps are DDL
    # statements of one kind, and together they are all interrupted.
    walk = (turn_of(range(1, 201), db_url, signal, SIGNALS) if FULL
            else sample(range(1, 201), every=50, offset=2))
    for n in walk:
        home = tmp_path / f"s{n}"
        home.mkdir()
        url = _empty(db_url, tmp_path, f"s{n}")
        done = minicloud(home, url, "clouds", "add", CLOUD, "--type", "stub",
                         kill_after=f"{n}:{signal}")
        assert "Traceback" not in done.stderr, (n, done.stderr)
        again = minicloud(home, url, "topology")
        assert again.returncode == 0, (n, again.stderr)
        added = minicloud(home, url, "clouds", "add", "Other", "--type", "stub")
        assert added.returncode == 0, (n, added.stderr)
        listed = json.loads(minicloud(home, url, "clouds", "list", "--json").stdout)
        assert "Other" in {c["name"] for c in listed}, n
        if done.returncode == 0:
            finished = True
            break
        steps += 1
        shutil.rmtree(home, ignore_errors=True)
    assert finished, "the first start still ran after 200 steps; walk further"
    assert steps >= (10 if FULL else 2)  # tables, columns, version: many steps interrupted


# (what, the command, what a finished one leaves)
ENDINGS = [
    ("clouds remove", ["clouds", "remove", CLOUD, "--yes"]),
    ("destroy", ["destroy", "--yes"]),
]


@pytest.mark.parametrize("signal", SIGNALS)
@pytest.mark.parametrize("ending", sample(ENDINGS, every=2, offset=1),
                         ids=[e[0] for e in sample(ENDINGS, every=2, offset=1)])
def test_a_killed_remove_or_destroy_is_finished_by_the_next_write(
        ending: tuple[str, list[str]], signal: str, db_url: str, tmp_path: Path) -> None:
    what, command = ending
    point, _ = _prepared(db_url, tmp_path, [["networks", "create", "mine", *CIDR,
                                             "10.62.0.0/24"]])
    points, finished = 0, False
    for n in sample(turn_of(range(1, MAX_POINTS + 1), db_url, signal, SIGNALS), every=6,
                    offset=1):
        home, url = point.copy(f"e{n}")
        done = minicloud(home, url, *command, kill_after=f"{n}:{signal}")
        assert "Traceback" not in done.stderr, (what, n, done.stderr)
        after = minicloud(home, url, "refresh")  # a write: finishes what was left half-done
        assert after.returncode == 0 and "Traceback" not in after.stderr, (what, n, after)
        app = open_app(home, url)
        try:
            remains = bool(app.clouds.all())
            if remains:  # killed before it began: all still there, and intact
                assert "mine" in {net.name for net in app.networks.all(CLOUD)}, (what, n)
                assert app.inventory.cache.all("intent") == [], (what, n)
            else:  # as a finished remove or Destroy leaves it: nothing, nowhere
                assert all(app.inventory.cache.all(k) == [] for k in ("network", "intent"))
        finally:
            app.close()
        if remains or what == "destroy":  # and it can simply be done again
            again = minicloud(home, url, *command)
            assert again.returncode == 0, (what, n, again.stderr)
        if done.returncode in (0, 1, 2):
            finished = True
            break
        points += 1
        shutil.rmtree(home.parent, ignore_errors=True)
    assert finished, f"{what}: still running after {MAX_POINTS} commits; walk further"
    assert points >= 1, f"{what}: no commit to interrupt"


RACES = [
    ("networks", ["networks", "create", "Twin", "--cloud", CLOUD, "--cidr", "10.77.{i}.0/24"]),
    ("routers", ["routers", "create", "Twin", "--cloud", CLOUD]),
    ("instances", ["instances", "create", "Twin", "--cloud", CLOUD, "--image", "cirros",
                   "--flavor", "m1.tiny", "--network", "theirs"]),
    ("overlapping networks", ["networks", "create", "Net{i}", "--cloud", CLOUD, "--cidr",
                              "10.88.0.0/2{i}"]),
    ("fixed IPs", ["instances", "create", "vm{i}", "--cloud", CLOUD, "--image", "cirros",
                   "--flavor", "m1.tiny", "--network", "theirs", "--fixed-ip", "10.50.0.9"]),
    ("clouds", ["clouds", "add", "C3", "--type", "stub"]),
]
ROUNDS = 3 if FULL else 1


@pytest.fixture(params=RACE_BACKENDS)
def race_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RacePlaces]:
    """The store a race starts from, and how the two processes reach a copy of it (on a
    Galera cluster: two different nodes)."""
    with race_places(request.param, tmp_path) as places:
        yield places


@pytest.mark.parametrize("race", sample(RACES, every=2, offset=1),
                         ids=[r[0] for r in sample(RACES, every=2, offset=1)])
def test_two_processes_race_for_the_same_thing(
        race: tuple[str, list[str]], race_store: RacePlaces, tmp_path: Path) -> None:
    what, command = race
    point, _ = _prepared(race_store.url, tmp_path)
    for round_ in range(ROUNDS):
        home, url = point.copy(f"r{round_}")
        procs = [start(home, where, *[a.format(i=i + 3) for a in command])
                 for i, where in enumerate(race_store.places(url))]
        results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
        codes = sorted(code for _, _, code in results)
        assert codes[0] == 0 and codes[1] in (1, 2), (what, results)
        assert all("Traceback" not in err for _, err, _ in results), results
        app = open_app(home, url)
        try:
            app.sync.refresh()
            if what == "clouds":
                clouds = [c.name for c in app.clouds.all()]
                assert clouds.count("C3") == 1
                c3 = picture(app, "C3")
                assert ("public", True, ("203.0.113.0/24",)) in c3["networks"]
                assert ("default", 0) in c3["security_groups"]
            else:
                shown = picture(app, CLOUD)
                names = [entry[0] for entries in shown.values() for entry in entries]
                made = [n for n in names if n.startswith(("Twin", "Net", "vm"))]
                assert len(made) == 1, (what, made)
        finally:
            app.close()
        race_store.check()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request.param, tmp_path)


# The next start or write after a killed ``clouds add`` (issue 23, failure 8): the menu's
# start, refresh, reset and another add each finish it.
REPAIRS = [("menu", []), ("refresh", ["refresh"]), ("reset", ["reset", "--yes"]),
           ("add", ["clouds", "add", "Other", "--type", "stub"])]


@pytest.mark.parametrize("signal", SIGNALS)
def test_a_killed_clouds_add_is_repaired_by_the_next_start_or_write(
        signal: str, db_url: str, tmp_path: Path) -> None:
    point, before = _prepared(db_url, tmp_path)
    points, finished = 0, False
    for n in sample(range(1, MAX_POINTS + 1), every=5, offset=2):
        home, url = point.copy(f"a{n}")
        done = minicloud(home, url, "clouds", "add", "Edge", "--type", "stub",
                         kill_after=f"{n}:{signal}")
        assert "Traceback" not in done.stderr, (n, done.stderr)
        what, command = REPAIRS[points % len(REPAIRS)]
        if command:
            repaired = minicloud(home, url, *command)
        else:  # the menu's start: the tree, then Exit
            repaired = minicloud(home, url, stdin="1\n8\n")
        assert repaired.returncode == 0 and "Traceback" not in repaired.stderr, (n, what,
                                                                                   repaired)
        app = open_app(home, url)
        try:
            assert app.inventory.cache.all("intent") == [], (n, what)
            if "Edge" not in {c.name for c in app.clouds.all()}:  # undone: add it again
                assert done.returncode != 0, (n, done)
                app.clouds.add("Edge", "stub")
            edge = picture(app, "Edge")
            assert ("public", True, ("203.0.113.0/24",)) in edge["networks"], (n, what, edge)
            assert ("default", 0) in edge["security_groups"], (n, what, edge)
            assert picture(app, CLOUD) == before, (n, what)
        finally:
            app.close()
        if done.returncode in (0, 1, 2):
            finished = True
            break
        points += 1
        shutil.rmtree(home.parent, ignore_errors=True)
    assert finished, f"clouds add: still running after {MAX_POINTS} commits; walk further"
    assert points >= 1, "clouds add: no commit to interrupt"
