"""Two processes at once on the paths beside object writes (issue 23, failures 1, 2 and 3):
a refresh racing every kind of create, ``clouds remove`` racing a create and a refresh in
that cloud, Destroy while a menu is mid-way through Create a network.

Each round starts both processes (the second a little later each round, and a refresh's
listing slowed down, so that the rounds sweep the moments where one's listing and the other's
write cross), then checks: the create
that exited 0 is in the store without another refresh (a refresh never drops what settled
while it listed); a refresh and the tree agree with the cloud; a removed cloud left no row
behind, and adding it again gives a whole cloud; Reset leaves the cloud as before MiniCloud
touched it.  tests/managers/test_write_path.py plays the same crossings step by step.

Heavy: 2 rounds each by default (and two of the create kinds); at ``MINICLOUD_TEST_VOLUME=full``
every kind and 10 rounds (each with its delay), each round raced once, the backends here taking
turns through them (``RacePlaces.turn``).  On MariaDB too when ``MINICLOUD_TEST_MYSQL_URL`` is
set, and with the two processes on two different nodes of a Galera cluster when
``MINICLOUD_GALERA_URLS`` is set (scripts/galera-test-cluster.sh), the three nodes then
compared table by table after each round.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minicloud.model.kinds import KINDS
from tests.backends import RACE_BACKENDS, RacePlaces, StartingPoint, race_places
from tests.consistency import REPO, SCRUBBED, open_app, picture, start
from tests.volume import sample, scaled

pytestmark = pytest.mark.heavy

LAB, EDGE = "Lab", "Edge"
ROUNDS = scaled(2, 10)
# The second process starts this much later than the first, by round (seconds).
DELAYS = (0.0, 0.15, 0.3, 0.05, 0.4, 0.1, 0.25, 0.2, 0.35, 0.45)
# A refresh's listings take this much longer (after the cloud was read, before the listing is
# written: tests/slow_listing.py), so that the other process's write lands in between.
SLOW = 0.8

# (what, the create, the kind and name it makes: what must be in the store afterwards)
CREATES = [
    ("network", ["networks", "create", "rf", "--cloud", LAB, "--cidr", "10.70.0.0/24"],
     "network", "rf"),
    ("router", ["routers", "create", "rr", "--cloud", LAB], "router", "rr"),
    ("instance", ["instances", "create", "ri", "--cloud", LAB, "--image", "cirros",
                  "--flavor", "m1.tiny", "--network", "n"], "instance", "ri"),
    ("public IP", ["instances", "connect", "vm"], "public_ip", "vm"),
    ("cluster", ["clusters", "add", "rc", "--cloud", LAB], "cluster", "rc"),
]
# By default two of them (a network, a public IP); every one at full volume.
RACED = sample(CREATES, every=3)


@pytest.fixture(params=RACE_BACKENDS)
def race_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RacePlaces]:
    """The store a race starts from, and how the two processes reach a copy of it (on a
    Galera cluster: two different nodes)."""
    with race_places(request.param, tmp_path) as places:
        yield places


def _base(home: Path, url: str) -> dict[str, Any]:
    """Cloud Lab (a routed network ``n`` with instance ``vm``) and cloud Edge; returns what
    each cloud held before MiniCloud touched it."""
    app = open_app(home, url)
    try:
        before = {}
        for cloud in (LAB, EDGE):
            app.clouds.add(cloud, "stub")
            before[cloud] = picture(app, cloud)
        app.routers.create(LAB, "gw", gateway="public")
        app.networks.create(LAB, "n", "10.60.0.0/24", router="gw")
        app.instances.create(LAB, "vm", "cirros", "m1.tiny", "n")
        return before
    finally:
        app.close()


def _race(home: Path, urls: tuple[str, str], first: list[str], second: list[str],
          delay: float) -> list[tuple[str, str, int]]:
    """Both commands (each on its URL), the second ``delay`` seconds after the first:
    (stdout, stderr, code).  A refresh lists slowly."""
    procs = [start(home, urls[0], *first, slow_listing=SLOW if first == ["refresh"] else 0)]
    time.sleep(delay)
    procs.append(start(home, urls[1], *second,
                       slow_listing=SLOW if second == ["refresh"] else 0))
    results = [p.communicate(timeout=180) + (p.returncode,) for p in procs]
    for _, err, _ in results:
        assert "Traceback" not in err, err
    return results


def _store_has(app: Any, kind: str, name: str) -> bool:
    if kind == "public_ip":  # the instance named has a public IP
        vm = app.instances.find("instance", name, LAB)
        return app.access.public_ip_of(vm) is not None
    return name in {o.name for o in app.inventory.cache.all(kind, LAB)}


def _agree(app: Any, cloud: str) -> None:
    """After a refresh the store, the tree and the cloud tell one story."""
    assert app.sync.refresh() == []
    shown = picture(app, cloud)
    tree = "\n".join(app.topology.tree())
    for kind, listed in (("network", "networks"), ("router", "routers"),
                         ("instance", "instances")):
        names = sorted(o.name for o in app.inventory.cache.all(kind, cloud))
        assert names == sorted(entry[0] for entry in shown[listed]), (kind, names, shown)
        assert all(name in tree for name in names)
    assert app.inventory.cache.all("intent") == []


def _reset_is_as_before(app: Any, before: dict[str, Any]) -> None:
    assert app.resetter.reset().failures == []
    for cloud in app.clouds.all():
        assert picture(app, cloud.name) == before[cloud.name], cloud.name


def _nothing_left_of(app: Any, cloud: str) -> None:
    """A cloud the store no longer knows has no row left anywhere (intents included)."""
    left = {kind: len(app.store.kind(kind).rows(cloud)) for kind in KINDS}
    assert {kind: n for kind, n in left.items() if n} == {}, left


def _whole_when_added_again(app: Any, before: dict[str, Any]) -> None:
    app.clouds.add(EDGE, "stub")
    shown = picture(app, EDGE)
    assert ("public", True, ("203.0.113.0/24",)) in shown["networks"], shown
    assert ("default", 0) in shown["security_groups"], shown
    app.networks.create(EDGE, "again", "10.81.0.0/24")
    app.instances.create(EDGE, "vm2", "cirros", "m1.tiny", "again")  # the default group is there


@pytest.mark.parametrize("create", RACED, ids=[c[0] for c in RACED])
def test_a_refresh_racing_a_create_keeps_what_the_create_made(
        create: tuple[str, list[str], str, str], race_store: RacePlaces, tmp_path: Path
        ) -> None:
    what, command, kind, name = create
    point = StartingPoint(race_store.url, tmp_path)
    before = point.build(_base)
    for round_ in race_store.turn(range(ROUNDS)):
        home, url = point.copy(f"r{round_}")
        pair = [["refresh"], command] if round_ % 2 == 0 else [command, ["refresh"]]
        results = _race(home, race_store.places(url), *pair, DELAYS[round_ % len(DELAYS)])
        codes = {tuple(args): code for args, (_, _, code) in zip(pair, results, strict=True)}
        assert set(codes.values()) == {0}, (what, round_, results)
        app = open_app(home, url)
        try:
            # Settled, so in the store, whatever the refresh listed meanwhile.
            assert _store_has(app, kind, name), (what, round_, results)
            _agree(app, LAB)
            _reset_is_as_before(app, before)
        finally:
            app.close()
        race_store.check()


REMOVE = ["clouds", "remove", EDGE, "--yes"]
IN_EDGE = [
    ("create", ["networks", "create", "en2", "--cloud", EDGE, "--cidr", "10.80.0.0/24"]),
    ("refresh", ["refresh"]),
]


@pytest.mark.parametrize("other", IN_EDGE, ids=[o[0] for o in IN_EDGE])
def test_clouds_remove_racing_a_write_in_that_cloud_leaves_no_ghost(
        other: tuple[str, list[str]], race_store: RacePlaces, tmp_path: Path) -> None:
    what, command = other
    point = StartingPoint(race_store.url, tmp_path)
    before = point.build(_base)
    for round_ in race_store.turn(range(ROUNDS)):
        home, url = point.copy(f"r{round_}")
        pair = [REMOVE, command] if round_ % 2 == 0 else [command, REMOVE]
        results = _race(home, race_store.places(url), *pair, DELAYS[round_ % len(DELAYS)])
        by = {tuple(args): (code, err) for args, (_, err, code) in zip(pair, results, strict=True)}
        removed, other_code = by[tuple(REMOVE)][0], by[tuple(command)][0]
        assert removed in (0, 1) and other_code in (0, 1, 2), (what, round_, results)
        for code, err in by.values():  # a refusal is one line
            assert code == 0 or len(err.strip().splitlines()) == 1, (what, round_, err)
        app = open_app(home, url)
        try:
            if EDGE in {c.name for c in app.clouds.all()}:  # the removal was refused
                assert removed == 1, (what, round_, results)
                _agree(app, EDGE)
            else:
                assert removed == 0, (what, round_, results)
                _nothing_left_of(app, EDGE)
                _whole_when_added_again(app, before)
            _agree(app, LAB)
            _reset_is_as_before(app, before)
        finally:
            app.close()
        race_store.check()


# -- Destroy while a menu is mid-way through Create a network -----------------------------------

def _menu(home: Path, url: str) -> subprocess.Popen[bytes]:
    environ = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    environ.update(MINICLOUD_HOME=str(home), HOME=str(home), MINICLOUD_DB_URL=url,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                            environ.get("PYTHONPATH")])))
    return subprocess.Popen([sys.executable, "-m", "minicloud"], cwd=home, env=environ,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _read_until(proc: subprocess.Popen[bytes], text: str, timeout: float = 60) -> str:
    """The menu's output up to (and with) ``text``: a prompt ends with no newline."""
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"the menu never asked {text!r}; it said:\n{seen.decode()}"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, f"the menu ended before {text!r}; it said:\n{seen.decode()}"
            seen += chunk
    return seen.decode()


