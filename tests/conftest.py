"""Shared fixtures: a store per backend, an opened MiniCloud, the demo, restarts, snapshots.

Every test that takes ``db_url`` (directly or through ``app``) runs once per backend; the ids
name the backend (``[sqlite]``, ``[mysql]``).  The MySQL cases need ``MINICLOUD_TEST_MYSQL_URL``
(e.g. ``mysql+pymysql://root@localhost/minicloud_test?unix_socket=/run/mysqld.sock&charset=utf8mb4``)
and start from an empty database: every table is dropped first (tests/backends.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from minicloud.app import MiniCloud
from minicloud.drivers import DRIVERS
from minicloud.managers.demo import build_demo
from minicloud.model.codec import to_dict
from minicloud.model.kinds import KINDS
from tests.backends import BACKENDS, backend_url, seed_demo_sqlite
from tests.consistency import open_app

# What a warning about an unknown minicloud.ini section lists: the two general sections, then
# a [<type>] section (its timeout) for each registered cloud type.
KNOWN_SECTIONS = ", ".join(["[database]", "[ssh]", *(f"[{name}]" for name in DRIVERS)])


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request.param, tmp_path)


# The real OpenStack of the functional tests (CI exports these) must not leak into the other
# tests: a clouds.yaml entry would change what the menu asks when an OpenStack cloud is added.
OUTSIDE_CLOUD_VARIABLES = ("OS_CLIENT_CONFIG_FILE", "OS_CLOUD", "OS_PASSWORD", "OS_AUTH_URL",
                           "OS_USERNAME", "OS_PROJECT_NAME", "MINICLOUD_TEST_OS_CLOUD")


@pytest.fixture(autouse=True)
def _no_outside_cloud(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("functional") is None:
        for name in OUTSIDE_CLOUD_VARIABLES:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def notices() -> list[str]:
    """The one-line notices the app gave (dropped objects, unreachable clouds...)."""
    return []


@pytest.fixture
def app(tmp_path: Path, db_url: str, notices: list[str]) -> Iterator[MiniCloud]:
    application = open_app(tmp_path, db_url, notices.append)
    yield application
    application.close()


@pytest.fixture
def demo_app(tmp_path: Path, db_url: str, notices: list[str]) -> Iterator[MiniCloud]:
    """The app on a store holding the README's demo (a copy of one built once, on SQLite)."""
    if db_url.startswith("sqlite"):
        seed_demo_sqlite(tmp_path / "minicloud.db")
    application = open_app(tmp_path, db_url, notices.append)
    if not db_url.startswith("sqlite"):
        assert build_demo(application) is True
    yield application
    application.close()


def reopen_app(app: MiniCloud, notify: Callable[[str], None] | None = None) -> MiniCloud:
    """A restart: a new MiniCloud on the same store URL (the caller closes it)."""
    return open_app(app.config.home, app.config.db_url, notify)


@pytest.fixture
def reopen() -> Iterator[Callable[..., MiniCloud]]:
    """``reopen(app)``: a new MiniCloud on the same URL, closed at the end of the test."""
    opened: list[MiniCloud] = []

    def _reopen(app: MiniCloud, notify: Callable[[str], None] | None = None) -> MiniCloud:
        other = reopen_app(app, notify)
        opened.append(other)
        return other

    yield _reopen
    for other in opened:
        other.close()


# -- snapshots for rollback assertions ---------------------------------------------------------

def _dump(obj: Any, versions: bool, sort_interfaces: bool = False) -> str:
    data = to_dict(obj)
    data.pop("synced_at", None)  # when a cloud was last read is no part of its state
    if not versions:
        data.pop("version", None)
    if sort_interfaces and "interface_network_ids" in data:
        data["interface_network_ids"] = sorted(data["interface_network_ids"])
    return json.dumps(data, sort_keys=True)


def _cache_picture(cache: Any, versions: bool) -> dict[str, list[str]]:
    return {kind: sorted(_dump(o, versions) for o in cache.all(kind)) for kind in KINDS}


def cloud_picture(app: MiniCloud, clouds: list[Any] | None = None) -> dict[str, dict]:
    """What each cloud holds, read through a FRESH driver (its own connection, not the
    app's)."""
    if clouds is None:
        clouds = app.inventory.cache.all("cloud")
    picture: dict[str, dict] = {}
    for cloud in clouds:
        driver = app.make_driver_for(cloud)
        try:
            snap = driver.snapshot()
        finally:
            driver.close()
        picture[cloud.name] = {
            kind: sorted(_dump(o, False, sort_interfaces=True) for o in getattr(snap, kind))
            for kind in ("networks", "routers", "instances", "public_ips", "security_groups",
                         "keypairs")
        }
    return picture


def snapshot_state(app: MiniCloud, versions: bool = True) -> dict[str, Any]:
    """A comparable picture of cloud, store and cache.

    ``cloud``: every cloud the store knows, listed through a fresh driver; ``store``: what a
    restarted MiniCloud loads; ``cache``: the running app's cache.  With ``versions`` the row
    versions count too (a rolled-back operation must not even bump them).  A router's
    interface list is compared as a set in the cloud part (undo re-attaches in reverse order).
    """
    other = reopen_app(app)  # a pool of its own: no driver of the app's, nor its faults
    try:
        store = _cache_picture(other.inventory.cache, versions)
        clouds = list(other.inventory.cache.all("cloud"))
        cloud = cloud_picture(other, clouds)
    finally:
        other.close()
    return {"cloud": cloud, "store": store,
            "cache": _cache_picture(app.inventory.cache, versions)}


@pytest.fixture(name="snapshot_state")
def snapshot_state_fixture() -> Callable[..., dict[str, Any]]:
    """The :func:`snapshot_state` helper, for test modules (conftest is not imported)."""
    return snapshot_state


# -- clouds for the manager tests --------------------------------------------------------------

CLOUD = "Lab"


def fresh_driver(app: MiniCloud, cloud_name: str = CLOUD) -> Any:
    """A new driver on the cloud, sharing nothing with the app's own (another process's view)."""
    return app.make_driver_for(app.clouds.get(cloud_name))


@pytest.fixture(name="fresh_driver")
def fresh_driver_fixture() -> Callable[..., Any]:
    return fresh_driver


@pytest.fixture
def cloud_app(app: MiniCloud) -> MiniCloud:
    """The app with one Stub cloud ``Lab`` (external network ``public`` 203.0.113.0/24)."""
    app.clouds.add(CLOUD, "stub", "the lab")
    return app


# -- start-up of the processes the tests run -------------------------------------------------------

def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the package's bytecode once, before any worker starts: the end-to-end tests run
    ``python -m minicloud`` hundreds of times, and where PYTHONDONTWRITEBYTECODE is set (as on
    these machines) each would compile every module it imports from source again (about a
    third of a small command's start-up).  compileall writes the files whatever that variable
    says; they are the ones `pip install` of the package would write, and are git-ignored."""
    if hasattr(session.config, "workerinput"):
        return  # a pytest-xdist worker: the controller did it
    import compileall

    compileall.compile_dir(Path(__file__).resolve().parents[1] / "minicloud", quiet=1)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from tests.scheduling import make_scheduler

    return make_scheduler(config, log)


# -- volume --------------------------------------------------------------------------------------

def pytest_report_header(config: pytest.Config) -> str:
    from tests.volume import ENV, VOLUME

    hint = "" if VOLUME == "full" else f" ({ENV}=full for the CI volume)"
    return f"{ENV}={VOLUME}: tests marked heavy run at {VOLUME} volume{hint}"
