"""The OpenStack driver, on openstacksdk's proxy layer (``conn.compute``, ``conn.network``,
``conn.image``).

openstacksdk takes most of a second to import, so it is imported inside the methods that need
it, never at module level.  Every call runs inside :meth:`OpenStackDriver._call`, the one place
where openstacksdk / keystoneauth exceptions become :class:`DriverError`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..errors import (
    CONFLICT,
    FAILED,
    FORBIDDEN,
    NOT_FOUND,
    QUOTA,
    SERVER,
    TIMEOUT,
    UNAUTHORIZED,
    UNREACHABLE,
    CredentialsNeeded,
    DriverError,
)
from ..model import (
    KEYPAIR_PREFIX,
    Cloud,
    CloudSnapshot,
    Flavor,
    Image,
    Instance,
    KeyPair,
    Network,
    Nic,
    Port,
    PublicIP,
    Router,
    SecurityGroup,
    SecurityRule,
    Subnet,
)
from .base import CLUSTER_KEY, OWNER_TAG, Driver, ServerSpec, Setting

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger(__name__)

API_TIMEOUT = 60.0  # seconds per HTTP request, unless clouds.yaml says otherwise
DELETE_TIMEOUT = 600.0  # how long delete_server waits for the server to be gone
ROUTER_INTERFACE_OWNERS = (
    "network:router_interface",
    "network:router_interface_distributed",
    "network:ha_router_replicated_interface",
)
MAX_DETAIL = 300


def clouds_yaml_entries() -> list[str]:
    """The clouds configured in clouds.yaml (honours ``OS_CLIENT_CONFIG_FILE``), or []."""
    try:
        import openstack.config

        regions = openstack.config.OpenStackConfig().get_all()
        return list(dict.fromkeys(region.name for region in regions))
    except Exception:  # noqa: BLE001 - a broken clouds.yaml just means "no entries"
        return []


# -- error mapping ---------------------------------------------------------------------------


class PasswordNeeded(Exception):
    """No password in the constructor, OS_PASSWORD or clouds.yaml."""


def _status_of(exc: BaseException) -> int | None:
    for attr in ("status_code", "http_status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def _message_of(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    if details and isinstance(details, str):
        return details
    message = getattr(exc, "message", None)
    if message and isinstance(message, str):
        return message
    return str(exc) or type(exc).__name__


# keystoneauth appends these to its messages; the reason already says as much.
_NOISE = re.compile(r"\s*\((HTTP \d+|Request-ID: [^)]*)\)")


def map_error(cloud: str, operation: str, exc: BaseException,
              secret: str | None = None) -> DriverError:
    """The one translation of openstacksdk / keystoneauth / requests failures."""
    from keystoneauth1 import exceptions as ks
    from openstack import exceptions as sdk
    from requests import exceptions as rq

    status = _status_of(exc)
    message = _message_of(exc)
    quota = "quota" in message.lower() or "overlimit" in message.lower()
    if isinstance(exc, (ks.ConnectTimeout, ks.RequestTimeout, sdk.ResourceTimeout,
                        rq.Timeout, TimeoutError)) and status in (None, 408):
        reason = TIMEOUT
    elif isinstance(exc, ks.SSLError):
        reason, message = UNREACHABLE, f"TLS verification failed: {message}"
    elif isinstance(exc, (ks.ConnectionError, rq.ConnectionError, ConnectionError)):
        reason = UNREACHABLE
    elif status == 401 or isinstance(exc, (PasswordNeeded, ks.Unauthorized,
                                           ks.MissingAuthPlugin, ks.MissingRequiredOptions,
                                           ks.AuthorizationFailure)):
        reason = UNAUTHORIZED
    elif status == 413 or (quota and status is not None and 400 <= status < 500):
        reason = QUOTA
    elif status == 403:
        reason = FORBIDDEN
    elif status == 404:
        reason = NOT_FOUND
    elif status == 409:
        reason = CONFLICT
    elif status is not None and status >= 500:
        reason = SERVER
    else:
        reason = FAILED
        if not isinstance(exc, (sdk.SDKException, ks.ClientException)):
            message = f"{type(exc).__name__}: {message}"
    detail = " ".join(_NOISE.sub("", message).split())
    if status is not None and not detail.startswith(("HTTP", str(status))):
        detail = f"HTTP {status}: {detail}"
    if secret:
        detail = detail.replace(secret, "***")
    if len(detail) > MAX_DETAIL:
        detail = detail[:MAX_DETAIL - 3] + "..."
    if isinstance(exc, PasswordNeeded):
        return CredentialsNeeded(cloud, operation, reason, detail)
    return DriverError(cloud, operation, reason, detail)


def _wants_password(region: Any) -> bool:
    auth_type = region.config.get("auth_type") or "password"
    return auth_type in ("password", "v3password", "v2password")


def _with_note(err: DriverError, note: str | None) -> DriverError:
    if not note:
        return err
    detail = f"{err.detail}; {note}" if err.detail else note
    return DriverError(err.cloud, err.operation, err.reason, detail)


# -- conversions: openstacksdk resources -> model objects -------------------------------------


# openstacksdk attribute names that differ from the API's JSON keys.
_ALIASES = {"is_router_external": "router:external"}


class _Body:
    """A resource as the API sent it, read with openstacksdk's attribute names."""

    __slots__ = ("_body",)

    def __init__(self, body: dict[str, Any]):
        self._body = body

    def __getattr__(self, name: str) -> Any:
        return self._body.get(_ALIASES.get(name, name))


