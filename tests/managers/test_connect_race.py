"""Two connects at once, neither naming a public IP (issue 23, failure 10a): both plan to take
the same free address; the one that comes second takes the next free one, or a new one, and
waits while the first makes ``public_ssh``, instead of failing with "already associated" or
"being taken by another session".

Each way the second can come second is played in one process with two sessions, at the
moment that matters; then two processes race, a few rounds (more at full volume).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from minicloud.app import MiniCloud
from minicloud.model.objects import DEFAULT_GROUP, PUBLIC_SSH
from tests.backends import StartingPoint
from tests.consistency import open_app, picture, seed_foreign, start
from tests.volume import scaled

CLOUD = "Lab"
FREE = "203.0.113.77"  # the free public IP seed_foreign leaves in the cloud
ROUNDS = scaled(2, 10)


def _two_instances(app: MiniCloud, group: str) -> None:
    seed_foreign(app, CLOUD)  # the router corp routes network theirs out; FREE is free
    for name in ("vm0", "vm1"):
        app.instances.create(CLOUD, name, "cirros", "m1.tiny", "theirs", security_group=group)


def _addresses(app: MiniCloud) -> dict[str, str]:
    shown = picture(app, CLOUD)
    return {server: address for address, server in shown["public_ips"] if server}


def _when(app: MiniCloud, monkeypatch: pytest.MonkeyPatch, call: str, first: Any) -> None:
    """Before the session's driver makes ``call`` (its intent recorded, no store transaction
    open), ``first()`` runs."""
    driver = app.session.drivers.get(app.clouds.get(CLOUD))
    real = getattr(driver, call)

    def then(*args: Any) -> Any:
        monkeypatch.setattr(driver, call, real)
        first()
        return real(*args)

    monkeypatch.setattr(driver, call, then)


def test_a_session_that_planned_from_an_older_copy_takes_the_next_address(
        cloud_app: MiniCloud, reopen: Any) -> None:
    _two_instances(cloud_app, PUBLIC_SSH)
    other = reopen(cloud_app)
    vm1 = other.instances.find("instance", "vm1", CLOUD)
    assert FREE in {f.name for f in other.public_ips.public_ips(CLOUD) if not f.instance_id}
    cloud_app.access.connect(cloud_app.instances.find("instance", "vm0", CLOUD))
    plan = other.access.connect(vm1)  # its copy still says FREE is free
    assert plan.gave_public_ip and plan.address != FREE
    assert _addresses(other) == {"vm0": FREE, "vm1": plan.address}


def test_a_session_that_comes_while_another_takes_the_address_takes_the_next(
        cloud_app: MiniCloud, reopen: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _two_instances(cloud_app, PUBLIC_SSH)
    other = reopen(cloud_app)
    vm1 = other.instances.find("instance", "vm1", CLOUD)
    other.public_ips.public_ips(CLOUD)
    plans: list[Any] = []
    # The first has its intent on FREE when the second begins.
    _when(cloud_app, monkeypatch, "associate_public_ip",
          lambda: plans.append(other.access.connect(vm1)))
    first = cloud_app.access.connect(cloud_app.instances.find("instance", "vm0", CLOUD))
    assert first.address == FREE and plans and plans[0].address != FREE
    assert _addresses(cloud_app) == {"vm0": FREE, "vm1": plans[0].address}


def test_a_session_waits_while_another_makes_public_ssh(
        cloud_app: MiniCloud, reopen: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _two_instances(cloud_app, DEFAULT_GROUP)  # both need public_ssh, which is not there yet
    other = reopen(cloud_app)
    vm1 = other.instances.find("instance", "vm1", CLOUD)
    other.public_ips.public_ips(CLOUD)
    done: list[Any] = []

    def second() -> None:
        try:
            done.append(other.access.connect(vm1))
        except Exception as err:  # noqa: BLE001 - said by the assertion below
            done.append(err)

    racer = threading.Thread(target=second)
    _when(cloud_app, monkeypatch, "create_security_group", racer.start)
    first = cloud_app.access.connect(cloud_app.instances.find("instance", "vm0", CLOUD))
    racer.join(timeout=60)
    assert len(done) == 1 and not isinstance(done[0], Exception), done
    assert first.opened_ssh and done[0].opened_ssh
    assert _addresses(cloud_app) == {"vm0": first.address, "vm1": done[0].address}
    assert [g for g in picture(cloud_app, CLOUD)["security_groups"]
            if g[0] == PUBLIC_SSH] == [(PUBLIC_SSH, 2)]  # made once


@pytest.mark.heavy
def test_two_processes_connect_at_once(db_url: str, tmp_path: Path) -> None:
    point = StartingPoint(db_url, tmp_path)

    def build(home: Path, url: str) -> None:
        app = open_app(home, url)
        try:
            app.clouds.add(CLOUD, "stub")
            _two_instances(app, DEFAULT_GROUP)
        finally:
            app.close()

    point.build(build)
    for round_ in range(ROUNDS):
        home, url = point.copy(f"r{round_}")
        procs = [start(home, url, "instances", "connect", f"vm{i}") for i in range(2)]
        results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
        assert [code for _, _, code in results] == [0, 0], (round_, results)
        app = open_app(home, url)
        try:
            given = _addresses(app)
            assert sorted(given) == ["vm0", "vm1"] and len(set(given.values())) == 2, given
            assert FREE in given.values()  # the free one was reused, by one of them
        finally:
            app.close()
