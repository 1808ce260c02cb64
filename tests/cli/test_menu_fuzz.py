"""Random keyboards against the real menu loop (issue 6: nothing crashes, nothing is lost).

Each example copies a demo store (SQLite, in a temporary folder), feeds one random input stream
to :func:`minicloud.cli.menus.main.run_menu` through a Prompter on ``io.StringIO``, and then
checks that the loop ended as Exit does (return code 0, no traceback, no "Unexpected error")
and that the store is still coherent: read back from the file (an independent reader, not the
app's connection), every instance's networks exist, every public IP is free or belongs to an
existing instance, every router's networks exist, the topology's instance counts match the
store, the running app's cache equals the store, and the Stub cloud's location (a file beside
the store) agrees with MiniCloud's tables.

Marked ``heavy``: 200 examples by default, 2,000 (derandomized, so CI runs the same streams
every time) with ``MINICLOUD_TEST_VOLUME=full`` (tests/volume.py).
``MINICLOUD_FUZZ_EXAMPLES=N`` runs exactly N examples instead.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minicloud.app import MiniCloud
from minicloud.cli.menus.main import run_menu
from minicloud.cli.prompts import Prompter
from minicloud.config import Config
from minicloud.drivers.pool import LOCATION_SUFFIX
from minicloud.drivers.stub.driver import STUB_KINDS, as_seen
from minicloud.drivers.stub.driver import TABLES as STUB_TABLES
from minicloud.managers.demo import build_demo
from minicloud.model.codec import from_dict, to_dict
from minicloud.model.kinds import KINDS, TABLES
from minicloud.render.topology import render_text
from tests.volume import FULL, scaled

EXAMPLES = int(os.environ.get("MINICLOUD_FUZZ_EXAMPLES", scaled(200, 2000)))

# -- the input streams -------------------------------------------------------------------------

NUMBERS = st.sampled_from([str(n) for n in range(1, 12)] + ["", "0", "13", "99", " 2 ", "-1",
                                                              "1.5", "٣", "+3"])
WEIGHTED_NUMBERS = st.one_of(NUMBERS, st.sampled_from(["1", "2", "3", "4", "5", "6", "7", "8",
                                                       ""]))
GOOD_NAMES = st.sampled_from(["vm1", "web", "net-a", "r1", "Lab", "n.2", "x_y", "Tower",
                              "LondonNet", "Antwerp", "C9", "a" * 64])
ODD_NAMES = st.sampled_from(["O'Brien", 'say "hi"', "a;b", "x--y", "drop table--", "100%",
                             "%s%d", "two words", " padded ", "naïve", "日本語", "emoji😀",
                             "a" * 65, "-lead", ".dot", "a/b", "$(id)", "`id`", "\\", "{}",
                             "<b>", "NULL", "' OR 1=1 --", "\t", "é" * 64])
CIDRS = st.sampled_from(["10.20.0.0/24", "10.21.0.0/16", "10.10.2.0/25", "10.10.0.0/16",
                         "8.21.28.0/24", "192.168.7.0/24", "fd00::/64", "10.0.0.1/24",
                         "10.0.0.0/33", "300.1.1.1/24", "10.0.0.0", "abc", "/24", "::/0",
                         "0.0.0.0/0", "10.30.0.0/30", "10.31.0.0/32"])
IPS = st.sampled_from(["10.10.2.50", "10.10.2.5", "10.20.0.9", "8.8.8.8", "not-an-ip", "::1"])
YES_NO = st.sampled_from(["y", "n", "Y", "N", "yes", "no", "YES", "maybe", ""])
CONTROL = st.sampled_from(["\x00", "\x01", "\x1b[A", "\x7f", "\x08", "\u2028", "\u2029",
                           "\r", "a\rb", "\x1b", "\ufffd", "\u200b", "\ud800"])
LONG = st.sampled_from([999, 1000, 1001, 5000, 20_000]).flatmap(
    lambda n: st.sampled_from(["x" * n, "1" * n, "é" * n, "a b;" * (n // 4)]))
GARBAGE = st.text(max_size=40)

LINE = st.one_of(
    WEIGHTED_NUMBERS, WEIGHTED_NUMBERS, WEIGHTED_NUMBERS, WEIGHTED_NUMBERS,
    GOOD_NAMES, GOOD_NAMES, ODD_NAMES, CIDRS, CIDRS, IPS, YES_NO, YES_NO, CONTROL, LONG,
    GARBAGE,
)


@st.composite
def streams(draw: Any) -> str:
    lines = draw(st.lists(LINE, max_size=40))
    text = "\n".join(lines)
    ending = draw(st.sampled_from(["\n", "", "\n8\n", "\n8\n", "\n\x04"]))
    return text + ending if lines else ending


# -- the world ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo store, built once and copied for every example."""
    home = tmp_path_factory.mktemp("demo")
    app = MiniCloud(Config(home=home, db_url=f"sqlite:///{home}/minicloud.db")).open()
    try:
        assert build_demo(app)
    finally:
        app.close()
    return home / "minicloud.db"


