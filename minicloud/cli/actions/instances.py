"""Instances: list, create, show, start/stop/reboot, connect (ssh), remove; security groups."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ...model.errors import MiniCloudError
from ...model.kinds import NETWORK
from ...model.names import DEFAULT_GROUP, PUBLIC_SSH
from ...model.validation import check_login_user
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
    none_because,
    obj,
)

if TYPE_CHECKING:
    from ...app import MiniCloud
    from ...managers.access import ConnectPlan
    from ...model.objects import SecurityGroup


class InstancesList(Action):
    path = ("instances", "list")
    help = "list the instances"
    menu = ("List instances",)
    args = (CLOUD_FILTER, JSON)

    def run(self, ctx: Context, v: Values) -> Result:
        from ...render.views import Views

        views = Views(ctx.app.topology.deployment(name_of(v.cloud)))
        rows = [views.instance(i) for i in ctx.app.instances.all(name_of(v.cloud))]
        return table(rows, present.INSTANCE_COLUMNS, "No instances yet.")


def _cloud(v: Values) -> str:
    return name_of(v.cloud) or ""


def _groups(app: MiniCloud, v: Values) -> list[str]:
    names = sorted({g.name for g in app.instances.security_groups(_cloud(v))})
    return names if PUBLIC_SSH in names else [*names, PUBLIC_SSH]


def _fixed_ip(app: MiniCloud, v: Values, text: str) -> str:
    """A typed fixed IP, checked against the network just picked (as create checks it)."""
    network = v.network
    if isinstance(network, str):
        network = app.clouds.find(NETWORK, network, _cloud(v))
    return app.instances.check_fixed_ip(network, text)


def _no_cloud_for_instances(app: MiniCloud, v: Values) -> str:
    return none_because(app, "No cloud can take an instance now",
                        [app.instances.creation_refusal(c.name) for c in app.clouds.all()])


class InstancesCreate(Action):
    path = ("instances", "create")
    help = "create an instance"
    menu = ("Create an instance",)
    args = (
        # Only the clouds it can be created in (an image, a flavor, a private network): the
        # other questions are not asked for nothing.
        dataclasses.replace(CLOUD, pick=lambda app, v: app.instances.clouds_for_instances(),
                            empty=_no_cloud_for_instances),
        new_name("instance", lambda app, v, text: app.instances.check_new_name(_cloud(v), text)),
        Arg("cluster", metavar="K", help="put it in this cluster", prompt="Cluster",
            none="No cluster", pick=lambda app, v: app.clusters.all(_cloud(v))),
        Arg("image", metavar="I", required=True, help="its image", prompt="Image",
            pick=lambda app, v: app.clouds.images(_cloud(v)),
            empty=lambda app, v: f"Cloud {_cloud(v)} has no images."),
        Arg("flavor", metavar="F", required=True, help="its flavor", prompt="Flavor",
            pick=lambda app, v: app.clouds.flavors(_cloud(v)), show=present.describe_flavor,
            empty=lambda app, v: f"Cloud {_cloud(v)} has no flavors."),
        Arg("network", metavar="N", required=True, help="its network", prompt="Network",
            pick=lambda app, v: [n for n in app.networks.all(_cloud(v)) if not n.external],
            show=present.describe_network,
            empty=lambda app, v: f"Cloud {_cloud(v)} has no private network: create one first."),
        Arg("security_group", metavar="G",
            help=f"its security group (default: the cloud's group named '{DEFAULT_GROUP}')",
            prompt="Security group", pick=_groups,
            default=lambda app, v: DEFAULT_GROUP if DEFAULT_GROUP in _groups(app, v) else None),
        Arg("fixed_ip", metavar="IP", help="its private IP",
            prompt="Fixed IP (empty: the next free one)", optional=True, check=_fixed_ip),
    )

    def run(self, ctx: Context, v: Values) -> Result:
        network = name_of(v.network) or ""
        inst = ctx.app.instances.create(
            _cloud(v), v.name, name_of(v.image) or "", name_of(v.flavor) or "", network,
            cluster=name_of(v.cluster), security_group=name_of(v.security_group) or DEFAULT_GROUP,
            fixed_ip=v.fixed_ip or None)
        return said(f"Instance {inst.name} created: {inst.status}, {inst.private_ip or '-'} on "
                    f"{network}.")


def _instances(app: MiniCloud, v: Values) -> Sequence[Any]:
    return app.instances.all()


INSTANCE = chosen("instance", _instances, "No instances yet.", present.describe_instance)
SHOWN = [("Name", "name"), ("Cloud", "cloud"), ("Cluster", "cluster"), ("ID", "id"),
         ("Status", "status"), ("Image", "image"), ("Flavor", "flavor"),
         ("Private IP", "private_ip"), ("Networks", "networks"),
         ("Security groups", "security_groups"), ("Public IP", "public_ip")]


class InstancesShow(Action):
    path = ("instances", "show")
    help = "show an instance"
    menu = ("Show an instance",)
    args = (INSTANCE, CLOUD_HINT, JSON)

    def run(self, ctx: Context, v: Values) -> Result:
        from ...render.views import Views

        inst = obj(ctx, "instance", v.name, v.cloud)
        row = Views(ctx.app.topology.deployment(inst.cloud)).instance(inst)
        fields = [(label, row[key]) for label, key in SHOWN]
        return present.record(row, [*fields, ("Created by MiniCloud", inst.owned)])


def _power_arg(verb: str, empty: str) -> Arg:
    """The instance to start, stop or reboot: the picker offers only those the manager
    would not refuse (a command names its instance and gets the refusal)."""
    return chosen("instance", lambda app, v: [i for i in app.instances.all()
                                              if app.instances.power_refusal(i, verb) is None],
                  empty, present.describe_instance)


class _Power(Action):
    verb: ClassVar[str]
    done: ClassVar[str]

    def run(self, ctx: Context, v: Values) -> Result:
        inst = obj(ctx, "instance", v.name, v.cloud)
        inst = getattr(ctx.app.instances, self.verb)(inst)
        return said(f"Instance {inst.name} {self.done}: {inst.status}.")


class InstancesStart(_Power):
    path, help, menu = ("instances", "start"), "start an instance", ("Start",)
    verb, done = "start", "started"
    args = (_power_arg(verb, "No stopped instance to start."), CLOUD_HINT)


class InstancesStop(_Power):
    path, help, menu = ("instances", "stop"), "stop an instance", ("Stop",)
    verb, done = "stop", "stopped"
    args = (_power_arg(verb, "No running instance to stop."), CLOUD_HINT)


class InstancesReboot(_Power):
    path, help, menu = ("instances", "reboot"), "reboot an instance", ("Reboot",)
    verb, done = "reboot", "rebooted"
    args = (_power_arg(verb, "No running instance to reboot."), CLOUD_HINT)


def connect_notes(plan: ConnectPlan) -> list[str]:
    """What connect did and what it could not, in the user's words."""
    name, notes = plan.instance.name, []
    if plan.gave_public_ip:
        notes.append(f"Gave public IP {plan.address} to {name}.")
    if plan.opened_ssh:
        notes.append(f"Added security group {PUBLIC_SSH} (SSH, TCP 22) to {name}.")
    if not plan.public:
        why = (f"router {plan.router_without_gateway} has no gateway"
               if plan.router_without_gateway else "its network is on no router with a gateway")
        notes.append(f"No route out ({why}): using the private address {plan.address}, "
                     "reachable only from inside the cloud's network.")
    if plan.ssh_key is None:
        notes.append("No SSH key found in ~/.ssh: make one with 'ssh-keygen -t ed25519' "
                     "(instances created afterwards get its public half).")
    return notes


