"""Changes to resources MiniCloud did not create: recorded before they are made, restored by
Reset, which then leaves each cloud as it was before MiniCloud touched it (DESIGN.md section
7; the issue's failures 1 and 2)."""

from __future__ import annotations

from typing import Any

import pytest

from minicloud.cli.commands import run_command
from minicloud.drivers.base import ServerSpec
from minicloud.managers.base import Undo
from minicloud.model.errors import DriverError
from minicloud.model.names import PUBLIC_SSH
from minicloud.model.objects import State
from tests.consistency import as_if_killed, picture, seed_foreign
from tests.faults import Faults

CLOUD = "Lab"


@pytest.fixture
def lab(cloud_app: Any) -> tuple[Any, dict[str, Any]]:
    seeded = seed_foreign(cloud_app, CLOUD)
    return cloud_app, seeded


def _reset_leaves_it_as_before(app: Any, before: dict[str, Any]) -> None:
    report = app.resetter.reset()
    assert report.failures == []
    assert picture(app, CLOUD) == before


def test_connect_to_a_foreign_server_is_undone(lab: tuple[Any, dict[str, Any]]) -> None:
    app, _ = lab
    before = picture(app, CLOUD)
    legacy = app.instances.find("instance", "legacy", CLOUD)
    plan = app.access.connect(legacy)
    assert PUBLIC_SSH in plan.instance.security_groups
    assert plan.address.startswith("203.0.113.")  # the foreign router routes it out
    _reset_leaves_it_as_before(app, before)
    assert app.resetter.reset().failures == []  # and again: nothing left to undo


def test_detach_and_gateway_clear_on_a_foreign_router_are_undone(
        lab: tuple[Any, dict[str, Any]]) -> None:
    app, seeded = lab
    before = picture(app, CLOUD)
    corp = app.routers.find("router", "corp", CLOUD)
    app.networks.detach(seeded["network"], corp)
    app.routers.clear_gateway(app.routers.find("router", "corp", CLOUD))
    after = picture(app, CLOUD)
    assert ("corp", None, ()) in after["routers"]
    _reset_leaves_it_as_before(app, before)


def test_stop_of_a_foreign_server_is_undone(lab: tuple[Any, dict[str, Any]]) -> None:
    app, _ = lab
    before = picture(app, CLOUD)
    stopped = app.instances.stop(app.instances.find("instance", "legacy", CLOUD))
    assert stopped.status == State.SHUTOFF
    _reset_leaves_it_as_before(app, before)


def test_stop_then_start_by_minicloud_leaves_nothing_to_restore(
        lab: tuple[Any, dict[str, Any]]) -> None:
    app, _ = lab
    legacy = app.instances.find("instance", "legacy", CLOUD)
    app.instances.start(app.instances.stop(legacy))
    assert [c for c in app.inventory.cache.all("change") if c.name == "power"] == []


def test_attach_and_set_gateway_on_foreign_routers_are_undone(
        lab: tuple[Any, dict[str, Any]]) -> None:
    app, _ = lab
    driver = app.make_driver_for(app.clouds.get(CLOUD))
    driver.seed_router("edge")
    driver.close()
    app.sync.refresh()
    before = picture(app, CLOUD)
    edge = app.routers.find("router", "edge", CLOUD)
    app.routers.set_gateway(edge, "public")
    app.networks.create(CLOUD, "mine", "10.60.0.0/24", router="edge")
    mine2 = app.networks.create(CLOUD, "mine2", "10.61.0.0/24")
    app.networks.attach(mine2, app.routers.find("router", "corp", CLOUD))
    _reset_leaves_it_as_before(app, before)


def test_a_failed_undo_keeps_the_record_for_the_next_reset(
        lab: tuple[Any, dict[str, Any]]) -> None:
    app, _ = lab
    before = picture(app, CLOUD)
    app.instances.stop(app.instances.find("instance", "legacy", CLOUD))
    with Faults({"start_server": None}).installed(app):
        report = app.resetter.reset()
    assert any("legacy" in line for line in report.failures)
    _reset_leaves_it_as_before(app, before)