def stub_file(db_file: Path) -> Path:
    """The Stub clouds' default location beside the store."""
    return db_file.with_name(f"{db_file.stem}{LOCATION_SUFFIX}")


def read_tables(db_file: Path) -> dict[str, list[tuple[dict[str, Any], int]]]:
    """Every table of the store file and of the Stub clouds' location beside it, read with
    plain sqlite3 (a second, independent reader)."""
    tables: dict[str, list[tuple[dict[str, Any], int]]] = {}
    for path, wanted in ((db_file, TABLES.values()), (stub_file(db_file),
                                                      STUB_TABLES.values())):
        conn = sqlite3.connect(path)
        try:
            names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master "
                                                    "WHERE type = 'table'")}
            for name in wanted:
                tables[name] = [] if name not in names else [
                    (json.loads(data), version) for data, version in
                    conn.execute(f'SELECT data, version FROM "{name}"')]
        finally:
            conn.close()
    return tables


def dump(obj: Any, versions: bool = True) -> str:
    data = to_dict(obj)
    if not versions:
        data.pop("version", None)
    if "interface_network_ids" in data:
        data["interface_network_ids"] = sorted(data["interface_network_ids"])
    if data.get("status") == "BUILD":  # a Stub list shows BUILD as the ACTIVE it becomes
        data["status"] = "ACTIVE"
    return json.dumps(data, sort_keys=True)


COUNT_LINE = re.compile(r"\+---Network: (\S+)(?: @(\S+))? \[[^\]]*\] \((\d+) instances?\)$")


def check_store(db_file: Path, app: MiniCloud | None) -> None:
    """The store's invariants, read back from the file; the app's cache must equal it."""
    tables = read_tables(db_file)
    store: dict[str, list[Any]] = {}
    for kind, spec in KINDS.items():
        objs = []
        for data, version in tables[TABLES[kind]]:
            obj = from_dict(spec.cls, data)
            obj.version = version
            objs.append(obj)
        store[kind] = objs
    by_key = {kind: {o.key: o for o in objs} for kind, objs in store.items()}
    clouds = {c.name for c in store["cloud"]}
    for kind in ("cluster", "network", "router", "instance", "public_ip", "security_group"):
        for obj in store[kind]:
            assert obj.key[0] in clouds, f"{kind} {obj.name} of a cloud the store does not know"
    for inst in store["instance"]:
        for nic in inst.nics:
            assert (inst.cloud, nic.network_id) in by_key["network"], \
                f"instance {inst.name} is on a network the store does not have"
        if inst.cluster:
            assert (inst.cloud, inst.cluster) in by_key["cluster"], \
                f"instance {inst.name} is in a cluster the store does not have"
    for fip in store["public_ip"]:
        if fip.instance_id is not None:
            assert (fip.cloud, fip.instance_id) in by_key["instance"], \
                f"public IP {fip.name} belongs to an instance that does not exist"
        assert (fip.cloud, fip.network_id) in by_key["network"]
    for router in store["router"]:
        for net_id in [*router.interface_network_ids, router.gateway_network_id]:
            if net_id:
                assert (router.cloud, net_id) in by_key["network"], \
                    f"router {router.name} uses a network the store does not have"
    assert len({(i.cloud, i.name) for i in store["instance"]}) == len(store["instance"]), \
        "two instances of one cloud share a name"
    # The topology's instance counts are the store's.
    from minicloud.state.cache import Cache

    cache = Cache()
    for objs in store.values():
        for obj in objs:
            cache.put(obj)
    expected = Counter()
    for inst in store["instance"]:
        for net_id in {n.network_id for n in inst.nics}:
            net = by_key["network"][(inst.cloud, net_id)]
            expected[(net.name, net.cloud)] += 1
    several = len(clouds) > 1
    for line in render_text(cache.deployment()).splitlines():
        match = COUNT_LINE.search(line)
        if match:
            name, at, count = match.groups()
            nets = [n for n in store["network"] if n.name == name and (at is None or
                                                                         n.cloud == at)]
            assert len(nets) == 1 or several, line
            net = nets[0]
            assert int(count) == expected[(net.name, net.cloud)], line
    # The running app's cache is what a restart would load.
    if app is not None:
        for kind in KINDS:
            assert sorted(dump(o) for o in app.inventory.cache.all(kind)) == \
                sorted(dump(o) for o in store[kind]), f"cache and store differ on {kind}s"
    # The Stub clouds MiniCloud knows (the "cloud") agree with what it recorded; a cloud it
    # forgot keeps its resources.
    for kind in STUB_KINDS:
        cloud_side = sorted(dump(as_seen(kind, data), versions=False)
                            for data, _ in tables[STUB_TABLES[kind]] if data["cloud"] in clouds)
        store_side = sorted(dump(o, versions=False) for o in store[kind])
        assert cloud_side == store_side, f"cloud and store differ on {kind}s"


