"""A complete simulated cloud, for local use and tests.

A Stub cloud is a cloud at a location: its state lives in a database its ``state`` setting
names (by default a file beside MiniCloud's store, or the store's own MySQL database; see
:mod:`minicloud.drivers.stub.location`), reached through a connection of its own, so it
survives a restart, is shared by everyone who uses that cloud, and keeps its resources when
MiniCloud forgets it.  Its servers have statuses of their own (``building``, ``running``,
``stopped``), mapped to MiniCloud's by ``status_map``.
"""

from __future__ import annotations

import uuid
from typing import Any

from ...model.errors import CONFLICT, NOT_FOUND, DriverError
from ...model.kinds import INSTANCE, KEYPAIR, NETWORK, SECURITY_GROUP
from ...model.names import DEFAULT_GROUP, KEYPAIR_PREFIX
from ...model.objects import (
    Cloud,
    CloudSnapshot,
    Flavor,
    Image,
    Instance,
    KeyPair,
    Network,
    Nic,
    PublicIP,
    Resource,
    Router,
    SecurityGroup,
    SecurityRule,
    State,
)
from ...model.validation import check_name, check_optional_name, parse_cidr
from ..base import Features, ServerSpec, Setting, map_state
from . import legacy
from .location import TABLES, Location, LocationError, check_location
from .network import STATE, StubNetwork, new_id
from .state import BUILDING, RUNNING, STOPPED, STUB_KINDS, api_call, fixed_call, load_row

__all__ = ["STATE", "STUB_KINDS", "TABLES", "StubDriver", "as_seen"]

IMAGES = (("cirros", {"os_admin_user": "cirros"}), ("ubuntu", {"os_admin_user": "ubuntu"}))
FLAVORS = (("m1.tiny", 1, 512, 1), ("m1.small", 1, 2048, 20), ("m1.medium", 2, 4096, 40))
DEFAULT_EXTERNAL = ("public", "203.0.113.0/24")


