"""Two sessions on one store and one Stub cloud, interleaved step by step (the issue's failures
8 and 9): a session whose cache is stale never writes over what the other did, in the store or
in the cloud."""

from __future__ import annotations

from typing import Any

import pytest

from minicloud.model.errors import DriverError, InUseError, MiniCloudError, NotFoundError
from minicloud.model.objects import State
from tests.consistency import picture

CLOUD = "Lab"


@pytest.fixture
def two(cloud_app: Any, reopen: Any) -> tuple[Any, Any]:
    """Session A and session B, both with the demo-like start loaded in their caches."""
    cloud_app.routers.create(CLOUD, "r1", gateway="public")
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24", router="r1")
    cloud_app.networks.create(CLOUD, "n2", "10.2.0.0/24")
    cloud_app.instances.create(CLOUD, "vm", "cirros", "m1.tiny", "n1")
    other = reopen(cloud_app)
    return cloud_app, other


def _agree(app: Any, reopen: Any) -> None:
    """Store, cache and cloud tell the same story after a refresh."""
    fresh = reopen(app)
    assert fresh.sync.refresh() == []
    seen = picture(fresh, CLOUD)
    assert sorted(i.name for i in fresh.instances.all(CLOUD)) == \
        sorted(entry[0] for entry in seen["instances"])


def test_a_removed_instance_is_not_brought_back_by_a_stale_stop(two: tuple[Any, Any],
                                                                 reopen: Any) -> None:
    a, b = two
    vm_a = a.instances.find("instance", "vm", CLOUD)
    b.instances.remove(b.instances.find("instance", "vm", CLOUD))
    with pytest.raises(MiniCloudError):
        a.instances.stop(vm_a)  # a's cache still has it
    assert [i[0] for i in picture(a, CLOUD)["instances"]] == []
    _agree(a, reopen)


def test_an_attach_is_not_undone_by_a_stale_gateway_change(two: tuple[Any, Any],
                                                            reopen: Any) -> None:
    a, b = two
    r1_a = a.routers.find("router", "r1", CLOUD)
    b.networks.attach(b.networks.find("network", "n2", CLOUD),
                      b.routers.find("router", "r1", CLOUD))
    a.networks.detach(a.networks.find("network", "n1", CLOUD), r1_a)  # a's copy lacks n2
    routers = picture(a, CLOUD)["routers"]
    assert ("r1", "public", ("n2",)) in routers  # b's interface stays


def test_a_gateway_set_by_one_session_is_not_undone_by_another(two: tuple[Any, Any]) -> None:
    a, b = two
    a.routers.create(CLOUD, "r2")
    b.sync.refresh()
    b.routers.set_gateway(b.routers.find("router", "r2", CLOUD), "public")
    stale = a.routers.find("router", "r2", CLOUD)
    assert stale.gateway_network_id is None  # a has not seen it
    a.networks.attach(a.networks.find("network", "n2", CLOUD), stale)
    assert ("r2", "public", ("n2",)) in picture(a, CLOUD)["routers"]


def test_two_sessions_never_get_the_same_private_ip(two: tuple[Any, Any]) -> None:
    a, b = two
    a.instances.create(CLOUD, "x1", "cirros", "m1.tiny", "n2", fixed_ip="10.2.0.50")
    with pytest.raises((InUseError, DriverError)):
        b.instances.create(CLOUD, "x2", "cirros", "m1.tiny", "n2", fixed_ip="10.2.0.50")
    ips = [ip for entry in picture(a, CLOUD)["instances"] for ip in entry[3]]
    assert ips.count("10.2.0.50") == 1


def test_no_instance_on_a_network_another_session_removed(two: tuple[Any, Any]) -> None:
    a, b = two
    b.networks.remove(b.networks.find("network", "n2", CLOUD))
    with pytest.raises(NotFoundError, match="removed by another session"):
        a.instances.create(CLOUD, "x", "cirros", "m1.tiny", "n2")
    assert [i[0] for i in picture(a, CLOUD)["instances"]] == ["vm"]
    assert "n2" not in {n.name for n in a.networks.all(CLOUD)}  # and a now knows


def test_a_stale_remove_after_a_stop_keeps_store_and_cloud_agreeing(two: tuple[Any, Any],
                                                                     reopen: Any) -> None:
    a, b = two
    vm_a = a.instances.find("instance", "vm", CLOUD)
    assert b.instances.stop(b.instances.find("instance", "vm", CLOUD)).status == State.SHUTOFF
    a.instances.remove(vm_a)  # a still thinks it runs
    assert picture(a, CLOUD)["instances"] == []
    assert a.instances.all(CLOUD) == []
    assert reopen(a).instances.all(CLOUD) == []


def test_a_session_whose_cloud_was_removed_refuses_to_write(two: tuple[Any, Any]) -> None:
    a, b = two
    b.clouds.remove(CLOUD)
    with pytest.raises(NotFoundError, match=f"cloud {CLOUD} was removed by another session; "
                                            "nothing was changed"):
        a.networks.create(CLOUD, "n9", "10.9.0.0/24")
    assert a.clouds.all() == []


def test_a_session_after_destroy_refuses_to_write(two: tuple[Any, Any]) -> None:
    a, b = two
    assert b.resetter.destroy().failures == []
    with pytest.raises(NotFoundError):
        a.instances.create(CLOUD, "x", "cirros", "m1.tiny", "n2")