class World:
    """One example: a copy of the demo store and the app the menu opens on it."""

    def __init__(self, demo_db: Path) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="fuzz", dir=demo_db.parent))
        self.db = self.home / "minicloud.db"
        shutil.copyfile(demo_db, self.db)
        shutil.copyfile(stub_file(demo_db), stub_file(self.db))
        self.app: MiniCloud | None = None
        self.notices: list[str] = []

    def factory(self) -> MiniCloud:
        assert self.app is None, "the menu opened the app twice"
        self.app = MiniCloud(Config(home=self.home, db_url=f"sqlite:///{self.db}"),
                             notify=self.notices.append).open()
        return self.app

    def close(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)


def run_stream(demo_db: Path, text: str) -> None:
    world = World(demo_db)
    try:
        out = io.StringIO()
        code = run_menu(world.factory, Prompter(io.StringIO(text), out))
        shown = out.getvalue()
        assert code == 0, shown[-2000:]
        assert "Traceback" not in shown
        assert "Unexpected error" not in shown, _around(shown, "Unexpected error")
        # Every run ends at a menu, a prompt, or after Exit; never mid-line garbage.
        check_store(world.db, world.app)
    finally:
        world.close()


def _around(text: str, needle: str) -> str:
    at = text.find(needle)
    return text[max(0, at - 1500): at + 300]


@pytest.mark.heavy
@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=FULL,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture,
                                 HealthCheck.large_base_example])
@given(text=streams())
def test_random_input_never_crashes_nor_corrupts(demo_db: Path, text: str) -> None:
    run_stream(demo_db, text)


# -- a few fixed streams, so the interesting paths are taken every run -------------------------

SCRIPTS = {
    "create then remove an instance": "5\n3\n\nvm1\n1\n1\n1\n2\n1\n\n9\n4\ny\n10\n8\n",
    "connect Ben (public IP + public_ssh)": "5\n8\n1\n10\n8\n",
    "overlapping and bad CIDRs": "4\n3\nnet9\n10.10.2.0/25\n10.0.0.0/33\n10.77.0.0/24\n2\n9\n8\n",
    "remove a network in use, then detach": "4\n8\n2\ny\n5\n1\n1\n9\n8\n",
    "router with interfaces removed": "3\n3\n\nr2\n2\n4\n2\n1\n8\n2\ny\n9\n8\n",
    "release a public IP in use": "4\n7\n1\ny\n9\n8\n",
    "reset then destroy then use again": "6\ny\n7\ny\n1\n2\n3\nLab2\nopenstack\n\n\n\n\n11\n1\n8\n",
    "remove the cloud": "2\n5\n1\ny\n11\n1\n8\n",
    "add a second cloud with the same names": (
        "2\n3\nOther\nopenstack\n\n\n\n\n11\n4\n3\n1\nLondonNet\n10.10.2.0/24\n1\n9\n1\n8\n"),
    "openstack cloud with no server": "2\n3\nOS\nopenstack\n\nhttp://127.0.0.1:1/v3\np\nu\n\n\npw\n11\n8\n",
    "end of input everywhere": "5\n3\n\nvm1\n",
    "long and control lines": "x" * 20_000 + "\n\x00\n\x1b[A\n2\n3\n" + "n" * 5000 + "\n8\n",
}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_fixed_streams(demo_db: Path, name: str) -> None:
    run_stream(demo_db, SCRIPTS[name])
