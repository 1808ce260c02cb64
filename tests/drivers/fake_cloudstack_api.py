"""The fake CloudStack's commands (see fake_cloudstack.py for the protocol around them).

Each ``cmd_<command>`` takes the request's parameters and returns the body of its answer (for
an async command: its job result).  A handler raises :class:`FakeError` as the management
server answers: 431 for a parameter error (a missing entity included), 530 for what fails
inside a job, 536 for something in use.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
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
# List command -> the key of its items.
LISTS = {
    "listzones": "zone", "listtemplates": "template", "listserviceofferings": "serviceoffering",
    "listnetworkofferings": "networkoffering", "listvpcofferings": "vpcoffering",
    "listnetworks": "network", "listvpcs": "vpc", "listpublicipaddresses": "publicipaddress",
    "listvlanipranges": "vlaniprange", "listvirtualmachines": "virtualmachine",
    "listsecuritygroups": "securitygroup", "listsshkeypairs": "sshkeypair",
    "listfirewallrules": "firewallrule", "listnetworkacls": "networkacl",
    "listnetworkacllists": "networkacllist",
}
# createTags' resourcetype -> the fake's table.
TAGGABLE = {"UserVm": "vms", "Network": "networks", "Vpc": "vpcs", "PublicIpAddress": "ips",
            "SecurityGroup": "groups", "FirewallRule": "firewall", "NetworkACL": "acls"}
TABLES = ("vms", "networks", "public_networks", "ranges", "vpcs", "ips", "groups", "keypairs",
          "templates", "offerings", "network_offerings", "vpc_offerings", "acl_lists", "acls",
          "firewall")


class FakeError(Exception):
    def __init__(self, code: int, text: str, cs_code: int = 4350):
        super().__init__(text)
        self.code, self.text, self.cs_code = code, text, cs_code


def missing(command: str, param: str, value: str) -> FakeError:
    return FakeError(431, f"Unable to execute API command {command} due to invalid value. "
                          f"Invalid parameter {param} value={value} due to incorrect long value "
                          "format, or entity does not exist or due to incorrect parameter "
                          "annotation for the field in api cmd class.", 9999)


def need(p: Params, *names: str) -> None:
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


class CloudStackApi:
    """The state (one dict per kind, by id) and the commands."""

    zone: Obj

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Obj]] = {t: {} for t in TABLES}

    def add(self, table: str, **fields: Any) -> Obj:
        obj = {"id": str(uuid.uuid4()), "created": self.now(), "tags": [], **fields}
        self.tables[table][obj["id"]] = obj
        return obj

    def now(self) -> str:  # overridden
        raise NotImplementedError

    def find(self, table: str, ident: str, p: Params, param: str = "id") -> Obj:
        obj = self.tables[table].get(ident)
        if obj is None:
            raise missing(p.get("command", "").lower(), param, ident)
        return obj

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

    def tiers(self, vpc_id: str) -> list[Obj]:
        return [n for n in self.tables["networks"].values() if n.get("vpcid") == vpc_id]

    def _select(self, table: str, p: Params, **fields: str) -> list[Obj]:
        """Items of ``table`` matching the request's filters (param name -> field)."""
        items = list(self.tables[table].values())
        if p.get("id"):
            items = [self.find(table, p["id"], p)]
        for param, key in {"name": "name", **fields}.items():
            if p.get(param):
                items = [o for o in items if str(o.get(key)).lower() == p[param].lower()]
        return items

    # -- catalogue -----------------------------------------------------------------------------

    def cmd_listzones(self, p: Params) -> Obj:
        return {"zone": [self.zone] if not p.get("name") or p["name"] == self.zone["name"]
                else []}

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
                if any(t["key"] == tag["key"] for t in obj["tags"]):
                    raise FakeError(530, f"tag {tag['key']} already on resource {obj['id']}")
                obj["tags"].append({"key": tag["key"], "value": tag.get("value", ""),
                                    "resourcetype": p["resourcetype"], "resourceid": obj["id"],
                                    "account": "admin", "domain": "ROOT"})
        return {"success": True}

    def cmd_deletetags(self, p: Params) -> Obj:
        keys = {t["key"] for t in indexed(p, "tags")}
        for obj in self._tagged(p):
            obj["tags"] = [t for t in obj["tags"] if keys and t["key"] not in keys]
        return {"success": True}

    # -- networks ------------------------------------------------------------------------------

    def cmd_listnetworks(self, p: Params) -> Obj:
        if p.get("issystem") == "true" or p.get("traffictype") == "Public":
            return {"network": self._select("public_networks", p, zoneid="zoneid")}
        return {"network": self._select("networks", p, zoneid="zoneid", vpcid="vpcid")}

    def cmd_listvlanipranges(self, p: Params) -> Obj:
        return {"vlaniprange": self._select("ranges", p, zoneid="zoneid")}

    def cmd_createnetwork(self, p: Params) -> Obj:
        need(p, "name", "zoneid", "networkofferingid", "gateway", "netmask")
        offering = self.find("network_offerings", p["networkofferingid"], p, "networkofferingid")
        cidr = ipaddress.ip_network(f"{p['gateway']}/{p['netmask']}", strict=False)
        vpc = self.find("vpcs", p["vpcid"], p, "vpcid") if p.get("vpcid") else None
        if bool(vpc) != bool(offering["forvpc"]):
            raise FakeError(431, "Network offering can't be used for VPC networks" if not vpc
                            else "Network offering can be used for VPC networks only")
        if vpc is not None:
            if not cidr.subnet_of(ipaddress.ip_network(vpc["cidr"])):  # type: ignore[arg-type]
                raise FakeError(431, f"Network cidr {cidr} is not within vpc {vpc['name']} cidr")
            for tier in self.tiers(vpc["id"]):
                if cidr.overlaps(ipaddress.ip_network(tier["cidr"])):
                    raise FakeError(431, f"Network cidr {cidr} overlaps with {tier['name']}")
        acl = self.named("acl_lists", "default_deny")["id"] if vpc else None
        net = self.add("networks", name=p["name"], displaytext=p.get("displaytext") or p["name"],
                       zoneid=p["zoneid"], zonename=self.zone["name"], cidr=str(cidr),
                       gateway=p["gateway"], netmask=p["netmask"], type="Isolated",
                       traffictype="Guest", state="Allocated", networkofferingid=offering["id"],
                       networkofferingname=offering["name"], vpcid=vpc["id"] if vpc else None,
                       aclid=p.get("aclid") or acl, issystem=False, account="admin")
        return {"network": net}

    def cmd_deletenetwork(self, p: Params) -> Obj:
        need(p, "id")
        net = self.find("networks", p["id"], p)
        if any(n["networkid"] == net["id"] for vm in self.tables["vms"].values()
               for n in vm["nic"]):
            raise FakeError(530, f"Can't delete the network {net['name']}: not all user vms "
                                 "are expunged")
        for ip in list(self.tables["ips"].values()):
            if ip.get("associatednetworkid") == net["id"] and not ip.get("vpcid"):
                del self.tables["ips"][ip["id"]]
        del self.tables["networks"][net["id"]]
        return {"success": True}

    # -- VPCs ----------------------------------------------------------------------------------

    def cmd_listvpcs(self, p: Params) -> Obj:
        return {"vpc": self._select("vpcs", p, zoneid="zoneid")}

    def cmd_createvpc(self, p: Params) -> Obj:
        need(p, "name", "zoneid", "cidr", "vpcofferingid")
        self.find("vpc_offerings", p["vpcofferingid"], p, "vpcofferingid")
        if not ipaddress.ip_network(p["cidr"]).is_private:
            raise FakeError(431, "Vpc cidr should be within private address space")
        vpc = self.add("vpcs", name=p["name"], displaytext=p.get("displaytext") or p["name"],
                       zoneid=p["zoneid"], zonename=self.zone["name"], cidr=p["cidr"],
                       state="Enabled", vpcofferingid=p["vpcofferingid"], account="admin",
                       restartrequired=False, network=[])
        self._acquire(None, vpc["id"], None, source_nat=True)
        return {"vpc": vpc}

    def cmd_deletevpc(self, p: Params) -> Obj:
        need(p, "id")
        vpc = self.find("vpcs", p["id"], p)
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

    def cmd_listpublicipaddresses(self, p: Params) -> Obj:
        return {"publicipaddress": self._select(
            "ips", p, zoneid="zoneid", vpcid="vpcid", associatednetworkid="associatednetworkid",
            isstaticnat="isstaticnat", ipaddress="ipaddress")}

    def _acquire(self, network_id: str | None, vpc_id: str | None, address: str | None,
                 source_nat: bool = False) -> Obj:
        vlan = next(iter(self.tables["ranges"].values()))
        used = {ip["ipaddress"] for ip in self.tables["ips"].values()}
        pool = [str(a) for a in ipaddress.ip_network(vlan["cidr"]).hosts()
                if str(a) != vlan["gateway"]]
        # Refused as the API refuses a request: outside every public range is a parameter
        # error (431), an address someone holds is in use (536); never another address.
        if address is not None and address not in pool:
            raise FakeError(431, f"IP address {address} is outside the public IP ranges of "
                                 "the zone")
        if address is not None and address in used:
            raise FakeError(536, f"Failed to acquire IP {address}: already allocated")
        free = [a for a in pool if a not in used]
        if not free:
            raise FakeError(533, "Insufficient address capacity")
        ip = self.add("ips", ipaddress=address or free[0], allocated=self.now(),
                      zoneid=self.zone["id"], issourcenat=source_nat, isstaticnat=False,
                      networkid=vlan["networkid"], associatednetworkid=network_id,
                      vpcid=vpc_id, vlanid=vlan["id"], state="Allocated",
                      forvirtualnetwork=True, issystem=False, account="admin")
        return ip

    def cmd_associateipaddress(self, p: Params) -> Obj:
        if not (p.get("vpcid") or p.get("networkid")):
            raise FakeError(431, "Unable to figure out the network: specify networkid or vpcid")
        vpc = self.find("vpcs", p["vpcid"], p, "vpcid")["id"] if p.get("vpcid") else None
        net = self.find("networks", p["networkid"], p, "networkid")["id"] \
            if p.get("networkid") else None
        return {"ipaddress": self._acquire(net, vpc, p.get("ipaddress"))}

    def cmd_disassociateipaddress(self, p: Params) -> Obj:
        ip = self.find("ips", p.get("id", ""), p)
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
        if not ip["isstaticnat"]:
            raise FakeError(530, "Specified IP address id is not associated with any vm Id")
        ip.update(isstaticnat=False, virtualmachineid=None, vmipaddress=None,
                  virtualmachinename=None)
        if ip["vpcid"]:
            ip["associatednetworkid"] = None
        return {"success": True}

    def named(self, table: str, name: str) -> Obj:  # overridden
        raise NotImplementedError
