"""Instances: create, power actions, remove, and connect (public IP + SSH access)."""

from __future__ import annotations

import getpass
import ipaddress
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cache import clone
from ..drivers.base import Driver, ServerSpec
from ..errors import DriverError, ValidationError
from ..model import (
    DEFAULT_GROUP,
    KEYPAIR_PREFIX,
    PUBLIC_SSH,
    Change,
    Instance,
    Network,
    PublicIP,
    SecurityGroup,
    SecurityRule,
)
from .base import Manager, Undo, check_name, log
from .networks import NetworkManager

if TYPE_CHECKING:
    from ..session import Session

# Login users of well-known images, when the image's properties do not say.
KNOWN_USERS = {"cirros": "cirros", "ubuntu": "ubuntu", "debian": "debian", "centos": "centos",
               "fedora": "fedora", "rocky": "rocky", "almalinux": "almalinux"}
SSH_RULES = (SecurityRule("ingress", "tcp", 22, 22, "IPv4", "0.0.0.0/0"),
             SecurityRule("ingress", "tcp", 22, 22, "IPv6", "::/0"))


@dataclass
class ConnectPlan:
    instance: Instance
    address: str
    user: str
    command: list[str]
    # False on clouds with no hosts (Stub): the command is only shown.
    runnable: bool