def run_ssh(ctx: Context, plan: ConnectPlan) -> Result:
    """Run the plan's ssh (a command exits with its code), or show it on a cloud with no
    hosts."""
    import shlex
    import subprocess

    shown = shlex.join(plan.command)
    groups = ", ".join(plan.instance.security_groups) or "-"
    ctx.note(f"Instance {plan.instance.name}: {plan.user}@{plan.address}, security groups "
             f"{groups}.")
    for line in connect_notes(plan):
        ctx.note(line)
    if not plan.runnable:
        ctx.note("A Stub cloud has no host to reach; the command would be:")
        return Result([shown])
    ctx.note(f"Running: {shown}")
    sys.stdout.flush()
    try:
        code = subprocess.call(plan.command)
    except OSError as err:
        raise MiniCloudError(f"cannot run {plan.command[0]}: {err.strerror or err}") from None
    return Result(code=code, status=f"{plan.command[0]} exited with code {code}.")


def _connectable(app: MiniCloud, v: Values) -> Sequence[Any]:
    return app.access.connectable()


def _none_to_connect(app: MiniCloud, v: Values) -> str:
    return none_because(app, "No instance to connect to",
                        [app.access.connect_refusal(i) for i in app.instances.all()]) \
        if app.instances.all() else "No instances yet."


