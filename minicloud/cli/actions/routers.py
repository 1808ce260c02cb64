"""Routers: list, create, attach and detach networks, set or clear the gateway, remove."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ...model.errors import ValidationError
from .. import present
from ..present import Result, said, table
from .base import (
    CLOUD_FILTER,
    CLOUD_HINT,
    JSON,
    Action,
    Arg,
    Context,
    Entry,
    Values,
    chosen,
    cloud_that_can,
    name_of,
    new_name,
    obj,
)

if TYPE_CHECKING:
    from ...app import MiniCloud
    from ...model.objects import Network, Router


class RoutersList(Action):
    path = ("routers", "list")
    help = "list the routers"
    menu = ("List routers",)
    args = (CLOUD_FILTER, JSON)

    def run(self, ctx: Context, v: Values) -> Result:
        from ...render.views import Views

        views = Views(ctx.app.topology.deployment(name_of(v.cloud)))
        rows = [views.router(r) for r in ctx.app.routers.all(name_of(v.cloud))]
        return table(rows, present.ROUTER_COLUMNS, "No routers yet.")


def _externals(app: MiniCloud, cloud: str) -> list[Network]:
    return app.routers.external_networks(cloud)


def _single_external(app: MiniCloud, v: Values) -> Network | None:
    externals = _externals(app, name_of(v.cloud) or "")
    return externals[0] if len(externals) == 1 else None


class RoutersCreate(Action):
    path = ("routers", "create")
    help = "create a router"
    menu = ("Create a router",)
    args = (
        cloud_that_can("routers", "No cloud here has routers."),
        new_name("router", lambda app, v, text: app.routers.check_new_name(
            name_of(v.cloud) or "", text)),
        Arg("gateway", metavar="NET", help="its external gateway network",
            prompt="External gateway", none="No gateway", show=present.describe_network,
            pick=lambda app, v: _externals(app, name_of(v.cloud) or ""),
            default=_single_external),
    )

    def run(self, ctx: Context, v: Values) -> Result:
        gateway = name_of(v.gateway)
        router = ctx.app.routers.create(name_of(v.cloud) or "", v.name, gateway)
        via = f" with gateway {gateway}" if gateway else ""
        return said(f"Router {router.name} created in cloud {router.cloud}{via}.")


def attach(ctx: Context, network: Network, router: Router) -> Result:
    ctx.app.networks.attach(network, router)
    return said(f"Network {network.name} attached to router {router.name}.")


def detach(ctx: Context, network: Network, router: Router) -> Result:
    ctx.app.networks.detach(network, router)
    return said(f"Network {network.name} detached from router {router.name}.")


def _routers(app: MiniCloud, v: Values) -> Sequence[Any]:
    return app.routers.all()


def _taking(app: MiniCloud, v: Values) -> Sequence[Any]:
    """Routers that their cloud's type lets an existing network join."""
    return [r for r in app.routers.all() if app.clouds.features(r.cloud).attach_network]


def _releasing(app: MiniCloud, v: Values) -> Sequence[Any]:
    """Routers that their cloud's type lets a network leave."""
    return [r for r in app.routers.all() if app.clouds.features(r.cloud).detach_network]


def _no_router(why: str) -> Callable[[MiniCloud, Values], str]:
    """The line shown when no router is offered: none yet, or none that the clouds' types
    allow the operation on (``why``)."""
    return lambda app, v: f"No router {why}." if app.routers.all() else "No routers yet."


def _attachable(app: MiniCloud, v: Values) -> list[Network]:
    router = v.router
    if not app.clouds.features(router.cloud).attach_network:
        return []
    return [n for n in app.networks.all(router.cloud)
            if not n.external and n.id not in router.interface_network_ids]


def _attached(app: MiniCloud, v: Values) -> list[Network]:
    """The router's networks, where its cloud's type lets them leave it."""
    router = v.router
    if not app.clouds.features(router.cloud).detach_network:
        return []
    return [n for n in app.networks.all(router.cloud) if n.id in router.interface_network_ids]


class RoutersAttach(Action):
    path = ("routers", "attach")
    help = "attach a network to a router"
    menu = ("Attach a network",)
    args = (
        chosen("router", _taking,
               _no_router("takes an existing network: on these clouds a network joins a "
                          "router only when it is created on it"), name="router"),
        Arg("network", metavar="NETWORK", positional=True, required=True, help="the network",
            prompt="Network", pick=_attachable, show=present.describe_network,
            empty=lambda app, v: f"No network of cloud {v.router.cloud} can be attached to "
                            f"{v.router.name}."),
        CLOUD_HINT,
    )

    def run(self, ctx: Context, v: Values) -> Result:
        router = obj(ctx, "router", v.router, v.cloud)
        return attach(ctx, obj(ctx, "network", v.network, router.cloud), router)