class InstanceManager(Manager):
    def __init__(self, session: Session, networks: NetworkManager):
        super().__init__(session)
        self.networks = networks

    def all(self, cloud: str | None = None) -> list[Instance]:
        return sorted(self.cache.all("instance", cloud), key=lambda i: (i.name, i.cloud))

    def security_groups(self, cloud: str | None = None) -> list[SecurityGroup]:
        return sorted(self.cache.all("security_group", cloud), key=lambda g: (g.name, g.cloud))

    def public_ip_of(self, instance: Instance) -> PublicIP | None:
        return next((f for f in self.cache.all("public_ip", instance.cloud)
                     if f.instance_id == instance.id), None)

    def network_names(self, instance: Instance) -> list[str]:
        names = []
        for nic in instance.nics:
            net = self.cache.get("network", instance.cloud, nic.network_id)
            names.append(net.name if net else nic.network_id)
        return names

    # -- create --------------------------------------------------------------------------------

    def create(self, cloud: str, name: str, image: str, flavor: str, network: str,
               cluster: str | None = None, security_group: str = DEFAULT_GROUP,
               fixed_ip: str | None = None) -> Instance:
        self.cloud(cloud)
        check_name(name, "instance name")
        if self.name_taken("instance", cloud, name):
            raise ValidationError(f"an instance named {name!r} exists already in cloud {cloud}")
        if cluster is not None and self.cache.get("cluster", cloud, cluster) is None:
            raise ValidationError(f"no cluster named {cluster!r} in cloud {cloud}")
        image_obj = self.find("image", image, cloud)
        flavor_obj = self.find("flavor", flavor, cloud)
        net = self.find("network", network, cloud)
        if net.external:
            raise ValidationError(f"{net.name} is an external network; pick a private one")
        if fixed_ip is not None:
            self._check_fixed_ip(net, fixed_ip)
        if security_group != PUBLIC_SSH:
            self.find("security_group", security_group, cloud)
        driver = self.driver(cloud)
        with Undo() as undo:
            pending: list[Any] = []
            if security_group == PUBLIC_SSH:
                pending.append(self._public_ssh(cloud, undo))
            key_name = self._keypair(cloud, driver, undo, pending)
            spec = ServerSpec(name, image_obj.id, flavor_obj.id, net.id, [security_group],
                              fixed_ip, key_name, cluster,
                              cluster if cluster in self._zones(cloud) else None)
            server = driver.create_server(spec)
            undo.push(f"instance {name} in cloud {cloud}",
                      lambda: driver.delete_server(server.id))
            server = driver.wait_server(server.id, "ACTIVE")
            self.save(*pending, server)
        return self.by_id("instance", cloud, server.id)

    def _zones(self, cloud: str) -> set[str]:
        try:
            return set(self.driver(cloud).availability_zones())
        except DriverError as err:  # a cluster is still a label without its zone
            log.warning("availability zones of cloud %s unknown: %s", cloud, err)
            return set()

    def _check_fixed_ip(self, net: Network, fixed_ip: str) -> None:
        try:
            addr = ipaddress.ip_address(fixed_ip)
        except ValueError:
            raise ValidationError(f"invalid IP address {fixed_ip[:45]!r}") from None
        if not any(addr in ipaddress.ip_network(c, strict=False) for c in net.cidrs):
            raise ValidationError(f"{fixed_ip} is not in {net.name} ({', '.join(net.cidrs)})")

    def _keypair(self, cloud: str, driver: Driver, undo: Undo, pending: list[Any]) -> str | None:
        """Upload the user's public key once per cloud, on clouds with real hosts."""
        if not driver.features.hosts:
            return None
        key = next((p for p in (Path.home() / ".ssh/id_ed25519.pub",
                                Path.home() / ".ssh/id_rsa.pub") if p.is_file()), None)
        if key is None:
            return None
        user = re.sub(r"[^A-Za-z0-9._-]", "-", getpass.getuser())[:40]
        name = f"{KEYPAIR_PREFIX}{user}"
        if self.cache.get("keypair", cloud, name) is not None:
            return name
        existing = next((k for k in driver.list_keypairs() if k.name == name), None)
        if existing is not None:  # uploaded earlier, by this or another MiniCloud
            pending.append(existing)
            return name
        pending.append(driver.create_keypair(name, key.read_text().strip()))
        undo.push(f"key pair {name} in cloud {cloud}", lambda: driver.delete_keypair(name))
        return name

    def _public_ssh(self, cloud: str, undo: Undo) -> SecurityGroup:
        """MiniCloud's SSH group, created once per cloud with TCP 22 for IPv4 and IPv6.

        Returns the group for the caller's one store write.
        """
        driver = self.driver(cloud)
        group = next((g for g in self.cache.all("security_group", cloud)
                      if g.name == PUBLIC_SSH), None)
        if group is None:
            group = driver.create_security_group(PUBLIC_SSH, "SSH from anywhere (MiniCloud)")
            created = group
            undo.push(f"security group {PUBLIC_SSH} in cloud {cloud}",
                      lambda: driver.delete_security_group(created.id))
        for rule in SSH_RULES:
            if rule not in group.rules:
                group = driver.add_security_group_rule(group.id, rule)
        return group

    # -- power and removal ---------------------------------------------------------------------

    def _act(self, instance: Instance, action: str) -> Instance:
        driver = self.driver(instance.cloud)
        server = getattr(driver, f"{action}_server")(instance.id)
        if action in ("start", "reboot") and server.status != "ACTIVE":
            server = driver.wait_server(instance.id, "ACTIVE")
        elif action == "stop" and server.status != "SHUTOFF":
            server = driver.wait_server(instance.id, "SHUTOFF")
        with self.session.inventory.write() as tx:
            tx.put(server)
        return self.by_id("instance", instance.cloud, instance.id)

    def start(self, instance: Instance) -> Instance:
        if instance.status == "ACTIVE":
            raise ValidationError(f"instance {instance.name} is running already")
        return self._act(instance, "start")

    def stop(self, instance: Instance) -> Instance:
        if instance.status == "SHUTOFF":
            raise ValidationError(f"instance {instance.name} is stopped already")
        return self._act(instance, "stop")

    def reboot(self, instance: Instance) -> Instance:
        if instance.status == "SHUTOFF":
            raise ValidationError(f"instance {instance.name} is stopped: start it instead")
        return self._act(instance, "reboot")

    def remove(self, instance: Instance) -> None:
        """Delete an instance MiniCloud created; its public IP is released or given back."""
        if not instance.owned:
            raise ValidationError(f"MiniCloud did not create instance {instance.name}; it stays")
        driver = self.driver(instance.cloud)
        fips = [f for f in self.cache.all("public_ip", instance.cloud)
                if f.instance_id == instance.id]
        with Undo() as undo:
            for fip in fips:
                driver.disassociate_public_ip(fip.id)
                undo.push(f"public IP {fip.name} (disassociated)",
                          partial(driver.associate_public_ip, fip.id, instance.id))
            driver.delete_server(instance.id)
        # The server is gone; an IP MiniCloud allocated goes back to the cloud.
        with self.session.inventory.write() as tx:
            tx.delete(instance)
            for fip in fips:
                change = self.cache.get("change", fip.cloud, Change.association_id(fip.id))
                if change is not None:
                    tx.delete(change)
                free = clone(fip)
                free.instance_id = free.port_id = free.fixed_ip = None
                tx.put(free)
        for fip in fips:
            if fip.owned:
                self.networks.release(self.by_id("public_ip", fip.cloud, fip.id))

    # -- connect -------------------------------------------------------------------------------

    def gateway_network(self, instance: Instance) -> Network | None:
        """The external network the instance's networks are routed to, if any."""
        nets = [n.network_id for n in instance.nics]
        for net_id in nets:
            for router in sorted(self.cache.all("router", instance.cloud), key=lambda r: r.name):
                if net_id in router.interface_network_ids and router.gateway_network_id:
                    return self.cache.get("network", instance.cloud, router.gateway_network_id)
        return None

    def assign_public_ip(self, instance: Instance, address: str | None = None) -> PublicIP:
        """Give the instance a public IP: reuse a free one before allocating."""
        with Undo() as undo:
            pending: list[Any] = []
            fip = self._assign(instance, address, undo, pending)
            self.save(*pending)
        return self.by_id("public_ip", instance.cloud, fip.id)

    def _assign(self, instance: Instance, address: str | None, undo: Undo,
                pending: list[Any]) -> PublicIP:
        current = self.public_ip_of(instance)
        if current is not None:
            if address and current.name != address:
                raise ValidationError(f"instance {instance.name} has public IP {current.name}")
            return current
        external = self.gateway_network(instance)
        if external is None:
            raise ValidationError(f"instance {instance.name} is on no network routed to an "
                                  "external network; attach its network to a router with a "
                                  "gateway")
        driver = self.driver(instance.cloud)
        free = [f for f in self.cache.all("public_ip", instance.cloud)
                if f.network_id == external.id and not f.instance_id
                and (address is None or f.name == address)]
        free.sort(key=lambda f: (not f.owned, f.name))
        if free:
            fip = free[0]
        else:
            fip = driver.allocate_public_ip(external.id, address)
            undo.push(f"public IP {fip.name} in cloud {instance.cloud}",
                      lambda: driver.release_public_ip(fip.id))
        bound = driver.associate_public_ip(fip.id, instance.id)
        undo.push(f"association of {fip.name}", lambda: driver.disassociate_public_ip(fip.id))
        pending.append(bound)
        if not fip.owned:
            pending.append(Change.association(fip))
        return bound

    def _ssh_access(self, instance: Instance, undo: Undo, pending: list[Any]) -> None:
        groups = [g for g in self.cache.all("security_group", instance.cloud)
                  if g.name in instance.security_groups]
        if any(g.allows_ssh() for g in groups):
            return
        driver = self.driver(instance.cloud)
        group = self._public_ssh(instance.cloud, undo)
        pending.append(group)
        server = driver.add_server_security_group(instance.id, group.id)
        undo.push(f"{PUBLIC_SSH} on instance {instance.name}",
                  lambda: driver.remove_server_security_group(instance.id, group.id))
        pending.append(server)

    def login_user(self, instance: Instance) -> str | None:
        image = next((i for i in self.cache.all("image", instance.cloud)
                      if i.name == instance.image), None)
        if image is not None:
            for prop in ("os_admin_user", "default_user"):
                if image.properties.get(prop):
                    return image.properties[prop]
        if self.session.config.ssh_user:
            return self.session.config.ssh_user
        lowered = instance.image.lower()
        return next((user for key, user in KNOWN_USERS.items() if key in lowered), None)

    def asks_login_user(self, instance: Instance) -> bool:
        """True when connect would have to guess the login user of a real host."""
        return self.login_user(instance) is None and self.driver(instance.cloud).features.hosts

    def connect(self, instance: Instance, user: str | None = None,
                address: str | None = None) -> ConnectPlan:
        """Public IP where the network is routed out, SSH access, then the ssh command."""
        ip = instance.private_ip
        with Undo() as undo:
            pending: list[Any] = []
            if self.gateway_network(instance) is not None or address:
                ip = self._assign(instance, address, undo, pending).name
            self._ssh_access(instance, undo, pending)
            if not ip:
                raise ValidationError(f"instance {instance.name} has no address to connect to")
            self.save(*pending)
        instance = self.by_id("instance", instance.cloud, instance.id)
        user = user or self.login_user(instance) or "root"
        command = [*self.session.config.ssh_command, f"{user}@{ip}"]
        return ConnectPlan(instance, ip, user, command, self.driver(instance.cloud).features.hosts)
