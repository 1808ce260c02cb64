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

This module holds the fake's state, routing table and Keystone; fake_common.py the HTTP entry
point (authentication, injected failures, counting) and the shapes every service shares;
fake_nova.py Nova and Glance; fake_neutron.py Neutron.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests_mock
from keystoneauth1 import fixture as ks_fixture

from minicloud.drivers.openstack.driver import OpenStackDriver
from minicloud.model.objects import Cloud, Port
from minicloud.state.store import Store
from tests.drivers.fake_common import (
    AUTH_URL,
    COMPUTE,
    COMPUTE_MAX_MICROVERSION,
    IDENTITY,
    IMAGE,
    NETWORK,
    PASSWORD,
    PROJECT,
    USER,
    Call,
    Ctx,
    Failure,
    FakeError,
    FakeService,
    Reply,
    new_id,
    utc_now,
)
from tests.drivers.fake_neutron import FakeNeutron
from tests.drivers.fake_nova import FakeNova

__all__ = ["AUTH_URL", "CLOUD_SETTINGS", "PASSWORD", "FakeError", "FakeOpenStack",
           "fake_openstack_driver"]


class FakeOpenStack(FakeNova, FakeNeutron, FakeService):
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
        now = utc_now()
        return {"id": new_id(), "tenant_id": self.project_id, "project_id": self.project_id,
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
        ident = new_id()
        now = utc_now()
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

    def _identity_version(self, ctx: Ctx) -> Reply:
        return 200, {"version": identity_v3()}, {}

    def _identity_versions(self, ctx: Ctx) -> Reply:
        return 300, {"versions": {"values": [identity_v3()]}}, {}

    def _issue_token(self, ctx: Ctx) -> Reply:
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

def identity_v3() -> dict[str, Any]:
    return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{IDENTITY}/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.identity-v3+json"}]}


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
