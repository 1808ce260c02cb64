"""The CloudStack driver, on ``cs`` (Exoscale's CloudStack API client).

This module declares the cloud type (settings, features, status map), speaks about virtual
machines, templates (images), service offerings (flavors) and SSH key pairs, and runs the full
sync.  :mod:`.network` holds networks, VPCs (routers) and public IPs;
:mod:`.access` static NAT and security groups as firewall/ACL rules;
:mod:`.session` the client, lists, async jobs and tags; :mod:`.convert`
the API's objects as model objects; :mod:`.errors` its failures as DriverError.

The mapping (README, "CloudStack clouds"): one zone per MiniCloud cloud; clusters are
MiniCloud's labels (a tag); routers are VPCs, their tiers the networks on them; networks are
isolated networks; public IPs are acquired addresses with static NAT; MiniCloud's objects carry
the resource tag ``minicloud=true``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...model.objects import CloudSnapshot, Flavor, Image, Instance, KeyPair, State
from ...model.validation import check_http_url
from ..base import CLUSTER_KEY, Features, ServerSpec, Setting
from .access import CloudStackAccess
from .convert import (
    GROUPS_TAG,
    to_flavor,
    to_image,
    to_instance,
    to_keypair,
    to_security_group,
)
from .session import ini_sections

__all__ = ["CloudStackDriver"]

Rows = list[dict[str, Any]]


def check_endpoint(value: str) -> str:
    """An http(s) URL with a host (the API's, e.g. https://cloud.example.com/client/api)."""
    return check_http_url(value, "endpoint", "https://cloud.example.com/client/api")


class CloudStackDriver(CloudStackAccess):
    type_name = "cloudstack"
    # No existing network joins a VPC (a tier is born in it: create_network(router_id=)) and
    # a tier never leaves it (deleteNetwork takes it out); a VPC keeps its source NAT (its
    # gateway) until it is removed; SSH is opened by firewall and network ACL rules, not by
    # security groups.
    features = Features(attach_network=False, detach_network=False, clear_gateway=False,
                        security_groups=False)
    # CloudStack's VirtualMachine.State values.
    status_map = {
        "Starting": State.BUILD,
        "Running": State.ACTIVE,
        "Stopping": State.ACTIVE,
        "Stopped": State.SHUTOFF,
        "Shutdown": State.SHUTOFF,
        "Migrating": State.ACTIVE,
        "Destroyed": State.SHUTOFF,
        "Expunging": State.SHUTOFF,
        "Error": State.ERROR,
        "Unknown": State.UNKNOWN,
    }
    settings = (
        Setting("cs_config", "cloudstack.ini section", "--cs-config",
                "a section of cloudstack.ini, ~/.cloudstack.ini or CLOUDSTACK_CONFIG (then no "
                "other setting is needed)", choices=ini_sections, alone=True),
        Setting("endpoint", "API endpoint", "--cs-endpoint",
                "the API's URL, e.g. https://cloud.example.com/client/api",
                env="CLOUDSTACK_ENDPOINT", check=check_endpoint),
        Setting("api_key", "API key", "--cs-key", "the user's API key", env="CLOUDSTACK_KEY"),
        Setting("zone", "Zone (empty: the only one)", "--cs-zone",
                "the zone (empty: the cloud's only zone)", optional=True),
        Setting("secret_key", "API secret key", None,
                "asked with no echo, or from CLOUDSTACK_SECRET; kept in memory, never stored",
                env="CLOUDSTACK_SECRET", secret=True),
    )

    # -- reads ---------------------------------------------------------------------------------

    def snapshot(self) -> CloudSnapshot:
        """One request per page of each of nine lists, read concurrently."""
        data = self._fetch_all()
        name = self.cloud.name
        return CloudSnapshot(
            networks=self._networks(data["networks"], data["public networks"],
                                    data["public ranges"]),
            routers=self._routers(data["VPCs"], data["networks"], data["public IPs"]),
            instances=[to_instance(name, vm, self.state) for vm in data["servers"]],
            public_ips=self._public_ips(data["public IPs"]),
            security_groups=[to_security_group(name, g) for g in data["security groups"]],
            images=[to_image(name, t) for t in data["templates"]],
            flavors=[to_flavor(name, o) for o in data["service offerings"]],
        )

    def _fetch_all(self) -> dict[str, Rows]:
        with self._call("choose the zone"):
            zone = self.zone_id
        lists: dict[str, Callable[[], Rows]] = {
            "servers": lambda: self._list("listVirtualMachines", zoneid=zone, listall=True),
            "networks": self._guest_networks,
            "public networks": self._public_networks,
            "public ranges": self._ranges,
            "VPCs": self._vpcs,
            "public IPs": self._ips,
            "security groups": lambda: self._list("listSecurityGroups", listall=True),
            "templates": self._templates,
            "service offerings": lambda: self._list("listServiceOfferings"),
        }

        def fetch(what: str) -> Rows:
            with self._call(f"list {what}"):
                return lists[what]()

        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="minicloud-sync") as pool:
            futures = {what: pool.submit(fetch, what) for what in lists}
            return {what: future.result() for what, future in futures.items()}

    def _templates(self) -> Rows:
        return self._list("listTemplates", templatefilter="executable", zoneid=self.zone_id)

    def list_images(self) -> list[Image]:
        with self._call("list images"):
            return [to_image(self.cloud.name, t) for t in self._templates()]

    def list_flavors(self) -> list[Flavor]:
        with self._call("list flavors"):
            return [to_flavor(self.cloud.name, o) for o in self._list("listServiceOfferings")]

    def list_servers(self) -> list[Instance]:
        with self._call("list servers"):
            vms = self._list("listVirtualMachines", zoneid=self.zone_id, listall=True)
            return [to_instance(self.cloud.name, vm, self.state) for vm in vms]

    def get_server(self, server_id: str) -> Instance:
        with self._call(f"get server {server_id}"):
            return self._server(server_id)

    def list_keypairs(self) -> list[KeyPair]:
        with self._call("list key pairs"):
            return [to_keypair(self.cloud.name, k)
                    for k in self._list("listSSHKeyPairs", listall=True)]

    # -- servers -------------------------------------------------------------------------------

    def create_server(self, spec: ServerSpec) -> Instance:
        """deployVirtualMachine, then MiniCloud's tags (cluster, groups); a server that cannot
        be tagged is destroyed again."""
        operation = f"create server {spec.name}"
        params: dict[str, Any] = {
            "name": spec.name, "displayname": spec.name, "zoneid": None,
            "templateid": spec.image_id, "serviceofferingid": spec.flavor_id,
            "networkids": spec.network_id, "ipaddress": spec.fixed_ip,
            "keypair": spec.key_name}
        with self._call(operation):
            params["zoneid"] = self.zone_id
            vm = self._job("deployVirtualMachine", **params).get("virtualmachine") or {}
        ident = str(vm["id"])
        extra = {GROUPS_TAG: ",".join(spec.security_groups)} if spec.security_groups else {}
        if spec.cluster:
            extra[CLUSTER_KEY] = spec.cluster
        self._mark("UserVm", ident, extra, what=f"server {spec.name}",
                   undo=lambda: self._job("destroyVirtualMachine", id=ident, expunge=True))
        with self._call(operation):
            return self._server(ident)

    def delete_server(self, server_id: str) -> None:
        with self._call(f"delete server {server_id}"):
            self._job("destroyVirtualMachine", id=server_id, expunge=True)

    def _power(self, command: str, server_id: str, what: str) -> Instance:
        with self._call(f"{what} server {server_id}"):
            vm = self._job(command, id=server_id).get("virtualmachine")
            return to_instance(self.cloud.name, vm, self.state) if vm else \
                self._server(server_id)

    def start_server(self, server_id: str) -> Instance:
        return self._power("startVirtualMachine", server_id, "start")

    def stop_server(self, server_id: str) -> Instance:
        return self._power("stopVirtualMachine", server_id, "stop")

    def reboot_server(self, server_id: str) -> Instance:
        return self._power("rebootVirtualMachine", server_id, "reboot")

    # -- key pairs -----------------------------------------------------------------------------

    def create_keypair(self, name: str, public_key: str) -> KeyPair:
        with self._call(f"create key pair {name}"):
            pair = self._sync("registerSSHKeyPair", name=name,
                              publickey=public_key).get("keypair") or {"name": name}
            return to_keypair(self.cloud.name, pair)

    def delete_keypair(self, name: str) -> None:
        with self._call(f"delete key pair {name}"):
            self._sync("deleteSSHKeyPair", name=name)