def test_interrupted_between_the_cloud_call_and_the_store_write(
        lab: tuple[Any, dict[str, Any]], reopen: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The change is made in the cloud, then the process dies before its settle: the intent
    it recorded first lets the next session record the change, and Reset restore it."""
    app, seeded = lab
    before = picture(app, CLOUD)
    corp = app.routers.find("router", "corp", CLOUD)

    def die(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("killed")  # stands for a kill: no undo runs, the intent stays

    work = app.session.work
    monkeypatch.setattr(work, "settle", die)
    monkeypatch.setattr(work, "running", _no_undo)
    monkeypatch.setattr(Undo, "__exit__", lambda self, *exc: None)
    with pytest.raises(SystemExit):
        app.networks.detach(seeded["network"], corp)
    monkeypatch.undo()
    as_if_killed(app)  # the process is gone
    again = reopen(app)
    assert again.sync.refresh() == []
    assert [c.name for c in again.inventory.cache.all("change")] == ["interface_removed"]
    _reset_leaves_it_as_before(again, before)


class _no_undo:
    def __init__(self, intent: Any) -> None:
        pass

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> bool:
        return False


def test_a_removed_foreign_server_ends_its_records(lab: tuple[Any, dict[str, Any]]) -> None:
    app, _ = lab
    legacy = app.instances.find("instance", "legacy", CLOUD)
    app.instances.stop(legacy)
    driver = app.make_driver_for(app.clouds.get(CLOUD))
    driver.delete_server(legacy.id)  # its owner deleted it
    driver.close()
    with pytest.raises(DriverError):
        driver2 = app.make_driver_for(app.clouds.get(CLOUD))
        driver2.start_server(legacy.id)
    assert app.resetter.reset().failures == []


# -- power states Reset cannot simply flip back (issue 23, failure 9) ---------------------------

def _reported(app: Any, monkeypatch: pytest.MonkeyPatch, states: dict[str, str]) -> None:
    """The session's driver reports the running servers named in ``states`` in that state (a
    real cloud's PAUSED or ERROR, which the Stub does not simulate); ``states`` may change."""
    driver = app.session.drivers.get(app.clouds.get(CLOUD))
    real = driver.snapshot

    def snapshot() -> Any:
        snap = real()
        for server in snap.instances:
            if server.status == State.ACTIVE and server.name in states:
                server.status = states[server.name]
        return snap

    monkeypatch.setattr(driver, "snapshot", snapshot)


def test_a_foreign_server_stopped_while_it_was_building_runs_again_after_reset(
        lab: tuple[Any, dict[str, Any]]) -> None:
    app, seeded = lab
    driver = app.make_driver_for(app.clouds.get(CLOUD))
    driver.seed_server(ServerSpec("young", "image-cirros", "flavor-m1.tiny",
                                  seeded["network"].id))  # still BUILD
    driver.close()
    app.sync.refresh()
    before = picture(app, CLOUD)
    plan = app.access.connect(app.instances.find("instance", "young", CLOUD))
    assert plan.instance.status == State.BUILD  # what the cloud said when it was connected
    app.instances.stop(app.instances.find("instance", "young", CLOUD))
    assert [c.detail for c in app.inventory.cache.all("change") if c.name == "power"] == \
        [State.BUILD]
    report = app.resetter.reset()
    assert "started instance young again" in report.undone
    assert report.failures == []
    assert picture(app, CLOUD) == before  # running, as its owner left it
    assert app.inventory.cache.all("change") == []


@pytest.mark.parametrize("state", ["PAUSED", State.ERROR])
def test_a_power_state_reset_cannot_restore_is_named_and_its_record_kept(
        lab: tuple[Any, dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], state: str) -> None:
    app, _ = lab
    states = {"legacy": state}
    _reported(app, monkeypatch, states)
    app.sync.refresh()
    legacy = app.instances.find("instance", "legacy", CLOUD)
    assert legacy.status == state
    app.instances.stop(legacy)
    states.clear()  # the cloud shows it as it is now: stopped

    assert run_command(app, ["reset", "--yes"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    named = [line for line in err if "legacy" in line]
    assert len(named) == 1 and state in named[0] and "record is kept" in named[0], err
    assert app.instances.find("instance", "legacy", CLOUD).status == State.ACTIVE  # started
    assert [c.detail for c in app.inventory.cache.all("change")] == [state]

    report = app.resetter.reset()  # again: said again, nothing else done
    assert report.undone == [] and len(report.failures) == 1 and state in report.failures[0]

    states["legacy"] = state  # its owner put it back
    report = app.resetter.reset()
    assert report.failures == []
    assert app.inventory.cache.all("change") == []