class InstancesConnect(Action):
    path = ("instances", "connect")
    help = ("give an instance a public IP and SSH access, then run ssh to it (on a Stub "
            "cloud: print the command)")
    menu = ("Connect",)
    args = (
        chosen("instance", _connectable, _none_to_connect, present.describe_instance),
        CLOUD_HINT,
        # Asked when connect would give it one and its type takes an address: Enter takes
        # any free one, as the command does without --public-ip.
        Arg("public_ip", metavar="IP", help="use (or allocate) this public IP",
            prompt="Public IP (empty: any free one)", optional=True,
            check=lambda app, v, text: app.access.check_public_ip(v.name, text),
            when=lambda app, v: app.access.asks_public_ip(v.name)),
        # Asked only when neither the image's properties nor [ssh] user say who logs in.
        Arg("user", metavar="U", help="login user (default: from the image)",
            prompt="Login user", default="root",
            check=lambda app, v, text: check_login_user(text),
            when=lambda app, v: app.access.asks_login_user(v.name)),
    )

    def run(self, ctx: Context, v: Values) -> Result:
        inst = obj(ctx, "instance", v.name, v.cloud)
        return run_ssh(ctx, ctx.app.access.connect(inst, user=v.user, address=v.public_ip))


class InstancesRemove(Action):
    path = ("instances", "remove")
    help = "remove an instance MiniCloud created"
    menu = ("Remove an instance",)
    args = (INSTANCE, CLOUD_HINT)
    confirm = "menu"

    def run(self, ctx: Context, v: Values) -> Result:
        inst = obj(ctx, "instance", v.name, v.cloud)
        ctx.app.instances.check_removable(inst)  # a refusal comes before the question
        # What else goes is said in the question, and again when it is done.
        fip = ctx.app.access.public_ip_of(inst)
        also = ""
        if fip is not None:
            also = (f", releasing its public IP {fip.name}" if fip.owned else
                    f", taking back its public IP {fip.name} (it stays in the cloud)")
        ctx.confirm(f"Remove instance {inst.name} from cloud {inst.cloud}{also}?")
        ctx.app.instances.remove(inst)
        if fip is None:
            return said(f"Instance {inst.name} removed.")
        done = "released" if fip.owned else "taken back, free in the cloud"
        return said(f"Instance {inst.name} removed; public IP {fip.name} {done}.")


class SecurityGroupsList(Action):
    path = ("security-groups", "list")
    help = "list the security groups"
    args = (CLOUD_FILTER, JSON)

    def run(self, ctx: Context, v: Values) -> Result:
        from ...render.views import security_group_view

        cloud = name_of(v.cloud)
        if cloud is not None:
            ctx.app.clouds.get(cloud)
        groups: Sequence[SecurityGroup] = ctx.app.instances.security_groups(cloud)
        rows = [security_group_view(g) for g in groups]
        shown = [dict(row, rules=len(row["rules"]), ssh=g.allows_ssh())
                 for row, g in zip(rows, groups, strict=True)]
        return table(rows, present.SECURITY_GROUP_COLUMNS, "No security groups yet.", shown)


ACTIONS: tuple[Action, ...] = (
    InstancesList(), InstancesCreate(), InstancesShow(), InstancesStart(), InstancesStop(),
    InstancesReboot(), InstancesConnect(), InstancesRemove())
GROUPS: tuple[Action, ...] = (SecurityGroupsList(),)