def _raw_list(proxy: Any, path: str, key: str) -> list[_Body]:
    """Every page of one list, following the API's ``<key>_links`` next links."""
    from openstack import exceptions as sdk

    items: list[_Body] = []
    url: str | None = path
    while url:
        response = proxy.get(url)
        sdk.raise_from_response(response)
        data = response.json()
        items.extend(_Body(item) for item in data.get(key) or [])
        url = next((link.get("href") for link in data.get(f"{key}_links") or []
                    if link.get("rel") == "next"), None)
    return items


def _group(items: Iterable[Any], attr: str) -> dict[str, list[Any]]:
    """Items by the value of one attribute (ports by device_id, subnets by network_id)."""
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(getattr(item, attr) or "", []).append(item)
    return groups


def _tagged(resource: Any) -> bool:
    return OWNER_TAG in (getattr(resource, "tags", None) or [])


def _in_creation_order(ports: Iterable[Any]) -> list[Any]:
    """Ports oldest first; the API's order breaks ties (created_at has second resolution)."""
    return sorted(ports, key=lambda p: p.created_at or "")


def _first_ip(port: Any) -> str | None:
    for fixed in port.fixed_ips or []:
        if fixed.get("ip_address"):
            return fixed["ip_address"]
    return None


def _to_subnet(subnet: Any) -> Subnet:
    return Subnet(id=subnet.id, name=subnet.name or "", cidr=subnet.cidr,
                  gateway_ip=subnet.gateway_ip)


def _to_network(cloud: str, net: Any, subnets: Iterable[Any]) -> Network:
    return Network(cloud=cloud, id=net.id, name=net.name or "", owned=_tagged(net),
                   subnets=[_to_subnet(s) for s in subnets if s.network_id == net.id],
                   external=bool(net.is_router_external))


def _to_router(cloud: str, router: Any, ports: Iterable[Any]) -> Router:
    gateway = router.external_gateway_info or {}
    interfaces = [p.network_id for p in _in_creation_order(ports)
                  if p.device_id == router.id and p.device_owner in ROUTER_INTERFACE_OWNERS]
    return Router(cloud=cloud, id=router.id, name=router.name or "", owned=_tagged(router),
                  gateway_network_id=gateway.get("network_id") or None,
                  interface_network_ids=list(dict.fromkeys(interfaces)))


def _to_port(port: Any) -> Port:
    return Port(id=port.id, network_id=port.network_id, device_id=port.device_id or "",
                device_owner=port.device_owner or "",
                fixed_ips=[f["ip_address"] for f in port.fixed_ips or [] if f.get("ip_address")])


def _raw_ref(server: Any, field: str) -> dict[str, Any]:
    """``image`` or ``flavor`` of a server as Nova sent it.

    openstacksdk's typed ``server.image`` / ``server.flavor`` build a whole resource on every
    access (milliseconds each: seconds for a few hundred servers), so the raw body is read.
    """
    body = getattr(server, "_body", None)
    value = body.get(field) if body is not None else getattr(server, field, None)
    if isinstance(value, dict):
        return value
    return value.to_dict() if hasattr(value, "to_dict") else {}


