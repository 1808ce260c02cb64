"""Instances: create, power actions, remove; reaching one (connect) is in access.py."""

from __future__ import annotations

import getpass
import ipaddress
import re
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..drivers.base import Driver, ServerSpec
from ..model.errors import DriverError, NotFoundError, ValidationError
from ..model.kinds import (
    CHANGE,
    CLOUD,
    CLUSTER,
    FLAVOR,
    IMAGE,
    INSTANCE,
    KEYPAIR,
    NETWORK,
    PUBLIC_IP,
    SECURITY_GROUP,
)
from ..model.names import DEFAULT_GROUP, KEYPAIR_PREFIX, PUBLIC_SSH
from ..model.objects import (
    Change,
    Cloud,
    Instance,
    Network,
    SecurityGroup,
    State,
)
from ..state.cache import clone
from ..state.claims import Claims
from .base import Manager, Undo, log
from .groups import public_ssh

if TYPE_CHECKING:
    from .public_ips import PublicIPManager
    from .session import Session

__all__ = ["InstanceManager"]


class InstanceManager(Manager):
    def __init__(self, session: Session, public_ips: PublicIPManager):
        super().__init__(session)
        self.public_ips = public_ips

    def all(self, cloud: str | None = None) -> list[Instance]:
        return sorted(self.cache.all(INSTANCE, self.known(cloud)),
                      key=lambda i: (i.name, i.cloud))

    def security_groups(self, cloud: str | None = None) -> list[SecurityGroup]:
        return sorted(self.cache.all(SECURITY_GROUP, self.known(cloud)),
                      key=lambda g: (g.name, g.cloud))

    def network_names(self, instance: Instance) -> list[str]:
        names = []
        for nic in instance.nics:
            net = self.cache.get(NETWORK, instance.cloud, nic.network_id)
            names.append(net.name if net else nic.network_id)
        return names

    # -- create --------------------------------------------------------------------------------

    def creation_refusal(self, cloud: str) -> ValidationError | None:
        """Why no instance can be created in ``cloud`` now (no image, flavor or private
        network), or None: a front end asks it before its first question."""
        self.cloud(cloud)
        if not self.cache.all(IMAGE, cloud):
            return ValidationError(f"cloud {cloud} has no images")
        if not self.cache.all(FLAVOR, cloud):
            return ValidationError(f"cloud {cloud} has no flavors")
        if not any(not n.external for n in self.cache.all(NETWORK, cloud)):
            return ValidationError(f"cloud {cloud} has no private network: create one first")
        return None

    def clouds_for_instances(self) -> list[Cloud]:
        """The clouds an instance can be created in now."""
        return [c for c in sorted(self.cache.all(CLOUD), key=lambda c: c.name)
                if self.creation_refusal(c.name) is None]

    def create(self, cloud: str, name: str, image: str, flavor: str, network: str,
               cluster: str | None = None, security_group: str = DEFAULT_GROUP,
               fixed_ip: str | None = None) -> Instance:
        self.cloud(cloud)
        self.check_new_name(cloud, name)
        if cluster is not None and self.cache.get(CLUSTER, cloud, cluster) is None:
            raise ValidationError(f"no cluster named {cluster!r} in cloud {cloud}")
        try:
            image_obj = self.find(IMAGE, image, cloud)
            flavor_obj = self.find(FLAVOR, flavor, cloud)
            net = self.find(NETWORK, network, cloud)
        except NotFoundError:
            # What the cloud lacks says more than the name not found (read only then: a
            # create reads the rows it names, not the cloud's).
            refusal = self.creation_refusal(cloud)
            if refusal is not None:
                raise refusal from None
            raise
        if net.external:
            raise ValidationError(f"{net.name} is an external network; pick a private one")
        if fixed_ip is not None:
            fixed_ip = self.check_fixed_ip(net, fixed_ip)
        claims = [Claims.name("instance", name)]
        requires = [("network", net.id)] + ([("cluster", cluster)] if cluster else [])
        if fixed_ip is not None:
            claims.append(Claims.address(net.id, fixed_ip))
        if security_group == PUBLIC_SSH:
            claims.append(Claims.ensure("security_group", PUBLIC_SSH))
        else:
            requires.append(("security_group", self.find(SECURITY_GROUP, security_group,
                                                         cloud).id))
        intent = self.work.begin(cloud, f"create instance {name}", claims=claims,
                                 requires=requires)
        driver = self.driver(cloud)
        with self.work.running(intent), Undo() as undo:
            pending: list[Any] = []
            if security_group == PUBLIC_SSH:
                pending.append(public_ssh(self, cloud, undo))
            key_name = self._keypair(cloud, driver, undo, pending)
            zone = cluster if cluster and cluster in self._zones(cloud) else None
            spec = ServerSpec(name, image_obj.id, flavor_obj.id, net.id, [security_group],
                              fixed_ip, key_name, cluster, zone)
            server = driver.create_server(spec)
            undo.push(f"instance {name} in cloud {cloud}",
                      partial(driver.delete_server, server.id))
            server = driver.wait_server(server.id, State.ACTIVE)
            self.work.settle(intent, puts=[*pending, server])
        return self.by_id(INSTANCE, cloud, server.id)

    def _zones(self, cloud: str) -> set[str]:
        if not self.features(cloud).zones:
            return set()
        try:
            return set(self.driver(cloud).availability_zones())
        except DriverError as err:  # a cluster is still a label without its zone
            log.warning("availability zones of cloud %s unknown: %s", cloud, err)
            return set()

    def check_new_name(self, cloud: str, name: str) -> str:
        """The name of an instance to create in ``cloud``: valid and free."""
        return self._check_new_name("instance", cloud, name)

    def check_fixed_ip(self, net: Network, fixed_ip: str) -> str:
        """A requested private address: a host of the network's subnet, not its gateway,
        not held by another instance (as far as MiniCloud knows; the cloud has the last
        word)."""
        try:
            addr = ipaddress.ip_address(fixed_ip)
        except ValueError:
            raise ValidationError(f"invalid IP address {fixed_ip[:45]!r}") from None
        subnet = next((s for s in net.subnets
                       if addr in ipaddress.ip_network(s.cidr, strict=False)), None)
        if subnet is None:
            raise ValidationError(f"{addr} is not in {net.name} ({', '.join(net.cidrs)})")
        cidr = ipaddress.ip_network(subnet.cidr, strict=False)
        if addr == cidr.network_address:
            raise ValidationError(f"{addr} is the network address of {cidr}, not a host")
        if cidr.version == 4 and addr == cidr.broadcast_address:
            raise ValidationError(f"{addr} is the broadcast address of {cidr}, not a host")
        if subnet.gateway_ip and addr == ipaddress.ip_address(subnet.gateway_ip):
            raise ValidationError(f"{addr} is the gateway of {net.name}")
        self.early(Claims.address(net.id, str(addr)), net.cloud)
        return str(addr)

    def _keypair(self, cloud: str, driver: Driver, undo: Undo, pending: list[Any]) -> str | None:
        """Upload the user's public key once per cloud, on clouds with real hosts."""
        features = driver.features
        if not (features.hosts and features.keypairs):
            return None
        key = next((p for p in (Path.home() / ".ssh/id_ed25519.pub",
                                Path.home() / ".ssh/id_rsa.pub") if p.is_file()), None)
        if key is None:
            return None
        user = re.sub(r"[^A-Za-z0-9._-]", "-", getpass.getuser())[:40]
        name = f"{KEYPAIR_PREFIX}{user}"
        if self.cache.get(KEYPAIR, cloud, name) is not None:
            return name
        existing = next((k for k in driver.list_keypairs() if k.name == name), None)
        if existing is not None:  # uploaded earlier, by this or another MiniCloud
            pending.append(existing)
            return name
        pending.append(driver.create_keypair(name, key.read_text().strip()))
        undo.push(f"key pair {name} in cloud {cloud}", partial(driver.delete_keypair, name))
        return name

    # -- power and removal ---------------------------------------------------------------------

    def _power_change(self, instance: Instance, action: str) -> Change | None:
        """The record of a power change to someone else's server (Reset restores its state);
        None when the server is MiniCloud's, or when this undoes an earlier recorded one."""
        if instance.owned or action == "reboot":
            return None
        return Change.of(instance.cloud, "power", instance.id, detail=instance.status)

    def _act(self, instance: Instance, action: str) -> Instance:
        change = self._power_change(instance, action)
        earlier = self.cache.get(CHANGE, instance.cloud,
                                 Change.make_id("power", instance.id))
        intent = self.work.begin(instance.cloud, f"{action} instance {instance.name}",
                                 changes=[change] if change and not earlier else [],
                                 requires=[("instance", instance.id)])
        driver = self.driver(instance.cloud)
        wanted = State.SHUTOFF if action == "stop" else State.ACTIVE
        with self.work.running(intent):
            server = getattr(driver, f"{action}_server")(instance.id)
            if server.status != wanted:
                server = driver.wait_server(instance.id, wanted)
            puts: list[Any] = [server]
            deletes: list[Any] = []
            if change is not None:
                if earlier is None:
                    puts.append(change)
                elif earlier.detail == server.status:
                    deletes.append(earlier)  # back as it was: nothing left to restore
            self.work.settle(intent, puts=puts, deletes=deletes)
        return self.by_id(INSTANCE, instance.cloud, instance.id)

    def power_refusal(self, instance: Instance, action: str) -> str | None:
        """Why ``action`` (start, stop, reboot) does not apply to the instance now, or None
        when it does (a front end offers only the instances it applies to)."""
        if action == "start" and instance.status == State.ACTIVE:
            return f"instance {instance.name} is running already"
        if action == "stop" and instance.status == State.SHUTOFF:
            return f"instance {instance.name} is stopped already"
        if action == "reboot" and instance.status == State.SHUTOFF:
            return f"instance {instance.name} is stopped: start it instead"
        return None

    def _power(self, instance: Instance, action: str) -> Instance:
        instance = self.current(instance)  # refused on what the store holds, not a copy
        refusal = self.power_refusal(instance, action)
        if refusal is not None:
            raise ValidationError(refusal)
        return self._act(instance, action)

    def start(self, instance: Instance) -> Instance:
        return self._power(instance, "start")

    def stop(self, instance: Instance) -> Instance:
        return self._power(instance, "stop")

    def reboot(self, instance: Instance) -> Instance:
        return self._power(instance, "reboot")

    def check_removable(self, instance: Instance) -> None:
        """Refuse (as remove does) an instance MiniCloud did not create: a front end asks
        this before its confirmation."""
        if not instance.owned:
            raise ValidationError(f"MiniCloud did not create instance {instance.name}; it stays")

    def remove(self, instance: Instance) -> None:
        """Delete an instance MiniCloud created; its public IP is released or given back."""
        self.check_removable(instance)
        fips = [f for f in self.cache.all(PUBLIC_IP, instance.cloud)
                if f.instance_id == instance.id]
        intent = self.work.begin(instance.cloud, f"remove instance {instance.name}",
                                 requires=[("instance", instance.id)])
        driver = self.driver(instance.cloud)
        with self.work.running(intent):
            with Undo() as undo:
                for fip in fips:
                    driver.disassociate_public_ip(fip.id)
                    undo.push(f"public IP {fip.name} (disassociated)",
                              partial(driver.associate_public_ip, fip.id, instance.id))
                driver.delete_server(instance.id)
            # The server is gone: from here on only the store and cache follow.
            puts, deletes = [], [instance, *self.changes_of(instance.cloud, instance.id)]
            for fip in fips:
                deletes += self.changes_of(fip.cloud, fip.id)
                free = clone(fip)
                free.instance_id = free.port_id = free.fixed_ip = None
                puts.append(free)
            self.work.settle(intent, puts=puts, deletes=deletes)
        for fip in fips:
            if fip.owned:  # an IP MiniCloud allocated goes back to the cloud
                self.public_ips.release(self.by_id(PUBLIC_IP, fip.cloud, fip.id))