class RoutersDetach(Action):
    path = ("routers", "detach")
    help = "detach a network from a router"
    menu = ("Detach a network",)
    args = (
        chosen("router", _releasing,
               _no_router("lets a network leave it: on these clouds a network leaves its "
                          "router only when it is removed"), name="router"),
        Arg("network", metavar="NETWORK", positional=True, required=True, help="the network",
            prompt="Network", pick=_attached, show=present.describe_network,
            empty=lambda app, v: f"Router {v.router.name} has no network to detach."),
        CLOUD_HINT,
    )

    def run(self, ctx: Context, v: Values) -> Result:
        router = obj(ctx, "router", v.router, v.cloud)
        return detach(ctx, obj(ctx, "network", v.network, router.cloud), router)


def _gateway_routers(app: MiniCloud, v: Values) -> Sequence[Any]:
    """To clear: routers with a gateway that their cloud's type can clear.  To set: routers
    whose gateway can be set: none yet, or one their type can clear first (someone else's
    router only where it can, so that Reset can take the gateway back)."""
    def clears(router: Router) -> bool:
        return app.clouds.features(router.cloud).clear_gateway

    routers = app.routers.all()
    if v.clear:
        return [r for r in routers if r.gateway_network_id and clears(r)]
    return [r for r in routers if clears(r) or (r.owned and not r.gateway_network_id)]


def _no_gateway_router(app: MiniCloud, v: Values) -> str:
    """The line shown when no router is offered to set or clear the gateway of."""
    routers = app.routers.all()
    if v.clear:
        if any(r.gateway_network_id for r in routers):
            return ("No router's gateway can be cleared: on these clouds a router keeps its "
                    "gateway until it is removed.")
        return "No router has a gateway."
    if routers:
        return ("No router's gateway can be set: on these clouds a router keeps the gateway "
                "it was created with.")
    return "No routers yet."


class RoutersGateway(Action):
    path = ("routers", "gateway")
    help = "set a router's external gateway (NETWORK) or clear it (--clear)"
    menu = ("Set the gateway", Entry("Clear the gateway", {"clear": True}))
    args = (
        Arg("router", metavar="ROUTER", positional=True, required=True, help="the router",
            prompt="Router", pick=_gateway_routers, show=present.named,
            empty=_no_gateway_router),
        Arg("network", metavar="NETWORK", positional=True, help="an external network",
            prompt="External network", show=present.describe_network,
            pick=lambda app, v: _externals(app, v.router.cloud),
            empty=lambda app, v: f"Cloud {v.router.cloud} has no external network.",
            when=lambda app, v: not v.clear),
        Arg("clear", switch=True, help="clear the gateway"),
        CLOUD_HINT,
    )

    def run(self, ctx: Context, v: Values) -> Result:
        if (v.network is None) == (not v.clear):
            raise ValidationError("routers gateway: give either NETWORK or --clear")
        router = obj(ctx, "router", v.router, v.cloud)
        if v.clear:
            ctx.app.routers.clear_gateway(router)
            return said(f"Router {router.name}: gateway cleared.")
        network = name_of(v.network) or ""
        ctx.app.routers.set_gateway(router, network)
        return said(f"Router {router.name}: gateway is now {network}.")


class RoutersRemove(Action):
    path = ("routers", "remove")
    help = "remove a router MiniCloud created"
    menu = ("Remove a router",)
    args = (chosen("router", _routers, "No routers yet."), CLOUD_HINT)
    confirm = "menu"

    def run(self, ctx: Context, v: Values) -> Result:
        router = obj(ctx, "router", v.name, v.cloud)
        ctx.app.routers.check_removable(router)  # a refusal comes before the question
        ctx.confirm(f"Remove router {router.name} from cloud {router.cloud}?")
        ctx.app.routers.remove(router)
        return said(f"Router {router.name} removed.")


ACTIONS: tuple[Action, ...] = (RoutersList(), RoutersCreate(), RoutersAttach(),
                               RoutersDetach(), RoutersGateway(), RoutersRemove())
