"""[ Instances ]: create, show, power actions, connect, remove."""

from __future__ import annotations

import shlex
import subprocess
from typing import Any

from ...errors import MiniCloudError
from ...managers.base import check_name
from ...model import DEFAULT_GROUP, PUBLIC_SSH
from .common import Session, named, pick_cloud, run_submenu, show_topology
from .routers import describe_network


def run(session: Session) -> None:
    run_submenu(session, "Instances", [
        ("Instance topology", show_topology),
        ("List instances", list_instances),
        ("Create an instance", create_instance),
        ("Show an instance", show_instance),
        ("Start", start),
        ("Stop", stop),
        ("Reboot", reboot),
        ("Connect", connect),
        ("Remove an instance", remove_instance),
        ("Back", None),
    ])


def pick_instance(session: Session) -> Any:
    instances = session.app.instances.all()
    return session.p.pick("Instance", instances,
                          lambda i: f"{named(session, i)} [{i.private_ip or '-'}] [{i.status}]",
                          empty="No instances yet.")


def _summary(session: Session, inst: Any) -> str:
    app = session.app
    nets = app.instances.network_names(inst)
    fip = app.instances.public_ip_of(inst)
    public = f", public IP {fip.name}" if fip is not None else ""
    cluster = f", cluster {inst.cluster}" if inst.cluster else ""
    return (f"{named(session, inst)}: {inst.status}, {inst.private_ip or '-'} on "
            f"{nets[0] if nets else '-'}{public}{cluster}")


def list_instances(session: Session) -> None:
    instances = session.app.instances.all()
    if not instances:
        session.p.say("No instances yet.")
    for inst in instances:
        session.p.say(_summary(session, inst))


def _security_groups(session: Session, cloud: str) -> list[str]:
    # No manager lists security groups: read their names from the cache (presentation only).
    cache = session.app.inventory.ensure_loaded()
    names = sorted({g.name for g in cache.all("security_group", cloud)})
    if PUBLIC_SSH not in names:
        names.append(PUBLIC_SSH)
    return names


def create_instance(session: Session) -> None:
    app, p = session.app, session.p
    cloud = pick_cloud(session)
    name = p.ask("Instance name", validate=lambda n: check_name(n, "instance name"))
    clusters = app.clouds.clusters(cloud)
    cluster = None
    if clusters:
        chosen = p.pick("Cluster", [None, *clusters],
                        lambda c: "No cluster" if c is None else c.name)
        cluster = chosen.name if chosen is not None else None
    image = p.pick("Image", app.clouds.images(cloud), lambda i: i.name,
                   empty=f"Cloud {cloud} has no images.")
    flavor = p.pick("Flavor", app.clouds.flavors(cloud),
                    lambda f: f"{f.name} ({f.vcpus} vCPU, {f.ram} MB RAM, {f.disk} GB disk)",
                    empty=f"Cloud {cloud} has no flavors.")
    network = p.pick("Network", [n for n in app.networks.all(cloud) if not n.external],
                     describe_network,
                     empty=f"Cloud {cloud} has no private network: create one first.")
    groups = _security_groups(session, cloud)
    group = p.pick("Security group", groups,
                   default=DEFAULT_GROUP if DEFAULT_GROUP in groups else None)
    fixed_ip = p.ask("Fixed IP (empty: the next free one)", default="") or None
    inst = app.instances.create(cloud, name, image.name, flavor.name, network.name,
                                cluster=cluster, security_group=group, fixed_ip=fixed_ip)
    p.say(f"Instance {inst.name} created: {inst.status}, {inst.private_ip or '-'} on "
          f"{network.name}.")


def show_instance(session: Session) -> None:
    app, p = session.app, session.p
    inst = pick_instance(session)
    fip = app.instances.public_ip_of(inst)
    nics = app.instances.network_names(inst)
    pairs = zip(nics, inst.nics, strict=False)
    addresses = ", ".join(f"{net} {nic.ip or '-'}" for net, nic in pairs)
    for label, value in (
        ("Name", inst.name),
        ("Cloud", inst.cloud),
        ("Cluster", inst.cluster or "-"),
        ("Status", inst.status),
        ("Image", inst.image),
        ("Flavor", inst.flavor),
        ("Networks", addresses or "-"),
        ("Security groups", ", ".join(inst.security_groups) or "-"),
        ("Public IP", fip.name if fip is not None else "-"),
        ("Created by MiniCloud", "yes" if inst.owned else "no"),
    ):
        p.say(f"{label:<21}: {value}")


def start(session: Session) -> None:
    inst = session.app.instances.start(pick_instance(session))
    session.p.say(f"Instance {inst.name} started: {inst.status}.")


def stop(session: Session) -> None:
    inst = session.app.instances.stop(pick_instance(session))
    session.p.say(f"Instance {inst.name} stopped: {inst.status}.")


def reboot(session: Session) -> None:
    inst = session.app.instances.reboot(pick_instance(session))
    session.p.say(f"Instance {inst.name} rebooted: {inst.status}.")


def connect(session: Session) -> None:
    app, p = session.app, session.p
    inst = pick_instance(session)
    user = None
    if app.instances.asks_login_user(inst):
        # Neither the image's properties nor [ssh] user say who logs in.
        user = p.ask("Login user", default="root", validate=check_name)
    plan = app.instances.connect(inst, user=user)
    command = shlex.join(plan.command)
    p.say(f"Instance {plan.instance.name}: {plan.user}@{plan.address}, "
          f"security groups {', '.join(plan.instance.security_groups) or '-'}.")
    if not plan.runnable:
        p.say("A Stub cloud has no host to reach; the command would be:")
        p.say(command)
        return
    p.say(f"Running: {command}")
    try:
        code = subprocess.call(plan.command)
    except OSError as err:
        raise MiniCloudError(f"cannot run {plan.command[0]}: {err.strerror or err}") from None
    p.say(f"{plan.command[0]} exited with code {code}.")


def remove_instance(session: Session) -> None:
    app, p = session.app, session.p
    inst = pick_instance(session)
    if not p.confirm(f"Remove instance {inst.name} from cloud {inst.cloud}?"):
        p.say("Nothing changed.")
        return
    app.instances.remove(inst)
    p.say(f"Instance {inst.name} removed.")
