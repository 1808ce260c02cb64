"""The fake CloudStack's state and its commands for the catalogue, accounts, tags, networks,
VPCs and public IPs (virtual machines, key pairs, security groups, firewall rules and ACLs are
in fake_cloudstack_vm.py; the protocol around them in fake_cloudstack.py).

A specification: every rule a command enforces names, in a comment beside it, the class of
apache/cloudstack it follows ("CS" below; paths of its main branch, the 4.20 line, unless a
version is named).  Each ``cmd_<command>`` takes the request's parameters and returns the body
of its answer (for an async command: its job result).  A handler raises :class:`FakeError` as
the management server answers: 431 for a parameter error (a missing entity included), 432 for
a command the caller's role may not run, 530 for what fails inside, 533 for capacity, 536 for
something in use, 537 for a network rule conflict (ApiErrorCode).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Params = dict[str, str]

# Commands CloudStack runs as async jobs (BaseAsyncCmd) among those the fake knows.
ASYNC = {
    "createtags", "deletetags", "deletenetwork", "createvpc", "deletevpc", "associateipaddress",
    "disassociateipaddress", "disablestaticnat", "deployvirtualmachine",
    "destroyvirtualmachine", "startvirtualmachine", "stopvirtualmachine",
    "rebootvirtualmachine", "authorizesecuritygroupingress", "authorizesecuritygroupegress",
    "createfirewallrule", "deletefirewallrule", "createnetworkacl", "deletenetworkacl",
    "createnetworkacllist", "replacenetworkacllist",
}
# BaseAsyncCreateCmd: create() makes the object before the job runs; the answer carries its
# ``id`` beside ``jobid``, and the object stays when the job fails (CS
# server/src/main/java/com/cloud/api/ApiServer.java queueCommand / getBaseAsyncCreateResponse;
# DeployVMCmd, CreateVPCCmd, AssociateIPAddrCmd extend BaseAsyncCreate(CustomId)Cmd).
ASYNC_CREATE = {"deployvirtualmachine": "vms", "createvpc": "vpcs",
                "associateipaddress": "ips"}
# List command -> the key of its items.
LISTS = {
    "listzones": "zone", "listtemplates": "template", "listserviceofferings": "serviceoffering",
    "listnetworkofferings": "networkoffering", "listvpcofferings": "vpcoffering",
    "listnetworks": "network", "listvpcs": "vpc", "listpublicipaddresses": "publicipaddress",
    "listvlanipranges": "vlaniprange", "listvirtualmachines": "virtualmachine",
    "listsecuritygroups": "securitygroup", "listsshkeypairs": "sshkeypair",
    "listfirewallrules": "firewallrule", "listnetworkacls": "networkacl",
    "listnetworkacllists": "networkacllist", "listaccounts": "account", "listapis": "api",
}
# Commands a root admin alone may run: those of CS api/.../api/command/admin/ (the default
# role permissions give them to RoleType.Admin only; RoleBasedAPIAccessChecker refuses them
# with 432, "The API [X] does not exist or is not available for the account ...").
ADMIN_ONLY = {"listvlanipranges"}
# createTags' resourcetype -> the fake's table.
TAGGABLE = {"UserVm": "vms", "Network": "networks", "Vpc": "vpcs", "PublicIpAddress": "ips",
            "SecurityGroup": "groups", "FirewallRule": "firewall", "NetworkACL": "acls"}
# Tables of objects an account owns (listed per account, see CloudStackApi.visible).
OWNED = ("vms", "networks", "vpcs", "ips", "groups", "keypairs", "firewall")
TABLES = (*OWNED, "public_networks", "ranges", "templates", "offerings", "network_offerings",
          "vpc_offerings", "acl_lists", "acls")

ADMIN, DOMAIN_ADMIN, USER = "Admin", "DomainAdmin", "User"
# CS api/src/main/java/org/apache/cloudstack/api/BaseCmd.java USER_ERROR_MESSAGE: what a
# caller who is not a root admin reads instead of an unexpected failure's own text (ApiServer
# handleRequest, "hide internal details to non-admin user for security reason").
USER_ERROR_MESSAGE = "Internal error executing command, please contact your system administrator"


@dataclass(frozen=True)
class Generation:
    """What differs between the two API generations the fake speaks."""

    version: str  # listCapabilities' cloudstackversion
    # deployVirtualMachine's ``keypairs`` (a list, since 4.17) and UserVmResponse's
    # ``keypairs``; before, ``keypair`` only (CS BaseDeployVMCmd: SSH_KEYPAIR @Deprecated,
    # SSH_KEYPAIRS since="4.17"; UserVmResponse SSH_KEYPAIRS / SSH_KEYPAIR).
    keypairs: bool
    # associateIpAddress takes ``ipaddress`` (absent from AssociateIPAddrCmd of the 4.15 line;
    # an unknown parameter is ignored, ParamProcessWorker.processParameters reads only the
    # command's own fields: the address asked for is then silently another).
    ipaddress: bool
    # NetworkResponse's ``created`` (since 4.16).
    network_created: bool


GENERATIONS = {
    "4.15": Generation("4.15.2.0", keypairs=False, ipaddress=False, network_created=False),
    "4.20": Generation("4.20.0.0", keypairs=True, ipaddress=True, network_created=True),
}


@dataclass
class Account:
    """An account and its one user's keys (CS: one API key pair per user)."""

    name: str
    role: str  # ADMIN (root admin), DOMAIN_ADMIN or USER
    domain: str  # the domain's path, "ROOT" or "ROOT/team"
    api_key: str
    secret_key: str
    id: str = ""
    domainid: str = ""

    @property
    def accounttype(self) -> int:  # CS Account.Type: NORMAL 0, ADMIN 1, DOMAIN_ADMIN 2
        return {USER: 0, ADMIN: 1, DOMAIN_ADMIN: 2}[self.role]

    @property
    def is_admin(self) -> bool:  # AccountManagerImpl.isAdmin: root or domain admin
        return self.role in (ADMIN, DOMAIN_ADMIN)


