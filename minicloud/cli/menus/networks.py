"""[ Networks ]: create, attach/detach to routers, public IPs, remove."""

from __future__ import annotations

from typing import Any

from ...managers.base import check_name
from .common import Session, named, pick_cloud, run_submenu, show_topology
from .routers import describe_network


def run(session: Session) -> None:
    run_submenu(session, "Networks", [
        ("Network topology", show_topology),
        ("List networks", list_networks),
        ("Create a network", create_network),
        ("Attach to a router", attach_to_router),
        ("Detach from a router", detach_from_router),
        ("List public IPs", list_public_ips),
        ("Release a public IP", release_public_ip),
        ("Remove a network", remove_network),
        ("Back", None),
    ])


def pick_network(session: Session, networks: list[Any] | None = None,
                 empty: str = "No networks yet.") -> Any:
    if networks is None:
        networks = session.app.networks.all()
    return session.p.pick("Network", networks,
                          lambda n: describe_network(n).replace(n.name, named(session, n), 1),
                          empty=empty)


def list_networks(session: Session) -> None:
    app, p = session.app, session.p
    networks = app.networks.all()
    if not networks:
        p.say("No networks yet.")
    for net in networks:
        routers = ", ".join(r.name for r in app.networks.routers_of(net)) or "none"
        extra = "" if net.external else f"; routers: {routers}"
        p.say(f"{named(session, net)}: {', '.join(net.cidrs) or 'no subnet'}"
              f"{' (external)' if net.external else ''}{extra}")


def create_network(session: Session) -> None:
    app, p = session.app, session.p
    cloud = pick_cloud(session)
    name = p.ask("Network name", validate=lambda n: check_name(n, "network name"))
    cidr = p.ask("CIDR (e.g. 10.0.0.0/24)", validate=lambda c: app.networks.check_cidr(cloud, c))
    routers = app.routers.all(cloud)
    router = None
    if routers:
        choice = p.pick("Attach to router", [None, *routers],
                        lambda r: "No router" if r is None else r.name, default=None)
        router = choice.name if choice is not None else None
    net = app.networks.create(cloud, name, cidr, router)
    via = f", attached to router {router}" if router else ""
    p.say(f"Network {net.name} [{', '.join(net.cidrs)}] created in cloud {cloud}{via}.")


def attach_to_router(session: Session) -> None:
    app, p = session.app, session.p
    net = pick_network(session, [n for n in app.networks.all() if not n.external],
                       empty="No private networks yet.")
    attached = {r.id for r in app.networks.routers_of(net)}
    routers = [r for r in app.routers.all(net.cloud) if r.id not in attached]
    router = p.pick("Router", routers, lambda r: r.name,
                    empty=f"No router of cloud {net.cloud} to attach {net.name} to.")
    app.networks.attach(net, router)
    p.say(f"Network {net.name} attached to router {router.name}.")


def detach_from_router(session: Session) -> None:
    app, p = session.app, session.p
    attached = [n for n in app.networks.all() if app.networks.routers_of(n)]
    net = pick_network(session, attached, empty="No network is attached to a router.")
    router = p.pick("Router", app.networks.routers_of(net), lambda r: r.name)
    app.networks.detach(net, router)
    p.say(f"Network {net.name} detached from router {router.name}.")


def _describe_ip(session: Session, fip: Any) -> str:
    cache = session.app.inventory.ensure_loaded()
    instance = cache.get("instance", fip.cloud, fip.instance_id) if fip.instance_id else None
    used = f"attached to {instance.name}" if instance is not None else "free"
    origin = "allocated by MiniCloud" if fip.owned else "not allocated by MiniCloud"
    return f"{named(session, fip)}: {used}, {origin}"


def list_public_ips(session: Session) -> None:
    app, p = session.app, session.p
    fips = app.networks.public_ips()
    if not fips:
        p.say("No public IPs yet.")
    for fip in fips:
        p.say(_describe_ip(session, fip))


def release_public_ip(session: Session) -> None:
    app, p = session.app, session.p
    fip = p.pick("Public IP", app.networks.public_ips(), lambda f: _describe_ip(session, f),
                 empty="No public IPs yet.")
    if not p.confirm(f"Release public IP {fip.name} back to cloud {fip.cloud}?"):
        p.say("Nothing changed.")
        return
    app.networks.release(fip)
    p.say(f"Public IP {fip.name} released.")


def remove_network(session: Session) -> None:
    app, p = session.app, session.p
    net = pick_network(session)
    if not p.confirm(f"Remove network {net.name} from cloud {net.cloud}?"):
        p.say("Nothing changed.")
        return
    app.networks.remove(net)
    p.say(f"Network {net.name} removed.")
