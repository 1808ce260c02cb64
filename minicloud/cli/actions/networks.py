"""Networks: list, create (with a validated CIDR), attach to and detach from routers, remove."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import present
from ..present import Result, said, table
from .base import (
    CLOUD,
    CLOUD_FILTER,
    CLOUD_HINT,
    JSON,
    Action,
    Arg,
    Context,
    Values,
    chosen,
    name_of,
    new_name,
    obj,
)
from .routers import attach, detach

if TYPE_CHECKING:
    from ...app import MiniCloud


class NetworksList(Action):
    path = ("networks", "list")
    help = "list the networks"
    menu = ("List networks",)
    args = (CLOUD_FILTER, JSON)

    def run(self, ctx: Context, v: Values) -> Result:
        from ...render.views import Views

        views = Views(ctx.app.topology.deployment(name_of(v.cloud)))
        rows = [views.network(n) for n in ctx.app.networks.all(name_of(v.cloud))]
        return table(rows, present.NETWORK_COLUMNS, "No networks yet.")


class NetworksCreate(Action):
    path = ("networks", "create")
    help = "create a network"
    menu = ("Create a network",)
    args = (
        CLOUD,
        new_name("network", lambda app, v, text: app.networks.check_new_name(
            name_of(v.cloud) or "", text)),
        Arg("cidr", metavar="CIDR", required=True, help="e.g. 10.0.0.0/24",
            prompt="CIDR (e.g. 10.0.0.0/24)",
            check=lambda app, v, text: app.networks.check_cidr(name_of(v.cloud) or "", text)),
        Arg("router", metavar="R", help="attach it to this router", prompt="Attach to router",
            none="No router", pick=lambda app, v: app.routers.all(name_of(v.cloud))),
    )

    def run(self, ctx: Context, v: Values) -> Result:
        router = name_of(v.router)
        net = ctx.app.networks.create(name_of(v.cloud) or "", v.name, v.cidr, router)
        via = f", attached to router {router}" if router else ""
        return said(f"Network {net.name} [{', '.join(net.cidrs)}] created in cloud "
                    f"{net.cloud}{via}.")


def _attachable(app: MiniCloud, v: Values) -> Sequence[Any]:
    """Networks some router can take (the managers say which)."""
    return app.networks.attachable()


def _no_network_to_attach(app: MiniCloud, v: Values) -> str:
    private = [n for n in app.networks.all() if not n.external]
    if not private:
        return "No private networks yet."
    if not any(app.clouds.features(n.cloud).attach_network for n in private):
        return ("No network can be attached to a router: on these clouds a network joins a "
                "router only when it is created on it.")
    if not app.routers.all():
        return "No routers yet."
    return "No network can be attached to a router: each is on every router of its cloud."


def _unattached_routers(app: MiniCloud, v: Values) -> Sequence[Any]:
    return app.networks.routers_taking(v.name)


def _no_router_to_attach(app: MiniCloud, v: Values) -> str:
    if app.routers.all(v.name.cloud):
        return f"Network {v.name.name} is on every router already."
    return f"No router of cloud {v.name.cloud} to attach {v.name.name} to."


class NetworksAttach(Action):
    path = ("networks", "attach")
    help = "attach a network to a router"
    menu = ("Attach to a router",)
    args = (
        chosen("network", _attachable, _no_network_to_attach, present.describe_network),
        Arg("router", metavar="ROUTER", positional=True, required=True, help="the router",
            prompt="Router", pick=_unattached_routers,
            empty=_no_router_to_attach),
        CLOUD_HINT,
    )

    def run(self, ctx: Context, v: Values) -> Result:
        network = obj(ctx, "network", v.name, v.cloud)
        return attach(ctx, network, obj(ctx, "router", v.router, network.cloud))


def _attached(app: MiniCloud, v: Values) -> Sequence[Any]:
    """Networks some router of theirs can let go (the managers say which)."""
    return app.networks.detachable()


class NetworksDetach(Action):
    path = ("networks", "detach")
    help = "detach a network from a router"
    menu = ("Detach from a router",)
    args = (
        chosen("network", _attached, "No network to detach from a router.",
               present.describe_network),
        Arg("router", metavar="ROUTER", positional=True, required=True, help="the router",
            prompt="Router", pick=lambda app, v: app.networks.routers_releasing(v.name)),
        CLOUD_HINT,
    )

    def run(self, ctx: Context, v: Values) -> Result:
        network = obj(ctx, "network", v.name, v.cloud)
        return detach(ctx, network, obj(ctx, "router", v.router, network.cloud))


def _networks(app: MiniCloud, v: Values) -> Sequence[Any]:
    return app.networks.all()


class NetworksRemove(Action):
    path = ("networks", "remove")
    help = "remove a network MiniCloud created"
    menu = ("Remove a network",)
    args = (chosen("network", _networks, "No networks yet.", present.describe_network),
            CLOUD_HINT)
    confirm = "menu"

    def run(self, ctx: Context, v: Values) -> Result:
        network = obj(ctx, "network", v.name, v.cloud)
        ctx.app.networks.check_removable(network)  # a refusal comes before the question
        ctx.confirm(f"Remove network {network.name} from cloud {network.cloud}?")
        ctx.app.networks.remove(network)
        return said(f"Network {network.name} removed.")


ACTIONS: tuple[Action, ...] = (NetworksList(), NetworksCreate(), NetworksAttach(),
                               NetworksDetach(), NetworksRemove())
