"""What a driver declares it cannot do is refused in one line by the managers and not offered
by the menu (a cloud type without routers, without attaching networks, without public IPs)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from minicloud.cli.menus.main import run_menu
from minicloud.cli.prompts import Prompter
from minicloud.drivers.base import Features
from minicloud.drivers.stub.driver import StubDriver
from minicloud.model.errors import ValidationError

CLOUD = "Lab"


def test_a_cloud_without_routers(cloud_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StubDriver, "features",
                        Features(routers=False, attach_network=False, public_ips=False,
                                 hosts=False))
    with pytest.raises(ValidationError, match=r"cloud Lab \(stub\) cannot have routers"):
        cloud_app.routers.create(CLOUD, "r1")
    assert cloud_app.routers.all() == []
    out = io.StringIO()
    # Router management > Create a router: no cloud is offered.
    assert run_menu(lambda: cloud_app, Prompter(io.StringIO("3\n3\n9\n8\n"), out)) == 0
    assert "No cloud here has routers." in out.getvalue()


def test_a_cloud_that_cannot_attach_existing_networks(cloud_app: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    router = cloud_app.routers.create(CLOUD, "r1", gateway="public")
    net = cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    monkeypatch.setattr(StubDriver, "features", Features(attach_network=False, hosts=False))
    with pytest.raises(ValidationError, match="cannot attach an existing network"):
        cloud_app.networks.attach(net, router)
    # A network made on the router (a tier of it) is fine.
    tier = cloud_app.networks.create(CLOUD, "n2", "10.2.0.0/24", router="r1")
    assert tier.id in cloud_app.routers.find("router", "r1", CLOUD).interface_network_ids


def test_the_menu_offers_no_attach_or_detach_that_the_type_forbids(
        cloud_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cloud_app.routers.create(CLOUD, "r1", gateway="public")
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    cloud_app.networks.create(CLOUD, "n2", "10.2.0.0/24", router="r1")
    monkeypatch.setattr(StubDriver, "features",
                        Features(attach_network=False, detach_network=False, hosts=False))
    out = io.StringIO()
    # Network management > Attach to a router, Detach from a router, Back; Router management >
    # Attach a network, Detach a network, Back; Exit.  Nothing is offered: each says why.
    script = "4\n4\n5\n9\n3\n4\n5\n9\n8\n"
    assert run_menu(lambda: cloud_app, Prompter(io.StringIO(script), out)) == 0
    shown = out.getvalue()
    for line in ("No network can be attached to a router: on these clouds a network joins a "
                 "router only when it is created on it.",
                 "No network to detach from a router.",
                 "No router takes an existing network: on these clouds a network joins a "
                 "router only when it is created on it.",
                 "No router lets a network leave it: on these clouds a network leaves its "
                 "router only when it is removed."):
        assert line in shown, shown
    assert "n1" not in shown and "r1" not in shown, shown


def test_the_attach_and_detach_pickers_offer_what_the_type_allows(
        cloud_app: Any) -> None:
    from argparse import Namespace

    from minicloud.cli.actions.networks import NetworksAttach
    from minicloud.cli.actions.routers import RoutersAttach, RoutersDetach

    cloud_app.routers.create(CLOUD, "r1", gateway="public")
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    cloud_app.networks.create(CLOUD, "n2", "10.2.0.0/24", router="r1")

    def names(action: Any) -> list[str]:
        pick = action.args[0].pick
        return sorted(o.name for o in pick(cloud_app, Namespace()))

    # n2 is on the only router already: attaching it would be refused (issue 25, item 5).
    assert names(NetworksAttach()) == ["n1"]
    assert names(RoutersAttach()) == ["r1"] and names(RoutersDetach()) == ["r1"]


def test_a_cloud_that_cannot_clear_a_gateway_refuses_before_any_cloud_call(
        cloud_app: Any, fresh_driver: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from minicloud.cli.commands import run_command

    router = cloud_app.routers.create(CLOUD, "r1", gateway="public")
    monkeypatch.setattr(StubDriver, "features", Features(clear_gateway=False, hosts=False))
    monkeypatch.setattr(StubDriver, "clear_router_gateway",
                        lambda self, router_id: pytest.fail("the cloud was called"))
    with pytest.raises(ValidationError) as err:
        cloud_app.routers.clear_gateway(router)
    assert str(err.value) == "cloud Lab (stub) cannot clear a router's gateway"
    capsys.readouterr()
    assert run_command(cloud_app, ["routers", "gateway", "r1", "--clear"]) == 2
    assert capsys.readouterr().err == \
        "minicloud: cloud Lab (stub) cannot clear a router's gateway\n"
    assert fresh_driver(cloud_app).list_routers()[0].gateway_network_id == router.gateway_network_id
    assert cloud_app.inventory.cache.all("change") == []


def test_a_gateway_that_cannot_be_cleared_is_not_offered_nor_replaced(
        cloud_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from argparse import Namespace

    from minicloud.cli.actions.routers import RoutersGateway

    cloud_app.driver(CLOUD).seed_router("corp")  # someone else's, no gateway
    cloud_app.driver(CLOUD).seed_network("ext2", "198.51.100.0/24", external=True)
    cloud_app.sync.refresh()
    cloud_app.routers.create(CLOUD, "r1", gateway="public")
    cloud_app.routers.create(CLOUD, "r2")
    pick = RoutersGateway().args[0].pick

    def names(clear: bool) -> list[str]:
        return sorted(r.name for r in pick(cloud_app, Namespace(clear=clear)))

    # r1 has a gateway: setting another is refused until it is cleared (issue 25, item 5).
    assert names(clear=True) == ["r1"] and names(clear=False) == ["corp", "r2"]
    monkeypatch.setattr(StubDriver, "features", Features(clear_gateway=False, hosts=False))
    assert names(clear=True) == [] and names(clear=False) == ["r2"]
    with pytest.raises(ValidationError) as err:
        cloud_app.routers.set_gateway(cloud_app.routers.find("router", "r1", CLOUD), "ext2")
    assert str(err.value) == ("router r1 keeps the gateway it has: cloud Lab (stub) cannot "
                              "clear a router's gateway")
    with pytest.raises(ValidationError) as err:
        cloud_app.routers.set_gateway(cloud_app.routers.find("router", "corp", CLOUD), "public")
    assert str(err.value) == ("cloud Lab (stub) cannot clear a router's gateway: Reset could "
                              "not take back one set on router corp, which MiniCloud did not "
                              "create")
    assert cloud_app.inventory.cache.all("change") == []
    assert cloud_app.routers.set_gateway(cloud_app.routers.find("router", "r2", CLOUD),
                                         "public").gateway_network_id
    out = io.StringIO()
    # Router management > Clear the gateway, Back; Exit: nothing is offered, and it says why.
    assert run_menu(lambda: cloud_app, Prompter(io.StringIO("3\n7\n9\n8\n"), out)) == 0
    assert "No router's gateway can be cleared: cloud Lab (stub) cannot clear a router's " \
           "gateway." in out.getvalue(), out.getvalue()


def test_reset_never_clears_a_gateway_the_type_cannot_clear(
        cloud_app: Any, fresh_driver: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cloud_app.driver(CLOUD).seed_router("edge")  # someone else's, no gateway
    cloud_app.sync.refresh()
    cloud_app.routers.set_gateway(cloud_app.routers.find("router", "edge", CLOUD), "public")
    (change,) = cloud_app.inventory.cache.all("change")  # set before the type said it cannot
    monkeypatch.setattr(StubDriver, "features", Features(clear_gateway=False, hosts=False))
    monkeypatch.setattr(StubDriver, "clear_router_gateway",
                        lambda self, router_id: pytest.fail("the cloud was called"))
    report = cloud_app.resetter.reset()
    assert report.failures == ["clear the gateway of router edge: cloud Lab (stub) cannot "
                               "clear a router's gateway"]
    assert fresh_driver(cloud_app).list_routers()[0].gateway_network_id is not None
    assert cloud_app.inventory.cache.all("change") == [change]  # kept, as for a failed step
