"""The fake CloudStack's virtual machines, SSH key pairs, security groups, firewall rules and
network ACLs (the rest of its commands are in fake_cloudstack_api.py)."""

from __future__ import annotations

import hashlib
import ipaddress

from tests.drivers.fake_cloudstack_api import CloudStackApi, FakeError, Obj, Params, missing, need


class CloudStackVms(CloudStackApi):
    # -- virtual machines ----------------------------------------------------------------------

    def cmd_listvirtualmachines(self, p: Params) -> Obj:
        return {"virtualmachine": self._select("vms", p, zoneid="zoneid")}

    def _address(self, net: Obj, wanted: str | None) -> str:
        cidr = ipaddress.ip_network(net["cidr"])
        used = {n["ipaddress"] for vm in self.tables["vms"].values() for n in vm["nic"]
                if n["networkid"] == net["id"]}
        hosts = [str(h) for h in cidr.hosts() if str(h) != net["gateway"]]
        if wanted is not None:
            if wanted not in hosts:
                raise FakeError(431, f"Invalid ip address {wanted} for network {net['name']}")
            if wanted in used:
                raise FakeError(530, f"The requested ip address {wanted} is already in use")
            return wanted
        free = [h for h in hosts if h not in used]
        if not free:
            raise FakeError(533, "Insufficient address capacity")
        return free[0]

    def cmd_deployvirtualmachine(self, p: Params) -> Obj:
        need(p, "zoneid", "templateid", "serviceofferingid", "networkids")
        template = self.find("templates", p["templateid"], p, "templateid")
        offering = self.find("offerings", p["serviceofferingid"], p, "serviceofferingid")
        net = self.find("networks", p["networkids"].split(",")[0], p, "networkids")
        if p.get("keypair") and p["keypair"] not in self.tables["keypairs"]:
            raise FakeError(431, f"Unable to find key pair {p['keypair']}")
        name = p.get("name") or f"VM-{self.new_id()}"
        if any(vm["name"] == name for vm in self.tables["vms"].values()):
            raise FakeError(431, f"The vm with hostName {name} already exists in the network")
        nic = {"id": self.new_id(), "networkid": net["id"], "networkname": net["name"],
               "ipaddress": self._address(net, p.get("ipaddress")), "gateway": net["gateway"],
               "netmask": net["netmask"], "isdefault": True, "traffictype": "Guest",
               "type": "Isolated", "macaddress": "02:00:00:00:00:01"}
        net["state"] = "Implemented"
        vm = self.add("vms", name=name, displayname=p.get("displayname") or name,
                      zoneid=p["zoneid"], zonename=self.zone["name"], state="Running",
                      templateid=template["id"], templatename=template["name"],
                      serviceofferingid=offering["id"], serviceofferingname=offering["name"],
                      cpunumber=offering["cpunumber"], memory=offering["memory"],
                      nic=[nic], securitygroup=[], keypair=p.get("keypair"),
                      hypervisor="KVM", account="admin", haenable=False)
        return {"virtualmachine": vm}

    def new_id(self) -> str:  # overridden
        raise NotImplementedError

    def _vm(self, p: Params) -> Obj:
        need(p, "id")
        return self.find("vms", p["id"], p)

    def cmd_destroyvirtualmachine(self, p: Params) -> Obj:
        vm = self._vm(p)
        for ip in self.tables["ips"].values():
            if ip.get("virtualmachineid") == vm["id"]:
                ip.update(isstaticnat=False, virtualmachineid=None, vmipaddress=None)
        del self.tables["vms"][vm["id"]]
        return {"virtualmachine": {**vm, "state": "Expunging"}}

    def cmd_startvirtualmachine(self, p: Params) -> Obj:
        vm = self._vm(p)
        vm["state"] = "Running"
        return {"virtualmachine": vm}

    def cmd_stopvirtualmachine(self, p: Params) -> Obj:
        vm = self._vm(p)
        vm["state"] = "Stopped"
        return {"virtualmachine": vm}

    def cmd_rebootvirtualmachine(self, p: Params) -> Obj:
        vm = self._vm(p)
        if vm["state"] != "Running":
            raise FakeError(530, f"Unable to reboot VM {vm['name']}: it is not running")
        return {"virtualmachine": vm}

    # -- SSH key pairs -------------------------------------------------------------------------

    def cmd_listsshkeypairs(self, p: Params) -> Obj:
        return {"sshkeypair": self._select("keypairs", p)}

    def cmd_registersshkeypair(self, p: Params) -> Obj:
        need(p, "name", "publickey")
        if p["name"] in self.tables["keypairs"]:
            raise FakeError(431, f"A key pair with name '{p['name']}' already exists.")
        digest = hashlib.md5(p["publickey"].encode(), usedforsecurity=False).hexdigest()
        pair = {"id": p["name"], "name": p["name"], "account": "admin",
                "fingerprint": ":".join(digest[i:i + 2] for i in range(0, 32, 2))}
        self.tables["keypairs"][p["name"]] = pair
        return {"keypair": pair}

    def cmd_deletesshkeypair(self, p: Params) -> Obj:
        need(p, "name")
        if self.tables["keypairs"].pop(p["name"], None) is None:
            raise FakeError(431, f"A key pair with name '{p['name']}' does not exist for "
                                 "account admin in specified domain id")
        return {"success": True}

    # -- security groups -----------------------------------------------------------------------

    def cmd_listsecuritygroups(self, p: Params) -> Obj:
        return {"securitygroup": self._select("groups", p, securitygroupname="name")}

    def cmd_createsecuritygroup(self, p: Params) -> Obj:
        need(p, "name")
        if any(g["name"] == p["name"] for g in self.tables["groups"].values()):
            raise FakeError(431, f"Unable to create security group, a group with name "
                                 f"{p['name']} already exists.")
        group = self.add("groups", name=p["name"], description=p.get("description", ""),
                         ingressrule=[], egressrule=[], account="admin")
        return {"securitygroup": group}

    def cmd_deletesecuritygroup(self, p: Params) -> Obj:
        group = self.find("groups", p.get("id", ""), p)
        if group["name"] == "default":
            raise FakeError(431, "The network default group cannot be deleted")
        del self.tables["groups"][group["id"]]
        return {"success": True}

    def _authorize(self, p: Params, key: str) -> Obj:
        need(p, "securitygroupid", "protocol")
        group = self.find("groups", p["securitygroupid"], p, "securitygroupid")
        for cidr in (p.get("cidrlist") or "0.0.0.0/0").split(","):
            rule = {"ruleid": self.new_id(), "protocol": p["protocol"], "cidr": cidr,
                    "startport": int(p["startport"]) if p.get("startport") else None,
                    "endport": int(p["endport"]) if p.get("endport") else None, "tags": []}
            same = [r for r in group[key] if {**r, "ruleid": ""} == {**rule, "ruleid": ""}]
            if not same:  # CloudStack skips a rule the group has already
                group[key].append(rule)
        return {"securitygroup": group}

    def cmd_authorizesecuritygroupingress(self, p: Params) -> Obj:
        return self._authorize(p, "ingressrule")

    def cmd_authorizesecuritygroupegress(self, p: Params) -> Obj:
        return self._authorize(p, "egressrule")

    # -- firewall rules (isolated networks) and network ACLs (VPC tiers) -----------------------

    def cmd_listfirewallrules(self, p: Params) -> Obj:
        return {"firewallrule": self._select("firewall", p, ipaddressid="ipaddressid")}

    def cmd_createfirewallrule(self, p: Params) -> Obj:
        need(p, "ipaddressid", "protocol")
        ip = self.find("ips", p["ipaddressid"], p, "ipaddressid")
        if ip.get("vpcid"):
            raise FakeError(431, "Firewall rules are not supported on VPC addresses: use ACLs")
        rule = self.add("firewall", ipaddressid=ip["id"], ipaddress=ip["ipaddress"],
                        protocol=p["protocol"], startport=p.get("startport"),
                        endport=p.get("endport"), cidrlist=p.get("cidrlist") or "0.0.0.0/0",
                        state="Active", networkid=ip.get("associatednetworkid"))
        return {"firewallrule": rule}

    def cmd_deletefirewallrule(self, p: Params) -> Obj:
        rule = self.find("firewall", p.get("id", ""), p)
        del self.tables["firewall"][rule["id"]]
        return {"success": True}

    def cmd_listnetworkacllists(self, p: Params) -> Obj:
        return {"networkacllist": self._select("acl_lists", p, vpcid="vpcid")}

    def cmd_createnetworkacllist(self, p: Params) -> Obj:
        need(p, "name", "vpcid")
        self.find("vpcs", p["vpcid"], p, "vpcid")
        acl = self.add("acl_lists", name=p["name"], description=p.get("description", ""),
                       vpcid=p["vpcid"])
        return {"networkacllist": acl}

    def cmd_replacenetworkacllist(self, p: Params) -> Obj:
        need(p, "aclid", "networkid")
        acl = self.find("acl_lists", p["aclid"], p, "aclid")
        net = self.find("networks", p["networkid"], p, "networkid")
        if acl["vpcid"] not in (None, net.get("vpcid")):
            raise FakeError(431, "Network ACL and network belong to different VPCs")
        net["aclid"] = acl["id"]
        return {"success": True}

    def cmd_listnetworkacls(self, p: Params) -> Obj:
        items = list(self.tables["acls"].values())
        if p.get("networkid"):
            net = self.find("networks", p["networkid"], p, "networkid")
            items = [i for i in items if i["aclid"] == net.get("aclid")]
        return {"networkacl": [i for i in items if not p.get("aclid") or i["aclid"] == p["aclid"]]}

    def cmd_createnetworkacl(self, p: Params) -> Obj:
        need(p, "aclid", "protocol")
        acl = self.find("acl_lists", p["aclid"], p, "aclid")
        if not acl["vpcid"]:
            raise FakeError(431, "Default ACL cannot be modified")
        number = 1 + max((i["number"] for i in self.tables["acls"].values()
                          if i["aclid"] == acl["id"]), default=0)
        item = self.add("acls", aclid=acl["id"], protocol=p["protocol"],
                        startport=p.get("startport"), endport=p.get("endport"),
                        cidrlist=p.get("cidrlist") or "0.0.0.0/0",
                        traffictype=p.get("traffictype") or "Ingress",
                        action=p.get("action") or "Allow", number=number, state="Active")
        return {"networkacl": item}

    def cmd_deletenetworkacl(self, p: Params) -> Obj:
        if p.get("id") not in self.tables["acls"]:
            raise missing("deletenetworkacl", "id", p.get("id", ""))
        del self.tables["acls"][p["id"]]
        return {"success": True}