class FakeError(Exception):
    def __init__(self, code: int, text: str, cs_code: int = 4350):
        super().__init__(text)
        self.code, self.text, self.cs_code = code, text, cs_code


def missing(command: str, param: str, value: str) -> FakeError:
    # CS ParamProcessWorker: an id that names nothing the caller may see.
    return FakeError(431, f"Unable to execute API command {command} due to invalid value. "
                          f"Invalid parameter {param} value={value} due to incorrect long value "
                          "format, or entity does not exist or due to incorrect parameter "
                          "annotation for the field in api cmd class.", 9999)


def need(p: Params, *names: str) -> None:
    # CS ParamProcessWorker.processParameters: a required parameter left out.
    for name in names:
        if not p.get(name):
            raise FakeError(431, f"Unable to execute API command {p.get('command', '').lower()} "
                                 f"due to missing parameter {name}", 9999)


def indexed(p: Params, prefix: str) -> list[dict[str, str]]:
    """``tags[0].key=a&tags[0].value=b`` -> [{"key": "a", "value": "b"}]."""
    found: dict[int, dict[str, str]] = {}
    for key, value in p.items():
        match = re.fullmatch(rf"{prefix}\[(\d+)\]\.(\w+)", key)
        if match:
            found.setdefault(int(match[1]), {})[match[2]] = value
    return [found[i] for i in sorted(found)]


def flag(p: Params, name: str, default: bool = False) -> bool:
    return p[name].lower() == "true" if p.get(name) else default