def _image_id(server: Any) -> str:
    return _raw_ref(server, "image").get("id") or ""  # "" when booted from a volume


def _flavor_id(server: Any) -> str:
    """The flavor id, or "" when Nova embeds the flavor (microversion 2.47+: no id)."""
    flavor = _raw_ref(server, "flavor")
    return "" if flavor.get("original_name") else flavor.get("id") or ""


def _to_instance(cloud: str, server: Any, ports: Iterable[Any], image_names: dict[str, str],
                 flavor_names: dict[str, str]) -> Instance:
    metadata = server.metadata or {}
    nics = [Nic(network_id=p.network_id, ip=_first_ip(p), port_id=p.id)
            for p in _in_creation_order(ports) if p.device_id == server.id]
    groups = [g.get("name", "") for g in server.security_groups or []]
    image_id = _image_id(server)
    flavor_name = _raw_ref(server, "flavor").get("original_name")
    if not flavor_name:
        flavor_id = _flavor_id(server)
        flavor_name = flavor_names.get(flavor_id, flavor_id)
    return Instance(cloud=cloud, id=server.id, name=server.name or "",
                    owned=metadata.get(OWNER_TAG) == "true",
                    image=image_names.get(image_id, image_id), flavor=flavor_name,
                    cluster=metadata.get(CLUSTER_KEY) or None, nics=nics,
                    security_groups=list(dict.fromkeys(g for g in groups if g)),
                    status=server.status or "", key_name=server.key_name or None)


def _to_public_ip(cloud: str, fip: Any, ports_by_id: dict[str, Any]) -> PublicIP:
    instance_id = None
    if fip.port_id:
        port = ports_by_id.get(fip.port_id)
        details = getattr(fip, "port_details", None) or {}
        instance_id = (port.device_id if port is not None else details.get("device_id")) or None
    return PublicIP(cloud=cloud, id=fip.id, name=fip.floating_ip_address, owned=_tagged(fip),
                    network_id=fip.floating_network_id, instance_id=instance_id,
                    port_id=fip.port_id or None, fixed_ip=fip.fixed_ip_address or None)


def _to_rule(rule: dict[str, Any]) -> SecurityRule:
    return SecurityRule(direction=rule.get("direction") or "ingress",
                        protocol=rule.get("protocol"), port_min=rule.get("port_range_min"),
                        port_max=rule.get("port_range_max"),
                        ethertype=rule.get("ethertype") or "IPv4",
                        remote_ip_prefix=rule.get("remote_ip_prefix"))


def _to_security_group(cloud: str, group: Any) -> SecurityGroup:
    return SecurityGroup(cloud=cloud, id=group.id, name=group.name or "", owned=_tagged(group),
                         rules=[_to_rule(r) for r in group.security_group_rules or []],
                         description=group.description or "")


def _to_keypair(cloud: str, keypair: Any) -> KeyPair:
    return KeyPair(cloud=cloud, id=keypair.name, name=keypair.name,
                   owned=keypair.name.startswith(KEYPAIR_PREFIX),
                   fingerprint=keypair.fingerprint or "", public_key=keypair.public_key or "")


IMAGE_PROPERTIES = ("os_distro", "os_version", "os_admin_user", "architecture", "disk_format",
                    "min_disk", "min_ram", "status", "visibility")


def _to_image(cloud: str, image: Any) -> Image:
    """The image with its useful properties (``os_admin_user`` names the SSH user)."""
    extra = getattr(image, "properties", None) or {}
    properties = {k: str(v) for k, v in extra.items() if isinstance(v, (str, int, float, bool))}
    for key in IMAGE_PROPERTIES:
        value = getattr(image, key, None)
        if value not in (None, ""):
            properties[key] = str(value)
    return Image(cloud=cloud, id=image.id, name=image.name or image.id, properties=properties)


def _to_flavor(cloud: str, flavor: Any) -> Flavor:
    return Flavor(cloud=cloud, id=flavor.id, name=flavor.name or flavor.id,
                  vcpus=flavor.vcpus or 0, ram=flavor.ram or 0, disk=flavor.disk or 0)


