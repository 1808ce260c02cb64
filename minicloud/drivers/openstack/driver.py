"""The OpenStack driver, on openstacksdk's proxy layer (``conn.compute``, ``conn.network``,
``conn.image``).

The driver is cut by what the code holds: this module declares the cloud type (settings,
features, status map) and speaks to Nova and Glance (servers, images, flavors, key pairs, zones)
and runs the full sync; :mod:`.network` speaks to Neutron; :mod:`.session`
holds the connection and the one place SDK calls run; :mod:`.convert` turns the
API's resources into model objects and :mod:`.errors` its failures into
:class:`DriverError`.  openstacksdk is imported inside the methods that need it, never at
module level (it takes most of a second to import).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...model.errors import ConfigError, DriverError
from ...model.objects import (
    Cloud,
    CloudSnapshot,
    Flavor,
    Image,
    Instance,
    KeyPair,
    State,
)
from ...model.validation import check_http_url
from ..base import CLUSTER_KEY, OWNER_TAG, Features, ServerSpec, Setting
from .convert import (
    flavor_id_of,
    group_by,
    image_id_of,
    to_flavor,
    to_image,
    to_instance,
    to_keypair,
    to_public_ip,
    to_security_group,
)
from .errors import with_note
from .network import OpenStackNetwork
from .session import clouds_yaml_entries, raw_list

__all__ = ["OpenStackDriver", "clouds_yaml_entries"]

log = logging.getLogger(__name__)

# The settings a cloud added by hand (no clouds.yaml entry) cannot do without.
BY_HAND = ("auth_url", "project", "user")
DELETE_TIMEOUT = 600.0  # how long delete_server waits for the server to be gone


def check_auth_url(value: str) -> str:
    """An http(s) URL with a host (Keystone's, e.g. https://keystone.example.com:5000/v3)."""
    return check_http_url(value, "auth URL", "https://keystone.example.com:5000/v3")


class OpenStackDriver(OpenStackNetwork):
    type_name = "openstack"
    features = Features(zones=True)
    status_map = {
        "ACTIVE": State.ACTIVE,
        "BUILD": State.BUILD,
        "SHUTOFF": State.SHUTOFF,
        "STOPPED": State.SHUTOFF,
        "REBOOT": State.REBOOT,
        "HARD_REBOOT": State.REBOOT,
        "ERROR": State.ERROR,
        "UNKNOWN": State.UNKNOWN,
    }
    settings = (
        Setting("os_cloud", "clouds.yaml entry", "--os-cloud",
                "the clouds.yaml entry (then no other setting is needed)",
                choices=clouds_yaml_entries, alone=True),
        Setting("auth_url", "Auth URL (Keystone v3)", "--os-auth-url",
                "Keystone's URL, e.g. https://keystone.example.com:5000/v3",
                env="OS_AUTH_URL", check=check_auth_url),
        Setting("project", "Project", "--os-project-name", "the project (tenant) name",
                env="OS_PROJECT_NAME"),
        Setting("user", "User", "--os-username", "the user name", env="OS_USERNAME"),
        Setting("user_domain", "User domain", "--os-user-domain-name",
                "the user's domain (default Default)", default="Default"),
        Setting("project_domain", "Project domain", "--os-project-domain-name",
                "the project's domain (default Default)", default="Default"),
        Setting("region", "Region (empty for the default)", "--os-region-name",
                "the region (empty: the cloud's default)", env="OS_REGION_NAME",
                optional=True),
        Setting("password", "Password", None,
                "asked with no echo, or from OS_PASSWORD; kept in memory, never stored",
                env="OS_PASSWORD", secret=True),
    )

    @classmethod
    def check_complete(cls, settings: Mapping[str, str]) -> None:
        """A clouds.yaml entry, or the auth URL, project and user: otherwise the login would
        only say that a password is needed."""
        if settings.get("os_cloud"):
            return
        missing = [s.flag for s in cls.settings
                   if s.name in BY_HAND and not settings.get(s.name) and s.flag]
        if missing:
            raise ConfigError("an OpenStack cloud needs --os-cloud ENTRY (from clouds.yaml), "
                              "or --os-auth-url, --os-project-name and --os-username; "
                              f"missing: {', '.join(missing)}")

    def __init__(self, cloud: Cloud, secrets: Mapping[str, str] | None = None):
        super().__init__(cloud, secrets)
        self._image_names: dict[str, str] | None = None
        self._flavor_names: dict[str, str] | None = None
        self._zones: list[str] | None = None

    # -- name caches ---------------------------------------------------------------------------

    def _names(self, image_ids: Iterable[str], flavor_ids: Iterable[str],
               ) -> tuple[dict[str, str], dict[str, str]]:
        """Image and flavor names by id; the lists are fetched once, again for new ids."""
        image_ids = [i for i in image_ids if i]
        flavor_ids = [i for i in flavor_ids if i]
        if self._image_names is None or any(i not in self._image_names for i in image_ids):
            self.list_images()
        if self._flavor_names is None or any(i not in self._flavor_names for i in flavor_ids):
            self.list_flavors()
        return self._image_names or {}, self._flavor_names or {}

    def _instances(self, servers: list[Any], ports: list[Any]) -> list[Instance]:
        images, flavors = self._names([image_id_of(s) for s in servers],
                                      [flavor_id_of(s) for s in servers])
        by_device = group_by(ports, "device_id")
        return [to_instance(self.cloud.name, s, by_device.get(s.id, []), images, flavors,
                            self.state) for s in servers]

    # -- reads ---------------------------------------------------------------------------------

    def snapshot(self) -> CloudSnapshot:
        """Nine list calls (one per resource type), all at once; never one call per server.

        Key pairs are not part of a sync: MiniCloud lists them only when it needs them.
        """
        data = self._fetch_all()
        name = self.cloud.name
        images = [to_image(name, i) for i in data["images"]]
        flavors = [to_flavor(name, f) for f in data["flavors"]]
        self._image_names = {i.id: i.name for i in images}
        self._flavor_names = {f.id: f.name for f in flavors}
        ports = data["ports"]
        ports_by_id = {p.id: p for p in ports}
        with self._call("read servers"):
            return CloudSnapshot(
                networks=self._networks(data["networks"], data["subnets"]),
                routers=self._routers(data["routers"], ports),
                instances=self._instances(data["servers"], ports),
                public_ips=[to_public_ip(name, f, ports_by_id) for f in data["floating IPs"]],
                security_groups=[to_security_group(name, g)
                                 for g in data["security groups"]],
                images=images,
                flavors=flavors,
            )

    def _fetch_all(self) -> dict[str, list[Any]]:
        """Every list a sync needs, read concurrently after one log-in."""
        with self._call("log in"):
            conn = self._ready()
        # Servers and Neutron's lists are read as plain JSON: openstacksdk spends milliseconds
        # building each resource object (seconds for a thousand servers); the few images and
        # flavors go through the SDK, which flattens Glance's properties.
        lists: dict[str, Callable[[], Iterable[Any]]] = {
            "servers": lambda: raw_list(conn.compute, "/servers/detail", "servers"),
            "networks": lambda: raw_list(conn.network, "/networks", "networks"),
            "subnets": lambda: raw_list(conn.network, "/subnets", "subnets"),
            "routers": lambda: raw_list(conn.network, "/routers", "routers"),
            "ports": lambda: raw_list(conn.network, "/ports", "ports"),
            "floating IPs": lambda: raw_list(conn.network, "/floatingips", "floatingips"),
            "security groups": lambda: raw_list(conn.network, "/security-groups",
                                                "security_groups"),
            "images": conn.image.images,
            "flavors": lambda: conn.compute.flavors(details=True),
        }

        def fetch(what: str) -> list[Any]:
            with self._call(f"list {what}"):
                return list(lists[what]())

        with ThreadPoolExecutor(max_workers=len(lists),
                                thread_name_prefix="minicloud-sync") as pool:
            futures = {what: pool.submit(fetch, what) for what in lists}
            return {what: future.result() for what, future in futures.items()}

    def list_images(self) -> list[Image]:
        with self._call("list images"):
            images = [to_image(self.cloud.name, i) for i in self.conn.image.images()]
        self._image_names = {i.id: i.name for i in images}
        return images

    def list_flavors(self) -> list[Flavor]:
        with self._call("list flavors"):
            flavors = [to_flavor(self.cloud.name, f)
                       for f in self.conn.compute.flavors(details=True)]
        self._flavor_names = {f.id: f.name for f in flavors}
        return flavors

    def list_servers(self) -> list[Instance]:
        with self._call("list servers"):
            servers = list(self.conn.compute.servers(details=True))
            ports = list(self.conn.network.ports())
            return self._instances(servers, ports)

    def get_server(self, server_id: str) -> Instance:
        with self._call(f"get server {server_id}"):
            return self._get_server(server_id)

    def _get_server(self, server_id: str) -> Instance:
        server = self.conn.compute.get_server(server_id)
        ports = list(self.conn.network.ports(device_id=server_id))
        return self._instances([server], ports)[0]

    def list_keypairs(self) -> list[KeyPair]:
        with self._call("list key pairs"):
            return [to_keypair(self.cloud.name, k) for k in self.conn.compute.keypairs()]

    # -- servers -------------------------------------------------------------------------------

    def create_server(self, spec: ServerSpec) -> Instance:
        operation = f"create server {spec.name}"
        metadata = {OWNER_TAG: "true"}
        if spec.cluster:
            metadata[CLUSTER_KEY] = spec.cluster
        network: dict[str, str] = {"uuid": spec.network_id}
        if spec.fixed_ip:
            network["fixed_ip"] = spec.fixed_ip
        attrs: dict[str, Any] = {
            "name": spec.name, "image_id": spec.image_id, "flavor_id": spec.flavor_id,
            "networks": [network], "metadata": metadata,
            "security_groups": [{"name": g} for g in spec.security_groups],
        }
        if spec.key_name:
            attrs["key_name"] = spec.key_name
        if spec.availability_zone:
            attrs["availability_zone"] = spec.availability_zone
        with self._call(operation):
            server = self.conn.compute.create_server(**attrs)
        try:
            with self._call(operation):
                return self._get_server(server.id)
        except DriverError as err:
            note = self._undo(f"delete server {spec.name}",
                              lambda: self._delete_and_wait(server.id))
            raise with_note(err, note) from None

    def delete_server(self, server_id: str) -> None:
        with self._call(f"delete server {server_id}"):
            self._delete_and_wait(server_id)

    def _delete_and_wait(self, server_id: str) -> None:
        """Delete, then poll with backoff until Nova no longer knows the server."""
        from openstack import exceptions as sdk

        self.conn.compute.delete_server(server_id, ignore_missing=False)

        def probe() -> tuple[bool, None, str]:
            try:
                server = self.conn.compute.get_server(server_id)
            except sdk.NotFoundException:
                return True, None, "deleted"
            return False, None, f"{server.name}: deleting ({server.status})"

        self.poll(probe, f"delete server {server_id}", DELETE_TIMEOUT)

    def start_server(self, server_id: str) -> Instance:
        with self._call(f"start server {server_id}"):
            self.conn.compute.start_server(server_id)
            return self._get_server(server_id)

    def stop_server(self, server_id: str) -> Instance:
        with self._call(f"stop server {server_id}"):
            self.conn.compute.stop_server(server_id)
            return self._get_server(server_id)

    def reboot_server(self, server_id: str) -> Instance:
        with self._call(f"reboot server {server_id}"):
            self.conn.compute.reboot_server(server_id, "SOFT")
            return self._get_server(server_id)

    def add_server_security_group(self, server_id: str, group_id: str) -> Instance:
        from openstack import exceptions as sdk

        with self._call(f"add security group {group_id} to server {server_id}"):
            group = self.conn.network.get_security_group(group_id)
            try:
                self.conn.compute.add_security_group_to_server(server_id, group)
            except sdk.BadRequestException as exc:
                if "already associated" not in str(exc):
                    raise
            return self._get_server(server_id)

    def availability_zones(self) -> list[str]:
        """Nova's available zones, read once per session (they rarely change)."""
        if self._zones is None:
            with self._call("list availability zones"):
                self._zones = [z.name for z in self.conn.compute.availability_zones()
                               if (z.state or {}).get("available", True)]
        return list(self._zones)

    def remove_server_security_group(self, server_id: str, group_id: str) -> Instance:
        from openstack import exceptions as sdk

        with self._call(f"remove security group {group_id} from server {server_id}"):
            group = self.conn.network.get_security_group(group_id)
            try:
                self.conn.compute.remove_security_group_from_server(server_id, group)
            except sdk.NotFoundException:
                pass  # not on the server: nothing to remove
            return self._get_server(server_id)

    def create_keypair(self, name: str, public_key: str) -> KeyPair:
        with self._call(f"create key pair {name}"):
            keypair = self.conn.compute.create_keypair(name=name, public_key=public_key)
            return to_keypair(self.cloud.name, keypair)

    def delete_keypair(self, name: str) -> None:
        with self._call(f"delete key pair {name}"):
            self.conn.compute.delete_keypair(name, ignore_missing=False)
