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

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...model.errors import CONFLICT, INVALID, NOT_FOUND, ConfigError, ValidationError
from ...model.objects import CloudSnapshot, Flavor, Image, Instance, KeyPair, State
from ...model.validation import check_http_url
from ..base import CLUSTER_KEY, Features, NameRule, ServerSpec, Setting
from .access import CloudStackAccess
from .convert import (
    GROUPS_TAG,
    to_flavor,
    to_image,
    to_instance,
    to_keypair,
    to_security_group,
)
from .session import JobFailed, ini_sections

__all__ = ["CloudStackDriver"]

log = logging.getLogger("minicloud.drivers.cloudstack")
Rows = list[dict[str, Any]]
# deployVirtualMachine's ``name`` is a host name (BaseDeployVMCmd validations
# RFCComplianceDomainName; NetUtils.verifyDomainNameLabel(name, true)): 1-63 ASCII letters,
# digits and '-', starting with a letter, not ending with '-'.
HOST_NAME = NameRule(
    r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    "CloudStack instance names are host names: letters, digits and '-', 63 characters at "
    "most, starting with a letter and not ending with '-'")
# Machines on their way out: destroyed (expunged later by the server) or being expunged.
GONE = ("Destroyed", "Expunging")


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
    name_rules = {"instance": HOST_NAME}

    @classmethod
    def check_complete(cls, settings: Mapping[str, str]) -> None:
        """A cloudstack.ini section, or the endpoint and the API key: otherwise the login
        would only fail on an empty URL."""
        if settings.get("cs_config"):
            return
        missing = [s.flag for s in cls.settings
                   if s.name in ("endpoint", "api_key") and not settings.get(s.name) and s.flag]
        if missing:
            raise ConfigError("a CloudStack cloud needs --cs-config SECTION (from "
                              "cloudstack.ini), or --cs-endpoint and --cs-key; missing: "
                              f"{', '.join(missing)}")

    # -- reads ---------------------------------------------------------------------------------

    def snapshot(self) -> CloudSnapshot:
        """One request per page of each of nine lists, read concurrently."""
        with self._heartbeat(f"read cloud {self.cloud.name}"):
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
        with self._call("log in"):
            zone = self.zone_id
            self.login  # noqa: B018 - what the account may list, before the lists
        lists: dict[str, Callable[[], Rows]] = {
            "servers": lambda: self._servers(zone),
            "networks": self._guest_networks,
            "public networks": self._public_networks,
            "public ranges": self._ranges,
            "VPCs": self._vpcs,
            "public IPs": self._ips,
            "security groups": lambda: self._list("listSecurityGroups"),
            "templates": self._templates,
            "service offerings": lambda: self._list("listServiceOfferings"),
        }

        def fetch(what: str) -> Rows:
            with self._call(f"list {what}", beat=False):
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

    def _servers(self, zone: str) -> Rows:
        """The account's machines but those on their way out (an admin lists its destroyed
        ones until the server expunges them)."""
        return [vm for vm in self._list("listVirtualMachines", zoneid=zone)
                if vm.get("state") not in GONE]

    def list_servers(self) -> list[Instance]:
        with self._call("list servers"):
            return [to_instance(self.cloud.name, vm, self.state)
                    for vm in self._servers(self.zone_id)]

    def get_server(self, server_id: str) -> Instance:
        with self._call(f"get server {server_id}"):
            return self._server(server_id)

    def list_keypairs(self) -> list[KeyPair]:
        with self._call("list key pairs"):
            return [to_keypair(self.cloud.name, k)
                    for k in self._list("listSSHKeyPairs")]

    # -- servers -------------------------------------------------------------------------------

    def create_server(self, spec: ServerSpec) -> Instance:
        """deployVirtualMachine, then MiniCloud's tags (cluster, groups).  A server whose
        start failed (CloudStack keeps it, in Error) or that cannot be tagged is destroyed
        again."""
        operation = f"create server {spec.name}"
        try:  # the server's own rule, before any request (the managers checked it already)
            self.check_name("instance", spec.name)
        except ValidationError as err:
            raise self.error(operation, INVALID, str(err)) from None
        params: dict[str, Any] = {
            "name": spec.name, "displayname": spec.name, "zoneid": None,
            "templateid": spec.image_id, "serviceofferingid": spec.flavor_id,
            "networkids": spec.network_id, "ipaddress": spec.fixed_ip}
        with self._call(operation):
            params["zoneid"] = self.zone_id
            if spec.key_name:
                # ``keypair`` is deprecated since 4.17 for ``keypairs``; a server before it
                # ignores ``keypairs`` (an unknown parameter), so each gets its own.
                params["keypairs" if self.login.keypairs else "keypair"] = spec.key_name
            if spec.fixed_ip:
                self._check_free(operation, spec.network_id, spec.fixed_ip)
            try:
                vm = self._job("deployVirtualMachine", **params).get("virtualmachine") or {}
            except JobFailed as failed:
                raise self._failed_create(operation, failed, "UserVm", f"server {spec.name}",
                                          self._destroy) from None
        ident = str(vm["id"])
        extra = {GROUPS_TAG: ",".join(spec.security_groups)} if spec.security_groups else {}
        if spec.cluster:
            extra[CLUSTER_KEY] = spec.cluster
        self._mark("UserVm", ident, extra, what=f"server {spec.name}",
                   undo=lambda: self._destroy(ident))
        with self._call(operation):
            return self._server(ident)

    def _check_free(self, operation: str, network_id: str, address: str) -> None:
        """A requested private address another machine holds is a conflict.  CloudStack says
        only "Unable to acquire Guest IP address" (533), and nothing at all to an account that
        is no root admin (the text is hidden): MiniCloud looks first."""
        for vm in self._list("listVirtualMachines", networkid=network_id):
            if any(n.get("ipaddress") == address and n.get("networkid") == network_id
                   for n in vm.get("nic") or []):
                raise self.error(operation, CONFLICT,
                                 f"{address} is in use by server {vm.get('name')}")

    def _destroy(self, server_id: str) -> None:
        """destroyVirtualMachine, with ``expunge`` only where this account may expunge:
        anyone but an admin is refused it while allow.user.expunge.recover.vm is false (its
        default), inside the job (UserVmManagerImpl.destroyVm).  Without it the machine is
        destroyed and the server expunges it after its expunge.delay; until then it keeps its
        address and its network (Apache Libcloud's destroy_node sends no expunge either,
        unless asked)."""
        may = self.login.may_expunge
        self._job("destroyVirtualMachine", id=server_id, expunge=True if may else None)
        if not may:
            log.info("server %s destroyed; CloudStack expunges it after its expunge delay",
                     server_id)
            if self.progress:
                self.progress(f"server {server_id} is destroyed: CloudStack expunges it after "
                              "its expunge delay (this API key may not expunge); until then "
                              "its network cannot be removed")

    def delete_server(self, server_id: str) -> None:
        with self._call(f"delete server {server_id}"):
            vm = self._vm(server_id)  # a destroyed one is gone already, as for every type
            if vm.get("state") in GONE:
                raise self.error(f"delete server {server_id}", NOT_FOUND,
                                 "it is destroyed already")
            self._destroy(server_id)

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