class CloudStackApi:
    """The state (one dict per kind, by id), the accounts, and the commands."""

    zone: Obj
    generation: Generation
    caller: Account

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Obj]] = {t: {} for t in TABLES}
        self.accounts: dict[str, Account] = {}  # by API key
        self.domains: dict[str, str] = {"ROOT": str(uuid.uuid4())}  # path -> id

    def now(self) -> str:  # overridden
        raise NotImplementedError

    def new_id(self) -> str:  # overridden
        raise NotImplementedError

    def add(self, table: str, **fields: Any) -> Obj:
        obj = {"id": str(uuid.uuid4()), "created": self.now(), "tags": [], **fields}
        self.tables[table][obj["id"]] = obj
        return obj

    def owned(self, table: str, account: Account | None = None, **fields: Any) -> Obj:
        """A new object of the caller's account (or ``account``'s)."""
        who = account or self.caller
        return self.add(table, account=who.name, domain=who.domain, domainid=who.domainid,
                        **fields)

    # -- who sees what -------------------------------------------------------------------------

    def visible(self, obj: Obj, p: Params) -> bool:
        """Whether the caller's list shows ``obj`` (CS server/src/main/java/com/cloud/user/
        AccountManagerImpl.java buildACLSearchParameters): a user sees its own account's; an
        admin without ``listall`` (and without an ``id``) its own account's too; a root admin
        with ``listall`` or an ``id`` every account's, a domain admin those of its domain and
        below."""
        if "account" not in obj:  # the zone's, the system's: public templates, offerings...
            return True
        caller = self.caller
        if obj["account"] == caller.name and obj.get("domain") == caller.domain:
            return True
        if caller.role == USER or not (flag(p, "listall") or p.get("id")):
            return False
        if caller.role == ADMIN:
            return True
        return str(obj.get("domain", "")).startswith(caller.domain)

    def find(self, table: str, ident: str, p: Params, param: str = "id") -> Obj:
        obj = self.tables[table].get(ident)
        if obj is None or not self.visible(obj, {**p, "id": ident, "listall": "true"}):
            raise missing(p.get("command", "").lower(), param, ident)
        return obj

    def _select(self, table: str, p: Params, **fields: str) -> list[Obj]:
        """Items of ``table`` the caller sees, matching the request's filters (param name ->
        field)."""
        items = [o for o in self.tables[table].values() if self.visible(o, p)]
        if p.get("id"):
            items = [o for o in items if o["id"] == p["id"]]
        for param, key in {"name": "name", **fields}.items():
            if p.get(param):
                items = [o for o in items if str(o.get(key)).lower() == p[param].lower()]
        return items

    # -- the zone, the catalogue, the caller ---------------------------------------------------

    def add_public_network(self, name: str, cidr: str, range_name: str = "") -> Obj:
        net = ipaddress.ip_network(cidr)
        public = self.add("public_networks", name=name, traffictype="Public", issystem=True,
                          zoneid=self.zone["id"], type="Public", state="Setup")
        hosts = list(net.hosts())
        self.add("ranges", networkid=public["id"], zoneid=self.zone["id"], forvirtualnetwork=True,
                 gateway=str(hosts[0]), netmask=str(net.netmask), cidr=str(net),
                 startip=str(hosts[1]), endip=str(hosts[-1]), vlan="untagged",
                 description=range_name)
        return public

    def cmd_listzones(self, p: Params) -> Obj:
        return {"zone": [self.zone] if not p.get("name") or p["name"] == self.zone["name"]
                else []}

    def cmd_listcapabilities(self, p: Params) -> Obj:
        # CS ListCapabilitiesCmd (every role): CapabilitiesResponse; allowuserexpungerecovervm
        # is the setting's value or whether the caller is an admin (ManagementServerImpl
        # listCapabilities: AllowUserExpungeRecoverVm.valueIn(...) | isCallerAdmin).
        return {"capability": {
            "cloudstackversion": self.generation.version,
            "securitygroupsenabled": bool(self.zone.get("securitygroupsenabled")),
            "allowuserexpungerecovervm": self.allow_user_expunge or self.caller.is_admin,
            "allowuserviewdestroyedvm": self.caller.is_admin,
            "apilimitinterval": 1, "apilimitmax": 50}}

    allow_user_expunge = False  # allow.user.expunge.recover.vm (default false)

    def cmd_listaccounts(self, p: Params) -> Obj:
        # CS ListAccountsCmd: AccountResponse; roletype since 4.9.
        rows = [{"id": a.id, "name": a.name, "accounttype": a.accounttype, "roletype": a.role,
                 "domain": a.domain, "domainid": a.domainid, "account": a.name}
                for a in self.accounts.values()]
        return {"account": [r for r in rows if self.visible(r, p)]}

    def cmd_listapis(self, p: Params) -> Obj:
        # CS plugins/api/discovery ListApisCmd (every role): ApiDiscoveryResponse, each
        # command with its ``params`` (ApiParameterResponse: name, required, since...).
        known = {"associateIpAddress": ["zoneid", "networkid", "vpcid", "isportable"]
                 + (["ipaddress"] if self.generation.ipaddress else []),
                 "deployVirtualMachine": ["zoneid", "templateid", "serviceofferingid", "name",
                                          "networkids", "ipaddress", "keypair"]
                 + (["keypairs"] if self.generation.keypairs else [])}
        names = [p["name"]] if p.get("name") else list(known)
        return {"api": [{"name": n, "isasync": n.lower() in ASYNC,
                         "params": [{"name": a, "required": False} for a in known[n]]}
                        for n in names if n in known]}

    def cmd_listtemplates(self, p: Params) -> Obj:
        need(p, "templatefilter")
        return {"template": self._select("templates", p, zoneid="zoneid")}

    def cmd_listserviceofferings(self, p: Params) -> Obj:
        return {"serviceoffering": self._select("offerings", p)}

    def cmd_listnetworkofferings(self, p: Params) -> Obj:
        return {"networkoffering": self._select("network_offerings", p)}

    def cmd_listvpcofferings(self, p: Params) -> Obj:
        return {"vpcoffering": self._select("vpc_offerings", p)}

    # -- tags ----------------------------------------------------------------------------------

    def _tagged(self, p: Params) -> list[Obj]:
        need(p, "resourceids", "resourcetype")
        table = TAGGABLE.get(p["resourcetype"])
        if table is None:
            raise FakeError(431, f"Invalid resource type {p['resourcetype']}")
        return [self.find(table, i, p, "resourceids") for i in p["resourceids"].split(",")]

    def cmd_createtags(self, p: Params) -> Obj:
        for obj in self._tagged(p):
            for tag in indexed(p, "tags"):
                # CS TaggedResourceManagerImpl.createTags: one value per key and resource.
                if any(t["key"] == tag["key"] for t in obj["tags"]):
                    raise FakeError(530, f"tag {tag['key']} already on resource {obj['id']}")
                obj["tags"].append({"key": tag["key"], "value": tag.get("value", ""),
                                    "resourcetype": p["resourcetype"], "resourceid": obj["id"],
                                    "account": self.caller.name, "domain": self.caller.domain})
        return {"success": True}

    def cmd_deletetags(self, p: Params) -> Obj:
        keys = {t["key"] for t in indexed(p, "tags")}
        for obj in self._tagged(p):
            obj["tags"] = [t for t in obj["tags"] if keys and t["key"] not in keys]
        return {"success": True}

    # -- networks ------------------------------------------------------------------------------

    def _shown_network(self, net: Obj) -> Obj:
        if self.generation.network_created:
            return net
        return {k: v for k, v in net.items() if k != "created"}  # NetworkResponse < 4.16

    def cmd_listnetworks(self, p: Params) -> Obj:
        # CS NetworkServiceImpl.searchForNetworks: ``issystem`` is reset to false for anyone
        # but a root admin, so only a root admin lists the zone's public network.
        system = flag(p, "issystem") and self.caller.role == ADMIN
        if system:
            items = self._select("public_networks", p, zoneid="zoneid")
        else:
            items = self._select("networks", p, zoneid="zoneid", vpcid="vpcid")
        if p.get("traffictype"):
            items = [n for n in items if n.get("traffictype") == p["traffictype"]]
        return {"network": [self._shown_network(n) for n in items]}

    def cmd_listvlanipranges(self, p: Params) -> Obj:
        return {"vlaniprange": self._select("ranges", p, zoneid="zoneid")}

    def cmd_createnetwork(self, p: Params) -> Obj:
        need(p, "name", "zoneid", "networkofferingid", "gateway", "netmask")
        offering = self.find("network_offerings", p["networkofferingid"], p, "networkofferingid")
        cidr = ipaddress.ip_network(f"{p['gateway']}/{p['netmask']}", strict=False)
        vpc = self.find("vpcs", p["vpcid"], p, "vpcid") if p.get("vpcid") else None
        # CS NetworkServiceImpl.createGuestNetwork: a VPC offering only in a VPC, and back.
        if bool(vpc) != bool(offering["forvpc"]):
            raise FakeError(431, "Network offering can't be used for VPC networks" if not vpc
                            else "Network offering can be used for VPC networks only")
        if vpc is not None:
            # CS VpcManagerImpl.validateNewVpcGuestNetwork: inside the VPC's CIDR, no overlap.
            if not cidr.subnet_of(ipaddress.ip_network(vpc["cidr"])):  # type: ignore[arg-type]
                raise FakeError(431, f"Network cidr {cidr} is not within vpc {vpc['name']} cidr")
            for tier in self.tiers(vpc["id"]):
                if cidr.overlaps(ipaddress.ip_network(tier["cidr"])):
                    raise FakeError(431, f"Network cidr {cidr} overlaps with {tier['name']}")
        fields: Obj = {}
        if p.get("aclid"):
            fields["aclid"] = self.find("acl_lists", p["aclid"], p, "aclid")["id"]
        # A tier made without ``aclid`` has no ACL list: NetworkResponse then carries no
        # ``aclid`` (ApiResponseHelper.createNetworkResponse sets it only when the network
        # has one).
        net = self.owned("networks", name=p["name"], displaytext=p.get("displaytext") or p["name"],
                         zoneid=p["zoneid"], zonename=self.zone["name"], cidr=str(cidr),
                         gateway=p["gateway"], netmask=p["netmask"], type="Isolated",
                         traffictype="Guest", state="Allocated", networkofferingid=offering["id"],
                         networkofferingname=offering["name"], vpcid=vpc["id"] if vpc else None,
                         issystem=False, **fields)
        return {"network": self._shown_network(net)}

    def cmd_deletenetwork(self, p: Params) -> Obj:
        need(p, "id")
        net = self.find("networks", p["id"], p)
        # CS NetworkOrchestrator.destroyNetwork: no user VM in it but Expunging and removed
        # (a destroyed machine not yet expunged keeps it), else DeleteNetworkCmd answers
        # "Failed to delete network".
        if any(n["networkid"] == net["id"] for vm in self.tables["vms"].values()
               for n in vm["nic"]):
            raise FakeError(530, "Failed to delete network")
        for ip in list(self.tables["ips"].values()):
            if ip.get("associatednetworkid") == net["id"] and not ip.get("vpcid"):
                del self.tables["ips"][ip["id"]]
        del self.tables["networks"][net["id"]]
        return {"success": True}

    def tiers(self, vpc_id: str) -> list[Obj]:
        return [n for n in self.tables["networks"].values() if n.get("vpcid") == vpc_id]

    # -- VPCs ----------------------------------------------------------------------------------

    def cmd_listvpcs(self, p: Params) -> Obj:
        return {"vpc": self._select("vpcs", p, zoneid="zoneid")}

    def create_createvpc(self, p: Params) -> Obj:
        """CreateVPCCmd.create(): the VPC exists before its job starts it."""
        need(p, "name", "zoneid", "cidr", "vpcofferingid")
        self.find("vpc_offerings", p["vpcofferingid"], p, "vpcofferingid")
        # CS VpcManagerImpl.createVpc: the super CIDR is private address space.
        if not ipaddress.ip_network(p["cidr"]).is_private:
            raise FakeError(431, "Vpc cidr should be within private address space")
        return self.owned("vpcs", name=p["name"], displaytext=p.get("displaytext") or p["name"],
                          zoneid=p["zoneid"], zonename=self.zone["name"], cidr=p["cidr"],
                          state="Inactive", vpcofferingid=p["vpcofferingid"],
                          restartrequired=False, network=[])

    def cmd_createvpc(self, p: Params, vpc: Obj) -> Obj:
        # CreateVPCCmd.execute: started, with its source NAT address.
        vpc["state"] = "Enabled"
        self._acquire(None, vpc["id"], None, source_nat=True)
        return {"vpc": vpc}

    def cmd_deletevpc(self, p: Params) -> Obj:
        need(p, "id")
        vpc = self.find("vpcs", p["id"], p)
        # CS VpcManagerImpl.destroyVpc: its tiers first.
        if self.tiers(vpc["id"]):
            raise FakeError(530, f"Can't delete VPC {vpc['name']} as it has active networks")
        for ip in list(self.tables["ips"].values()):
            if ip.get("vpcid") == vpc["id"]:
                del self.tables["ips"][ip["id"]]
        for acl in list(self.tables["acl_lists"].values()):
            if acl.get("vpcid") == vpc["id"]:
                del self.tables["acl_lists"][acl["id"]]
        del self.tables["vpcs"][vpc["id"]]
        return {"success": True}

    # -- public IPs ----------------------------------------------------------------------------

    def _free_ip(self, vlan: Obj, address: str) -> Obj:
        """An address of a range nobody holds, as listPublicIpAddresses shows it (its row
        exists from the range's creation, hence a fixed id)."""
        return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"ip:{vlan['id']}:{address}")),
                "ipaddress": address, "state": "Free", "zoneid": self.zone["id"],
                "zonename": self.zone["name"], "issourcenat": False, "isstaticnat": False,
                "forvirtualnetwork": True, "issystem": False, "tags": [], "vlanid": vlan["id"]}

    def _pool(self) -> list[tuple[Obj, str]]:
        return [(vlan, str(a)) for vlan in self.tables["ranges"].values()
                for a in ipaddress.ip_network(vlan["cidr"]).hosts() if str(a) != vlan["gateway"]]

    def _shown_ip(self, ip: Obj) -> Obj:
        # CS ApiResponseHelper.createIPAddressResponse: the public network's id and name for
        # everyone; ``vlanid`` in the Full view only (a root admin's).
        public = self.tables["public_networks"].get(self.tables["ranges"][ip["vlanid"]]
                                                    ["networkid"]) or {}
        shown = {**ip, "networkid": public.get("id"), "networkname": public.get("name")}
        if self.caller.role != ADMIN:
            shown.pop("vlanid", None)
        return shown

    def cmd_listpublicipaddresses(self, p: Params) -> Obj:
        items = self._select("ips", p, zoneid="zoneid", vpcid="vpcid",
                             associatednetworkid="associatednetworkid",
                             isstaticnat="isstaticnat", ipaddress="ipaddress")
        # ManagementServerImpl.searchForIPAddresses: allocatedonly=false lists the free
        # addresses of the zone's ranges too.
        if not flag(p, "allocatedonly", True) and not p.get("id"):
            used = {ip["ipaddress"] for ip in self.tables["ips"].values()}
            items += [self._free_ip(vlan, a) for vlan, a in self._pool() if a not in used
                      and (not p.get("ipaddress") or a == p["ipaddress"])]
        return {"publicipaddress": [self._shown_ip(ip) for ip in items]}

    def _acquire(self, network_id: str | None, vpc_id: str | None, address: str | None,
                 source_nat: bool = False) -> Obj:
        used = {ip["ipaddress"] for ip in self.tables["ips"].values()}
        pool = self._pool()
        # Refused as the API refuses a request: outside every public range is a parameter
        # error (431), an address someone holds is in use (536); never another address
        # (IpAddressManagerImpl.allocateIp / fetchNewPublicIp with a requested address).
        if address is not None and address not in {a for _, a in pool}:
            raise FakeError(431, f"IP address {address} is outside the public IP ranges of "
                                 "the zone")
        if address is not None and address in used:
            raise FakeError(536, f"Failed to acquire IP {address}: already allocated")
        free = [(v, a) for v, a in pool if a not in used and (address is None or a == address)]
        if not free:
            raise FakeError(533, "Insufficient address capacity")
        vlan, chosen = free[0]
        ip = self.owned("ips", **{**self._free_ip(vlan, chosen), "allocated": self.now(),
                                  "issourcenat": source_nat, "associatednetworkid": network_id,
                                  "vpcid": vpc_id, "state": "Allocated"})
        return ip

    def create_associateipaddress(self, p: Params) -> Obj:
        """AssociateIPAddrCmd.create(): the address is allocated before its job associates
        it; ``ipaddress`` only where the generation has it (ignored otherwise)."""
        # AssociateIPAddrCmd.getNetworkId: a network or a VPC to hold it (the fake knows no
        # account's "only isolated network" fallback).
        if not (p.get("vpcid") or p.get("networkid")):
            raise FakeError(431, "Unable to figure out the network: specify networkid or vpcid")
        vpc = self.find("vpcs", p["vpcid"], p, "vpcid")["id"] if p.get("vpcid") else None
        net = self.find("networks", p["networkid"], p, "networkid")["id"] \
            if p.get("networkid") else None
        wanted = p.get("ipaddress") if self.generation.ipaddress else None
        ip = self._acquire(net, vpc, wanted)
        ip["state"] = "Allocating"
        return ip

    def cmd_associateipaddress(self, p: Params, ip: Obj) -> Obj:
        ip["state"] = "Allocated"
        return {"ipaddress": self._shown_ip(ip)}

    def cmd_disassociateipaddress(self, p: Params) -> Obj:
        ip = self.find("ips", p.get("id", ""), p)
        # CS IpAddressManagerImpl.disassociatePublicIpAddress: a source NAT stays.
        if ip["issourcenat"]:
            raise FakeError(530, "Can't release source nat IP address")
        del self.tables["ips"][ip["id"]]
        return {"success": True}

    def cmd_enablestaticnat(self, p: Params) -> Obj:
        need(p, "ipaddressid", "virtualmachineid")
        ip = self.find("ips", p["ipaddressid"], p, "ipaddressid")
        vm = self.find("vms", p["virtualmachineid"], p, "virtualmachineid")
        nic = next((n for n in vm["nic"] if n["networkid"] == p.get("networkid")), vm["nic"][0])
        net = self.tables["networks"][nic["networkid"]]
        # CS RulesManagerImpl.enableStaticNat: one static NAT per address, not the source NAT;
        # the address and the machine on one network (or VPC).
        if ip["issourcenat"] or ip["isstaticnat"]:
            raise FakeError(431, f"Can't enable static nat for ip {ip['ipaddress']}")
        if ip["vpcid"] != net.get("vpcid") or (not ip["vpcid"] and
                                               ip["associatednetworkid"] != net["id"]):
            raise FakeError(431, "Ip address and vm belong to different networks")
        ip.update(isstaticnat=True, virtualmachineid=vm["id"], vmipaddress=nic["ipaddress"],
                  virtualmachinename=vm["name"], associatednetworkid=net["id"])
        return {"success": True}

    def cmd_disablestaticnat(self, p: Params) -> Obj:
        ip = self.find("ips", p.get("ipaddressid", ""), p, "ipaddressid")
        # CS RulesManagerImpl.disableStaticNat: only an address with static NAT.
        if not ip["isstaticnat"]:
            raise FakeError(530, "Specified IP address id is not associated with any vm Id")
        ip.update(isstaticnat=False, virtualmachineid=None, vmipaddress=None,
                  virtualmachinename=None)
        if ip["vpcid"]:
            ip["associatednetworkid"] = None
        return {"success": True}
