"""Networks (with CIDR rules), router attachment, and public IPs."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..model.codec import to_dict
from ..model.errors import InUseError, MiniCloudError, ValidationError
from ..model.kinds import INSTANCE, NETWORK, PUBLIC_IP, ROUTER
from ..model.objects import Change, Network, PublicIP, Router
from ..model.validation import parse_cidr
from ..state.cache import clone
from ..state.claims import Claims
from .base import Manager, Undo

__all__ = ["NetworkManager", "parse_cidr"]


class NetworkManager(Manager):
    def all(self, cloud: str | None = None) -> list[Network]:
        return sorted(self.cache.all(NETWORK, self.known(cloud)),
                      key=lambda n: (n.name, n.cloud))

    def name_of(self, cloud: str, network_id: str | None) -> str | None:
        """A network's name (its id when MiniCloud does not know it; None for no network)."""
        if not network_id:
            return None
        net = self.cache.get(NETWORK, cloud, network_id)
        return net.name if net is not None else network_id

    def routers_of(self, network: Network) -> list[Router]:
        return [r for r in self.cache.all(ROUTER, network.cloud)
                if network.id in r.interface_network_ids]

    def check_cidr(self, cloud: str, cidr: str) -> str:
        """A valid CIDR that overlaps no network of ``cloud`` (asked as soon as it is typed;
        the same claim is checked again under the lock)."""
        net = str(parse_cidr(cidr))
        self.early(Claims.cidr(net), cloud)
        return net

    def check_new_name(self, cloud: str, name: str) -> str:
        """The name of a network to create in ``cloud``: valid and free."""
        return self._check_new_name("network", cloud, name)

    def create(self, cloud: str, name: str, cidr: str, router: str | None = None) -> Network:
        self.cloud(cloud)
        self.check_new_name(cloud, name)
        cidr = self.check_cidr(cloud, cidr)
        target = self.find(ROUTER, router, cloud) if router else None
        changes = [] if target is None or target.owned else [
            {**to_dict(Change.of(cloud, "interface", target.id)), "network_name": name}]
        intent = self.work.begin(cloud, f"create network {name}",
                                 claims=[Claims.name("network", name), Claims.cidr(cidr)],
                                 changes=changes,
                                 requires=[("router", target.id)] if target else [])
        with self.work.running(intent), Undo() as undo:
            puts = self._make(undo, cloud, name, cidr, target)
            self.work.settle(intent, puts=puts)
        return self.by_id(NETWORK, cloud, puts[0].id)

    def _make(self, undo: Undo, cloud: str, name: str, cidr: str,
              router: Router | None) -> list[Any]:
        """Create the network, on ``router`` if given; returns the network first, then what
        changed on the router.  A type that cannot attach an existing network gets it born on
        the router in one call; others get it created, then attached (two undoable steps)."""
        driver = self.driver(cloud)
        born_on = router is not None and not self.features(cloud).attach_network
        network = driver.create_network(name, cidr, router.id if born_on and router else None)
        undo.push(f"network {name} in cloud {cloud}", partial(driver.delete_network, network.id))
        if router is None:
            return [network]
        if born_on:
            return [network, *self._joined(router, network)]
        return [network, *self._attach(undo, router, network)]

    @staticmethod
    def _joined(router: Router, network: Network) -> list[Any]:
        """The router with a network born on it (as the next sync would read it), and the
        change record when the router is someone else's (Reset deletes the network)."""
        updated = clone(router)
        updated.interface_network_ids.append(network.id)
        return [updated] if router.owned else [updated, Change.interface(router, network.id)]

    # -- what attach and detach apply to (a front end offers only these) ---------------------

    def attach_refusal(self, network: Network, router: Router) -> MiniCloudError | None:
        """Why ``attach(network, router)`` would be refused now, or None."""
        if network.cloud != router.cloud:
            return ValidationError(f"network {network.name} and router {router.name} are in "
                                   "different clouds")
        lacking = self.lacks(router.cloud, "attach_network",
                             "attach an existing network to a router")
        if lacking is not None:
            return lacking
        if network.external:
            return ValidationError(f"{network.name} is an external network: set it as the "
                                   "router's gateway instead")
        if network.id in router.interface_network_ids:
            return ValidationError(f"network {network.name} is attached to {router.name} "
                                   "already")
        return None

    def routers_taking(self, network: Network) -> list[Router]:
        """The routers ``network`` can be attached to."""
        return [r for r in self._routers(network.cloud)
                if self.attach_refusal(network, r) is None]

    def attachable(self, router: Router | None = None) -> list[Network]:
        """The networks that can be attached to ``router`` (to some router, without one)."""
        if router is not None:
            return [n for n in self.all(router.cloud) if self.attach_refusal(n, router) is None]
        return [n for n in self.all() if self.routers_taking(n)]

    def routers_to_attach_to(self) -> list[Router]:
        """The routers some network can be attached to."""
        return [r for r in self._routers(None) if self.attachable(r)]

    def detach_refusal(self, network: Network, router: Router) -> MiniCloudError | None:
        """Why ``detach(network, router)`` would be refused now, or None."""
        lacking = self.lacks(router.cloud, "detach_network",
                             "detach a network from its router (remove the network instead)")
        if lacking is not None:
            return lacking
        if network.id not in router.interface_network_ids:
            return ValidationError(f"network {network.name} is not attached to {router.name}")
        users = [i.name for i in self._instances_on(network)
                 if self._public_ips_of(i.id, network.cloud)]
        if users:
            return InUseError(f"instances on {network.name} use public IPs through "
                              f"{router.name}: {', '.join(sorted(users))}; release them first")
        return None

    def routers_releasing(self, network: Network) -> list[Router]:
        """The routers ``network`` can be detached from."""
        return [r for r in self.routers_of(network) if self.detach_refusal(network, r) is None]

    def detachable(self, router: Router | None = None) -> list[Network]:
        """The networks that can be detached from ``router`` (from some router, without one)."""
        if router is not None:
            return [n for n in self.all(router.cloud) if self.detach_refusal(n, router) is None]
        return [n for n in self.all() if self.routers_releasing(n)]

    def routers_to_detach_from(self) -> list[Router]:
        """The routers some network can be detached from."""
        return [r for r in self._routers(None) if self.detachable(r)]

    def _routers(self, cloud: str | None) -> list[Router]:
        return sorted(self.cache.all(ROUTER, self.known(cloud)),
                      key=lambda r: (r.name, r.cloud))

    def attach(self, network: Network, router: Router) -> Router:
        refusal = self.attach_refusal(network, router)
        if refusal is not None:
            raise refusal
        change = None if router.owned else Change.interface(router, network.id)
        self.change_in_place(router.cloud,
                             f"attach network {network.name} to router {router.name}", change,
                             [("router", router.id), ("network", network.id)],
                             lambda undo: self._attach(undo, router, network)[:1])
        return self.by_id(ROUTER, router.cloud, router.id)

    def _attach(self, undo: Undo, router: Router, network: Network) -> list[Any]:
        """Add the interface; returns the router as the cloud now reports it, and the change
        record when the router is someone else's."""
        driver = self.driver(router.cloud)
        updated = driver.add_router_interface(router.id, network.id)
        undo.push(f"interface of {network.name} on router {router.name}",
                  partial(driver.remove_router_interface, router.id, network.id))
        if router.owned:
            return [updated]
        return [updated, Change.interface(router, network.id)]

    def detach(self, network: Network, router: Router) -> Router:
        refusal = self.detach_refusal(network, router)
        if refusal is not None:
            raise refusal
        change = None if router.owned else \
            Change.of(router.cloud, "interface_removed", router.id, network.id)
        driver = self.driver(router.cloud)

        def detach_it(undo: Undo) -> list[Any]:
            updated = driver.remove_router_interface(router.id, network.id)
            undo.push(f"interface of {network.name} on router {router.name}",
                      partial(driver.add_router_interface, router.id, network.id))
            return [updated]

        self.change_in_place(router.cloud,
                             f"detach network {network.name} from router {router.name}", change,
                             [("router", router.id), ("network", network.id)], detach_it)
        return self.by_id(ROUTER, router.cloud, router.id)

    def _instances_on(self, network: Network) -> list[Any]:
        return [i for i in self.cache.holding(INSTANCE, network.cloud, "network_id",
                                              network.id)
                if any(n.network_id == network.id for n in i.nics)]

    def _leave(self, undo: Undo, network: Network, routers: list[Router]) -> None:
        """Detach the network from each router (put back if a later step fails)."""
        driver = self.driver(network.cloud)
        for router in routers:
            driver.remove_router_interface(router.id, network.id)
            undo.push(f"interface of {network.name} on router {router.name}",
                      partial(driver.add_router_interface, router.id, network.id))

    def _public_ips_of(self, instance_id: str, cloud: str) -> list[PublicIP]:
        return [f for f in self.cache.all(PUBLIC_IP, cloud) if f.instance_id == instance_id]

    def check_removable(self, network: Network) -> None:
        """Refuse (as remove does) a network MiniCloud did not create, one with instances, a
        router's gateway: a front end asks this before its confirmation."""
        if not network.owned:
            raise ValidationError(f"MiniCloud did not create network {network.name}; it stays")
        users = sorted(i.name for i in self._instances_on(network))
        if users:
            raise InUseError(f"network {network.name} has instances: {', '.join(users)}; "
                             "remove them first")
        if any(r.gateway_network_id == network.id for r in self.cache.all(ROUTER,
                                                                          network.cloud)):
            raise InUseError(f"network {network.name} is a router's gateway; clear it first")

    def remove(self, network: Network) -> None:
        """Remove a network MiniCloud created, detaching it from its routers first (where the
        type cannot detach, deleting it takes it off its router)."""
        self.check_removable(network)
        intent = self.work.begin(network.cloud, f"remove network {network.name}",
                                 requires=[("network", network.id)])
        driver = self.driver(network.cloud)
        routers = self.routers_of(network)
        with self.work.running(intent):
            with Undo() as undo:
                if self.features(network.cloud).detach_network:
                    self._leave(undo, network, routers)
                driver.delete_network(network.id)
            # The network is gone: from here on only the store and cache follow.
            puts: list[Any] = []
            deletes: list[Any] = [network]
            for router in routers:
                updated = clone(router)
                updated.interface_network_ids.remove(network.id)
                puts.append(updated)
                deletes += [c for c in self.changes_of(router.cloud, router.id)
                            if c.network_id == network.id]
            self.work.settle(intent, puts=puts, deletes=deletes)
