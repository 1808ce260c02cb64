"""The fake's Nova and Glance: servers, flavors, availability zones, key pairs, images."""

from __future__ import annotations

import base64
import copy
import hashlib
import ipaddress
import re
import uuid
from typing import Any
from urllib.parse import urlencode

from tests.drivers.fake_common import (
    COMPUTE,
    IMAGE,
    Ctx,
    FakeError,
    Reply,
    new_id,
    utc_now,
)


def compute_v21(max_microversion: str) -> dict[str, Any]:
    return {"id": "v2.1", "status": "CURRENT", "version": max_microversion,
            "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{COMPUTE}/v2.1/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}]}


def server_summary(server: dict[str, Any]) -> dict[str, Any]:
    return {"id": server["id"], "name": server["name"], "links": server["links"]}


def keypair_view(keypair: dict[str, Any]) -> dict[str, Any]:
    return {k: keypair[k] for k in ("name", "public_key", "fingerprint", "type")}


def fingerprint_of(public_key: str) -> str:
    parts = public_key.split()
    try:
        blob = base64.b64decode(parts[1], validate=True) if len(parts) > 1 else b""
    except ValueError:
        blob = b""
    digest = hashlib.md5(blob or public_key.encode()).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


class FakeNova:
    """Nova's and Glance's handlers; the state they serve lives on the fake (FakeOpenStack)."""

    # -- Nova ----------------------------------------------------------------------------------

    def _compute_version(self, ctx: Ctx) -> Reply:
        return 200, {"version": compute_v21(self.max_microversion)}, {}

    def _compute_versions(self, ctx: Ctx) -> Reply:
        return 200, {"versions": [compute_v21(self.max_microversion)]}, {}

    def _list_servers(self, ctx: Ctx, detail: str | None) -> Reply:
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
            "servers": [self._server_view(s, ctx) if detail else server_summary(s)
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

    def _get_server(self, ctx: Ctx, server_id: str) -> Reply:
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

    def _get_metadata(self, ctx: Ctx, server_id: str) -> Reply:
        return 200, {"metadata": dict(self._server(server_id)["metadata"])}, {}

    def _server_view(self, server: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
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

    def _post_server(self, ctx: Ctx) -> Reply:
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
        ident = new_id()
        now = utc_now()
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
                                   if net.get("fixed_ip") else []})
        except FakeError as err:
            # Nova answers 400 for a fixed IP it cannot give (never another address): in use
            # (Nova's FixedIpAlreadyInUse) or not an address of the network (Neutron's words).
            self._remove_server(ident)
            if err.status == 409 and "already allocated" in str(err):
                taken = next(n["fixed_ip"] for n in requested if n.get("fixed_ip"))
                raise FakeError(400, f"Fixed IP address {taken} is already in use on "
                                     "instance.") from None
            raise
        return server

    def _delete_server(self, ctx: Ctx, server_id: str) -> Reply:
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

    def _server_action(self, ctx: Ctx, server_id: str) -> Reply:
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

    def _list_flavors(self, ctx: Ctx, detail: str | None) -> Reply:
        if detail:
            return 200, {"flavors": list(self.flavors.values())}, {}
        return 200, {"flavors": [{"id": f["id"], "name": f["name"], "links": f["links"]}
                                 for f in self.flavors.values()]}, {}

    def _get_flavor(self, ctx: Ctx, flavor_id: str) -> Reply:
        if flavor_id not in self.flavors:
            raise FakeError(404, f"Flavor {flavor_id} could not be found.")
        return 200, {"flavor": self.flavors[flavor_id]}, {}

    def _list_zones(self, ctx: Ctx) -> Reply:
        return 200, {"availabilityZoneInfo": [
            {"zoneName": zone, "zoneState": {"available": True}, "hosts": None}
            for zone in self.zones]}, {}

    def _list_keypairs(self, ctx: Ctx) -> Reply:
        return 200, {"keypairs": [{"keypair": keypair_view(k)}
                                  for k in self.keypairs.values()]}, {}

    def _get_keypair(self, ctx: Ctx, name: str) -> Reply:
        if name not in self.keypairs:
            raise FakeError(404, f"Keypair {name} not found for user {self.user_id}")
        keypair = dict(keypair_view(self.keypairs[name]), id=1, deleted=False)
        return 200, {"keypair": keypair}, {}

    def _create_keypair(self, ctx: Ctx) -> Reply:
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
                   "fingerprint": fingerprint_of(public_key), "user_id": self.user_id}
        self.keypairs[name] = keypair
        reply = dict(keypair)
        if private_key:
            reply["private_key"] = private_key
        return 200, {"keypair": reply}, {}

    def _delete_keypair(self, ctx: Ctx, name: str) -> Reply:
        if name not in self.keypairs:
            raise FakeError(404, f"Keypair {name} not found for user {self.user_id}")
        del self.keypairs[name]
        return 202, None, {}

    # -- Glance --------------------------------------------------------------------------------

    def _image_versions(self, ctx: Ctx) -> Reply:
        versions = [{"id": v, "status": "CURRENT" if v == "v2.9" else "SUPPORTED",
                     "links": [{"rel": "self", "href": f"{IMAGE}/v2/"}]}
                    for v in ("v2.9", "v2.1", "v2.0")]
        return 300, {"versions": versions}, {}

    def _list_images(self, ctx: Ctx) -> Reply:
        return 200, {"images": list(self.images.values()), "schema": "/v2/schemas/images",
                     "first": "/v2/images"}, {}

    def _get_image(self, ctx: Ctx, image_id: str) -> Reply:
        if image_id not in self.images:
            raise FakeError(404, f"No image found with ID {image_id}")
        return 200, self.images[image_id], {}
