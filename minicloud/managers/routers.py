"""Routers: create with an optional external gateway, gateway changes, removal."""

from __future__ import annotations

from functools import partial

from ..errors import InUseError, ValidationError
from ..model import Change, Network, Router
from .base import Manager, Undo, check_name


class RouterManager(Manager):
    def all(self, cloud: str | None = None) -> list[Router]:
        return sorted(self.cache.all("router", cloud), key=lambda r: (r.name, r.cloud))

    def external_networks(self, cloud: str) -> list[Network]:
        return sorted((n for n in self.cache.all("network", cloud) if n.external),
                      key=lambda n: n.name)

    def _gateway(self, cloud: str, name: str) -> Network:
        network = self.find("network", name, cloud)
        if not network.external:
            raise ValidationError(f"{name} is not an external network; external networks: "
                                  f"{', '.join(n.name for n in self.external_networks(cloud))}")
        return network

    def create(self, cloud: str, name: str, gateway: str | None = None) -> Router:
        self.cloud(cloud)
        check_name(name, "router name")
        if self.name_taken("router", cloud, name):
            raise ValidationError(f"a router named {name!r} exists already in cloud {cloud}")
        gateway_id = self._gateway(cloud, gateway).id if gateway else None
        driver = self.driver(cloud)
        with Undo() as undo:
            router = driver.create_router(name, gateway_id)
            undo.push(f"router {name} in cloud {cloud}", lambda: driver.delete_router(router.id))
            with self.session.inventory.write() as tx:
                tx.put(router)
        return self.by_id("router", cloud, router.id)

    def set_gateway(self, router: Router, network_name: str) -> Router:
        network = self._gateway(router.cloud, network_name)
        if router.gateway_network_id == network.id:
            raise ValidationError(f"{network.name} is the gateway of {router.name} already")
        if router.gateway_network_id:
            raise ValidationError(f"router {router.name} has a gateway already; clear it first")
        driver = self.driver(router.cloud)
        with Undo() as undo:
            updated = driver.set_router_gateway(router.id, network.id)
            undo.push(f"gateway of router {router.name}",
                      lambda: driver.clear_router_gateway(router.id))
            with self.session.inventory.write() as tx:
                tx.put(updated)
                if not router.owned:
                    tx.put(Change.gateway(router, network.id))
        return self.by_id("router", router.cloud, router.id)

    def clear_gateway(self, router: Router) -> Router:
        if not router.gateway_network_id:
            raise ValidationError(f"router {router.name} has no gateway")
        self._check_no_public_ips(router)
        driver = self.driver(router.cloud)
        previous = router.gateway_network_id
        with Undo() as undo:
            updated = driver.clear_router_gateway(router.id)
            undo.push(f"gateway of router {router.name}",
                      lambda: driver.set_router_gateway(router.id, previous))
            with self.session.inventory.write() as tx:
                tx.put(updated)
                change = self.cache.get("change", router.cloud, Change.gateway_id(router.id))
                if change is not None:
                    tx.delete(change)
        return self.by_id("router", router.cloud, router.id)

    def _check_no_public_ips(self, router: Router) -> None:
        nets = set(router.interface_network_ids)
        users = sorted(i.name for i in self.cache.all("instance", router.cloud)
                       if any(n.network_id in nets for n in i.nics)
                       and any(f.instance_id == i.id
                               for f in self.cache.all("public_ip", router.cloud)))
        if users and router.gateway_network_id:
            raise InUseError(f"router {router.name} carries public IPs of "
                             f"{', '.join(users)}; release them first")

    def remove(self, router: Router) -> None:
        """Remove a router MiniCloud created, detaching its networks first."""
        if not router.owned:
            raise ValidationError(f"MiniCloud did not create router {router.name}; it stays")
        self._check_no_public_ips(router)
        driver = self.driver(router.cloud)
        with Undo() as undo:
            for net_id in list(router.interface_network_ids):
                driver.remove_router_interface(router.id, net_id)
                undo.push(f"interface of router {router.name}",
                          partial(driver.add_router_interface, router.id, net_id))
            driver.delete_router(router.id)
        with self.session.inventory.write() as tx:
            tx.delete(router)
