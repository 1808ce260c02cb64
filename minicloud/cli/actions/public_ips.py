"""Public IPs: list, release."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import present
from ..present import Result, said, table
from .base import (
    CLOUD_FILTER,
    CLOUD_HINT,
    JSON,
    Action,
    Arg,
    Context,
    Values,
    name_of,
    none_because,
)

if TYPE_CHECKING:
    from ...app import MiniCloud


class PublicIpsList(Action):
    path = ("public-ips", "list")
    help = "list the public IPs"
    menu = ("List public IPs",)
    args = (CLOUD_FILTER, JSON)

    def run(self, ctx: Context, v: Values) -> Result:
        from ...render.views import Views

        views = Views(ctx.app.topology.deployment(name_of(v.cloud)))
        rows = [views.public_ip_view(f) for f in ctx.app.public_ips.public_ips(name_of(v.cloud))]
        return table(rows, present.PUBLIC_IP_COLUMNS, "No public IPs.")


def _public_ips(app: MiniCloud, v: Values) -> Sequence[Any]:
    return app.public_ips.releasable()


def _none_to_release(app: MiniCloud, v: Values) -> str:
    if not app.public_ips.public_ips():
        return "No public IP to release."
    return none_because(app, "No public IP to release",
                        [app.public_ips.release_refusal(f) for f in app.public_ips.public_ips()])


class PublicIpsRelease(Action):
    path = ("public-ips", "release")
    help = "give a public IP MiniCloud allocated back to its cloud"
    menu = ("Release a public IP",)
    args = (
        Arg("address", metavar="ADDRESS", positional=True, required=True, help="the address",
            prompt="Public IP", pick=_public_ips, show=present.describe_public_ip,
            empty=_none_to_release),
        CLOUD_HINT,
    )
    confirm = "menu"

    def run(self, ctx: Context, v: Values) -> Result:
        fip = v.address
        if isinstance(fip, str):
            fip = ctx.app.public_ips.find_public_ip(fip, name_of(v.cloud))
        else:
            fip = ctx.app.networks.current(fip)  # picked a moment ago: as the store has it
        refusal = ctx.app.public_ips.release_refusal(fip)
        if refusal is not None:  # before the question
            raise refusal
        holder = ctx.app.public_ips.holder(fip)
        also = f", detaching it from instance {holder.name}" if holder is not None else ""
        ctx.confirm(f"Release public IP {fip.name} back to cloud {fip.cloud}{also}?")
        ctx.app.public_ips.release(fip)
        was = f" (it was attached to instance {holder.name})" if holder is not None else ""
        return said(f"Public IP {fip.name} released{was}.")


ACTIONS: tuple[Action, ...] = (PublicIpsList(), PublicIpsRelease())
