"""Routers: create with an optional external gateway, gateway changes, removal."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..model.errors import InUseError, MiniCloudError, ValidationError
from ..model.kinds import INSTANCE, NETWORK, PUBLIC_IP, ROUTER
from ..model.objects import Change, Network, Router
from ..state.claims import Claims
from .base import Manager, Undo, check_name


class RouterManager(Manager):
    def all(self, cloud: str | None = None) -> list[Router]:
        return sorted(self.cache.all(ROUTER, self.known(cloud)),
                      key=lambda r: (r.name, r.cloud))

    def external_networks(self, cloud: str) -> list[Network]:
        return sorted((n for n in self.cache.all(NETWORK, cloud) if n.external),
                      key=lambda n: n.name)

    def _gateway(self, cloud: str, name: str) -> Network:
        network = self.find(NETWORK, name, cloud)
        if not network.external:
            raise ValidationError(f"{name} is not an external network; external networks: "
                                  f"{', '.join(n.name for n in self.external_networks(cloud))}")
        return network

    def check_new_name(self, cloud: str, name: str) -> str:
        """The name of a router to create in ``cloud``: valid and free."""
        return self._check_new_name("router", cloud, name)

    def create(self, cloud: str, name: str, gateway: str | None = None) -> Router:
        self.cloud(cloud)
        check_name(name, "router name")
        self.require(cloud, "routers", "have routers")
        self.check_new_name(cloud, name)
        network = self._gateway(cloud, gateway) if gateway else None
        intent = self.work.begin(cloud, f"create router {name}",
                                 claims=[Claims.name("router", name)],
                                 requires=[("network", network.id)] if network else [])
        driver = self.driver(cloud)
        with self.work.running(intent), Undo() as undo:
            router = driver.create_router(name, network.id if network else None)
            undo.push(f"router {name} in cloud {cloud}", partial(driver.delete_router, router.id))
            self.work.settle(intent, puts=[router])
        return self.by_id(ROUTER, cloud, router.id)

    # -- what the gateway actions apply to (a front end offers only these) -------------------

    def gateway_refusal(self, router: Router,
                        network: Network | None = None) -> ValidationError | None:
        """Why setting a gateway on ``router`` (``network``, when given) would be refused
        now, or None."""
        if network is not None and router.gateway_network_id == network.id:
            return ValidationError(f"{network.name} is the gateway of {router.name} already")
        if router.gateway_network_id:
            if not self.features(router.cloud).clear_gateway:
                return ValidationError(f"router {router.name} keeps the gateway it has: cloud "
                                       f"{router.cloud} ({self.cloud(router.cloud).type}) "
                                       "cannot clear a router's gateway")
            return ValidationError(f"router {router.name} has a gateway already; clear it "
                                   "first")
        if not router.owned:
            # Reset puts someone else's router back by clearing the gateway set on it.
            return self.lacks(router.cloud, "clear_gateway",
                              f"clear a router's gateway: Reset could not take back one set "
                              f"on router {router.name}, which MiniCloud did not create")
        return None

    def routers_for_gateway(self) -> list[Router]:
        """The routers a gateway can be set on now."""
        return [r for r in self.all() if self.gateway_refusal(r) is None
                and self.gateways_for(r)]

    def gateways_for(self, router: Router) -> list[Network]:
        """The external networks that can become ``router``'s gateway."""
        return [n for n in self.external_networks(router.cloud)
                if self.gateway_refusal(router, n) is None]

    def clear_refusal(self, router: Router) -> MiniCloudError | None:
        """Why clearing ``router``'s gateway would be refused now, or None."""
        lacking = self.lacks(router.cloud, "clear_gateway", "clear a router's gateway")
        if lacking is not None:
            return lacking
        if not router.gateway_network_id:
            return ValidationError(f"router {router.name} has no gateway")
        try:
            self._check_no_public_ips(router)
        except InUseError as err:
            return err
        return None

    def routers_to_clear(self) -> list[Router]:
        """The routers whose gateway can be cleared now."""
        return [r for r in self.all() if self.clear_refusal(r) is None]

    def set_gateway(self, router: Router, network_name: str) -> Router:
        network = self._gateway(router.cloud, network_name)
        refusal = self.gateway_refusal(router, network)
        if refusal is not None:
            raise refusal
        change = None if router.owned else Change.gateway(router, network.id)
        driver = self.driver(router.cloud)

        def set_it(undo: Undo) -> list[Any]:
            updated = driver.set_router_gateway(router.id, network.id)
            undo.push(f"gateway of router {router.name}",
                      partial(driver.clear_router_gateway, router.id))
            return [updated]

        self.change_in_place(router.cloud, f"set the gateway of router {router.name}", change,
                             [("router", router.id), ("network", network.id)], set_it)
        return self.by_id(ROUTER, router.cloud, router.id)

    def clear_gateway(self, router: Router) -> Router:
        refusal = self.clear_refusal(router)
        if refusal is not None:
            raise refusal
        previous = router.gateway_network_id or ""  # set: clear_refusal says so
        change = None if router.owned else \
            Change.of(router.cloud, "gateway_removed", router.id, previous)
        driver = self.driver(router.cloud)

        def clear_it(undo: Undo) -> list[Any]:
            updated = driver.clear_router_gateway(router.id)
            undo.push(f"gateway of router {router.name}",
                      partial(driver.set_router_gateway, router.id, previous))
            return [updated]

        self.change_in_place(router.cloud, f"clear the gateway of router {router.name}", change,
                             [("router", router.id)], clear_it)
        return self.by_id(ROUTER, router.cloud, router.id)

    def _check_no_public_ips(self, router: Router) -> None:
        nets = set(router.interface_network_ids)
        users = sorted(i.name for i in self.cache.all(INSTANCE, router.cloud)
                       if any(n.network_id in nets for n in i.nics)
                       and any(f.instance_id == i.id
                               for f in self.cache.all(PUBLIC_IP, router.cloud)))
        if users and router.gateway_network_id:
            raise InUseError(f"router {router.name} carries public IPs of "
                             f"{', '.join(users)}; release them first")

    def _check_networks_can_leave(self, router: Router) -> None:
        """Where a network leaves its router only by being deleted (features.detach_network
        false), a router with networks is refused: removing it must not delete them."""
        if not router.interface_network_ids or self.features(router.cloud).detach_network:
            return
        names = sorted(net.name if net is not None else net_id
                       for net_id in router.interface_network_ids
                       for net in [self.cache.get(NETWORK, router.cloud, net_id)])
        raise InUseError(f"router {router.name} has networks that cannot leave it in cloud "
                         f"{router.cloud}: {', '.join(names)}; remove them first")

    def check_removable(self, router: Router) -> None:
        """Refuse (as remove does) a router MiniCloud did not create, one carrying public IPs,
        one whose networks cannot leave it: a front end asks this before its confirmation."""
        if not router.owned:
            raise ValidationError(f"MiniCloud did not create router {router.name}; it stays")
        self._check_no_public_ips(router)
        self._check_networks_can_leave(router)

    def remove(self, router: Router) -> None:
        """Remove a router MiniCloud created, detaching its networks first (refused while it
        has networks where the type cannot detach them)."""
        self.check_removable(router)
        intent = self.work.begin(router.cloud, f"remove router {router.name}",
                                 requires=[("router", router.id)])
        driver = self.driver(router.cloud)
        with self.work.running(intent):
            with Undo() as undo:
                for net_id in list(router.interface_network_ids):
                    driver.remove_router_interface(router.id, net_id)
                    undo.push(f"interface of router {router.name}",
                              partial(driver.add_router_interface, router.id, net_id))
                driver.delete_router(router.id)
            # The router is gone: from here on only the store and cache follow.
            self.work.settle(intent, deletes=[router, *self.changes_of(router.cloud,
                                                                          router.id)])
