"""The fake CloudStack's virtual machines, SSH key pairs, security groups, firewall rules and
network ACLs (the rest of its commands are in fake_cloudstack_api.py, whose docstring says how
each rule cites the apache/cloudstack class it follows).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time

from tests.drivers.fake_cloudstack_api import (
    CloudStackApi,
    FakeError,
    Obj,
    Params,
    flag,
    missing,
    need,
)

# CS utils/src/main/java/com/cloud/utils/net/NetUtils.java verifyDomainNameLabel(name, true):
# 1-63 characters, ASCII letters, digits and '-', not starting or ending with '-', not
# starting with a digit (a host name).
HOST_NAME = re.compile(r"(?i)[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
# CS UserVmManagerImpl.checkNameForRFCCompliance (the 4.15 line; BaseDeployVMCmd's
# validations = RFCComplianceDomainName on the 4.20 line): the refusal, a 431.
BAD_HOST_NAME = ("Invalid name. Vm name can contain ASCII letters 'a' through 'z', the digits "
                 "'0' through '9', and the hyphen ('-'), must be between 1 and 63 characters "
                 "long, and can't start or end with \"-\" and can't start with digit")
GONE = ("Destroyed", "Expunging")


def port(p: Params, name: str) -> int | None:
    return int(p[name]) if p.get(name) not in (None, "") else None


class CloudStackVms(CloudStackApi):
    # Seconds before the expunge thread removes a destroyed machine (expunge.delay; 86400 in
    # CloudStack's defaults): until then it keeps its network (see cmd_deletenetwork).
    expunge_delay = 86400.0

    # -- virtual machines ----------------------------------------------------------------------

    def expunge_due(self) -> None:
        """CS UserVmManagerImpl's ExpungeTask: destroyed machines past expunge.delay go."""
        now = time.monotonic()
        for vm in list(self.tables["vms"].values()):
            if vm["state"] == "Destroyed" and now - vm["destroyed_at"] >= self.expunge_delay:
                del self.tables["vms"][vm["id"]]

    def _shown_vm(self, vm: Obj) -> Obj:
        # UserVmResponse: ``keypairs`` (comma-separated) on the 4.20 line, ``keypair`` before.
        shown = {k: v for k, v in vm.items() if k not in ("destroyed_at", "keys")}
        keys = ",".join(vm["keys"])
        if keys:
            shown["keypairs" if self.generation.keypairs else "keypair"] = keys
        return shown

    def cmd_listvirtualmachines(self, p: Params) -> Obj:
        items = self._select("vms", p, zoneid="zoneid", state="state")
        # CS QueryManagerImpl.searchForUserVMsInternal: destroyed machines are hidden from
        # anyone but an admin while allow.user.view.destroyed.vm is false (its default).
        if not self.caller.is_admin:
            items = [vm for vm in items if vm["state"] not in GONE]
        if p.get("networkid"):
            items = [vm for vm in items if any(n["networkid"] == p["networkid"]
                                               for n in vm["nic"])]
        return {"virtualmachine": [self._shown_vm(vm) for vm in items]}

    def _address(self, net: Obj, wanted: str | None) -> str:
        cidr = ipaddress.ip_network(net["cidr"])
        used = {n["ipaddress"] for vm in self.tables["vms"].values() for n in vm["nic"]
                if n["networkid"] == net["id"]}
        hosts = [str(h) for h in cidr.hosts() if str(h) != net["gateway"]]
        if wanted is not None:
            # CS IpAddressManagerImpl.acquireGuestIpAddress: a requested address outside the
            # network, or its gateway, is a parameter error; one in use gives no address,
            # and GuestNetworkGuru.allocate answers InsufficientVirtualNetworkCapacity
            # (DeployVMCmd.create: 533), all before the machine exists.
            if wanted not in hosts:
                raise FakeError(431, f"Invalid ip address {wanted} for network {net['name']}")
            if wanted in used:
                raise FakeError(533, f"Unable to acquire Guest IP address for network "
                                     f"{net['name']}")
            return wanted
        free = [h for h in hosts if h not in used]
        if not free:
            raise FakeError(533, f"Unable to acquire Guest IP address for network {net['name']}")
        return free[0]

    def _key_names(self, p: Params) -> list[str]:
        """The key pairs a deploy names: ``keypairs`` (since 4.17) and the deprecated
        ``keypair`` (BaseDeployVMCmd.getSSHKeyPairNames); before 4.17 ``keypairs`` is no
        parameter at all and is ignored."""
        names = [k for k in p.get("keypairs", "").split(",") if k] \
            if self.generation.keypairs else []
        if p.get("keypair"):
            names.append(p["keypair"])
        return list(dict.fromkeys(names))

    def create_deployvirtualmachine(self, p: Params) -> Obj:
        """DeployVMCmd.create(): checked and made (Stopped) before its job starts it."""
        need(p, "zoneid", "templateid", "serviceofferingid", "networkids")
        name = p.get("name") or f"VM-{self.new_id()}"
        if not HOST_NAME.fullmatch(name):
            raise FakeError(431, BAD_HOST_NAME)
        template = self.find("templates", p["templateid"], p, "templateid")
        offering = self.find("offerings", p["serviceofferingid"], p, "serviceofferingid")
        net = self.find("networks", p["networkids"].split(",")[0], p, "networkids")
        keys = self._key_names(p)
        for key in keys:
            if self._keypair(key) is None:
                raise FakeError(431, f"Unable to find key pair {key}")
        # CS UserVmManagerImpl.checkIfHostNameUniqueInNtwkDomain: one host name per network
        # domain (an account's, by default).
        if any(vm["name"].lower() == name.lower() and vm["state"] not in GONE
               and vm["account"] == self.caller.name for vm in self.tables["vms"].values()):
            raise FakeError(431, f"The vm with hostName {name} already exists in the network "
                                 f"domain: {self.caller.name}.cloud.internal; "
                                 f"network={net['name']}")
        nic = {"id": self.new_id(), "networkid": net["id"], "networkname": net["name"],
               "ipaddress": self._address(net, p.get("ipaddress")), "gateway": net["gateway"],
               "netmask": net["netmask"], "isdefault": True, "traffictype": "Guest",
               "type": "Isolated", "macaddress": "02:00:00:00:00:01"}
        net["state"] = "Implemented"
        return self.owned("vms", name=name, displayname=p.get("displayname") or name,
                          zoneid=p["zoneid"], zonename=self.zone["name"], state="Stopped",
                          templateid=template["id"], templatename=template["name"],
                          serviceofferingid=offering["id"], serviceofferingname=offering["name"],
                          cpunumber=offering["cpunumber"], memory=offering["memory"],
                          nic=[nic], securitygroup=[], keys=keys, hypervisor="KVM",
                          haenable=False)

    def cmd_deployvirtualmachine(self, p: Params, vm: Obj) -> Obj:
        vm["state"] = "Running"
        return {"virtualmachine": self._shown_vm(vm)}

    def failed_deployvirtualmachine(self, vm: Obj) -> None:
        # CS UserVmManagerImpl.updateVmStateForFailedVmCreation: a machine whose start failed
        # is put in Error, and stays.
        vm["state"] = "Error"

    def _vm(self, p: Params) -> Obj:
        need(p, "id")
        return self.find("vms", p["id"], p)

    def cmd_destroyvirtualmachine(self, p: Params) -> Obj:
        vm = self._vm(p)
        expunge = flag(p, "expunge")
        # CS UserVmManagerImpl.destroyVm -> VmDestroyPermissionServiceImpl
        # .checkExpungeVmPermission, inside the job: ``expunge`` from anyone but an admin
        # while allow.user.expunge.recover.vm is false is a PermissionDeniedException, which
        # the job reports as 530 (ApiAsyncJobDispatcher.runJob).
        if expunge and not (self.caller.is_admin or self.allow_user_expunge):
            raise FakeError(530, "Account does not have permission for expunging.")
        if vm["state"] in GONE and not expunge:
            return {"virtualmachine": self._shown_vm(vm)}  # "Vm ... is already destroyed"
        for ip in self.tables["ips"].values():
            if ip.get("virtualmachineid") == vm["id"]:
                ip.update(isstaticnat=False, virtualmachineid=None, vmipaddress=None)
        if expunge:
            del self.tables["vms"][vm["id"]]
            return {"virtualmachine": {**self._shown_vm(vm), "state": "Expunging"}}
        vm.update(state="Destroyed", destroyed_at=time.monotonic())
        self.expunge_due()
        return {"virtualmachine": self._shown_vm(vm)}

    def cmd_startvirtualmachine(self, p: Params) -> Obj:
        vm = self._vm(p)
        vm["state"] = "Running"
        return {"virtualmachine": self._shown_vm(vm)}

    def cmd_stopvirtualmachine(self, p: Params) -> Obj:
        vm = self._vm(p)
        vm["state"] = "Stopped"
        return {"virtualmachine": self._shown_vm(vm)}

    def cmd_rebootvirtualmachine(self, p: Params) -> Obj:
        vm = self._vm(p)
        # CS UserVmManagerImpl.rebootVirtualMachine: InvalidParameterValueException, which
        # the job reports as 431 (ApiAsyncJobDispatcher.runJob).
        if vm["state"] != "Running":
            raise FakeError(431, f"The Instance {vm['id']} ({vm['name']}) is not running, "
                                 "unable to reboot it")
        return {"virtualmachine": self._shown_vm(vm)}

    # -- SSH key pairs -------------------------------------------------------------------------

    def _keypair(self, name: str) -> Obj | None:
        return next((k for k in self.tables["keypairs"].values() if k["name"] == name
                     and k["account"] == self.caller.name), None)

    def cmd_listsshkeypairs(self, p: Params) -> Obj:
        return {"sshkeypair": self._select("keypairs", p)}

    def cmd_registersshkeypair(self, p: Params) -> Obj:
        need(p, "name", "publickey")
        # CS ManagementServerImpl.registerSSHKeyPair: one name per account.
        if self._keypair(p["name"]) is not None:
            raise FakeError(431, f"A key pair with name '{p['name']}' already exists.")
        digest = hashlib.md5(p["publickey"].encode(), usedforsecurity=False).hexdigest()
        pair = self.owned("keypairs", name=p["name"],
                          fingerprint=":".join(digest[i:i + 2] for i in range(0, 32, 2)))
        return {"keypair": pair}

    def cmd_deletesshkeypair(self, p: Params) -> Obj:
        need(p, "name")
        pair = self._keypair(p["name"])
        if pair is None:
            raise FakeError(431, f"A key pair with name '{p['name']}' does not exist for "
                                 f"account {self.caller.name} in specified domain id")
        del self.tables["keypairs"][pair["id"]]
        return {"success": True}

    # -- security groups -----------------------------------------------------------------------

    def cmd_listsecuritygroups(self, p: Params) -> Obj:
        return {"securitygroup": self._select("groups", p, securitygroupname="name")}

    def cmd_createsecuritygroup(self, p: Params) -> Obj:
        need(p, "name")
        # CS SecurityGroupManagerImpl.createSecurityGroup: one name per account.
        if any(g["name"] == p["name"] and g["account"] == self.caller.name
               for g in self.tables["groups"].values()):
            raise FakeError(431, f"Unable to create security group, a group with name "
                                 f"{p['name']} already exists.")
        group = self.owned("groups", name=p["name"], description=p.get("description", ""),
                           ingressrule=[], egressrule=[])
        return {"securitygroup": group}

    def cmd_deletesecuritygroup(self, p: Params) -> Obj:
        group = self.find("groups", p.get("id", ""), p)
        # CS SecurityGroupManagerImpl.deleteSecurityGroup: an account's default group stays.
        if group["name"] == "default":
            raise FakeError(431, "The network default group cannot be deleted")
        del self.tables["groups"][group["id"]]
        return {"success": True}

    def _authorize(self, p: Params, key: str) -> Obj:
        need(p, "securitygroupid")
        group = self.find("groups", p["securitygroupid"], p, "securitygroupid")
        # CS SecurityGroupManagerImpl.authorizeSecurityGroupRule: a CIDR (or a group) is
        # required; the protocol defaults to all; "all" takes no ports (stored 0-0); tcp and
        # udp need both ports (0-0 means 0-65535); a rule the group has already is skipped.
        cidrs = [c for c in p.get("cidrlist", "").split(",") if c]
        if not cidrs:
            raise FakeError(431, "At least one cidr or at least one security group needs to "
                                 "be specified")
        protocol = (p.get("protocol") or "all").strip().lower()
        start, end = port(p, "startport"), port(p, "endport")
        if protocol == "all":
            if start is not None or end is not None:
                raise FakeError(431, "Cannot specify startPort or endPort without specifying "
                                     "protocol")
            start = end = 0
        elif protocol in ("tcp", "udp"):
            if start is None or end is None:
                raise FakeError(431, f"Invalid port range specified, startPort = {start}, "
                                     f"endPort = {end}")
            if start == 0 and end == 0:
                end = 65535
            if start > end or start < 0 or end > 65535:
                raise FakeError(431, f"Invalid port range {start}:{end}")
        else:
            raise FakeError(431, f"Invalid protocol {protocol}")
        added = []
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise FakeError(431, f"Invalid cidr {cidr}") from None
            rule = {"protocol": protocol, "cidr": cidr, "startport": start, "endport": end}
            if any({k: r.get(k) for k in rule} == rule for r in group[key]):
                continue
            added.append({"ruleid": self.new_id(), **rule, "tags": []})
        # CS AuthorizeSecurityGroupIngressCmd.execute: nothing added is a failure (530).
        if not added:
            raise FakeError(530, "Failed to authorize security group ingress rule(s)"
                            if key == "ingressrule" else
                            "Failed to authorize security group egress rule(s)")
        group[key].extend(added)
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
        # CS FirewallManagerImpl.validateFirewallRule: the address's network must offer the
        # Firewall service; a VPC's addresses are guarded by their tiers' network ACLs
        # (the VPC offerings have no Firewall service), so the rule is refused (431).
        if ip.get("vpcid"):
            raise FakeError(431, "Firewall rules are not supported on VPC addresses: use ACLs")
        start, end = port(p, "startport"), port(p, "endport")
        if end is None:
            end = start
        cidrs = p.get("cidrlist") or "0.0.0.0/0"
        # CS FirewallManagerImpl.detectRulesConflict: two firewall rules of one address with
        # the same protocol, a common source CIDR and overlapping ports are a conflict,
        # NetworkRuleConflictException (537).
        for rule in self.tables["firewall"].values():
            if rule["ipaddressid"] != ip["id"] or rule["protocol"] != p["protocol"].lower():
                continue
            if not set(rule["cidrlist"].split(",")) & set(cidrs.split(",")):
                continue
            theirs = (rule["startport"], rule["endport"])
            if start is None and theirs == (None, None):
                raise FakeError(537, "There is already a firewall rule specified with protocol "
                                     f"= {rule['protocol']} and no ports")
            if None not in (start, end, *theirs) and start <= theirs[1] and theirs[0] <= end:
                raise FakeError(537, f"The range specified, {start}-{end}, conflicts with rule "
                                     f"{rule['number']} which has {theirs[0]}-{theirs[1]}")
        number = 1 + len(self.tables["firewall"])
        made = self.owned("firewall", ipaddressid=ip["id"], ipaddress=ip["ipaddress"],
                          protocol=p["protocol"].lower(), startport=start, endport=end,
                          cidrlist=cidrs, state="Active", number=number,
                          networkid=ip.get("associatednetworkid"))
        return {"firewallrule": made}

    def cmd_deletefirewallrule(self, p: Params) -> Obj:
        rule = self.find("firewall", p.get("id", ""), p)
        del self.tables["firewall"][rule["id"]]
        return {"success": True}

    def cmd_listnetworkacllists(self, p: Params) -> Obj:
        return {"networkacllist": self._select("acl_lists", p, vpcid="vpcid")}

    def cmd_createnetworkacllist(self, p: Params) -> Obj:
        # CS CreateNetworkACLListCmd / NetworkACLServiceImpl.createNetworkACL: a list belongs
        # to one VPC.
        need(p, "name", "vpcid")
        self.find("vpcs", p["vpcid"], p, "vpcid")
        acl = self.add("acl_lists", name=p["name"], description=p.get("description", ""),
                       vpcid=p["vpcid"])
        return {"networkacllist": acl}

    def cmd_replacenetworkacllist(self, p: Params) -> Obj:
        need(p, "aclid", "networkid")
        acl = self.find("acl_lists", p["aclid"], p, "aclid")
        net = self.find("networks", p["networkid"], p, "networkid")
        # CS NetworkACLServiceImpl.replaceNetworkACL: a list of the tier's own VPC (or a
        # default one).
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
        # CS NetworkACLServiceImpl.createNetworkACLItem: the default lists are read-only.
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
        if p.get("id") not in self.tables["acls"]:  # ParamProcessWorker: no such entity
            raise missing("deletenetworkacl", "id", p.get("id", ""))
        del self.tables["acls"][p["id"]]
        return {"success": True}
