"""Fault injection is the tests' business (DESIGN.md section 4c): the product reads no
fault-injection variable; tests/faults.py wraps a driver, tests/launch.py runs minicloud's
real ``main`` with a fault or a kill after the N-th commit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from minicloud.drivers.base import Driver
from minicloud.model.errors import DriverError
from tests.consistency import minicloud
from tests.faults import CALLS, Faults

PACKAGE = Path(__file__).resolve().parents[1] / "minicloud"
# Every variable MiniCloud reads, each documented in the README: none injects a fault.
READ = {"MINICLOUD_HOME", "MINICLOUD_CONFIG", "MINICLOUD_DB_URL", "MINICLOUD_DB_PASSWORD",
        "MINICLOUD_SSH"}


def test_the_product_reads_no_fault_injection_variable() -> None:
    named = set()
    for path in PACKAGE.rglob("*.py"):
        named |= set(re.findall(r"MINICLOUD_[A-Z_]+", path.read_text()))
    assert named == READ, named - READ


@pytest.fixture
def driver(app) -> Driver:
    app.clouds.add("Lab", "stub")
    return app.make_driver_for(app.clouds.get("Lab"))


def test_every_call_or_the_nth(driver: Driver) -> None:
    faults = Faults({"list_networks": None, "create_network": 2})
    faults.wrap(driver)
    for _ in range(2):
        with pytest.raises(DriverError, match="cloud Lab: list networks failed: injected fault"):
            driver.list_networks()
    driver.create_network("a", "10.1.0.0/24")
    with pytest.raises(DriverError, match="injected fault"):
        driver.create_network("b", "10.2.0.0/24")
    driver.create_network("c", "10.3.0.0/24")
    assert faults.calls["create_network"] == 3 and faults.calls["list_networks"] == 2
    faults.unwrap()
    assert sorted(n.name for n in driver.list_networks()) == ["a", "c", "public"]
    assert faults.calls["list_networks"] == 2  # unwrapped: no longer counted


def test_a_call_the_driver_makes_of_itself_is_counted_and_failed(driver: Driver) -> None:
    """The Stub's create_server reads the images: that call fails as one from outside."""
    net = driver.create_network("n", "10.1.0.0/24")
    faults = Faults({"list_images": 1})
    faults.wrap(driver)
    from minicloud.drivers.base import ServerSpec

    with pytest.raises(DriverError, match="list images failed: injected fault"):
        driver.create_server(ServerSpec("vm", "image-cirros", "flavor-m1.tiny", net.id))
    assert faults.calls == {"create_server": 1, "list_images": 1}
    assert driver.list_servers() == []  # the failed call changed nothing


@pytest.mark.parametrize("call", ["setup", "forget", "list_images", "list_flavors",
                                  "availability_zones"])
def test_every_driver_call_can_be_named(driver: Driver, call: str) -> None:
    faults = Faults({call: None})
    faults.wrap(driver)
    with pytest.raises(DriverError, match="injected fault"):
        getattr(driver, call)()
    faults.unwrap()
    getattr(driver, call)()


def test_the_calls_are_the_driver_interface() -> None:
    public = {name for name in vars(Driver) if not name.startswith("_")}
    assert CALLS <= public and {"create_server", "setup", "forget", "list_images"} <= CALLS
    assert not CALLS & {"close", "snapshot", "wait_server", "take_over", "check_complete"}


@pytest.mark.parametrize(("plan", "words"), [
    ("create_netwrok", "no driver call is named 'create_netwrok'"),
    ("create_network:0", "N in call:N must be a whole number from 1"),
    ("create_network:two", "N in call:N must be a whole number from 1"),
])
def test_a_bad_plan_is_refused(plan: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Faults.parse(plan)


def test_installed_on_one_app_only(app, reopen) -> None:
    app.clouds.add("Lab", "stub")
    other = reopen(app)
    with Faults({"list_networks": None}).installed(app):
        assert app.sync.refresh()  # failed: one line for Lab
        assert other.sync.refresh() == []
    assert app.sync.refresh() == []


@pytest.mark.parametrize(("options", "words"), [
    (["--fail", "create_sever"], "no driver call is named 'create_sever'"),
    (["--fail", "create_server:x"], "N in call:N must be a whole number from 1"),
    (["--kill-after", "soon"], "N must be a whole number from 1"),
    (["--kill-after", "3:NOPE"], "no signal is named 'NOPE'"),
])
def test_the_launcher_refuses_a_bad_option_in_one_line(tmp_path: Path, options: list[str],
                                                       words: str) -> None:
    import subprocess
    import sys

    from tests.consistency import REPO

    done = subprocess.run([sys.executable, "-m", "tests.launch", *options, "--", "topology"],
                          cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "MINICLOUD_HOME": str(tmp_path),
                               "HOME": str(tmp_path)})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("launch: ") and words in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_the_launcher_runs_minicloud_with_a_fault_and_a_kill(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/minicloud.db"
    home = tmp_path / "home"
    home.mkdir()
    assert minicloud(home, url, "clouds", "add", "Lab", "--type", "stub").returncode == 0
    failed = minicloud(home, url, "networks", "create", "n1", "--cloud", "Lab", "--cidr",
                       "10.1.0.0/24", fail="create_network:1")
    assert failed.returncode == 1
    assert failed.stderr == ("minicloud: cloud Lab: create network failed: injected fault\n")
    killed = minicloud(home, url, "networks", "create", "n1", "--cloud", "Lab", "--cidr",
                       "10.1.0.0/24", kill_after="1")
    assert killed.returncode == -9  # SIGKILL after its first commit
    listed = minicloud(home, url, "networks", "list", "--cloud", "Lab")
    assert listed.returncode == 0 and "n1" not in listed.stdout
