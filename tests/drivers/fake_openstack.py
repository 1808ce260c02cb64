"""A stateful fake OpenStack (Keystone, Nova, Neutron, Glance) for offline tests.

It is served to openstacksdk's real HTTP stack through ``requests_mock``: the SDK builds real
requests, the fake answers them with bodies shaped like the real APIs and keeps its state in
plain dicts.  Tests can look at that state, inject failures and count requests::

    with fake_openstack_driver(store) as (driver, fake):
        fake.fail("POST", "/v2.0/floatingips", status=500)   # the next such request fails
        ...
        assert fake.request_count == 12          # every request; fake.calls has each one
        assert fake.count("GET", "/v2.1/servers/detail") == 1

Initial state: external network ``public`` (subnet ``public-subnet`` 203.0.113.0/24, not
tagged), images ``cirros`` and ``ubuntu``, flavors ``m1.tiny``/``m1.small``/``m1.medium`` and a
``default`` security group with egress rules only.  Knobs (``page_size``, ``tags_on_create``,
``quotas``, ``build_gets``, ``delete_gets``, ``latency``, ``max_microversion``) are attributes.

Paths given to :meth:`FakeOpenStack.fail` are regular expressions matched against the whole
URL path (``/v2.0/...`` for Neutron, ``/v2.1/...`` for Nova, ``/v2/...`` for Glance).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import ipaddress
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
import requests_mock
from keystoneauth1 import fixture as ks_fixture

from minicloud.drivers.openstack import OpenStackDriver
from minicloud.model import Cloud, Port
from minicloud.store import Store

IDENTITY = "https://identity.example.com"
COMPUTE = "https://compute.example.com"
NETWORK = "https://network.example.com"
IMAGE = "https://image.example.com"

AUTH_URL = f"{IDENTITY}/v3"
PASSWORD = "secret-pw"
USER = "demo"
PROJECT = "demo"
COMPUTE_MAX_MICROVERSION = "2.96"

ROUTER_INTERFACE = "network:router_interface"
EXTENSIONS = ("router", "external-net", "security-group", "standard-attr-tag", "tag-creation",
              "fip-port-details", "quotas", "extraroute", "ext-gw-mode", "port-security")


class FakeError(Exception):
    """Raised by a handler to answer with an API error."""

    def __init__(self, status: int, message: str, kind: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


@dataclass
class Call:
    """One request the fake answered (``status`` 0 when the transport raised)."""

    method: str
    url: str
    path: str
    status: int = 0


@dataclass
class Failure:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    message: str
    exc: type[Exception] | Exception | None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id() -> str:
    return str(uuid.uuid4())


def _mac() -> str:
    raw = uuid.uuid4().bytes[:3]
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in raw)


def _fingerprint(public_key: str) -> str:
    parts = public_key.split()
    try:
        blob = base64.b64decode(parts[1], validate=True) if len(parts) > 1 else b""
    except ValueError:
        blob = b""
    digest = hashlib.md5(blob or public_key.encode()).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


# Neutron collections: URL name -> (singular body key, attribute holding the dict).
NEUTRON = {
    "networks": ("network", "networks"),
    "subnets": ("subnet", "subnets"),
    "routers": ("router", "routers"),
    "ports": ("port", "ports"),
    "floatingips": ("floatingip", "floating_ips"),
    "security-groups": ("security_group", "security_groups"),
    "security-group-rules": ("security_group_rule", "security_group_rules"),
}


class FakeOpenStack:
    """State and request handling of the fake cloud."""

    def __init__(self, password: str = PASSWORD, project_id: str | None = None):
        self.password = password
        self.project_id = project_id or uuid.uuid4().hex
        self.user_id = uuid.uuid4().hex
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.failures: list[Failure] = []
        self.tokens: set[str] = set()
        self.logins: list[dict[str, Any]] = []  # the "auth" body of every token request
        # Knobs a test may turn.
        self.page_size = 1000          # servers per page of /servers/detail (Nova's max_limit)
        self.tags_on_create = True     # False: an older Neutron that rejects "tags" in POST
        self.quotas: dict[str, int] = {"instances": 1000, "floatingip": 1000}
        self.build_gets = 0            # GETs that still show BUILD after a server create
        self.delete_gets = 0           # GETs that still show a server after its DELETE
        self.latency = 0.0             # seconds per API request (not auth/discovery); see mount
        self.max_microversion = COMPUTE_MAX_MICROVERSION
        self.zones = ["nova"]              # Nova's availability zones

        self.networks: dict[str, dict[str, Any]] = {}
        self.subnets: dict[str, dict[str, Any]] = {}
        self.routers: dict[str, dict[str, Any]] = {}
        self.ports: dict[str, dict[str, Any]] = {}
        self.floating_ips: dict[str, dict[str, Any]] = {}
        self.security_groups: dict[str, dict[str, Any]] = {}
        self.security_group_rules: dict[str, dict[str, Any]] = {}
        self.servers: dict[str, dict[str, Any]] = {}
        self.keypairs: dict[str, dict[str, Any]] = {}
        self.images: dict[str, dict[str, Any]] = {}
        self.flavors: dict[str, dict[str, Any]] = {}
        self._routes = self._build_routes()
        self._seed()

    # -- initial state -------------------------------------------------------------------------

    def _seed(self) -> None:
        public = self.add_network("public", external=True)
        self.add_subnet(public["id"], "public-subnet", "203.0.113.0/24")
        self.add_security_group("default", "Default security group")
        for name, distro in (("cirros", "cirros"), ("ubuntu", "ubuntu")):
            self.add_image(name, os_distro=distro)
        for ident, name, vcpus, ram, disk in (("1", "m1.tiny", 1, 512, 1),
                                              ("2", "m1.small", 1, 2048, 20),
                                              ("3", "m1.medium", 2, 4096, 40)):
            self.add_flavor(ident, name, vcpus, ram, disk)

    def _base(self, **fields: Any) -> dict[str, Any]:
        now = _now()
        return {"id": _new_id(), "tenant_id": self.project_id, "project_id": self.project_id,
                "created_at": now, "updated_at": now, "revision_number": 0,
                "description": "", "tags": [], **fields}

    def add_network(self, name: str, external: bool = False,
                    tags: list[str] | None = None) -> dict[str, Any]:
        net = self._base(name=name, status="ACTIVE", admin_state_up=True, subnets=[],
                         shared=False, mtu=1450, port_security_enabled=True,
                         availability_zone_hints=[], availability_zones=["nova"],
                         ipv4_address_scope=None, ipv6_address_scope=None, is_default=False)
        net["router:external"] = external
        net["tags"] = list(tags or [])
        self.networks[net["id"]] = net
        return net

    def add_subnet(self, network_id: str, name: str, cidr: str, gateway_ip: str | None = "",
                   tags: list[str] | None = None, ip_version: int | None = None) -> dict[str, Any]:
        if network_id not in self.networks:
            raise FakeError(404, f"Network {network_id} could not be found.", "NetworkNotFound")
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise FakeError(400, f"Invalid input for cidr. Reason: '{cidr}' is not a valid IP "
                                 "subnet.", "HTTPBadRequest") from None
        if ip_version is not None and int(ip_version) != net.version:
            raise FakeError(400, "Invalid input for operation: ip_version does not match cidr",
                            "InvalidInput")
        for other in self.subnets.values():
            if other["network_id"] == network_id and \
                    ipaddress.ip_network(other["cidr"]).overlaps(net):
                raise FakeError(400, f"Invalid input for operation: Requested subnet with cidr: "
                                     f"{cidr} for network: {network_id} overlaps with another "
                                     "subnet.", "InvalidInput")
        hosts = net.hosts()
        first = str(next(iter(hosts)))
        if gateway_ip == "":
            gateway_ip = first
        last = str(net.broadcast_address - 1) if net.version == 4 else str(net[-1])
        start = str(ipaddress.ip_address(gateway_ip) + 1) if gateway_ip == first else first
        subnet = self._base(name=name, network_id=network_id, cidr=str(net),
                            ip_version=net.version, gateway_ip=gateway_ip,
                            allocation_pools=[{"start": start, "end": last}],
                            enable_dhcp=True, dns_nameservers=[], host_routes=[],
                            ipv6_address_mode=None, ipv6_ra_mode=None, subnetpool_id=None,
                            service_types=[], segment_id=None)
        subnet["tags"] = list(tags or [])
        self.subnets[subnet["id"]] = subnet
        self.networks[network_id]["subnets"].append(subnet["id"])
        return subnet

    def add_security_group(self, name: str, description: str = "",
                           tags: list[str] | None = None) -> dict[str, Any]:
        group = self._base(name=name, description=description, stateful=True,
                           security_group_rules=[])
        group["tags"] = list(tags or [])
        self.security_groups[group["id"]] = group
        for ethertype in ("IPv4", "IPv6"):
            self.add_rule({"security_group_id": group["id"], "direction": "egress",
                           "ethertype": ethertype})
        return group

    def add_rule(self, body: dict[str, Any]) -> dict[str, Any]:
        group = self.security_groups.get(body.get("security_group_id") or "")
        if group is None:
            raise FakeError(404, f"Security group {body.get('security_group_id')} does not "
                                 "exist", "SecurityGroupNotFound")
        if body.get("direction") not in ("ingress", "egress"):
            raise FakeError(400, "Invalid input for direction.", "HTTPBadRequest")
        rule = self._base(security_group_id=group["id"], direction=body["direction"],
                          ethertype=body.get("ethertype") or "IPv4",
                          protocol=body.get("protocol"),
                          port_range_min=body.get("port_range_min"),
                          port_range_max=body.get("port_range_max"),
                          remote_ip_prefix=body.get("remote_ip_prefix"),
                          remote_group_id=body.get("remote_group_id"),
                          remote_address_group_id=None, normalized_cidr=None,
                          belongs_to_default_sg=group["name"] == "default")
        rule["description"] = body.get("description") or ""
        del rule["tags"]
        same = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max",
                "remote_ip_prefix", "remote_group_id")
        for existing in group["security_group_rules"]:
            if all(existing[k] == rule[k] for k in same):
                raise FakeError(409, "Security group rule already exists. Rule id is "
                                     f"{existing['id']}.", "SecurityGroupRuleExists")
        self.security_group_rules[rule["id"]] = rule
        group["security_group_rules"].append(rule)
        return rule

    def add_image(self, name: str, **properties: Any) -> dict[str, Any]:
        ident = _new_id()
        now = _now()
        image = {"id": ident, "name": name, "status": "active", "visibility": "public",
                 "disk_format": "qcow2", "container_format": "bare", "min_disk": 0,
                 "min_ram": 0, "size": 16338944, "virtual_size": 117440512,
                 "checksum": hashlib.md5(name.encode()).hexdigest(), "os_hash_algo": "sha512",
                 "os_hash_value": hashlib.sha512(name.encode()).hexdigest(),
                 "protected": False, "os_hidden": False, "tags": [], "owner": self.project_id,
                 "created_at": now, "updated_at": now, "self": f"/v2/images/{ident}",
                 "file": f"/v2/images/{ident}/file", "schema": "/v2/schemas/image",
                 **properties}
        self.images[ident] = image
        return image

    def add_flavor(self, ident: str, name: str, vcpus: int, ram: int, disk: int) -> None:
        self.flavors[ident] = {
            "id": ident, "name": name, "vcpus": vcpus, "ram": ram, "disk": disk,
            "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": False, "swap": 0,
            "rxtx_factor": 1.0, "os-flavor-access:is_public": True, "description": None,
            "extra_specs": {},
            "links": [{"rel": "self", "href": f"{COMPUTE}/v2.1/flavors/{ident}"}]}

    def add_server(self, name: str, network_ids: list[str] | None = None,
                   metadata: dict[str, str] | None = None,
                   security_groups: list[str] | None = None) -> dict[str, Any]:
        """A server made outside MiniCloud (ACTIVE at once), with a port on each network."""
        with self.lock:
            image = next(iter(self.images.values()))
            body = {"name": name, "imageRef": image["id"], "flavorRef": "1",
                    "metadata": metadata or {},
                    "networks": [{"uuid": n} for n in network_ids or []],
                    "security_groups": [{"name": g} for g in security_groups or ["default"]]}
            server = self._create_server(body)
            server.update({"status": "ACTIVE", "OS-EXT-STS:vm_state": "active",
                           "OS-EXT-STS:power_state": 1})
            return server

    # -- lookups used by tests -----------------------------------------------------------------

    def network_named(self, name: str) -> dict[str, Any]:
        return next(n for n in self.networks.values() if n["name"] == name)

    def server_ports(self, server_id: str) -> list[dict[str, Any]]:
        return [p for p in self.ports.values() if p["device_id"] == server_id]

    def model_ports(self) -> list[Port]:
        """Every port, oldest first, as MiniCloud's model (for tests: drivers list none)."""
        with self.lock:
            return [Port(p["id"], p["network_id"], p["device_id"] or "", p["device_owner"] or "",
                         [f["ip_address"] for f in p["fixed_ips"] if f.get("ip_address")])
                    for p in self.ports.values()]

    # -- failure injection and counting --------------------------------------------------------

    def fail(self, method: str, path: str, status: int = 500, times: int = 1,
             message: str = "Injected failure",
             exc: type[Exception] | Exception | None = None) -> None:
        """Make the next ``times`` requests ``METHOD path`` fail.

        With ``exc`` (e.g. ``requests.exceptions.ConnectTimeout``) the transport raises it;
        otherwise the API answers ``status`` with ``message`` in the service's error shape.
        """
        with self.lock:
            self.failures.append(Failure(method.upper(), re.compile(path), status, times,
                                         message, exc))

    @property
    def request_count(self) -> int:
        return len(self.calls)

    def reset_count(self) -> None:
        with self.lock:
            self.calls.clear()

    def count(self, method: str, path: str) -> int:
        """How many ``METHOD path`` requests (``path`` a regular expression) were made."""
        pattern = re.compile(path)
        return sum(1 for c in self.calls if c.method == method and pattern.fullmatch(c.path))

    # -- requests_mock entry point -------------------------------------------------------------

    def install(self, mocker: requests_mock.Mocker | requests_mock.Adapter) -> None:
        """Answer the requests a Mocker (every session) or an Adapter (one session) sees."""
        mocker.add_matcher(self.handle)

    def mount(self, session: requests.Session) -> None:
        """Serve the fake on one requests session only.

        ``requests_mock.Mocker`` sends one request at a time (a global lock); an adapter
        mounted on the session does not, so concurrent requests really overlap.
        """
        adapter = requests_mock.Adapter()
        self.install(adapter)
        session.mount("https://", adapter)
        session.mount("http://", adapter)

    def handle(self, request: Any) -> requests.Response | None:
        parts = urlsplit(request.url)
        base = f"{parts.scheme}://{parts.netloc}"
        if base not in (IDENTITY, COMPUTE, NETWORK, IMAGE):
            return None
        path = parts.path.rstrip("/") or "/"
        is_version_document = path in ("/", "/v2.1", "/v2.0", "/v2")
        if self.latency and base != IDENTITY and not is_version_document:
            time.sleep(self.latency)  # outside the lock: concurrent requests overlap
        call = Call(request.method, request.url, path)
        with self.lock:
            self.calls.append(call)
            response = self._answer(request, base, path, parts.query, is_version_document)
            call.status = response.status_code
            return response

    def _answer(self, request: Any, base: str, path: str, query_string: str,
                is_version_document: bool) -> requests.Response:
        query = {k: v[-1] for k, v in parse_qs(query_string).items()}
        failure = self._take_failure(request.method, path)
        if failure is not None:
            if failure.exc is not None:
                raise failure.exc
            return self._error_response(request, base,
                                        FakeError(failure.status, failure.message))
        if base != IDENTITY and not is_version_document and \
                request.headers.get("X-Auth-Token") not in self.tokens:
            return self._error_response(request, base, FakeError(
                401, "The request you have made requires authentication.", "Unauthorized"))
        body = None
        if request.body:
            raw = request.body.decode() if isinstance(request.body, bytes) else request.body
            body = json.loads(raw) if raw.strip() else None
        try:
            for service, method, pattern, handler in self._routes:
                if service != base or method != request.method:
                    continue
                match = pattern.fullmatch(path)
                if match:
                    ctx = _Ctx(request, query, body)
                    status, payload, headers = handler(ctx, *match.groups())
                    return _response(request, status, payload, headers)
            raise FakeError(404, f"The resource could not be found: {request.method} "
                                 f"{path}", "HTTPNotFound")
        except FakeError as err:
            return self._error_response(request, base, err)

    def _take_failure(self, method: str, path: str) -> Failure | None:
        for failure in self.failures:
            if failure.method == method and failure.path.fullmatch(path):
                failure.times -= 1
                if failure.times <= 0:
                    self.failures.remove(failure)
                return failure
        return None

    def _error_response(self, request: Any, base: str, err: FakeError) -> requests.Response:
        if base == NETWORK:
            body: Any = {"NeutronError": {"type": err.kind or "HTTPError",
                                          "message": err.message, "detail": ""}}
        elif base == COMPUTE:
            key = {400: "badRequest", 403: "forbidden", 404: "itemNotFound",
                   409: "conflictingRequest", 413: "overLimit"}.get(err.status, "computeFault")
            body = {key: {"code": err.status, "message": err.message}}
        else:
            body = {"error": {"code": err.status, "title": err.kind or "Error",
                              "message": err.message}}
        return _response(request, err.status, body, {})

    # -- routing -------------------------------------------------------------------------------

    def _build_routes(self) -> list[tuple[str, str, re.Pattern[str], Callable[..., Any]]]:
        table: list[tuple[str, str, str, Callable[..., Any]]] = [
            (IDENTITY, "GET", r"/", self._identity_versions),
            (IDENTITY, "GET", r"/v3", self._identity_version),
            (IDENTITY, "POST", r"/v3/auth/tokens", self._issue_token),
            (COMPUTE, "GET", r"/", self._compute_versions),
            (COMPUTE, "GET", r"/v2\.1", self._compute_version),
            (COMPUTE, "GET", r"/v2\.1/servers(/detail)?", self._list_servers),
            (COMPUTE, "POST", r"/v2\.1/servers", self._post_server),
            (COMPUTE, "GET", r"/v2\.1/servers/([^/]+)", self._get_server),
            (COMPUTE, "DELETE", r"/v2\.1/servers/([^/]+)", self._delete_server),
            (COMPUTE, "POST", r"/v2\.1/servers/([^/]+)/action", self._server_action),
            (COMPUTE, "GET", r"/v2\.1/servers/([^/]+)/metadata", self._get_metadata),
            (COMPUTE, "GET", r"/v2\.1/flavors(/detail)?", self._list_flavors),
            (COMPUTE, "GET", r"/v2\.1/flavors/([^/]+)", self._get_flavor),
            (COMPUTE, "GET", r"/v2\.1/os-keypairs", self._list_keypairs),
            (COMPUTE, "GET", r"/v2\.1/os-availability-zone", self._list_zones),
            (COMPUTE, "POST", r"/v2\.1/os-keypairs", self._create_keypair),
            (COMPUTE, "GET", r"/v2\.1/os-keypairs/([^/]+)", self._get_keypair),
            (COMPUTE, "DELETE", r"/v2\.1/os-keypairs/([^/]+)", self._delete_keypair),
            (NETWORK, "GET", r"/", self._network_versions),
            (NETWORK, "GET", r"/v2\.0/extensions", self._extensions),
            (NETWORK, "PUT", r"/v2\.0/routers/([^/]+)/(add|remove)_router_interface",
             self._router_interface),
            (NETWORK, "GET", r"/v2\.0/([a-z-]+)/([^/]+)/tags", self._get_tags),
            (NETWORK, "PUT", r"/v2\.0/([a-z-]+)/([^/]+)/tags", self._put_tags),
            (NETWORK, "PUT", r"/v2\.0/([a-z-]+)/([^/]+)/tags/([^/]+)", self._add_tag),
            (NETWORK, "DELETE", r"/v2\.0/([a-z-]+)/([^/]+)/tags/([^/]+)", self._delete_tag),
            (NETWORK, "GET", r"/v2\.0/([a-z-]+)", self._neutron_list),
            (NETWORK, "POST", r"/v2\.0/([a-z-]+)", self._neutron_create),
            (NETWORK, "GET", r"/v2\.0/([a-z-]+)/([^/]+)", self._neutron_show),
            (NETWORK, "PUT", r"/v2\.0/([a-z-]+)/([^/]+)", self._neutron_update),
            (NETWORK, "DELETE", r"/v2\.0/([a-z-]+)/([^/]+)", self._neutron_delete),
            (IMAGE, "GET", r"/", self._image_versions),
            (IMAGE, "GET", r"/v2/images", self._list_images),
            (IMAGE, "GET", r"/v2/images/([^/]+)", self._get_image),
        ]
        return [(s, m, re.compile(p), h) for s, m, p, h in table]

    # -- Keystone ------------------------------------------------------------------------------

    def _identity_version(self, ctx: _Ctx) -> Reply:
        return 200, {"version": _identity_v3()}, {}

    def _identity_versions(self, ctx: _Ctx) -> Reply:
        return 300, {"versions": {"values": [_identity_v3()]}}, {}

    def _issue_token(self, ctx: _Ctx) -> Reply:
        self.logins.append((ctx.body or {}).get("auth", {}))
        identity = (ctx.body or {}).get("auth", {}).get("identity", {})
        user = identity.get("password", {}).get("user", {})
        if user.get("name") != USER or user.get("password") != self.password:
            raise FakeError(401, "The request you have made requires authentication.",
                            "Unauthorized")
        token = ks_fixture.V3Token(user_id=self.user_id, user_name=USER,
                                   project_id=self.project_id, project_name=PROJECT)
        token.add_role(name="member")
        for kind, name, url in (("identity", "keystone", IDENTITY),
                                ("compute", "nova", f"{COMPUTE}/v2.1/"),
                                ("network", "neutron", NETWORK),
                                ("image", "glance", IMAGE)):
            token.add_service(kind, name=name).add_standard_endpoints(
                public=url, internal=url, admin=url, region="RegionOne")
        ident = uuid.uuid4().hex
        self.tokens.add(ident)
        return 201, dict(token), {"X-Subject-Token": ident}

    # -- Nova ----------------------------------------------------------------------------------

    def _compute_version(self, ctx: _Ctx) -> Reply:
        return 200, {"version": _compute_v21(self.max_microversion)}, {}

    def _compute_versions(self, ctx: _Ctx) -> Reply:
        return 200, {"versions": [_compute_v21(self.max_microversion)]}, {}

    def _list_servers(self, ctx: _Ctx, detail: str | None) -> Reply:
        servers = list(self.servers.values())
        if "name" in ctx.query:
            servers = [s for s in servers if re.search(ctx.query["name"], s["name"])]
        marker = ctx.query.get("marker")
        if marker:
            ids = [s["id"] for s in servers]
            if marker not in ids:
                raise FakeError(400, f"marker [{marker}] not found")
            servers = servers[ids.index(marker) + 1:]
        limit = min(int(ctx.query.get("limit", self.page_size)), self.page_size)
        page = servers[:limit]
        body: dict[str, Any] = {
            "servers": [self._server_view(s, ctx) if detail else _server_summary(s)
                        for s in page]}
        if len(servers) > limit:
            query = urlencode({"limit": limit, "marker": page[-1]["id"]})
            body["servers_links"] = [{"rel": "next", "href": f"{COMPUTE}/v2.1/servers"
                                                            f"{detail or ''}?{query}"}]
        return 200, body, {}

    def _server(self, server_id: str) -> dict[str, Any]:
        server = self.servers.get(server_id)
        if server is None:
            raise FakeError(404, f"Instance {server_id} could not be found.")
        return server

    def _get_server(self, ctx: _Ctx, server_id: str) -> Reply:
        server = self._server(server_id)
        if server["_delete_gets"] is not None:
            if server["_delete_gets"] <= 0:
                self._remove_server(server_id)
                raise FakeError(404, f"Instance {server_id} could not be found.")
            server["_delete_gets"] -= 1
        view = self._server_view(server, ctx)
        if server["status"] == "BUILD":
            if server["_build_gets"] > 0:
                server["_build_gets"] -= 1
            else:
                server["status"] = "ACTIVE"
                server["OS-EXT-STS:vm_state"] = "active"
                server["OS-EXT-STS:power_state"] = 1
                view = self._server_view(server, ctx)
        return 200, {"server": view}, {}

    def _get_metadata(self, ctx: _Ctx, server_id: str) -> Reply:
        return 200, {"metadata": dict(self._server(server_id)["metadata"])}, {}

    def _server_view(self, server: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        view = {k: copy.deepcopy(v) for k, v in server.items() if not k.startswith("_")}
        flavor = self.flavors.get(server["_flavor_id"]) or {}
        if ctx.microversion >= (2, 47):
            view["flavor"] = {"vcpus": flavor.get("vcpus"), "ram": flavor.get("ram"),
                              "disk": flavor.get("disk"), "ephemeral": 0, "swap": 0,
                              "original_name": flavor.get("name"), "extra_specs": {}}
        else:
            view["flavor"] = {"id": server["_flavor_id"], "links": [
                {"rel": "bookmark", "href": f"{COMPUTE}/flavors/{server['_flavor_id']}"}]}
        addresses: dict[str, list[dict[str, Any]]] = {}
        for port in self.server_ports(server["id"]):
            net_name = self.networks[port["network_id"]]["name"]
            entries = addresses.setdefault(net_name, [])
            for fixed in port["fixed_ips"]:
                version = ipaddress.ip_address(fixed["ip_address"]).version
                entries.append({"version": version, "addr": fixed["ip_address"],
                                "OS-EXT-IPS:type": "fixed",
                                "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]})
            for fip in self.floating_ips.values():
                if fip["port_id"] == port["id"]:
                    entries.append({"version": 4, "addr": fip["floating_ip_address"],
                                    "OS-EXT-IPS:type": "floating",
                                    "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]})
        view["addresses"] = addresses
        return view

    def _post_server(self, ctx: _Ctx) -> Reply:
        body = (ctx.body or {}).get("server")
        if not isinstance(body, dict) or not body.get("name"):
            raise FakeError(400, "Invalid input for field/attribute server.")
        used = sum(1 for _ in self.servers.values())
        if used >= self.quotas["instances"]:
            limit = self.quotas["instances"]
            raise FakeError(403, f"Quota exceeded for instances: Requested 1, but already used "
                                 f"{used} of {limit} instances")
        server = self._create_server(body)
        groups = [{"name": g["name"]} for g in server["security_groups"]]
        reply = {"id": server["id"], "links": server["links"], "OS-DCF:diskConfig": "MANUAL",
                 "security_groups": groups, "adminPass": uuid.uuid4().hex[:12]}
        return 202, {"server": reply}, {}

    def _create_server(self, body: dict[str, Any]) -> dict[str, Any]:
        image_id = body.get("imageRef")
        if image_id not in self.images:
            raise FakeError(400, f"Image {image_id} could not be found.")
        flavor_id = body.get("flavorRef")
        if flavor_id not in self.flavors:
            raise FakeError(400, f"Flavor {flavor_id} could not be found.")
        key_name = body.get("key_name")
        if key_name is not None and key_name not in self.keypairs:
            raise FakeError(400, "Invalid key_name provided.")
        zone = body.get("availability_zone")
        if zone is not None and zone not in self.zones:
            raise FakeError(400, "The requested availability zone is not available")
        group_ids = []
        for ref in body.get("security_groups") or [{"name": "default"}]:
            group = next((g for g in self.security_groups.values()
                          if ref.get("name") in (g["name"], g["id"])), None)
            if group is None:
                raise FakeError(400, f"Security group {ref.get('name')} not found for project "
                                     f"{self.project_id}.")
            group_ids.append(group["id"])
        requested = body.get("networks") or []
        if requested in ("auto", "none"):
            requested = []
        for net in requested:
            net_id = net.get("uuid")
            if net_id not in self.networks:
                raise FakeError(400, f"Network {net_id} could not be found.")
            if not self.networks[net_id]["subnets"]:
                raise FakeError(400, f"Network {net_id} requires a subnet in order to boot "
                                     "instances on.")
        metadata = body.get("metadata") or {}
        if not all(isinstance(v, str) for v in metadata.values()):
            raise FakeError(400, "Invalid input for field/attribute metadata.")
        ident = _new_id()
        now = _now()
        server = {
            "id": ident, "name": body["name"], "status": "BUILD",
            "tenant_id": self.project_id, "user_id": self.user_id,
            "metadata": dict(metadata), "hostId": "", "created": now, "updated": now,
            "image": {"id": image_id, "links": [
                {"rel": "bookmark", "href": f"{COMPUTE}/images/{image_id}"}]},
            "accessIPv4": "", "accessIPv6": "", "progress": 0, "config_drive": "",
            "links": [{"rel": "self", "href": f"{COMPUTE}/v2.1/servers/{ident}"},
                      {"rel": "bookmark", "href": f"{COMPUTE}/servers/{ident}"}],
            "OS-DCF:diskConfig": "MANUAL", "OS-EXT-AZ:availability_zone": zone or "nova",
            "key_name": key_name, "OS-SRV-USG:launched_at": None,
            "OS-SRV-USG:terminated_at": None,
            "security_groups": [{"name": self.security_groups[g]["name"]}
                                for g in dict.fromkeys(group_ids)],
            "OS-EXT-STS:task_state": None, "OS-EXT-STS:vm_state": "building",
            "OS-EXT-STS:power_state": 0, "os-extended-volumes:volumes_attached": [],
            "locked": False, "locked_reason": None, "description": None, "tags": [],
            "trusted_image_certificates": None, "server_groups": [],
            "_flavor_id": flavor_id, "_build_gets": self.build_gets, "_delete_gets": None,
        }
        self.servers[ident] = server
        try:
            for net in requested:
                self._create_port({"network_id": net["uuid"], "device_id": ident,
                                   "device_owner": "compute:nova",
                                   "security_groups": group_ids,
                                   "fixed_ips": [{"ip_address": net["fixed_ip"]}]
                                   if net.get("fixed_ip") else []},
                                  prefer_free=True)
        except FakeError:
            self._remove_server(ident)
            raise
        return server

    def _delete_server(self, ctx: _Ctx, server_id: str) -> Reply:
        server = self._server(server_id)
        if self.delete_gets > 0:
            server["_delete_gets"] = self.delete_gets
            server["OS-EXT-STS:task_state"] = "deleting"
        else:
            self._remove_server(server_id)
        return 204, None, {}

    def _remove_server(self, server_id: str) -> None:
        for port in self.server_ports(server_id):
            if port["device_owner"].startswith("compute:"):
                self._remove_port(port["id"])
            else:
                port["device_id"] = ""
                port["device_owner"] = ""
        del self.servers[server_id]

    def _server_action(self, ctx: _Ctx, server_id: str) -> Reply:
        server = self._server(server_id)
        body = ctx.body or {}
        action = next(iter(body), "")
        status = server["status"]

        def refuse() -> FakeError:
            vm_state = server["OS-EXT-STS:vm_state"]
            return FakeError(409, f"Cannot '{action}' instance {server_id} while it is in "
                                  f"vm_state {vm_state}")

        if action == "os-stop":
            if status != "ACTIVE":
                raise refuse()
            server.update({"status": "SHUTOFF", "OS-EXT-STS:vm_state": "stopped",
                           "OS-EXT-STS:power_state": 4})
        elif action == "os-start":
            if status != "SHUTOFF":
                raise refuse()
            server.update({"status": "ACTIVE", "OS-EXT-STS:vm_state": "active",
                           "OS-EXT-STS:power_state": 1})
        elif action == "reboot":
            kind = (body["reboot"] or {}).get("type", "SOFT")
            if status != "ACTIVE" and not (kind == "HARD" and status == "SHUTOFF"):
                raise refuse()
            server.update({"status": "ACTIVE", "OS-EXT-STS:vm_state": "active",
                           "OS-EXT-STS:power_state": 1})
        elif action in ("addSecurityGroup", "removeSecurityGroup"):
            name = (body[action] or {}).get("name")
            group = next((g for g in self.security_groups.values()
                          if name in (g["name"], g["id"])), None)
            if group is None:
                raise FakeError(404, f"Security group {name} not found for project "
                                     f"{self.project_id}.")
            names = [g["name"] for g in server["security_groups"]]
            if action == "addSecurityGroup":
                if group["name"] in names:
                    raise FakeError(400, f"Security group {group['name']} is already "
                                         f"associated with the instance {server_id}")
                server["security_groups"].append({"name": group["name"]})
                for port in self.server_ports(server_id):
                    port["security_groups"].append(group["id"])
            else:
                if group["name"] not in names:
                    raise FakeError(400, f"Security group {group['name']} not associated "
                                         f"with the instance {server_id}")
                server["security_groups"] = [g for g in server["security_groups"]
                                             if g["name"] != group["name"]]
                for port in self.server_ports(server_id):
                    port["security_groups"].remove(group["id"])
        else:
            raise FakeError(400, f"There is no such action: {action}")
        return 202, None, {}

    def _list_flavors(self, ctx: _Ctx, detail: str | None) -> Reply:
        if detail:
            return 200, {"flavors": list(self.flavors.values())}, {}
        return 200, {"flavors": [{"id": f["id"], "name": f["name"], "links": f["links"]}
                                 for f in self.flavors.values()]}, {}

    def _get_flavor(self, ctx: _Ctx, flavor_id: str) -> Reply:
        if flavor_id not in self.flavors:
            raise FakeError(404, f"Flavor {flavor_id} could not be found.")
        return 200, {"flavor": self.flavors[flavor_id]}, {}

    def _list_zones(self, ctx: _Ctx) -> Reply:
        return 200, {"availabilityZoneInfo": [
            {"zoneName": zone, "zoneState": {"available": True}, "hosts": None}
            for zone in self.zones]}, {}

    def _list_keypairs(self, ctx: _Ctx) -> Reply:
        return 200, {"keypairs": [{"keypair": _keypair_view(k)}
                                  for k in self.keypairs.values()]}, {}

    def _get_keypair(self, ctx: _Ctx, name: str) -> Reply:
        if name not in self.keypairs:
            raise FakeError(404, f"Keypair {name} not found for user {self.user_id}")
        keypair = dict(_keypair_view(self.keypairs[name]), id=1, deleted=False)
        return 200, {"keypair": keypair}, {}

    def _create_keypair(self, ctx: _Ctx) -> Reply:
        body = (ctx.body or {}).get("keypair") or {}
        name = body.get("name") or ""
        if not re.fullmatch(r"[A-Za-z0-9_. -]{1,255}", name):
            raise FakeError(400, "Keypair data is invalid: Keypair name contains unsafe "
                                 "characters")
        if name in self.keypairs:
            raise FakeError(409, f"Key pair '{name}' already exists.")
        public_key = body.get("public_key")
        private_key = None
        if not public_key:
            public_key = "ssh-rsa " + base64.b64encode(uuid.uuid4().bytes * 8).decode()
            private_key = "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n"
        elif not public_key.startswith(("ssh-", "ecdsa-")):
            raise FakeError(400, "Keypair data is invalid: failed to generate fingerprint")
        keypair = {"name": name, "public_key": public_key, "type": body.get("type", "ssh"),
                   "fingerprint": _fingerprint(public_key), "user_id": self.user_id}
        self.keypairs[name] = keypair
        reply = dict(keypair)
        if private_key:
            reply["private_key"] = private_key
        return 200, {"keypair": reply}, {}

    def _delete_keypair(self, ctx: _Ctx, name: str) -> Reply:
        if name not in self.keypairs:
            raise FakeError(404, f"Keypair {name} not found for user {self.user_id}")
        del self.keypairs[name]
        return 202, None, {}

    # -- Glance --------------------------------------------------------------------------------

    def _image_versions(self, ctx: _Ctx) -> Reply:
        versions = [{"id": v, "status": "CURRENT" if v == "v2.9" else "SUPPORTED",
                     "links": [{"rel": "self", "href": f"{IMAGE}/v2/"}]}
                    for v in ("v2.9", "v2.1", "v2.0")]
        return 300, {"versions": versions}, {}

    def _list_images(self, ctx: _Ctx) -> Reply:
        return 200, {"images": list(self.images.values()), "schema": "/v2/schemas/images",
                     "first": "/v2/images"}, {}

    def _get_image(self, ctx: _Ctx, image_id: str) -> Reply:
        if image_id not in self.images:
            raise FakeError(404, f"No image found with ID {image_id}")
        return 200, self.images[image_id], {}

    # -- Neutron -------------------------------------------------------------------------------

    def _network_versions(self, ctx: _Ctx) -> Reply:
        return 200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
            {"rel": "self", "href": f"{NETWORK}/v2.0/"}]}]}, {}

    def _extensions(self, ctx: _Ctx) -> Reply:
        return 200, {"extensions": [{"alias": a, "name": a, "description": a, "links": [],
                                     "updated": "2013-01-01T00:00:00-00:00"}
                                    for a in EXTENSIONS]}, {}

    def _collection(self, name: str) -> tuple[str, dict[str, dict[str, Any]]]:
        if name not in NEUTRON:
            raise FakeError(404, f"The resource could not be found: {name}", "HTTPNotFound")
        key, attr = NEUTRON[name]
        return key, getattr(self, attr)

    def _find(self, name: str, ident: str) -> dict[str, Any]:
        key, items = self._collection(name)
        if ident not in items:
            kind = key.replace("_", " ").title().replace(" ", "")
            raise FakeError(404, f"{kind} {ident} could not be found.", f"{kind}NotFound")
        return items[ident]

    def _view(self, name: str, item: dict[str, Any]) -> dict[str, Any]:
        view = copy.deepcopy(item)
        if name == "floatingips":
            port = self.ports.get(item["port_id"] or "")
            view["port_details"] = None if port is None else {
                "name": port["name"], "network_id": port["network_id"],
                "mac_address": port["mac_address"], "admin_state_up": True,
                "status": port["status"], "device_id": port["device_id"],
                "device_owner": port["device_owner"]}
        return view

    def _neutron_list(self, ctx: _Ctx, name: str) -> Reply:
        _, items = self._collection(name)
        found = []
        for item in items.values():
            if all(_same(item.get(k), v) for k, v in ctx.query.items()
                   if k in item and k != "tags"):
                found.append(self._view(name, item))
        if "tags" in ctx.query:
            wanted = set(ctx.query["tags"].split(","))
            found = [i for i in found if wanted <= set(i.get("tags", []))]
        return 200, {name.replace("-", "_"): found}, {}

    def _neutron_show(self, ctx: _Ctx, name: str, ident: str) -> Reply:
        key, _ = self._collection(name)
        return 200, {key: self._view(name, self._find(name, ident))}, {}

    def _neutron_create(self, ctx: _Ctx, name: str) -> Reply:
        key, _ = self._collection(name)
        body = (ctx.body or {}).get(key)
        if not isinstance(body, dict):
            raise FakeError(400, f"Resource body required: {key}", "HTTPBadRequest")
        if "tags" in body and not self.tags_on_create:
            raise FakeError(400, "Unrecognized attribute(s) 'tags'", "HTTPBadRequest")
        tags = body.get("tags") or []
        if name == "networks":
            item = self.add_network(body.get("name", ""), body.get("router:external", False),
                                    tags)
        elif name == "subnets":
            item = self.add_subnet(body.get("network_id", ""), body.get("name", ""),
                                   body.get("cidr", ""), body.get("gateway_ip", ""), tags,
                                   body.get("ip_version"))
        elif name == "routers":
            item = self._base(name=body.get("name", ""), status="ACTIVE", admin_state_up=True,
                              external_gateway_info=None, routes=[],
                              availability_zone_hints=[], availability_zones=["nova"],
                              flavor_id=None)
            item["tags"] = list(tags)
            self._set_gateway(item, body.get("external_gateway_info"))
            self.routers[item["id"]] = item
        elif name == "ports":
            item = self._create_port(body)
        elif name == "floatingips":
            item = self._create_floating_ip(body)
        elif name == "security-groups":
            item = self.add_security_group(body.get("name", ""), body.get("description", ""),
                                           tags)
        else:
            item = self.add_rule(body)
        return 201, {key: self._view(name, item)}, {}

    def _neutron_update(self, ctx: _Ctx, name: str, ident: str) -> Reply:
        key, _ = self._collection(name)
        item = self._find(name, ident)
        body = (ctx.body or {}).get(key) or {}
        if name == "routers" and "external_gateway_info" in body:
            self._set_gateway(item, body.pop("external_gateway_info"))
        if name == "floatingips" and "port_id" in body:
            self._associate(item, body.pop("port_id"), body.pop("fixed_ip_address", None))
        if name == "ports" and "security_groups" in body:
            for group in body["security_groups"]:
                self._find("security-groups", group)
        for field in ("name", "description", "admin_state_up", "security_groups"):
            if field in body:
                item[field] = body[field]
        item["updated_at"] = _now()
        item["revision_number"] = item.get("revision_number", 0) + 1
        return 200, {key: self._view(name, item)}, {}

    def _neutron_delete(self, ctx: _Ctx, name: str, ident: str) -> Reply:
        item = self._find(name, ident)
        if name == "networks":
            if any(p["network_id"] == ident for p in self.ports.values()) or any(
                    f["floating_network_id"] == ident for f in self.floating_ips.values()) or \
                    any((r["external_gateway_info"] or {}).get("network_id") == ident
                        for r in self.routers.values()):
                raise FakeError(409, f"Unable to complete operation on network {ident}. There "
                                     "are one or more ports still in use on the network.",
                                "NetworkInUse")
            for subnet_id in item["subnets"]:
                del self.subnets[subnet_id]
            del self.networks[ident]
        elif name == "subnets":
            if any(f["subnet_id"] == ident for p in self.ports.values()
                   for f in p["fixed_ips"]):
                raise FakeError(409, f"Unable to complete operation on subnet {ident}: One or "
                                     "more ports have an IP allocation from this subnet.",
                                "SubnetInUse")
            self.networks[item["network_id"]]["subnets"].remove(ident)
            del self.subnets[ident]
        elif name == "routers":
            if any(p["device_id"] == ident for p in self.ports.values()):
                raise FakeError(409, f"Router {ident} still has ports", "RouterInUse")
            del self.routers[ident]
        elif name == "ports":
            if item["device_owner"] == ROUTER_INTERFACE:
                raise FakeError(409, f"Port {ident} cannot be deleted directly via the port "
                                     "API: has device owner network:router_interface.",
                                "ServicePortInUse")
            self._remove_port(ident)
        elif name == "floatingips":
            del self.floating_ips[ident]
        elif name == "security-groups":
            if item["name"] == "default":
                raise FakeError(409, "Insufficient rights for removing default security "
                                     "group.", "SecurityGroupCannotRemoveDefault")
            if any(ident in p["security_groups"] for p in self.ports.values()):
                raise FakeError(409, f"Security Group {ident} in use.", "SecurityGroupInUse")
            for rule in item["security_group_rules"]:
                del self.security_group_rules[rule["id"]]
            del self.security_groups[ident]
        else:
            group = self.security_groups[item["security_group_id"]]
            group["security_group_rules"] = [r for r in group["security_group_rules"]
                                             if r["id"] != ident]
            del self.security_group_rules[ident]
        return 204, None, {}

    # tags -------------------------------------------------------------------------------------

    def _get_tags(self, ctx: _Ctx, name: str, ident: str) -> Reply:
        return 200, {"tags": list(self._find(name, ident)["tags"])}, {}

    def _put_tags(self, ctx: _Ctx, name: str, ident: str) -> Reply:
        item = self._find(name, ident)
        item["tags"] = list(dict.fromkeys((ctx.body or {}).get("tags") or []))
        return 200, {"tags": list(item["tags"])}, {}

    def _add_tag(self, ctx: _Ctx, name: str, ident: str, tag: str) -> Reply:
        item = self._find(name, ident)
        if tag not in item["tags"]:
            item["tags"].append(tag)
        return 201, None, {}

    def _delete_tag(self, ctx: _Ctx, name: str, ident: str, tag: str) -> Reply:
        item = self._find(name, ident)
        if tag not in item["tags"]:
            raise FakeError(404, f"Tag {tag} could not be found.", "TagNotFound")
        item["tags"].remove(tag)
        return 204, None, {}

    # addresses, ports, routers, floating IPs ---------------------------------------------------

    def _used_ips(self, subnet_id: str) -> set[str]:
        used = {f["ip_address"] for p in self.ports.values() for f in p["fixed_ips"]
                if f["subnet_id"] == subnet_id}
        used |= {f["floating_ip_address"] for f in self.floating_ips.values()}
        for router in self.routers.values():
            for fixed in (router["external_gateway_info"] or {}).get("external_fixed_ips", []):
                used.add(fixed["ip_address"])
        return used

    def _allocate(self, network_id: str, wanted: str | None = None, subnet_id: str | None = None,
                  prefer_free: bool = False, gateway_ok: bool = False) -> dict[str, str]:
        """A fixed IP on the network: ``wanted`` if free, else (with ``prefer_free``, or when
        nothing was asked) the lowest free host after .1."""
        subnets = [self.subnets[s] for s in self.networks[network_id]["subnets"]
                   if subnet_id in (None, s)]
        if not subnets:
            raise FakeError(400, f"Network {network_id} has no subnet {subnet_id or ''}",
                            "BadRequest")
        if wanted:
            for subnet in subnets:
                try:
                    inside = ipaddress.ip_address(wanted) in ipaddress.ip_network(subnet["cidr"])
                except ValueError:
                    inside = False
                if not inside:
                    continue
                taken = wanted in self._used_ips(subnet["id"]) or (
                    wanted == subnet["gateway_ip"] and not gateway_ok)
                if not taken:
                    return {"subnet_id": subnet["id"], "ip_address": wanted}
                if not prefer_free:
                    raise FakeError(409, f"IP address {wanted} already allocated in subnet "
                                         f"{subnet['id']}", "IpAddressAlreadyAllocated")
                break
            else:
                if not prefer_free:
                    raise FakeError(400, f"Invalid input for operation: IP address {wanted} is "
                                         "not a valid IP for the specified subnet.",
                                    "InvalidInput")
        for subnet in subnets:
            net = ipaddress.ip_network(subnet["cidr"])
            used = self._used_ips(subnet["id"]) | {subnet["gateway_ip"]}
            for host in net.hosts():
                if int(host) - int(net.network_address) >= 2 and str(host) not in used:
                    return {"subnet_id": subnet["id"], "ip_address": str(host)}
        raise FakeError(409, f"No more IP addresses available on network {network_id}.",
                        "IpAddressGenerationFailure")

    def _create_port(self, body: dict[str, Any], prefer_free: bool = False) -> dict[str, Any]:
        network_id = body.get("network_id") or ""
        if network_id not in self.networks:
            raise FakeError(404, f"Network {network_id} could not be found.", "NetworkNotFound")
        gateway_ok = body.get("device_owner") == ROUTER_INTERFACE
        fixed_ips = []
        for wanted in body.get("fixed_ips") or [{}]:
            fixed_ips.append(self._allocate(network_id, wanted.get("ip_address"),
                                            wanted.get("subnet_id"), prefer_free, gateway_ok))
        groups = body.get("security_groups")
        if groups is None:
            groups = [g["id"] for g in self.security_groups.values() if g["name"] == "default"]
        for group in groups:
            self._find("security-groups", group)
        port = self._base(name=body.get("name", ""), network_id=network_id,
                          mac_address=_mac(), fixed_ips=fixed_ips,
                          device_id=body.get("device_id", ""),
                          device_owner=body.get("device_owner", ""),
                          status="ACTIVE", admin_state_up=True, security_groups=list(groups),
                          allowed_address_pairs=[], extra_dhcp_opts=[],
                          port_security_enabled=True, dns_name="", dns_assignment=[])
        port["binding:vnic_type"] = "normal"
        port["tags"] = list(body.get("tags") or [])
        self.ports[port["id"]] = port
        return port

    def _remove_port(self, port_id: str) -> None:
        for fip in self.floating_ips.values():
            if fip["port_id"] == port_id:
                fip.update(port_id=None, fixed_ip_address=None, router_id=None, status="DOWN")
        del self.ports[port_id]

    def _set_gateway(self, router: dict[str, Any], info: dict[str, Any] | None) -> None:
        if not info or not info.get("network_id"):
            if any(f["router_id"] == router["id"] for f in self.floating_ips.values()):
                raise FakeError(409, f"Gateway cannot be updated for router {router['id']}, "
                                     "since a gateway to external network is required by one "
                                     "or more floating IPs.",
                                "RouterExternalGatewayInUseByFloatingIp")
            router["external_gateway_info"] = None
            return
        network = self.networks.get(info["network_id"])
        if network is None:
            raise FakeError(404, f"Network {info['network_id']} could not be found.",
                            "NetworkNotFound")
        if not network["router:external"]:
            raise FakeError(400, f"Bad router request: Network {network['id']} is not a valid "
                                 "external network.", "BadRequest")
        current = router["external_gateway_info"] or {}
        if current.get("network_id") == network["id"]:
            return
        router["external_gateway_info"] = None
        fixed = self._allocate(network["id"])
        router["external_gateway_info"] = {"network_id": network["id"], "enable_snat": True,
                                           "external_fixed_ips": [fixed]}

    def _router_interface(self, ctx: _Ctx, router_id: str, action: str) -> Reply:
        router = self._find("routers", router_id)
        body = ctx.body or {}
        if action == "add":
            if body.get("port_id"):
                port = self._find("ports", body["port_id"])
                if port["device_id"]:
                    raise FakeError(409, f"Port {port['id']} is in use", "PortInUse")
                port.update(device_id=router_id, device_owner=ROUTER_INTERFACE)
            else:
                subnet = self._find("subnets", body.get("subnet_id", ""))
                for port in self.ports.values():
                    if port["device_id"] == router_id and any(
                            f["subnet_id"] == subnet["id"] for f in port["fixed_ips"]):
                        raise FakeError(400, f"Bad router request: Router already has a port "
                                             f"on subnet {subnet['id']}.", "BadRequest")
                if not subnet["gateway_ip"]:
                    raise FakeError(400, f"Bad router request: Subnet {subnet['id']} does not "
                                         "have a gateway IP.", "BadRequest")
                if subnet["gateway_ip"] in self._used_ips(subnet["id"]):
                    raise FakeError(409, f"IP address {subnet['gateway_ip']} already allocated "
                                         f"in subnet {subnet['id']}", "IpAddressAlreadyAllocated")
                port = self._create_port({
                    "network_id": subnet["network_id"], "device_id": router_id,
                    "device_owner": ROUTER_INTERFACE, "security_groups": [],
                    "fixed_ips": [{"subnet_id": subnet["id"],
                                   "ip_address": subnet["gateway_ip"]}]})
        else:
            port = None
            for candidate in self.ports.values():
                if candidate["device_id"] != router_id:
                    continue
                if candidate["id"] == body.get("port_id") or any(
                        f["subnet_id"] == body.get("subnet_id") for f in candidate["fixed_ips"]):
                    port = candidate
                    break
            if port is None:
                raise FakeError(404, f"Router {router_id} does not have an interface with id "
                                     f"{body.get('port_id') or body.get('subnet_id')}",
                                "RouterInterfaceNotFound")
            if any(f["router_id"] == router_id and self.ports.get(f["port_id"] or "", {})
                   .get("network_id") == port["network_id"] for f in self.floating_ips.values()):
                raise FakeError(409, f"Router interface for subnet on router {router_id} cannot "
                                     "be deleted, as it is required by one or more floating "
                                     "IPs.", "RouterInterfaceInUseByFloatingIP")
            del self.ports[port["id"]]
        subnet_ids = [f["subnet_id"] for f in port["fixed_ips"]]
        return 200, {"id": router["id"], "tenant_id": self.project_id,
                     "project_id": self.project_id, "port_id": port["id"],
                     "network_id": port["network_id"], "subnet_id": subnet_ids[0],
                     "subnet_ids": subnet_ids}, {}

    def _create_floating_ip(self, body: dict[str, Any]) -> dict[str, Any]:
        network = self.networks.get(body.get("floating_network_id") or "")
        if network is None:
            raise FakeError(404, f"Network {body.get('floating_network_id')} could not be "
                                 "found.", "NetworkNotFound")
        if not network["router:external"]:
            raise FakeError(400, f"Bad floatingip request: Network {network['id']} is not a "
                                 "valid external network.", "BadRequest")
        if len(self.floating_ips) >= self.quotas["floatingip"]:
            raise FakeError(409, "Quota exceeded for resources: ['floatingip'].", "OverQuota")
        fixed = self._allocate(network["id"], body.get("floating_ip_address"))
        fip = self._base(floating_ip_address=fixed["ip_address"],
                         floating_network_id=network["id"], router_id=None, port_id=None,
                         fixed_ip_address=None, status="DOWN", port_forwardings=[],
                         qos_policy_id=None, dns_domain="", dns_name="")
        fip["description"] = body.get("description") or ""
        fip["tags"] = list(body.get("tags") or [])
        self.floating_ips[fip["id"]] = fip
        if body.get("port_id"):
            self._associate(fip, body["port_id"], body.get("fixed_ip_address"))
        return fip

    def _associate(self, fip: dict[str, Any], port_id: str | None,
                   fixed_ip: str | None) -> None:
        if not port_id:
            fip.update(port_id=None, fixed_ip_address=None, router_id=None, status="DOWN")
            return
        port = self._find("ports", port_id)
        if fixed_ip is None:
            v4 = [f for f in port["fixed_ips"]
                  if ipaddress.ip_address(f["ip_address"]).version == 4]
            if not v4:
                raise FakeError(400, f"Bad floatingip request: Port {port_id} does not have "
                                     "any IPv4 address.", "BadRequest")
            fixed = v4[0]
        else:
            fixed = next((f for f in port["fixed_ips"] if f["ip_address"] == fixed_ip), None)
            if fixed is None:
                raise FakeError(400, f"Bad floatingip request: Port {port_id} does not have "
                                     f"fixed ip {fixed_ip}.", "BadRequest")
        router_id = self._router_for(fip["floating_network_id"], fixed["subnet_id"])
        if router_id is None:
            raise FakeError(404, f"External network {fip['floating_network_id']} is not "
                                 f"reachable from subnet {fixed['subnet_id']}.  Therefore, "
                                 f"cannot associate Port {port_id} with a Floating IP.",
                            "ExternalGatewayForFloatingIPNotFound")
        for other in self.floating_ips.values():
            if other["id"] != fip["id"] and other["port_id"] == port_id and \
                    other["fixed_ip_address"] == fixed["ip_address"]:
                raise FakeError(409, f"Cannot associate floating IP {fip['floating_ip_address']}"
                                     f" with port {port_id} using fixed IP "
                                     f"{fixed['ip_address']}, as that fixed IP already has a "
                                     "floating IP on external network.",
                                "FloatingIPPortAlreadyAssociated")
        fip.update(port_id=port_id, fixed_ip_address=fixed["ip_address"], router_id=router_id,
                   status="ACTIVE")

    def _router_for(self, external_network_id: str, subnet_id: str) -> str | None:
        for router in self.routers.values():
            if (router["external_gateway_info"] or {}).get("network_id") != external_network_id:
                continue
            for port in self.ports.values():
                if port["device_id"] == router["id"] and any(
                        f["subnet_id"] == subnet_id for f in port["fixed_ips"]):
                    return router["id"]
        return None


Reply = tuple[int, Any, dict[str, str]]


class _Ctx:
    """One request as the handlers see it."""

    def __init__(self, request: Any, query: dict[str, str], body: Any):
        self.request = request
        self.query = query
        self.body = body

    @property
    def microversion(self) -> tuple[int, int]:
        header = self.request.headers.get("OpenStack-API-Version", "") or \
            self.request.headers.get("X-OpenStack-Nova-API-Version", "")
        match = re.search(r"(\d+)\.(\d+)", header)
        return (int(match.group(1)), int(match.group(2))) if match else (2, 1)


def _response(request: Any, status: int, payload: Any,
              headers: dict[str, str]) -> requests.Response:
    headers = dict(headers)
    headers["x-openstack-request-id"] = "req-" + _new_id()
    if payload is None:
        return requests_mock.create_response(request, status_code=status, headers=headers,
                                             content=b"")
    headers.setdefault("Content-Type", "application/json")
    return requests_mock.create_response(request, status_code=status, json=payload,
                                         headers=headers)


def _identity_v3() -> dict[str, Any]:
    return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{IDENTITY}/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.identity-v3+json"}]}


def _compute_v21(max_microversion: str) -> dict[str, Any]:
    return {"id": "v2.1", "status": "CURRENT", "version": max_microversion,
            "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{COMPUTE}/v2.1/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}]}


def _same(value: Any, wanted: str) -> bool:
    """Neutron's query filters: strings compare as given, booleans as true/false."""
    if value is None:
        return wanted == ""
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    return str(value) == wanted


def _server_summary(server: dict[str, Any]) -> dict[str, Any]:
    return {"id": server["id"], "name": server["name"], "links": server["links"]}


def _keypair_view(keypair: dict[str, Any]) -> dict[str, Any]:
    return {k: keypair[k] for k in ("name", "public_key", "fingerprint", "type")}


CLOUD_SETTINGS = {"auth_url": AUTH_URL, "project": PROJECT, "user": USER,
                  "user_domain": "Default", "project_domain": "Default"}


@contextmanager
def fake_openstack_driver(store: Store | None = None, cloud_name: str = "os1",
                          ) -> Iterator[tuple[OpenStackDriver, FakeOpenStack]]:
    """An OpenStackDriver for a cloud named ``cloud_name`` (password ``secret-pw``), wired to
    a fresh fake.  ``store`` is not used (an OpenStack driver keeps no state of its own); it
    is accepted so that every driver factory has the same shape.

    The fake answers every request of the process to its hosts while the block runs (one
    ``requests_mock.Mocker``), so drivers built elsewhere for such a cloud reach it too.  One
    fake at a time: nested blocks would all talk to the innermost fake.  The Mocker sends one
    request at a time; :meth:`FakeOpenStack.mount` serves a single session without that lock.
    """
    fake = FakeOpenStack()
    cloud = Cloud(name=cloud_name, type="openstack", location="example.com",
                  settings=dict(CLOUD_SETTINGS))
    with requests_mock.Mocker() as mocker:
        fake.install(mocker)
        driver = OpenStackDriver(cloud, {"password": PASSWORD})
        driver.poll_interval = 0.01
        try:
            yield driver, fake
        finally:
            driver.close()
