"""The CloudStack driver's access rules: static NAT, and security groups where the zone
enforces none (an advanced zone with isolated networks and VPCs).

A security group is CloudStack's own (createSecurityGroup, its rules authorised on it): there
it is the definition of what to open.  Giving it to a virtual machine opens its TCP/UDP
ingress rules as firewall rules on the machine's static NAT addresses (isolated network) or as
network ACL rules of its tier (VPC), each tagged with the machine and the group so that taking
the group away deletes exactly those; the machine's groups are kept in its tag
``minicloud_groups``.  Only rules a server accepts are sent: a group's rules in the form
CloudStack stores them (convert.as_stored), none it has already; a firewall rule another group
of the machine opened already is not opened twice (FirewallManagerImpl refuses the second
with 537), and when that group goes, the rules the remaining groups need are opened again.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ...model.errors import FAILED, INVALID
from ...model.objects import Instance, PublicIP, SecurityGroup, SecurityRule
from ..base import OWNER_TAG
from .convert import (
    GROUPS_TAG,
    as_stored,
    groups_of,
    to_instance,
    to_public_ip,
    to_rule,
    to_security_group,
)
from .network import CloudStackNetwork
from .session import tags_of

VM_TAG = "minicloud_vm"
GROUP_TAG = "minicloud_group"
OPEN_ACL = "default_allow"  # CloudStack's ACL list that lets everything in


class CloudStackAccess(CloudStackNetwork):
    """Static NAT, security groups, firewall and network ACL rules."""

    def _vm(self, server_id: str) -> dict[str, Any]:
        return self._get("listVirtualMachines", server_id, "server")

    def _server(self, server_id: str) -> Instance:
        return to_instance(self.cloud.name, self._vm(server_id), self.state)

    # -- static NAT ----------------------------------------------------------------------------

    def associate_public_ip(self, ip_id: str, server_id: str) -> PublicIP:
        operation = f"associate public IP {ip_id} with server {server_id}"
        with self._call(operation):
            ip, vm = self._ip(ip_id), self._vm(server_id)
            nets = [self._network(str(n["networkid"])) for n in vm.get("nic") or []]
            net = next((n for n in nets if (ip.get("vpcid") and n.get("vpcid") == ip["vpcid"])
                        or n["id"] == ip.get("associatednetworkid")), None)
            if net is None:
                raise self.error(operation, FAILED, "the server is on no network of the "
                                                    "address's VPC or network")
            self._sync("enableStaticNat", ipaddressid=ip_id, virtualmachineid=server_id,
                       networkid=net["id"])
            if not net.get("vpcid"):  # an isolated network: its firewall guards the address
                for group in groups_of(vm):
                    self._open_group(vm, self._group_named(group), [net])
            return to_public_ip(self.cloud.name, self._ip(ip_id))

    def disassociate_public_ip(self, ip_id: str) -> PublicIP:
        with self._call(f"disassociate public IP {ip_id}"):
            for rule in self._list("listFirewallRules", ipaddressid=ip_id):
                if tags_of(rule).get(OWNER_TAG) == "true":
                    self._job("deleteFirewallRule", id=rule["id"])
            self._job("disableStaticNat", ipaddressid=ip_id)
            return to_public_ip(self.cloud.name, self._ip(ip_id))

    # -- security groups -----------------------------------------------------------------------

    def list_security_groups(self) -> list[SecurityGroup]:
        with self._call("list security groups"):
            return [to_security_group(self.cloud.name, g)
                    for g in self._list("listSecurityGroups")]

    def _group(self, group_id: str) -> dict[str, Any]:
        return self._get("listSecurityGroups", group_id, "security group")

    def _group_named(self, name: str) -> dict[str, Any]:
        """The account's own group of that name (never another account's ``default``)."""
        found = self._list("listSecurityGroups", securitygroupname=name)
        return found[0] if found else {"name": name}

    def create_security_group(self, name: str, description: str = "") -> SecurityGroup:
        with self._call(f"create security group {name}"):
            group = self._sync("createSecurityGroup", name=name,
                               description=description or name).get("securitygroup") or {}
        ident = str(group["id"])
        self._mark("SecurityGroup", ident, what=f"security group {name}",
                   undo=lambda: self._sync("deleteSecurityGroup", id=ident))
        with self._call(f"create security group {name}"):
            return to_security_group(self.cloud.name, self._group(ident))

    def delete_security_group(self, group_id: str) -> None:
        with self._call(f"delete security group {group_id}"):
            self._sync("deleteSecurityGroup", id=group_id)

    def add_security_group_rule(self, group_id: str, rule: SecurityRule) -> SecurityGroup:
        """The rule in the form CloudStack stores it, unless the group has it already (the
        server would refuse a request that adds nothing, 530)."""
        operation = f"add rule to security group {group_id}"
        stored = as_stored(rule)
        if stored.protocol not in ("all", "tcp", "udp"):
            raise self.error(operation, INVALID,
                             f"MiniCloud opens tcp, udp or all on CloudStack, not "
                             f"{stored.protocol}")
        with self._call(operation):
            group = to_security_group(self.cloud.name, self._group(group_id))
            if stored not in [as_stored(r) for r in group.rules]:
                command = "authorizeSecurityGroupIngress" if rule.direction == "ingress" \
                    else "authorizeSecurityGroupEgress"
                self._job(command, securitygroupid=group_id, protocol=stored.protocol,
                          startport=stored.port_min, endport=stored.port_max,
                          cidrlist=stored.remote_ip_prefix)
                group = to_security_group(self.cloud.name, self._group(group_id))
            return group

    # -- a server's groups ---------------------------------------------------------------------

    def add_server_security_group(self, server_id: str, group_id: str) -> Instance:
        with self._call(f"add security group {group_id} to server {server_id}"):
            vm, group = self._vm(server_id), self._group(group_id)
            groups = groups_of(vm)
            if group["name"] not in groups:
                nets = [self._network(str(n["networkid"])) for n in vm.get("nic") or []]
                self._open_group(vm, group, nets)
                self._set_groups(vm, [*groups, group["name"]])
            return self._server(server_id)

    def remove_server_security_group(self, server_id: str, group_id: str) -> Instance:
        with self._call(f"remove security group {group_id} from server {server_id}"):
            vm, group = self._vm(server_id), self._group(group_id)
            groups = groups_of(vm)
            if group["name"] in groups:
                rest = [g for g in groups if g != group["name"]]
                self._close_group(vm, group["name"])
                self._set_groups(vm, rest)
                # What this group opened that another one also asks for was opened once,
                # for the first: open it again for the others.
                nets = [self._network(str(n["networkid"])) for n in vm.get("nic") or []]
                for other in rest:
                    self._open_group(vm, self._group_named(other), nets)
            return self._server(server_id)

    def _set_groups(self, vm: dict[str, Any], groups: list[str]) -> None:
        if GROUPS_TAG in tags_of(vm):
            self._untag("UserVm", vm["id"], [GROUPS_TAG])
        if groups:
            self._tag("UserVm", vm["id"], {GROUPS_TAG: ",".join(groups)})

    # -- firewall and ACL rules ----------------------------------------------------------------

    def _open_group(self, vm: dict[str, Any], group: dict[str, Any],
                    nets: list[dict[str, Any]]) -> None:
        # The guest networks and static NAT addresses are IPv4: an IPv6 source means nothing
        # to them.
        rules = [r for r in (to_rule(i, "ingress") for i in group.get("ingressrule") or [])
                 if r.protocol in ("tcp", "udp") and r.ethertype == "IPv4"]
        tags = {OWNER_TAG: "true", VM_TAG: str(vm["id"]), GROUP_TAG: str(group["name"])}
        for net in nets:
            for rule in rules:
                spec = {"protocol": rule.protocol, "startport": rule.port_min,
                        "endport": rule.port_max, "cidrlist": rule.remote_ip_prefix}
                if net.get("vpcid"):
                    acl = self._custom_acl(net)
                    if acl:
                        made = self._job("createNetworkACL", aclid=acl, traffictype="Ingress",
                                         action="Allow", **spec).get("networkacl") or {}
                        self._tag("NetworkACL", made["id"], tags)
                    continue
                for ip in self._ips(associatednetworkid=net["id"], isstaticnat=True):
                    if ip.get("virtualmachineid") != vm["id"] or self._opened(ip, rule):
                        continue
                    made = self._job("createFirewallRule", ipaddressid=ip["id"],
                                     **spec).get("firewallrule") or {}
                    self._tag("FirewallRule", made["id"], tags)

    def _opened(self, ip: dict[str, Any], rule: SecurityRule) -> bool:
        """Whether a firewall rule of the address lets ``rule`` in already (another group of
        the machine opened it): a second one with a common CIDR and overlapping ports would be
        refused (FirewallManagerImpl.detectRulesConflict, 537)."""
        low, high = rule.port_min or 0, rule.port_max or 65535
        for found in self._list("listFirewallRules", ipaddressid=ip["id"]):
            cidrs = str(found.get("cidrlist") or "0.0.0.0/0").split(",")
            start = int(found.get("startport") or 0)
            end = int(found.get("endport") or 65535)
            if found.get("protocol") == rule.protocol and start <= low and high <= end and \
                    any(_within(rule.remote_ip_prefix, c) for c in cidrs):
                return True
        return False

    def _custom_acl(self, tier: dict[str, Any]) -> str | None:
        """The tier's own ACL list, made (replacing default_deny, or standing in for none:
        a tier made without ``aclid`` has no list) when it has none; None when it lets
        everything in already."""
        acl = self._get("listNetworkACLLists", str(tier["aclid"]), "ACL list") \
            if tier.get("aclid") else {}
        if acl.get("name") == OPEN_ACL:
            return None
        if acl.get("vpcid"):
            return str(acl["id"])
        made = self._job("createNetworkACLList", name=f"minicloud-{tier['name']}",
                         description="MiniCloud's rules", vpcid=tier["vpcid"])
        ident = str((made.get("networkacllist") or made)["id"])
        self._job("replaceNetworkACLList", aclid=ident, networkid=tier["id"])
        return ident

    def _close_group(self, vm: dict[str, Any], group: str) -> None:
        def mine(rule: dict[str, Any]) -> bool:
            tags = tags_of(rule)
            return tags.get(VM_TAG) == vm["id"] and tags.get(GROUP_TAG) == group

        for nic in vm.get("nic") or []:
            net = self._network(str(nic["networkid"]))
            if net.get("vpcid"):
                for item in self._list("listNetworkACLs", networkid=net["id"]):
                    if mine(item):
                        self._job("deleteNetworkACL", id=item["id"])
                continue
            for ip in self._ips(associatednetworkid=net["id"], isstaticnat=True):
                for rule in self._list("listFirewallRules", ipaddressid=ip["id"]):
                    if mine(rule):
                        self._job("deleteFirewallRule", id=rule["id"])


def _within(cidr: str | None, outer: str) -> bool:
    """Whether the source ``cidr`` lies inside ``outer`` (both IPv4 here)."""
    try:
        inner = ipaddress.ip_network(cidr or "0.0.0.0/0", strict=False)
        return inner.subnet_of(ipaddress.ip_network(outer, strict=False))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
