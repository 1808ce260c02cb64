"""Cost proportional to the work, counted (never timed): rows read from the store, driver
calls.  A one-shot write reads the rows it checks or changes, by key or index, whatever the
size of its cloud; a command on one cloud reads no other cloud's rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.config import Config
from minicloud.drivers.stub.driver import StubDriver
from minicloud.state import table as table_module
from tests.backends import backend_url, seeded_url
from tests.bulk import bulk_stub_cloud
from tests.consistency import open_app

Rows = Counter[tuple[str, str]]


@pytest.fixture
def rows_read(monkeypatch: pytest.MonkeyPatch) -> Rows:
    """Every row decoded from the store, by (table, cloud): every read passes there (the
    store's reads and the sqlite3 ones alike, through table.read_row)."""
    counted: Rows = Counter()
    original = table_module.decode

    def counting(table: str, key: str, text: str | None, skipped: Any = None) -> Any:
        counted[(table, key.split("/", 1)[0])] += 1
        return original(table, key, text, skipped)

    monkeypatch.setattr(table_module, "decode", counting)
    return counted


def _store(tmp_path: Path, db_url: str, big: int) -> Callable[[], MiniCloud]:
    """Cloud Big with ``big`` servers, ten a network, and cloud Small with 20; a new session
    each call."""
    app = open_app(tmp_path, db_url, notify=lambda line: None)
    bulk_stub_cloud(app, "Big", big, networks=max(1, big // 10), routers=2)
    bulk_stub_cloud(app, "Small", 20, networks=2, routers=1, net_base=100)
    app.close()
    # As a one-shot command has it: nothing read before the command runs.
    return lambda: MiniCloud(Config(home=tmp_path, db_url=db_url), notify=lambda line: None)


def _run(new_app: Callable[[], MiniCloud], *argv: str) -> None:
    app = new_app()
    try:
        assert run_command(app, list(argv)) == 0, argv
    finally:
        app.close()


WRITES = [
    ("instances", "create", "Fresh", "--cloud", "Big", "--image", "cirros", "--flavor",
     "m1.tiny", "--network", "net000", "--fixed-ip", "10.0.0.200"),
    ("instances", "reboot", "vm00001", "--cloud", "Big"),
    ("instances", "stop", "vm00002", "--cloud", "Big"),
]
NEW_NETWORK = ("networks", "create", "Extra", "--cloud", "Big", "--cidr", "10.200.0.0/24")


@pytest.mark.parametrize("argv", WRITES, ids=lambda a: " ".join(a[:2]))
def test_a_write_reads_the_same_rows_in_a_small_and_a_large_cloud(
        argv: tuple[str, ...], tmp_path: Path, db_url: str, rows_read: Rows) -> None:
    read: list[dict[str, int]] = []
    for size in (10, 400):
        home = tmp_path / f"s{size}"
        home.mkdir()
        # A store of each size (on MySQL, the test database emptied for each).
        url = backend_url("sqlite" if db_url.startswith("sqlite") else "mysql", home)
        new_app = _store(home, url, size)
        rows_read.clear()
        _run(new_app, *argv)
        read.append({f"{t}/{c}": n for (t, c), n in rows_read.items()})
        # By key and by index: a server or two, and (for an address) those on its network.
        instances = sum(n for k, n in read[-1].items() if "instances/" in k)
        assert instances <= 15, read[-1]
        # Of another cloud, its own row only (every command reads the clouds).
        assert [k for k in read[-1] if k.endswith("/Small")] == ["clouds/Small"], read[-1]
    assert read[0] == read[1]  # flat: nothing grows with the cloud


def test_a_write_syncs_nothing_and_reads_from_its_cloud_only_what_it_depends_on(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    new_app = _store(tmp_path, db_url, 30)
    calls: Counter[str] = Counter()
    for name in ("snapshot", "list_servers", "list_networks", "list_routers",
                 "list_public_ips", "list_security_groups"):
        original = getattr(StubDriver, name)

        def counted(self: Any, *a: Any, __n: str = name, __o: Any = original, **k: Any) -> Any:
            calls[__n] += 1
            return __o(self, *a, **k)

        monkeypatch.setattr(StubDriver, name, counted)
    for argv in [*WRITES, NEW_NETWORK]:
        _run(new_app, *argv)
    assert sum(calls.values()) == 0, calls


def test_a_new_network_reads_its_clouds_networks_and_no_server(tmp_path: Path, db_url: str,
                                                                rows_read: Rows) -> None:
    new_app = _store(tmp_path, db_url, 200)
    rows_read.clear()
    _run(new_app, *NEW_NETWORK)  # a CIDR overlaps no index: the cloud's networks are read
    assert not any("instances" in table for table, _ in rows_read), rows_read
    assert not any(cloud == "Small" for table, cloud in rows_read if table != "clouds")


@pytest.mark.parametrize("argv", [
    ("instances", "list", "--cloud", "Small"),
    ("networks", "list", "--cloud", "Small"),
    ("routers", "list", "--cloud", "Small"),
    ("public-ips", "list", "--cloud", "Small"),
    ("clusters", "list", "--cloud", "Small"),
    ("instances", "show", "vm00003", "--cloud", "Small"),
], ids=lambda a: " ".join(a[:2]))
def test_a_command_on_one_cloud_reads_no_other_clouds_rows(
        argv: tuple[str, ...], tmp_path: Path, db_url: str, rows_read: Rows) -> None:
    new_app = _store(tmp_path, db_url, 60)
    rows_read.clear()
    _run(new_app, *argv)
    other = {k: n for k, n in rows_read.items() if k[1] == "Big" and k[0] != "clouds"}
    assert other == {}, other
    assert sum(n for k, n in rows_read.items() if k[1] == "Small") > 0


def test_the_topology_reads_every_table_once(tmp_path: Path, db_url: str,
                                             rows_read: Rows) -> None:
    new_app = _store(tmp_path, db_url, 60)
    rows_read.clear()
    _run(new_app, "topology")
    assert rows_read[("instances", "Big")] == 60 and rows_read[("instances", "Small")] == 20


def test_an_openstack_write_makes_its_own_requests_and_no_sync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from minicloud.state.store import Store
    from tests.drivers.fake_openstack import CLOUD_SETTINGS, PASSWORD, fake_openstack_driver

    url = seeded_url(tmp_path / "mc.db")
    with fake_openstack_driver(Store(seeded_url(tmp_path / "fake.db")).open()) as (_, fake):
        first = MiniCloud(Config(home=tmp_path, db_url=url))
        first.clouds.add("os1", "openstack", "", dict(CLOUD_SETTINGS), PASSWORD)
        first.close()
        monkeypatch.setenv("OS_PASSWORD", PASSWORD)
        fake.reset_count()
        command = MiniCloud(Config(home=tmp_path, db_url=url))
        try:
            assert run_command(command, ["networks", "create", "n1", "--cloud", "os1",
                                         "--cidr", "10.1.0.0/24"]) == 0
        finally:
            command.close()
        lists = [c for c in fake.calls if c.method == "GET" and not c.path.rstrip("/")
                 .endswith(("/v3", "/v2.0", "/v2.1", "/v2", ""))]
        assert [c.path for c in lists] == [], lists  # no list of servers, ports, networks...
        made = [(c.method, c.path) for c in fake.calls if c.method == "POST"]
        assert ("POST", "/v2.0/networks") in made and ("POST", "/v2.0/subnets") in made, made
        assert len(fake.calls) <= 10, [(c.method, c.path) for c in fake.calls]


def test_drift_on_openstack_costs_the_requests_of_one_sync(tmp_path: Path) -> None:
    from minicloud.state.store import Store
    from tests.drivers.fake_openstack import CLOUD_SETTINGS, PASSWORD, fake_openstack_driver

    url = seeded_url(tmp_path / "mc.db")
    with fake_openstack_driver(Store(seeded_url(tmp_path / "fake.db")).open()) as (_, fake):
        first = MiniCloud(Config(home=tmp_path, db_url=url))
        first.clouds.add("os1", "openstack", "", dict(CLOUD_SETTINGS), PASSWORD)
        first.close()

        def requests(*argv: str) -> list[tuple[str, str]]:
            fake.reset_count()
            app = MiniCloud(Config(home=tmp_path, db_url=url))
            try:
                app.clouds.keep_secret("os1", PASSWORD)
                assert run_command(app, list(argv)) in (0, 3)
            finally:
                app.close()
            return sorted((c.method, c.path) for c in fake.calls)

        drift = requests("drift")
        assert any(path.endswith("/servers/detail") for _, path in drift), drift  # it read
        assert drift == requests("refresh")
