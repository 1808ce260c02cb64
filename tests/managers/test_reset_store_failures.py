"""A Reset whose last store commits fail (issue 23, failure 10b): the cloud calls are done and
cannot be taken back, so the store must come to agree with the cloud: the session that
failed writes its settle at its next read or write, and a session that comes after it settles
the reset's pending intent from the cloud at its next write or refresh.  Never a tree that
lists what the cloud no longer has.

Failed commits are simulated on MiniCloud's store alone, as tests/state/test_store_failures.py
does: a full file system refuses the commit, which rolls back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.state import cache as cache_module
from tests.conftest import reopen_app
from tests.consistency import as_if_killed, picture, seed_foreign

DEMO = "TryStack"
# The README's demo as a first start shows it once Reset has removed what MiniCloud made.
EMPTY_DEMO = [
    "      MiniCloud",
    "      |",
    "      +---Compute",
    "      |   |",
    "      |   +---Cloud: TryStack (trystack.org)",
    "      |       |",
    "      |       +---Cluster: Antwerp",
    "      |       +---Cluster: London",
    "      |",
    "      +---Networking",
    "          |",
    "          +---Network: external (external) [trystack]",
]


class FullDisk:
    """MiniCloud's store (not the clouds') refuses to commit writes, as a full file system
    does, once ``fill`` is called: ``refusing`` commits (None: every one until ``room``)."""

    def __init__(self, app: MiniCloud, monkeypatch: pytest.MonkeyPatch) -> None:
        self.refusing: int | None = 0
        store = app.session.store
        real = store.transaction

        @contextmanager
        def transaction(write: bool = False, locks: tuple[str, ...] = ()) -> Iterator[Any]:
            with real(write, locks) as conn:
                yield conn
                if (write or locks) and self._refuses():
                    raise sqlalchemy.exc.OperationalError(
                        "COMMIT", {}, Exception("database or disk is full"))

        monkeypatch.setattr(store, "transaction", transaction)

    def _refuses(self) -> bool:
        if self.refusing is None:
            return True
        self.refusing, refused = max(0, self.refusing - 1), self.refusing > 0
        return refused

    def room(self) -> None:
        self.refusing = 0

    def at_the_reset_settle(self, app: MiniCloud, monkeypatch: pytest.MonkeyPatch, cloud: str,
                            commits: int | None = None) -> None:
        """The disk fills as the reset of ``cloud`` lists its key pairs, its last cloud call
        before it writes what it did (power aside, which is not MiniCloud's store): its last
        store commit is refused, and ``commits - 1`` more (None: every one)."""
        driver = app.session.drivers.get(app.clouds.get(cloud))
        real = driver.list_keypairs

        def list_keypairs() -> Any:
            pairs = real()
            self.refusing = commits
            return pairs

        monkeypatch.setattr(driver, "list_keypairs", list_keypairs)


def _store_agrees(app: MiniCloud, cloud: str) -> None:
    """A new session reads from the store what the cloud has, and nothing is pending."""
    other = reopen_app(app)
    try:
        shown = picture(other, cloud)
        stored = {(i.name, i.status) for i in other.instances.all(cloud)}
        assert stored == {(name, status) for name, status, *_ in shown["instances"]}
        assert sorted(n.name for n in other.networks.all(cloud)) == \
            sorted(name for name, *_ in shown["networks"])
        assert sorted(r.name for r in other.routers.all(cloud)) == \
            sorted(name for name, *_ in shown["routers"])
        assert sorted(f.name for f in other.public_ips.public_ips(cloud)) == \
            sorted(name for name, _ in shown["public_ips"])
        assert other.inventory.cache.all("intent") == []
    finally:
        other.close()


def test_a_reset_whose_settle_fails_once_is_recorded_before_it_ends(
        demo_app: MiniCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    disk = FullDisk(demo_app, monkeypatch)
    disk.at_the_reset_settle(demo_app, monkeypatch, DEMO, commits=1)
    report = demo_app.resetter.reset()
    assert report.failures == []  # the next write of the same reset recorded it
    assert demo_app.topology.tree() == EMPTY_DEMO
    _store_agrees(demo_app, DEMO)


def test_a_reset_the_store_cannot_record_is_recorded_at_the_next_read(
        demo_app: MiniCloud, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # A human's next screen comes later than the moment reads wait before trying again.
    monkeypatch.setattr(cache_module, "RETRY_SECONDS", 0.0, raising=False)
    disk = FullDisk(demo_app, monkeypatch)
    disk.at_the_reset_settle(demo_app, monkeypatch, DEMO)
    assert run_command(demo_app, ["reset", "--yes"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("minicloud")]
    disk.room()  # on the disk again
    assert demo_app.topology.tree() == EMPTY_DEMO  # not the 8 objects the cloud no longer has
    assert len(err) == 1 and "could not record" in err[0] and "disk is full" in err[0], err
    _store_agrees(demo_app, DEMO)


def test_a_reset_left_unrecorded_by_a_session_that_ended_is_settled_by_the_next_refresh(
        cloud_app: MiniCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """Other people's resources too: the change records the reset undid go, as the cloud
    shows them undone, when the next session settles the reset's pending intent."""
    seed_foreign(cloud_app, "Lab")
    before = picture(cloud_app, "Lab")
    legacy = cloud_app.instances.find("instance", "legacy", "Lab")
    cloud_app.access.connect(legacy)
    cloud_app.instances.stop(cloud_app.instances.find("instance", "legacy", "Lab"))
    assert len(cloud_app.inventory.cache.all("change")) == 3
    disk = FullDisk(cloud_app, monkeypatch)
    disk.at_the_reset_settle(cloud_app, monkeypatch, "Lab")
    assert cloud_app.resetter.reset().failures != []
    assert picture(cloud_app, "Lab") == before  # the cloud is reset
    monkeypatch.undo()
    as_if_killed(cloud_app)  # the session ends before it writes again
    cloud_app.close()
    other = reopen_app(cloud_app)
    try:
        assert len(other.inventory.cache.all("intent")) == 1  # the reset, pending
        assert other.sync.refresh() == []
        assert other.inventory.cache.all("change") == []
        assert other.inventory.cache.all("intent") == []
        assert other.resetter.reset().failures == []
        assert picture(other, "Lab") == before
    finally:
        other.close()
    _store_agrees(cloud_app, "Lab")
