"""A store holding what this MiniCloud cannot read (issue 23 item 6, "Done means"): every
column of every table, the meta rows and the intents, set in turn to NULL, a wrong type and bad
JSON, and each field of each row's JSON (nested ones too) set to null, a wrong type or removed.
For each, the commands an operator runs (``topology``, ``drift``, ``clouds list``, a write,
``refresh``, ``reset --yes``) end with exit 0, 1 or 2 (``drift``: 3 when it finds drift), no
traceback, and the damaged row named in at most one line.

Run in-process (``run_command`` on a fresh app per command, as one process each would have
it), on a copy of one starting point per damage; a sample of the damages by default, all of
them at MINICLOUD_TEST_VOLUME=full (tests/volume.py); a few through ``python -m minicloud``.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.config import Config
from minicloud.drivers.base import ServerSpec
from minicloud.model.codec import to_dict
from minicloud.model.kinds import TABLES
from minicloud.model.objects import Change, Intent, KeyPair
from minicloud.state.table import META_TABLE, encode, record_key
from tests.backends import StartingPoint, seed_demo_sqlite
from tests.consistency import minicloud
from tests.volume import sample

CLOUD = "TryStack"
# The order matters only for speed: what changes nothing first, Reset last.
COMMANDS = (
    ("topology",),
    ("drift",),
    ("clouds", "list"),
    ("networks", "create", "Fresh", "--cloud", CLOUD, "--cidr", "10.99.0.0/24"),
    ("refresh",),
    ("reset", "--yes"),
)
DRIFT_FOUND = 3


def _build(home: Path, url: str) -> None:
    """The demo, plus what the other tables hold in use: someone else's router, network and
    server in TryStack, changed by MiniCloud (an interface added, the server stopped: two change
    records), a sync that found a change made outside (a drift record), and two writes whose
    process died (intents: a network create naming a network to come, an add of the cloud),
    and the key pair MiniCloud keeps for clouds with hosts (the Stub has none: written as
    such a cloud's would be)."""
    seed_demo_sqlite(Path(url[len("sqlite:///"):]))
    app = MiniCloud(Config(home=home, db_url=url), notify=lambda line: None).open()
    try:
        cloud = app.clouds.get(CLOUD)
        other = app.make_driver_for(cloud)
        external = next(n for n in other.list_networks() if n.external)
        theirs = other.seed_network("theirs", "10.50.0.0/24", subnet_name="theirs-subnet")
        corp = other.seed_router("corp", external.id)
        other.add_router_interface(corp.id, theirs.id)
        legacy = other.seed_server(ServerSpec("legacy", "image-cirros", "flavor-m1.tiny",
                                              theirs.id))
        other.get_server(legacy.id)  # settles BUILD
        app.sync.refresh()
        app.instances.stop(app.instances.find("instance", "legacy", CLOUD))
        app.networks.attach(app.networks.find("network", "AntwerpNet", CLOUD),
                            app.routers.find("router", "corp", CLOUD))
        other.seed_network("outside", "10.51.0.0/24")
        other.close()
        app.sync.refresh()  # records the drift: network outside appeared
        # As the unit of work records them (state/intents.py: this_process), for a process
        # that is gone: host, pid, start time and session; the cloud's incarnation.
        gone = {"host": socket.gethostname(), "pid": 2 ** 22 + 7, "started": "1",
                "session": "0" * 32}
        planned = {**to_dict(Change.of(CLOUD, "interface", corp.id)), "network_name": "Later"}
        added = {"name": "cloud", "cloud": to_dict(cloud)}
        rows: list[Any] = [
            Intent(CLOUD, ident, what, owned=True, claims=["name:network:Later"],
                   changes=changes, owner=gone, lease_until=1.0,
                   incarnation=cloud.incarnation)
            for ident, what, changes in (("a1", "create network Later", [planned]),
                                         ("a2", f"add cloud {CLOUD}", [added]))]
        rows.append(KeyPair(CLOUD, "minicloud-key", "minicloud-key", owned=True,
                            fingerprint="aa:bb", public_key="ssh-ed25519 AAAA"))
        for obj in rows:
            data = to_dict(obj)
            data.pop("version")
            app.store.kind(obj.kind).put(record_key(*obj.key), CLOUD, data, expected=0)
    finally:
        app.close()


# -- the damages -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Damage:
    """One change to one row: ``sql`` (with its parameters) and the name the row is known by
    in messages (``table/key``)."""

    what: str
    named: str
    sql: str
    params: tuple[Any, ...]

    def __str__(self) -> str:
        return self.what


def _wrong(value: Any) -> Any:
    """A value of another JSON type."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, (int, float)):
        return "many"
    if isinstance(value, str):
        return 7
    if value is None:
        return 7
    return "text"


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every field of a JSON value, nested ones included (a list's first item)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), item
            yield from _paths(item, (*path, key))
    elif isinstance(value, list) and value:
        yield (*path, 0), value[0]
        yield from _paths(value[0], (*path, 0))


def _changed(data: Any, path: tuple[Any, ...], how: str) -> Any:
    data = json.loads(json.dumps(data))
    holder = data
    for step in path[:-1]:
        holder = holder[step]
    last = path[-1]
    if how == "removed":
        del holder[last]
    else:
        holder[last] = None if how == "null" else _wrong(holder[last])
    return data


def _richest_rows(path: Path) -> list[tuple[str, str, str]]:
    """Per table, the row with the most JSON (nested lists filled), and every intent (each
    kind of intent the starting point has: a planned change, an added cloud): (table, key,
    data)."""
    conn = sqlite3.connect(path)
    try:
        rows = []
        for table in TABLES.values():
            limit = -1 if table == TABLES["intent"] else 1
            found = conn.execute(f'SELECT key, data FROM "{table}" '
                                 "ORDER BY length(data) DESC, key LIMIT ?", (limit,)).fetchall()
            assert found, f"the starting point has no row in {table}"
            rows += [(table, key, text) for key, text in found]
        return rows
    finally:
        conn.close()


def damages(store: Path) -> list[Damage]:
    out = []
    for table, key, text in _richest_rows(store):
        named = f"{table}/{key}"
        where = f'UPDATE "{table}" SET {{}} WHERE key = ?'
        for column, values in (("key", (None, 12, b"\x00")),
                               ("cloud", (None, b"\x00", "Elsewhere")),
                               ("name", (None, b"\x00", "Renamed")),
                               ("data", (None, "{not json", "[1, 2]", 12, b"{}")),
                               ("version", ("one", 1.5, -0.5))):
            for value in values:
                out.append(Damage(f"{named} {column}={value!r}", named,
                                  where.format(f"{column} = ?"), (value, key)))
        data = json.loads(text)
        for path, _ in _paths(data):
            for how in ("null", "wrong type", "removed"):
                if how == "removed" and isinstance(path[-1], int):
                    continue
                changed = encode(_changed(data, path, how))
                out.append(Damage(f"{named} {'.'.join(map(str, path))} {how}", named,
                                  where.format("data = ?"), (changed, key)))
    for name in ("schema", "store_id", "lock/*", f"lock/{CLOUD}", f"token/{CLOUD}"):
        for value in (None, "many", b"\x00", "-1", "2.5"):
            out.append(Damage(f"{META_TABLE}/{name}={value!r}", f"{META_TABLE}/{name}",
                              f"UPDATE {META_TABLE} SET value = ? WHERE name = ?",
                              (value, name)))
    return out


# -- the walk ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def start(tmp_path_factory: pytest.TempPathFactory) -> StartingPoint:
    tmp = tmp_path_factory.mktemp("corrupt")
    point = StartingPoint(f"sqlite:///{tmp}/unused.db", tmp)
    point.build(_build)
    return point


def _store_file(url: str) -> Path:
    return Path(url[len("sqlite:///"):])


def _run(home: Path, url: str, argv: tuple[str, ...],
         capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """One command, as ``python -m minicloud`` runs it (a new app, closed after)."""
    import sys

    opened: list[MiniCloud] = []

    def opener() -> MiniCloud:
        opened.append(MiniCloud(Config(home=home, db_url=url),
                                notify=lambda line: print(line, file=sys.stderr)))
        return opened[-1]

    try:
        code = run_command(opener, list(argv))
    finally:
        for app in opened:
            app.close()
    _, err = capsys.readouterr()
    return code, err


def _check(damage: Damage, argv: tuple[str, ...], code: int, err: str) -> None:
    said = f"{damage} / {' '.join(argv)}: exit {code}, stderr:\n{err}"
    allowed = (0, 1, 2, DRIFT_FOUND) if argv == ("drift",) else (0, 1, 2)
    assert code in allowed, said
    assert "Traceback" not in err and "unexpected error" not in err, said
    naming = [line for line in err.splitlines() if damage.named in line]
    assert len(naming) <= 1, said


WALK: list[Damage] = []


def _walk(start: StartingPoint) -> list[Damage]:
    if not WALK:
        WALK.extend(damages(_store_file(start.copy("plan")[1])))
    return WALK


def _damage(url: str, damage: Damage) -> bool:
    """Apply ``damage`` to the store; False when the store's own constraints refuse it."""
    conn = sqlite3.connect(_store_file(url))
    try:
        conn.execute(damage.sql, damage.params)
        conn.commit()
    except sqlite3.IntegrityError:
        return False  # a NOT NULL or key constraint the store itself keeps
    finally:
        conn.close()
    return True


# The walk in parts, so that pytest-xdist runs them side by side at full volume.
PARTS = 4


@pytest.mark.heavy
@pytest.mark.parametrize("part", range(PARTS))
def test_every_command_survives_a_damaged_row(start: StartingPoint, part: int,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """About 630 damages at full volume (about 5 minutes of one core); two of each part by
    default, a different two in each part."""
    for number, damage in enumerate(sample(_walk(start)[part::PARTS], every=80,
                                           offset=part * 20 + 7)):
        home, url = start.copy(f"p{part}-{number}")
        if not _damage(url, damage):
            continue
        for argv in COMMANDS:
            code, err = _run(home, url, argv, capsys)
            _check(damage, argv, code, err)


# -- the issue's cases, through ``python -m minicloud`` ------------------------------------------

def _named_damage(url: str, table: str, key: str, path: tuple[Any, ...], value: Any) -> Damage:
    """Field ``path`` of row ``key`` set to ``value``."""
    conn = sqlite3.connect(_store_file(url))
    try:
        (text,) = conn.execute(f'SELECT data FROM "{table}" WHERE key = ?', (key,)).fetchone()
    finally:
        conn.close()
    data = json.loads(text)
    holder = data
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return Damage(f"{table}/{key} {path} = {value!r}", f"{table}/{key}",
                  f'UPDATE "{table}" SET data = ? WHERE key = ?', (encode(data), key))


def _network_key(url: str, name: str) -> str:
    conn = sqlite3.connect(_store_file(url))
    try:
        return conn.execute("SELECT key FROM networks WHERE name = ?", (name,)).fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("case", ["subnets null", "owner string", "changes malformed",
                                  "lock text"])
def test_the_issue_s_damages_through_the_command_line(start: StartingPoint, case: str) -> None:
    """Issue 23 item 6: each was ``unexpected error TypeError/AttributeError/ValueError``."""
    home, url = start.copy(case.replace(" ", "-"))
    damage = {
        "subnets null": lambda: _named_damage(url, "networks", _network_key(url, "LondonNet"),
                                              ("subnets",), None),
        "owner string": lambda: _named_damage(url, "intents", f"{CLOUD}/a1", ("owner",),
                                              "someone"),
        "changes malformed": lambda: _named_damage(url, "intents", f"{CLOUD}/a1",
                                                   ("changes", 0, "target_id"), ["x"]),
        "lock text": lambda: Damage("lock text", f"{META_TABLE}/lock/{CLOUD}",
                                    f"UPDATE {META_TABLE} SET value = 'x' WHERE name = ?",
                                    (f"lock/{CLOUD}",)),
    }[case]()
    assert _damage(url, damage)
    said = []
    for argv in (COMMANDS[0], COMMANDS[3]):  # topology, then a write (which reads intents)
        done = minicloud(home, url, *argv)
        _check(damage, argv, done.returncode, done.stderr)
        assert done.returncode == 0, done.stderr
        said += done.stderr.splitlines()
    assert "skipped 1 unreadable row(s) of the store (a newer MiniCloud's, or damaged): " \
           f"{damage.named}" in said
