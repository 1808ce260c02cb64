"""The paths beside object writes go through the one unit of work too (issue 23, failures 1,
2, 3 and 8), played in one process, step by step: two sessions on one store, the second one
acting at the exact moment that used to break (inside the first one's listing, between its
questions and its write).  tests/state/test_write_races.py plays the same as two processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from minicloud.cli.commands import run_command
from minicloud.drivers.stub.driver import StubDriver
from minicloud.model.errors import InUseError, MiniCloudError, NotFoundError
from minicloud.model.kinds import KINDS
from tests.consistency import as_if_killed, picture

CLOUD = "Lab"
GONE = f"cloud {CLOUD} was removed by another session; nothing was changed"


@pytest.fixture
def during_listing(monkeypatch: pytest.MonkeyPatch
                   ) -> Iterator[Callable[[Callable[[], Any]], None]]:
    """``during_listing(act)``: the next listing of a Stub cloud is taken, then ``act`` runs
    (another session's write), then the listing is returned: what the lister writes is older
    than what ``act`` settled."""
    real = StubDriver.snapshot
    acts: list[Callable[[], Any]] = []

    def listing(self: StubDriver) -> Any:
        snap = real(self)
        if acts:
            acts.pop(0)()
        return snap

    monkeypatch.setattr(StubDriver, "snapshot", listing)
    yield acts.append
    assert acts == [], "the listing never ran"


def _rows_of(app: Any, cloud: str) -> dict[str, int]:
    """How many rows each table of the store holds for ``cloud`` (read from the store)."""
    store = app.store
    counts = {kind: len(store.kind(kind).rows(cloud)) for kind in KINDS}
    return {kind: n for kind, n in counts.items() if n}


def _agree(app: Any, reopen: Any) -> None:
    """A refresh in a new session changes nothing more, and store and cloud tell one story."""
    fresh = reopen(app)
    assert fresh.sync.refresh() == []
    for cloud in fresh.clouds.all():
        seen = picture(fresh, cloud.name)
        assert sorted(n.name for n in fresh.networks.all(cloud.name)) == \
            sorted(entry[0] for entry in seen["networks"])
        assert sorted(r.name for r in fresh.routers.all(cloud.name)) == \
            sorted(entry[0] for entry in seen["routers"])
        assert sorted(i.name for i in fresh.instances.all(cloud.name)) == \
            sorted(entry[0] for entry in seen["instances"])
        assert fresh.inventory.cache.all("intent", cloud.name) == []


# -- failure 1: a refresh racing a create ------------------------------------------------------

def test_a_network_created_while_a_refresh_lists_is_kept(cloud_app: Any, reopen: Any,
                                                         during_listing: Any,
                                                         notices: list[str]) -> None:
    other = reopen(cloud_app)
    during_listing(lambda: other.networks.create(CLOUD, "rf", "10.9.0.0/24"))
    assert cloud_app.sync.refresh() == []
    assert "rf" in {n.name for n in reopen(cloud_app).networks.all(CLOUD)}
    assert not any("dropped" in line for line in notices), notices
    _agree(cloud_app, reopen)


def test_an_attach_settled_while_a_refresh_lists_is_not_overwritten(
        cloud_app: Any, reopen: Any, during_listing: Any) -> None:
    cloud_app.routers.create(CLOUD, "r1")
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    other = reopen(cloud_app)
    during_listing(lambda: other.networks.attach(other.networks.find("network", "n1", CLOUD),
                                                 other.routers.find("router", "r1", CLOUD)))
    assert cloud_app.sync.refresh() == []
    again = reopen(cloud_app)
    r1 = again.routers.find("router", "r1", CLOUD)
    assert [again.networks.name_of(CLOUD, i) for i in r1.interface_network_ids] == ["n1"]
    _agree(cloud_app, reopen)


def test_a_network_removed_while_a_refresh_lists_is_not_brought_back(
        cloud_app: Any, reopen: Any, during_listing: Any) -> None:
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    other = reopen(cloud_app)
    during_listing(lambda: other.networks.remove(other.networks.find("network", "n1", CLOUD)))
    assert cloud_app.sync.refresh() == []
    assert "n1" not in {n.name for n in reopen(cloud_app).networks.all(CLOUD)}
    _agree(cloud_app, reopen)


def test_what_settled_meanwhile_is_read_again_at_the_next_sync(
        cloud_app: Any, reopen: Any, during_listing: Any) -> None:
    other = reopen(cloud_app)
    during_listing(lambda: other.networks.create(CLOUD, "rf", "10.9.0.0/24"))
    cloud_app.sync.refresh()
    driver = cloud_app.make_driver_for(cloud_app.clouds.get(CLOUD))
    rf = next(n for n in driver.list_networks() if n.name == "rf")
    driver.delete_network(rf.id)  # gone behind MiniCloud's back after all
    driver.close()
    assert cloud_app.sync.refresh() == []
    assert "rf" not in {n.name for n in reopen(cloud_app).networks.all(CLOUD)}


# -- failure 2: a cloud removed while another session writes into it ---------------------------

def test_a_refresh_never_writes_into_a_cloud_removed_while_it_listed(
        cloud_app: Any, reopen: Any, during_listing: Any, notices: list[str]) -> None:
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    other = reopen(cloud_app)
    during_listing(lambda: other.clouds.remove(CLOUD))
    cloud_app.sync.refresh()
    assert any(GONE in line for line in notices), notices
    assert _rows_of(cloud_app, CLOUD) == {}
    assert reopen(cloud_app).clouds.all() == []
    _a_whole_cloud_when_added_again(reopen(cloud_app))


def _a_whole_cloud_when_added_again(app: Any) -> None:
    app.clouds.add(CLOUD, "stub")
    shown = picture(app, CLOUD)
    assert ("public", True, ("203.0.113.0/24",)) in shown["networks"]
    assert ("default", 0) in shown["security_groups"]
    app.networks.create(CLOUD, "again", "10.50.0.0/24")
    app.instances.create(CLOUD, "vm", "cirros", "m1.tiny", "again")  # its default group is there


def test_a_remove_waits_for_a_write_in_progress_then_refuses(
        cloud_app: Any, reopen: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    other = reopen(cloud_app)
    monkeypatch.setattr("minicloud.state.unit_of_work.REMOVE_WAIT_SECONDS", 0.3)
    real = StubDriver.create_network
    said: list[str] = []

    def create_then_remove(self: StubDriver, *args: Any, **kwargs: Any) -> Any:
        made = real(self, *args, **kwargs)
        with pytest.raises(InUseError) as refused:
            other.clouds.remove(CLOUD)  # the create's intent is live: wait, then refuse
        said.append(str(refused.value))
        return made

    monkeypatch.setattr(StubDriver, "create_network", create_then_remove)
    cloud_app.networks.create(CLOUD, "en2", "10.2.0.0/24")
    monkeypatch.undo()
    assert said == [f"cloud {CLOUD} has writes in progress by another session (create network "
                    "en2); nothing was changed: try again when they are done"]
    assert "en2" in {n.name for n in reopen(cloud_app).networks.all(CLOUD)}
    other.clouds.remove(CLOUD)  # done: now it goes
    assert _rows_of(cloud_app, CLOUD) == {}
    _a_whole_cloud_when_added_again(reopen(cloud_app))


def test_a_write_is_refused_while_its_cloud_is_being_removed(
        cloud_app: Any, reopen: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    other = reopen(cloud_app)
    real = StubDriver.forget
    said: list[str] = []

    def forget_while_another_writes(self: StubDriver) -> None:
        with pytest.raises(MiniCloudError) as refused:
            other.networks.create(CLOUD, "en2", "10.2.0.0/24")
        said.append(str(refused.value))
        real(self)

    monkeypatch.setattr(StubDriver, "forget", forget_while_another_writes)
    cloud_app.clouds.remove(CLOUD)
    monkeypatch.undo()
    assert said == [f"cloud {CLOUD} is being removed by another session; nothing was changed"]
    assert _rows_of(cloud_app, CLOUD) == {}
    _a_whole_cloud_when_added_again(reopen(cloud_app))


def test_a_session_refuses_to_write_into_a_cloud_added_again_since_it_read_it(
        cloud_app: Any, reopen: Any) -> None:
    other = reopen(cloud_app)
    stale = other.clouds.get(CLOUD)  # this session read the first Lab
    cloud_app.clouds.remove(CLOUD)
    cloud_app.clouds.add(CLOUD, "stub")
    with pytest.raises(NotFoundError, match=GONE):
        other.networks.create(stale.name, "n9", "10.9.0.0/24")
    assert "n9" not in {n.name for n in reopen(cloud_app).networks.all(CLOUD)}
    other.networks.create(CLOUD, "n9", "10.9.0.0/24")  # it read the new one: it goes on
    assert "n9" in {n.name for n in reopen(cloud_app).networks.all(CLOUD)}


def test_a_menu_creating_a_network_in_a_cloud_removed_meanwhile_writes_nothing(
        cloud_app: Any, reopen: Any) -> None:
    menu = reopen(cloud_app)
    menu.open()  # the menu's start: every row read; then its questions are answered
    cloud_app.clouds.remove(CLOUD)
    with pytest.raises(NotFoundError, match=GONE):
        menu.sync.use(CLOUD)  # the menu's first use of the cloud, after the questions
    with pytest.raises(NotFoundError):
        menu.networks.create(CLOUD, "en2", "10.2.0.0/24")
    assert _rows_of(cloud_app, CLOUD) == {}
    _a_whole_cloud_when_added_again(reopen(cloud_app))


# -- failure 3: Destroy while a menu is mid-way through a create --------------------------------

def test_a_first_use_sync_after_a_destroy_resurrects_nothing(demo_app: Any,
                                                            reopen: Any) -> None:
    menu = reopen(demo_app)
    menu.open()  # the menu's start: every row read
    assert demo_app.resetter.destroy().failures == []
    with pytest.raises(NotFoundError, match="cloud TryStack was removed by another session"):
        menu.sync.use("TryStack")  # the menu's first use of the cloud, after the questions
    with pytest.raises(NotFoundError):
        menu.networks.create("TryStack", "late", "10.99.0.0/24")
    after = reopen(demo_app)
    assert after.clouds.all() == []
    assert all(after.inventory.cache.all(kind) == [] for kind in KINDS)


def test_destroy_waits_for_a_write_in_progress_then_refuses(
        cloud_app: Any, reopen: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    other = reopen(cloud_app)
    monkeypatch.setattr("minicloud.state.unit_of_work.REMOVE_WAIT_SECONDS", 0.3)
    real = StubDriver.create_network
    said: list[str] = []

    def create_then_destroy(self: StubDriver, *args: Any, **kwargs: Any) -> Any:
        made = real(self, *args, **kwargs)
        with pytest.raises(InUseError) as refused:
            other.resetter.destroy()
        said.append(str(refused.value))
        return made

    monkeypatch.setattr(StubDriver, "create_network", create_then_destroy)
    cloud_app.networks.create(CLOUD, "en2", "10.2.0.0/24")
    monkeypatch.undo()
    assert said == [f"other sessions have writes in progress (create network en2 in cloud "
                    f"{CLOUD}); nothing was changed: try again when they are done"]
    assert "en2" in {n.name for n in reopen(cloud_app).networks.all(CLOUD)}


def test_writes_are_refused_while_a_destroy_runs(cloud_app: Any, reopen: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    other = reopen(cloud_app)
    real = StubDriver.forget
    said: list[str] = []

    def forget_while_another_writes(self: StubDriver) -> None:
        with pytest.raises(InUseError) as refused:
            other.networks.create(CLOUD, "late", "10.3.0.0/24")
        said.append(str(refused.value))
        real(self)

    monkeypatch.setattr(StubDriver, "forget", forget_while_another_writes)
    assert cloud_app.resetter.destroy().failures == []
    monkeypatch.undo()
    assert said == ["all data is being destroyed by another session; nothing was changed"]
    after = reopen(cloud_app)
    assert after.clouds.all() == []
    assert all(after.inventory.cache.all(kind) == [] for kind in KINDS)


# -- failure 8: a killed clouds add ---------------------------------------------------------------

def _killed_add(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``clouds add Edge`` dies (as a kill does) after its cloud was set up and before its
    store write: nothing of MiniCloud's runs after the cloud call."""

    def die(self: StubDriver) -> Any:
        raise SystemExit("killed")

    monkeypatch.setattr(StubDriver, "snapshot", die)
    monkeypatch.setattr(StubDriver, "forget", lambda self: None)  # no clean-up runs on a kill
    with pytest.raises(SystemExit):
        app.clouds.add("Edge", "stub")
    monkeypatch.undo()
    as_if_killed(app)


@pytest.mark.parametrize("repair", ["start", "refresh", "reset", "add"])
def test_a_killed_clouds_add_is_repaired(app: Any, reopen: Any, monkeypatch: pytest.MonkeyPatch,
                                         repair: str) -> None:
    app.clouds.add(CLOUD, "stub")
    _killed_add(app, monkeypatch)
    said: list[str] = []
    later = reopen(app, said.append)
    if repair == "start":  # the menu's start
        said += later.sync.finish_interrupted()
        later.sync.settle_interrupted()
    elif repair == "refresh":
        assert run_command(later, ["refresh"]) == 0
    elif repair == "reset":
        assert run_command(later, ["reset", "--yes"]) == 0
    else:
        assert run_command(later, ["clouds", "add", "Other", "--type", "stub"]) == 0
    assert said == ["cloud Edge: an interrupted add was undone"], said
    again = reopen(app)
    assert [i.name for i in again.inventory.cache.all("intent")] == []
    assert [c.name for c in again.clouds.all()] == sorted([CLOUD] + (["Other"] if repair ==
                                                                      "add" else []))
    again.clouds.add("Edge", "stub")
    shown = picture(again, "Edge")
    assert ("public", True, ("203.0.113.0/24",)) in shown["networks"]
    assert ("default", 0) in shown["security_groups"]


# -- nothing calls back up ------------------------------------------------------------------------

def test_the_unit_of_work_is_handed_its_settler_when_it_is_built(app: Any) -> None:
    work = app.session.work
    assert work.settler is not None  # given to its constructor by the composition root
    assert not hasattr(work, "reconcile")


def test_two_adds_of_one_cloud_name_in_two_cases_at_once_make_one_cloud(
        app: Any, reopen: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``clouds add Edge`` and ``clouds add edge`` at once: the second is refused under the
    store's lock while the first is still mid-way (its intent recorded, its cloud not yet
    written), not only by the session's copy."""
    other = reopen(app)
    real = StubDriver.snapshot
    said: list[str] = []

    def snapshot_while_another_adds(self: StubDriver) -> Any:
        with pytest.raises(MiniCloudError) as refused:
            other.clouds.add("edge", "stub")
        said.append(str(refused.value))
        return real(self)

    monkeypatch.setattr(StubDriver, "snapshot", snapshot_while_another_adds)
    app.clouds.add("Edge", "stub")
    monkeypatch.undo()
    assert said == ["a cloud named 'edge' is being created by another session; try again in a "
                    "moment"]
    with pytest.raises(MiniCloudError, match="'EDGE' is cloud Edge's: cloud names differ by "
                                             "more than case"):
        reopen(app).clouds.add("EDGE", "stub")
    assert [c.name for c in reopen(app).clouds.all()] == ["Edge"]