# -- the driver ------------------------------------------------------------------------------


class OpenStackDriver(Driver):
    type_name = "openstack"
    settings = (
        Setting("os_cloud", "clouds.yaml entry", choices=lambda: clouds_yaml_entries(),
                alone=True),
        Setting("auth_url", "Auth URL (Keystone v3)"),
        Setting("project", "Project"),
        Setting("user", "User"),
        Setting("domain", "Domain", default="Default"),
        Setting("region", "Region (empty for the default)", optional=True),
        Setting("password", "Password", secret=True),
    )

    def __init__(self, cloud: Cloud, store: Store, password: str | None = None):
        super().__init__(cloud, store, password)
        self._conn: Any = None
        self._used_password: str | None = None
        self._lock = threading.Lock()
        self._image_names: dict[str, str] | None = None
        self._flavor_names: dict[str, str] | None = None
        self._zones: list[str] | None = None

    # -- plumbing ------------------------------------------------------------------------------

    def _secret(self) -> str | None:
        """The password in use, masked out of every message."""
        return self.password or self._used_password or os.environ.get("OS_PASSWORD") or None

    @contextmanager
    def _call(self, operation: str) -> Iterator[None]:
        """Run a block of SDK calls; anything it raises becomes one DriverError."""
        try:
            yield
        except DriverError:
            raise
        except Exception as exc:  # nothing else may escape the driver
            log.debug("%s on cloud %s failed", operation, self.cloud.name, exc_info=True)
            raise map_error(self.cloud.name, operation, exc, self._secret()) from None

    @property
    def conn(self) -> Any:
        """The openstacksdk Connection, made on first use (no request is sent yet)."""
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            return self._conn

    def _connect(self) -> Any:
        import openstack
        import openstack.config

        settings = self.cloud.settings
        entry = settings.get("os_cloud")
        if entry:
            region = self._cloud_region(entry, self.password)
            auth = region.config.get("auth") or {}
            if not self.password and _wants_password(region) and not auth.get("password"):
                region = self._cloud_region(entry, self._require_password())
            self._used_password = (region.config.get("auth") or {}).get("password")
            if region.config.get("api_timeout") is None:
                region.config["api_timeout"] = API_TIMEOUT
            return openstack.connection.Connection(config=region)
        password = self._require_password()
        domain = settings.get("domain") or "Default"
        return openstack.connect(
            load_yaml_config=False, load_envvars=False, app_name="minicloud",
            auth_type="password",
            auth={"auth_url": settings.get("auth_url", ""),
                  "username": settings.get("user", ""), "password": password,
                  "project_name": settings.get("project", ""),
                  "user_domain_name": domain, "project_domain_name": domain},
            region_name=settings.get("region") or None, api_timeout=API_TIMEOUT)

    def _require_password(self) -> str:
        password = self.password or os.environ.get("OS_PASSWORD")
        if not password:
            raise PasswordNeeded("a password is needed: give it when asked or set OS_PASSWORD")
        return password

    @staticmethod
    def _cloud_region(entry: str, password: str | None) -> Any:
        """The clouds.yaml entry (found as openstack.config finds it), plus a password."""
        import openstack.config

        extra = {"password": password} if password else {}
        return openstack.config.get_cloud_region(cloud=entry, app_name="minicloud", **extra)

    def _ready(self) -> Any:
        """Log in and discover the services now, so that concurrent lists share one token and
        one version document per service (the network proxy needs none)."""
        conn = self.conn
        conn.session.get_token()
        conn.compute.get_endpoint_data()  # the version document: microversions
        conn.image  # noqa: B018 - making the image proxy reads its version document
        conn.network  # noqa: B018
        return conn

    def setup(self) -> None:
        with self._call("log in"):
            self._ready()

    def forget(self) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing is best effort
                log.debug("closing connection to %s failed", self.cloud.name, exc_info=True)

    def _undo(self, what: str, action: Callable[[], Any]) -> str | None:
        """Best-effort rollback; returns a note naming what is left behind when it fails."""
        try:
            with self._call(what):
                action()
        except DriverError as err:
            log.warning("rollback failed: %s", err)
            return f"could not {what} ({err.reason}): it is left behind"
        return None

    def _create_tagged(self, create: Callable[..., Any], **attrs: Any) -> Any:
        """Create a Neutron resource carrying MiniCloud's tag (at creation when accepted)."""
        from openstack import exceptions as sdk

        try:
            resource = create(tags=[OWNER_TAG], **attrs)
        except sdk.BadRequestException as exc:
            if "tags" not in str(exc):
                raise
            resource = create(**attrs)
        tags = list(resource.tags or [])
        if OWNER_TAG not in tags:
            self.conn.network.set_tags(resource, [*tags, OWNER_TAG])
            resource.tags = [*tags, OWNER_TAG]
        return resource

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
        images, flavors = self._names([_image_id(s) for s in servers],
                                      [_flavor_id(s) for s in servers])
        by_device = _group(ports, "device_id")
        return [_to_instance(self.cloud.name, s, by_device.get(s.id, []), images, flavors)
                for s in servers]

    def _networks(self, networks: Iterable[Any], subnets: Iterable[Any]) -> list[Network]:
        by_network = _group(subnets, "network_id")
        return [_to_network(self.cloud.name, n, by_network.get(n.id, [])) for n in networks]

    def _routers(self, routers: Iterable[Any], ports: Iterable[Any]) -> list[Router]:
        by_device = _group(ports, "device_id")
        return [_to_router(self.cloud.name, r, by_device.get(r.id, [])) for r in routers]

    # -- reads ---------------------------------------------------------------------------------

    def snapshot(self) -> CloudSnapshot:
        """Nine list calls (one per resource type), all at once; never one call per server.

        Key pairs are not part of a sync: MiniCloud lists them only when it needs them.
        """
        with self._call("log in"):
            conn = self._ready()
        # Servers and Neutron's lists are read as plain JSON: openstacksdk spends milliseconds
        # building each resource object (seconds for a thousand servers); the few images and
        # flavors go through the SDK, which flattens Glance's properties.
        lists: dict[str, Callable[[], Iterable[Any]]] = {
            "servers": lambda: _raw_list(conn.compute, "/servers/detail", "servers"),
            "networks": lambda: _raw_list(conn.network, "/networks", "networks"),
            "subnets": lambda: _raw_list(conn.network, "/subnets", "subnets"),
            "routers": lambda: _raw_list(conn.network, "/routers", "routers"),
            "ports": lambda: _raw_list(conn.network, "/ports", "ports"),
            "floating IPs": lambda: _raw_list(conn.network, "/floatingips", "floatingips"),
            "security groups": lambda: _raw_list(conn.network, "/security-groups",
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
            data = {what: future.result() for what, future in futures.items()}

        name = self.cloud.name
        images = [_to_image(name, i) for i in data["images"]]
        flavors = [_to_flavor(name, f) for f in data["flavors"]]
        self._image_names = {i.id: i.name for i in images}
        self._flavor_names = {f.id: f.name for f in flavors}
        ports = data["ports"]
        ports_by_id = {p.id: p for p in ports}
        with self._call("read servers"):
            return CloudSnapshot(
                networks=self._networks(data["networks"], data["subnets"]),
                routers=self._routers(data["routers"], ports),
                instances=self._instances(data["servers"], ports),
                public_ips=[_to_public_ip(name, f, ports_by_id) for f in data["floating IPs"]],
                security_groups=[_to_security_group(name, g)
                                 for g in data["security groups"]],
                images=images,
                flavors=flavors,
            )

    def list_images(self) -> list[Image]:
        with self._call("list images"):
            images = [_to_image(self.cloud.name, i) for i in self.conn.image.images()]
        self._image_names = {i.id: i.name for i in images}
        return images

    def list_flavors(self) -> list[Flavor]:
        with self._call("list flavors"):
            flavors = [_to_flavor(self.cloud.name, f)
                       for f in self.conn.compute.flavors(details=True)]
        self._flavor_names = {f.id: f.name for f in flavors}
        return flavors

    def list_networks(self) -> list[Network]:
        with self._call("list networks"):
            subnets = list(self.conn.network.subnets())
            return self._networks(self.conn.network.networks(), subnets)

    def list_routers(self) -> list[Router]:
        with self._call("list routers"):
            ports = list(self.conn.network.ports())
            return self._routers(self.conn.network.routers(), ports)

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

    def list_ports(self) -> list[Port]:
        with self._call("list ports"):
            return [_to_port(p) for p in _in_creation_order(self.conn.network.ports())]

    def list_public_ips(self) -> list[PublicIP]:
        with self._call("list public IPs"):
            ports_by_id = {p.id: p for p in self.conn.network.ports()}
            return [_to_public_ip(self.cloud.name, f, ports_by_id)
                    for f in self.conn.network.ips()]

    def list_security_groups(self) -> list[SecurityGroup]:
        with self._call("list security groups"):
            return [_to_security_group(self.cloud.name, g)
                    for g in self.conn.network.security_groups()]

    def list_keypairs(self) -> list[KeyPair]:
        with self._call("list key pairs"):
            return [_to_keypair(self.cloud.name, k) for k in self.conn.compute.keypairs()]

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
            raise _with_note(err, note) from None

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

    # -- networks and routers ------------------------------------------------------------------

    def create_network(self, name: str, cidr: str) -> Network:
        operation = f"create network {name}"
        with self._call(operation):
            subnet_range = ipaddress.ip_network(cidr, strict=False)
            gateway = str(next(iter(subnet_range.hosts()), subnet_range.network_address))
            network = self._create_tagged(self.conn.network.create_network, name=name)
        try:
            with self._call(operation):
                subnet = self._create_tagged(
                    self.conn.network.create_subnet, name=f"{name}-subnet",
                    network_id=network.id, cidr=str(subnet_range),
                    ip_version=subnet_range.version, gateway_ip=gateway)
        except DriverError as err:
            note = self._undo(f"delete network {name}",
                              lambda: self.conn.network.delete_network(network.id))
            raise _with_note(err, note) from None
        return _to_network(self.cloud.name, network, [subnet])

    def delete_network(self, network_id: str) -> None:
        with self._call(f"delete network {network_id}"):
            self.conn.network.delete_network(network_id, ignore_missing=False)

    def _router(self, router: Any) -> Router:
        ports = self.conn.network.ports(device_id=router.id)
        return _to_router(self.cloud.name, router, ports)

    def create_router(self, name: str, gateway_network_id: str | None = None) -> Router:
        attrs: dict[str, Any] = {"name": name}
        if gateway_network_id:
            attrs["external_gateway_info"] = {"network_id": gateway_network_id}
        with self._call(f"create router {name}"):
            router = self._create_tagged(self.conn.network.create_router, **attrs)
            return _to_router(self.cloud.name, router, [])

    def delete_router(self, router_id: str) -> None:
        with self._call(f"delete router {router_id}"):
            self.conn.network.delete_router(router_id, ignore_missing=False)

    def set_router_gateway(self, router_id: str, network_id: str) -> Router:
        with self._call(f"set gateway of router {router_id}"):
            router = self.conn.network.update_router(
                router_id, external_gateway_info={"network_id": network_id})
            return self._router(router)

    def clear_router_gateway(self, router_id: str) -> Router:
        with self._call(f"clear gateway of router {router_id}"):
            router = self.conn.network.update_router(router_id, external_gateway_info={})
            return self._router(router)

    def add_router_interface(self, router_id: str, network_id: str) -> Router:
        operation = f"attach network {network_id} to router {router_id}"
        with self._call(operation):
            subnets = list(self.conn.network.subnets(network_id=network_id))
            if not subnets:
                raise self.error(operation, FAILED, "the network has no subnet")
            subnet = next((s for s in subnets if s.ip_version == 4), subnets[0])
            self.conn.network.add_interface_to_router(router_id, subnet=subnet.id)
            return self._router(self.conn.network.get_router(router_id))

    def remove_router_interface(self, router_id: str, network_id: str) -> Router:
        operation = f"detach network {network_id} from router {router_id}"
        with self._call(operation):
            ports = [p for p in self.conn.network.ports(device_id=router_id,
                                                        network_id=network_id)
                     if p.device_owner in ROUTER_INTERFACE_OWNERS]
            if not ports:
                raise self.error(operation, NOT_FOUND, "the router has no interface there")
            for port in ports:
                self.conn.network.remove_interface_from_router(router_id, port=port.id)
            return self._router(self.conn.network.get_router(router_id))

    # -- public IPs ----------------------------------------------------------------------------

    def allocate_public_ip(self, network_id: str, address: str | None = None) -> PublicIP:
        attrs: dict[str, Any] = {"floating_network_id": network_id}
        if address:
            attrs["floating_ip_address"] = address
        what = f"public IP {address}" if address else "a public IP"
        with self._call(f"allocate {what} on network {network_id}"):
            fip = self._create_tagged(self.conn.network.create_ip, **attrs)
            return _to_public_ip(self.cloud.name, fip, {})

    def _routed_port(self, ports: list[Any], external_network_id: str) -> Any:
        """The server port whose network a router joins to the external network, else the
        first port."""
        routed: set[str] = set()
        for router in self.conn.network.routers():
            if (router.external_gateway_info or {}).get("network_id") != external_network_id:
                continue
            for port in self.conn.network.ports(device_id=router.id):
                if port.device_owner in ROUTER_INTERFACE_OWNERS:
                    routed.add(port.network_id)
        return next((p for p in ports if p.network_id in routed), ports[0])

    def associate_public_ip(self, ip_id: str, server_id: str) -> PublicIP:
        operation = f"associate public IP {ip_id} with server {server_id}"
        with self._call(operation):
            fip = self.conn.network.get_ip(ip_id)
            ports = _in_creation_order(self.conn.network.ports(device_id=server_id))
            if not ports:
                raise self.error(operation, FAILED, "the server has no network port yet")
            port = self._routed_port(ports, fip.floating_network_id)
            attrs: dict[str, Any] = {"port_id": port.id}
            v4 = [f["ip_address"] for f in port.fixed_ips or []
                  if ipaddress.ip_address(f["ip_address"]).version == 4]
            if v4:
                attrs["fixed_ip_address"] = v4[0]
            fip = self.conn.network.update_ip(fip, **attrs)
            return _to_public_ip(self.cloud.name, fip, {port.id: port})

    def disassociate_public_ip(self, ip_id: str) -> PublicIP:
        with self._call(f"disassociate public IP {ip_id}"):
            fip = self.conn.network.update_ip(ip_id, port_id=None)
            return _to_public_ip(self.cloud.name, fip, {})

    def release_public_ip(self, ip_id: str) -> None:
        with self._call(f"release public IP {ip_id}"):
            self.conn.network.delete_ip(ip_id, ignore_missing=False)

    # -- security groups and key pairs ---------------------------------------------------------

    def create_security_group(self, name: str, description: str = "") -> SecurityGroup:
        with self._call(f"create security group {name}"):
            group = self._create_tagged(self.conn.network.create_security_group, name=name,
                                        description=description)
            return _to_security_group(self.cloud.name, group)

    def delete_security_group(self, group_id: str) -> None:
        with self._call(f"delete security group {group_id}"):
            self.conn.network.delete_security_group(group_id, ignore_missing=False)

    def add_security_group_rule(self, group_id: str, rule: SecurityRule) -> SecurityGroup:
        from openstack import exceptions as sdk

        attrs = {"security_group_id": group_id, "direction": rule.direction,
                 "ethertype": rule.ethertype, "protocol": rule.protocol,
                 "port_range_min": rule.port_min, "port_range_max": rule.port_max,
                 "remote_ip_prefix": rule.remote_ip_prefix}
        attrs = {k: v for k, v in attrs.items() if v is not None}
        with self._call(f"add rule to security group {group_id}"):
            try:
                self.conn.network.create_security_group_rule(**attrs)
            except sdk.ConflictException as exc:
                if "quota" in _message_of(exc).lower():
                    raise
                log.debug("rule already in security group %s", group_id)
            group = self.conn.network.get_security_group(group_id)
            return _to_security_group(self.cloud.name, group)

    def create_keypair(self, name: str, public_key: str) -> KeyPair:
        with self._call(f"create key pair {name}"):
            keypair = self.conn.compute.create_keypair(name=name, public_key=public_key)
            return _to_keypair(self.cloud.name, keypair)

    def delete_keypair(self, name: str) -> None:
        with self._call(f"delete key pair {name}"):
            self.conn.compute.delete_keypair(name, ignore_missing=False)
