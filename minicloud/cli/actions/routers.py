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
    none_because,
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
    """Routers some existing network can be attached to (the managers say which)."""
    return app.networks.routers_to_attach_to()


def _releasing(app: MiniCloud, v: Values) -> Sequence[Any]:
    """Routers some network can be detached from."""
    return app.networks.routers_to_detach_from()


def _no_router(why: str, features: tuple[str, str]) -> Callable[[MiniCloud, Values], str]:
    """The line shown when no router is offered: none yet, none that the clouds' types allow
    the operation on (``features``), or none that it applies to now (``why``)."""
    def line(app: MiniCloud, v: Values) -> str:
        routers = app.routers.all()
        if not routers:
            return "No routers yet."
        if not any(getattr(app.clouds.features(r.cloud), features[0]) for r in routers):
            return f"No router {features[1]}."
        return f"No router {why}."
    return line


def _attachable(app: MiniCloud, v: Values) -> list[Network]:
    return app.networks.attachable(v.router)


def _attached(app: MiniCloud, v: Values) -> list[Network]:
    return app.networks.detachable(v.router)


class RoutersAttach(Action):
    path = ("routers", "attach")
    help = "attach a network to a router"
    menu = ("Attach a network",)
    args = (
        chosen("router", _taking,
               _no_router("can take another network: every network is on it already",
                          ("attach_network", "takes an existing network: on these clouds a "
                           "network joins a router only when it is created on it")),
               name="router"),
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
               _no_router("has a network that can be detached (none has a network, or its "
                          "instances use public IPs through it)",
                          ("detach_network", "lets a network leave it: on these clouds a "
                           "network leaves its router only when it is removed")),
               name="router"),
        Arg("network", metavar="NETWORK", positional=True, required=True, help="the network",
            prompt="Network", pick=_attached, show=present.describe_network,
            empty=lambda app, v: f"Router {v.router.name} has no network to detach."),
        CLOUD_HINT,
    )

    def run(self, ctx: Context, v: Values) -> Result:
        router = obj(ctx, "router", v.router, v.cloud)
        return detach(ctx, obj(ctx, "network", v.network, router.cloud), router)


def _gateway_routers(app: MiniCloud, v: Values) -> Sequence[Any]:
    """The routers whose gateway can be cleared now, or set now (the managers say which)."""
    return app.routers.routers_to_clear() if v.clear else app.routers.routers_for_gateway()


def _no_gateway_router(app: MiniCloud, v: Values) -> str:
    """The line shown when no router is offered to set or clear the gateway of: why not,
    from the managers' refusals."""
    routers: list[Router] = app.routers.all()
    if not routers:
        return "No routers yet."
    if v.clear:
        if not any(r.gateway_network_id for r in routers):
            return "No router has a gateway."
        return none_because(app, "No router's gateway can be cleared",
                            [app.routers.clear_refusal(r) for r in routers])
    return none_because(app, "No router can take a gateway now",
                        [app.routers.gateway_refusal(r) for r in routers])


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
            pick=lambda app, v: app.routers.gateways_for(v.router),
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
