"""[ Routers ]: create, attach/detach networks, gateway, remove."""

from __future__ import annotations

from typing import Any

from ...managers.base import check_name
from .common import Session, named, network_name, pick_cloud, run_submenu, show_topology


def run(session: Session) -> None:
    run_submenu(session, "Routers", [
        ("Router topology", show_topology),
        ("List routers", list_routers),
        ("Create a router", create_router),
        ("Attach a network", attach_network),
        ("Detach a network", detach_network),
        ("Set the gateway", set_gateway),
        ("Clear the gateway", clear_gateway),
        ("Remove a router", remove_router),
        ("Back", None),
    ])


def describe_network(net: Any) -> str:
    cidrs = ", ".join(net.cidrs) or "no subnet"
    return f"{net.name} [{cidrs}]{' (external)' if net.external else ''}"


def pick_router(session: Session, routers: list[Any] | None = None,
                empty: str = "No routers yet.") -> Any:
    if routers is None:
        routers = session.app.routers.all()
    return session.p.pick("Router", routers, lambda r: named(session, r), empty=empty)


def list_routers(session: Session) -> None:
    app, p = session.app, session.p
    routers = app.routers.all()
    if not routers:
        p.say("No routers yet.")
    for router in routers:
        nets = [network_name(session, router.cloud, n) for n in router.interface_network_ids]
        p.say(f"{named(session, router)}: gateway "
              f"{network_name(session, router.cloud, router.gateway_network_id)}; "
              f"networks: {', '.join(nets) or 'none'}")


def create_router(session: Session) -> None:
    app, p = session.app, session.p
    cloud = pick_cloud(session)
    name = p.ask("Router name", validate=lambda n: check_name(n, "router name"))
    externals = app.routers.external_networks(cloud)
    gateway = None
    if externals:
        choice = p.pick("External gateway", [None, *externals],
                        lambda n: "No gateway" if n is None else describe_network(n),
                        default=externals[0] if len(externals) == 1 else None)
        gateway = choice.name if choice is not None else None
    router = app.routers.create(cloud, name, gateway)
    via = f" with gateway {gateway}" if gateway else ""
    p.say(f"Router {router.name} created in cloud {cloud}{via}.")


def attach_network(session: Session) -> None:
    app, p = session.app, session.p
    router = pick_router(session)
    candidates = [n for n in app.networks.all(router.cloud)
                  if not n.external and n.id not in router.interface_network_ids]
    net = p.pick("Network", candidates, describe_network,
                 empty=f"No network of cloud {router.cloud} can be attached to {router.name}.")
    app.networks.attach(net, router)
    p.say(f"Network {net.name} attached to router {router.name}.")


def detach_network(session: Session) -> None:
    app, p = session.app, session.p
    router = pick_router(session)
    attached = [n for n in app.networks.all(router.cloud)
                if n.id in router.interface_network_ids]
    net = p.pick("Network", attached, describe_network,
                 empty=f"Router {router.name} has no networks attached.")
    app.networks.detach(net, router)
    p.say(f"Network {net.name} detached from router {router.name}.")


def set_gateway(session: Session) -> None:
    app, p = session.app, session.p
    router = pick_router(session)
    net = p.pick("External network", app.routers.external_networks(router.cloud),
                 describe_network, empty=f"Cloud {router.cloud} has no external network.")
    app.routers.set_gateway(router, net.name)
    p.say(f"Router {router.name}: gateway is now {net.name}.")


def clear_gateway(session: Session) -> None:
    app, p = session.app, session.p
    with_gateway = [r for r in app.routers.all() if r.gateway_network_id]
    router = pick_router(session, with_gateway, empty="No router has a gateway.")
    app.routers.clear_gateway(router)
    p.say(f"Router {router.name}: gateway cleared.")


def remove_router(session: Session) -> None:
    app, p = session.app, session.p
    router = pick_router(session)
    if not p.confirm(f"Remove router {router.name} from cloud {router.cloud}?"):
        p.say("Nothing changed.")
        return
    app.routers.remove(router)
    p.say(f"Router {router.name} removed.")