def _demo(home: Path, url: str) -> None:
    from minicloud.managers.demo import build_demo

    app = open_app(home, url)
    try:
        assert build_demo(app) is True
    finally:
        app.close()


def test_destroy_while_a_menu_creates_a_network_resurrects_nothing(race_store: RacePlaces,
                                                                    tmp_path: Path) -> None:
    point = StartingPoint(race_store.url, tmp_path)
    point.build(_demo)
    for round_ in race_store.turn(range(ROUNDS)):
        home, url = point.copy(f"r{round_}")
        menu_url, destroy_url = race_store.places(url)
        menu = _menu(home, menu_url)
        assert menu.stdin is not None
        # Network management, Create a network: the cloud (the only one), a name, a CIDR...
        menu.stdin.write(b"4\n3\n\nlate\n10.99.0.0/24\n")
        menu.stdin.flush()
        _read_until(menu, "[ Attach to router ]")  # ...and the last question is on screen
        destroyed = start(home, destroy_url, "destroy", "--yes")
        out, err = destroyed.communicate(timeout=180)
        assert destroyed.returncode == 0, (round_, out, err)
        # No router, then Back and Exit.
        said, errors = menu.communicate(b"1\n9\n8\n", timeout=180)
        assert menu.returncode == 0, (round_, said, errors)
        lines = said.decode().splitlines()
        # (the line starts after the prompt it answers)
        refusals = [line[line.index("Error:"):] for line in lines if "Error:" in line]
        # Refused at the menu's fresh read of the cloud it picked, or under the lock.
        assert len(refusals) == 1 and refusals[0] in (
            "Error: no cloud named 'TryStack'",
            "Error: cloud TryStack was removed by another session; nothing was changed",
        ), (round_, said.decode(), errors.decode())
        assert "Traceback" not in errors.decode()
        app = open_app(home, url)
        try:
            assert app.clouds.all() == [], round_  # no TryStack resurrected
            assert all(app.inventory.cache.all(kind) == [] for kind in KINDS), round_
        finally:
            app.close()
        race_store.check()