class StubDriver(StubNetwork):
    type_name = "stub"
    features = Features(hosts=False, zones=False)
    status_map = {BUILDING: State.BUILD, RUNNING: State.ACTIVE, STOPPED: State.SHUTOFF}
    settings = (
        Setting("external_network", "External network name", "--external-network",
                f"name of its external network (default {DEFAULT_EXTERNAL[0]})",
                default=DEFAULT_EXTERNAL[0],
                check=lambda v: check_name(v, "external network name")),
        Setting("external_cidr", "External network CIDR", "--external-cidr",
                f"CIDR of its external network (default {DEFAULT_EXTERNAL[1]})",
                default=DEFAULT_EXTERNAL[1], check=lambda v: str(parse_cidr(v))),
        Setting("external_subnet", "External subnet name (empty: none)", "--external-subnet",
                "name of the external network's subnet (default: none)",
                check=lambda v: check_optional_name(v, "external subnet name"), optional=True),
        Setting(STATE, "Where its state lives (empty: with the store)", "--state",
                "database holding the Stub cloud: a file (relative: to the store's folder) "
                "or a database URL (default: a file beside the store, on MySQL the store's "
                "database)", check=check_location, optional=True, location=True),
    )

    def _seen(self, server: Instance) -> Instance:
        """A copy of one of its servers as MiniCloud sees it (a State, not the Stub's word)."""
        server = self._copy(server)
        server.status = self.state(server.status)
        return server

    # -- life cycle ----------------------------------------------------------------------------

    @api_call
    def setup(self) -> None:
        """What every Stub cloud has from its start: its own external network and a
        ``default`` group; a cloud that has them already (added again, or known at its
        location by others) keeps what it has, and gets whichever of the two it lacks."""
        if not any(n.external for n in self.sim.of("network").values()):
            opts = self.cloud.settings
            name = opts.get("external_network") or DEFAULT_EXTERNAL[0]
            cidr = opts.get("external_cidr") or DEFAULT_EXTERNAL[1]
            self._new_network(name, cidr, True, opts.get("external_subnet", ""), owned=False)
        if not any(g.name == DEFAULT_GROUP for g in self.sim.of("security_group").values()):
            self._save(SecurityGroup(self.cloud.name, new_id(), DEFAULT_GROUP,
                                     description="Default security group"))

    @classmethod
    def take_over(cls, cloud: Cloud, store_url: str) -> None:
        """Stub clouds an older MiniCloud kept in its store move to their location, once
        (see :mod:`.legacy`)."""
        location = Location(cloud.settings.get(STATE, ""))
        operation = "open its location"
        try:
            location.open()
            operation = "move its state from the store"
            legacy.take_over(location, store_url)
        except LocationError as exc:
            raise DriverError(cloud.name, operation, exc.reason, str(exc)) from None
        finally:
            location.close()

    # -- seeding (what existed before MiniCloud; tests and the demo use it) --------------------

    @api_call
    def seed_network(self, name: str, cidr: str, external: bool = False,
                     subnet_name: str = "", owned: bool = False) -> Network:
        return self._new_network(name, cidr, external, subnet_name, owned)

    @api_call
    def seed_router(self, name: str, gateway_network_id: str | None = None) -> Router:
        return self._new_router(name, gateway_network_id, owned=False)

    @api_call
    def seed_server(self, spec: ServerSpec) -> Instance:
        return self._create_server(spec, owned=False)

    @api_call
    def seed_public_ip(self, network_id: str, address: str | None = None) -> PublicIP:
        return self._allocate(network_id, address, owned=False)

    @api_call
    def seed_many(self, objs: list[Resource]) -> None:
        """Objects written as given, in bulk (a large cloud filled by other means)."""
        self.sim.seed_many(objs)

    # -- reads ---------------------------------------------------------------------------------

    @api_call
    def snapshot(self) -> CloudSnapshot:
        # A sync re-reads the simulated cloud: another process may have changed it.
        self.sim.reload()
        return super().snapshot()

    @fixed_call
    def list_images(self) -> list[Image]:
        return [Image(self.cloud.name, f"image-{n}", n, properties=dict(p)) for n, p in IMAGES]

    @fixed_call
    def list_flavors(self) -> list[Flavor]:
        return [Flavor(self.cloud.name, f"flavor-{n}", n, vcpus=c, ram=r, disk=d)
                for n, c, r, d in FLAVORS]

    @fixed_call
    def availability_zones(self) -> list[str]:
        return []  # no zones (features.zones is false)

    @api_call
    def list_servers(self) -> list[Instance]:
        return [self._seen(self._settle(s)) for s in self._all("instance")]

    @api_call
    def get_server(self, server_id: str) -> Instance:
        server = self._get(INSTANCE, server_id)
        if server.status == BUILDING:
            server = self._copy(server)
            server.status = RUNNING
            self._save(server)
        return self._seen(server)

    def _settle(self, server: Instance) -> Instance:
        # Listing shows a building server as it would be a moment later.
        if server.status == BUILDING:
            server.status = RUNNING
        return server

    @api_call
    def list_security_groups(self) -> list[SecurityGroup]:
        return self._all("security_group")

    @api_call
    def list_keypairs(self) -> list[KeyPair]:
        return self._all("keypair")

    # -- servers -------------------------------------------------------------------------------

    @api_call
    def create_server(self, spec: ServerSpec) -> Instance:
        return self._create_server(spec, owned=True)

    def _create_server(self, spec: ServerSpec, owned: bool) -> Instance:
        network = self._get(NETWORK, spec.network_id)
        groups = {g.name for g in self.sim.of("security_group").values()}
        for group in spec.security_groups:
            if group not in groups:
                raise self.error(f"create server {spec.name}", NOT_FOUND,
                                 f"security group {group}")
        images = {i.id: i.name for i in self.list_images()}
        flavors = {f.id: f.name for f in self.list_flavors()}
        if spec.image_id not in images or spec.flavor_id not in flavors:
            raise self.error(f"create server {spec.name}", NOT_FOUND, "image or flavor")
        if spec.key_name and self.sim.get("keypair", spec.key_name) is None:
            raise self.error(f"create server {spec.name}", NOT_FOUND, f"key pair {spec.key_name}")
        ip = self._free_ip(network, spec.fixed_ip)
        server = Instance(self.cloud.name, new_id(), spec.name, owned=owned,
                          image=images[spec.image_id], flavor=flavors[spec.flavor_id],
                          cluster=spec.cluster, nics=[Nic(network.id, ip, new_id())],
                          security_groups=list(spec.security_groups), status=BUILDING,
                          key_name=spec.key_name)
        self._save(server)
        return self._seen(server)

    @api_call
    def delete_server(self, server_id: str) -> None:
        server = self._get(INSTANCE, server_id)
        changed = []
        for fip in self.sim.of("public_ip").values():
            if fip.instance_id == server.id:
                fip = self._copy(fip)
                fip.instance_id = fip.port_id = fip.fixed_ip = None
                changed.append(fip)
        self._save(*changed, deleted=(server,))

    def _set_status(self, server_id: str, status: str) -> Instance:
        server = self._copy(self._get(INSTANCE, server_id))
        server.status = status
        self._save(server)
        return self._seen(server)

    @api_call
    def start_server(self, server_id: str) -> Instance:
        return self._set_status(server_id, RUNNING)

    @api_call
    def stop_server(self, server_id: str) -> Instance:
        return self._set_status(server_id, STOPPED)

    @api_call
    def reboot_server(self, server_id: str) -> Instance:
        return self._set_status(server_id, RUNNING)

    @api_call
    def add_server_security_group(self, server_id: str, group_id: str) -> Instance:
        server = self._copy(self._get(INSTANCE, server_id))
        group = self._get(SECURITY_GROUP, group_id)
        if group.name not in server.security_groups:
            server.security_groups.append(group.name)
            self._save(server)
        return self._seen(server)

    @api_call
    def remove_server_security_group(self, server_id: str, group_id: str) -> Instance:
        server = self._copy(self._get(INSTANCE, server_id))
        group = self._get(SECURITY_GROUP, group_id)
        if group.name in server.security_groups:
            server.security_groups.remove(group.name)
            self._save(server)
        return self._seen(server)

    # -- security groups and key pairs ---------------------------------------------------------

    @api_call
    def create_security_group(self, name: str, description: str = "") -> SecurityGroup:
        if any(g.name == name for g in self.sim.of("security_group").values()):
            raise self.error(f"create security group {name}", CONFLICT, "name in use")
        group = SecurityGroup(self.cloud.name, new_id(), name, owned=True,
                              description=description)
        self._save(group)
        return self._copy(group)

    @api_call
    def delete_security_group(self, group_id: str) -> None:
        group = self._get(SECURITY_GROUP, group_id)
        if any(group.name in s.security_groups for s in self.sim.of("instance").values()):
            raise self.error(f"delete security group {group.name}", CONFLICT, "group in use")
        self._save(deleted=(group,))

    @api_call
    def add_security_group_rule(self, group_id: str, rule: SecurityRule) -> SecurityGroup:
        group = self._copy(self._get(SECURITY_GROUP, group_id))
        if rule not in group.rules:
            group.rules.append(rule)
            self._save(group)
        return self._copy(group)

    @api_call
    def create_keypair(self, name: str, public_key: str) -> KeyPair:
        if self.sim.get("keypair", name) is not None:
            raise self.error(f"create key pair {name}", CONFLICT, "name in use")
        pair = KeyPair(self.cloud.name, name, name, owned=name.startswith(KEYPAIR_PREFIX),
                       fingerprint=uuid.uuid5(uuid.NAMESPACE_OID, public_key).hex,
                       public_key=public_key)
        self._save(pair)
        return self._copy(pair)

    @api_call
    def delete_keypair(self, name: str) -> None:
        self._save(deleted=(self._get(KEYPAIR, name),))


def as_seen(kind: str, data: dict[str, Any]) -> Resource:
    """One row of the Stub's tables as MiniCloud records it (a server's status as a State)."""
    obj = load_row(kind, data)
    if isinstance(obj, Instance):
        obj.status = map_state(StubDriver.status_map, obj.status)
    return obj
