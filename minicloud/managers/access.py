"""Reaching an instance: a public IP where its network is routed out, SSH allowed by
MiniCloud's ``public_ssh`` group, the login user, and the ssh command (DESIGN.md section 3.5)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..model.errors import CONFLICT, DriverError, InUseError, ValidationError
from ..model.kinds import IMAGE, INSTANCE, NETWORK, PUBLIC_IP, ROUTER, SECURITY_GROUP
from ..model.names import PUBLIC_SSH
from ..model.objects import (
    Change,
    Instance,
    Intent,
    Network,
    PublicIP,
    Router,
    SecurityGroup,
    State,
)
from ..model.validation import check_login_user
from ..state.claims import Claims
from .base import Manager, Undo
from .groups import public_ssh

if TYPE_CHECKING:
    from .public_ips import PublicIPManager
    from .session import Session

T = TypeVar("T")

# Login users of well-known images, when the image's properties do not say.
KNOWN_USERS = {"cirros": "cirros", "ubuntu": "ubuntu", "debian": "debian", "centos": "centos",
               "fedora": "fedora", "rocky": "rocky", "almalinux": "almalinux"}


# How long a connect waits for another session's write that makes what it needs too (the
# cloud's public_ssh group) before it says so.
WAIT_FOR_OTHERS = 30.0

# The keys ssh tries by default, in its order (the private half is what logs in).
SSH_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")


def find_ssh_key() -> Path | None:
    """The user's default SSH private key, or None when ssh would have none to offer."""
    return next((p for p in (Path.home() / ".ssh" / n for n in SSH_KEYS) if p.is_file()), None)


@dataclass
class ConnectPlan:
    instance: Instance
    address: str
    user: str
    command: list[str]
    # False on clouds with no hosts (Stub): the command is only shown.
    runnable: bool
    # What connect did, and what it could not, for the front end to say.
    public: bool = False  # ``address`` is a public IP
    gave_public_ip: bool = False  # taken or allocated by this connect
    opened_ssh: bool = False  # public_ssh added to the instance by this connect
    # Why the private address is used: the router on its network that has no gateway, or
    # None when no router is attached to its networks at all.
    router_without_gateway: str | None = None
    ssh_key: Path | None = field(default_factory=find_ssh_key)


@dataclass
class _Plan:
    """What one access write will do, decided before its intent."""

    fip: PublicIP | None = None  # a free public IP to take, or None to allocate
    allocate: bool = False
    address: str | None = None
    external: Network | None = None
    # The router that routes the instance out: a type that acquires addresses for a router
    # needs it to allocate one (see Driver.allocate_public_ip).
    router: Router | None = None
    ssh: bool = False  # add public_ssh to the server


class AccessManager(Manager):
    def __init__(self, session: Session, public_ips: PublicIPManager):
        super().__init__(session)
        self.public_ips = public_ips

    def public_ip_of(self, instance: Instance) -> PublicIP | None:
        return next((f for f in self.cache.all(PUBLIC_IP, instance.cloud)
                     if f.instance_id == instance.id), None)

    def gateway_network(self, instance: Instance) -> Network | None:
        """The external network the instance's networks are routed to, if any."""
        route = self.route(instance)
        return route[1] if route is not None else None

    def route(self, instance: Instance) -> tuple[Router, Network] | None:
        """The router that routes one of the instance's networks out, and its external
        network (the first router by name); None when none does."""
        for nic in instance.nics:
            for router in sorted(self.cache.all(ROUTER, instance.cloud), key=lambda r: r.name):
                if nic.network_id in router.interface_network_ids and router.gateway_network_id:
                    external = self.cache.get(NETWORK, instance.cloud,
                                              router.gateway_network_id)
                    if external is not None:
                        return router, external
        return None

    # -- planning ------------------------------------------------------------------------------

    def _plan_ip(self, instance: Instance, address: str | None,
                 passed: frozenset[str] = frozenset()) -> _Plan:
        current = self.public_ip_of(instance)
        if current is not None:
            if address and current.name != address:
                raise ValidationError(f"instance {instance.name} has public IP {current.name}")
            return _Plan()
        self.require(instance.cloud, "public_ips", "give public IPs")
        external, router = self._routed(instance)
        if address is not None:
            address = self._check_address(instance, external, router, address)
        # An address held for another router (a VPC's) cannot serve this instance.
        free = sorted((f for f in self.cache.all(PUBLIC_IP, instance.cloud)
                       if f.network_id == external.id and not f.instance_id
                       and f.router_id in (None, router.id) and f.id not in passed
                       and (address is None or f.name == address)),
                      key=lambda f: (not f.owned, f.name))
        if free:
            return _Plan(fip=free[0], external=external, router=router)
        return _Plan(allocate=True, address=address, external=external, router=router)

    def _check_address(self, instance: Instance, external: Network, router: Router,
                       address: str) -> str:
        """A requested public IP: an address of the external network that no other instance
        holds, and that no other router holds for its own instances."""
        try:
            addr = ipaddress.ip_address(address)
        except ValueError:
            raise ValidationError(f"invalid IP address {address[:45]!r}") from None
        if not any(addr in ipaddress.ip_network(c, strict=False) for c in external.cidrs):
            raise ValidationError(f"{addr} is not in the external network {external.name} "
                                  f"({', '.join(external.cidrs)})")
        self.early(Claims.address(external.id, str(addr)), instance.cloud)
        kept = next((f for f in self.cache.all(PUBLIC_IP, instance.cloud)
                     if f.name == str(addr) and f.router_id not in (None, router.id)), None)
        if kept is not None:
            owner = self.cache.get(ROUTER, instance.cloud, kept.router_id or "")
            raise InUseError(f"public IP {addr} is held for "
                             f"{'router ' + owner.name if owner else 'another router'}, not "
                             f"{router.name} that routes instance {instance.name}")
        return str(addr)

    def _needs_ssh(self, instance: Instance) -> bool:
        groups = [g for g in self.cache.all(SECURITY_GROUP, instance.cloud)
                  if g.name in instance.security_groups]
        return not any(g.allows_ssh() for g in groups)

    def _begin(self, instance: Instance, plan: _Plan, what: str) -> Intent:
        claims, changes = [], []
        if plan.fip is not None:
            claims.append(Claims.taking("public_ip", plan.fip.id))
            if not plan.fip.owned:
                changes.append(Change.association(plan.fip))
        elif plan.allocate and plan.address and plan.external is not None:
            claims.append(Claims.address(plan.external.id, plan.address))
        if plan.ssh:
            claims.append(Claims.ensure("security_group", PUBLIC_SSH))
            if not instance.owned:
                changes.append(Change.of(instance.cloud, "server_group", instance.id,
                                         detail=PUBLIC_SSH))
        requires = [("instance", instance.id)]
        if plan.fip is not None:
            requires.append(("public_ip", plan.fip.id))
        return self.work.begin(instance.cloud, f"{what} {instance.name}", claims=claims,
                               changes=changes, requires=requires)

    # -- doing ---------------------------------------------------------------------------------

    def _take_ip(self, instance: Instance, plan: _Plan, undo: Undo) -> list[Any]:
        driver = self.driver(instance.cloud)
        fip = plan.fip
        if fip is None:
            assert plan.external is not None
            fip = driver.allocate_public_ip(plan.external.id, plan.address,
                                            plan.router.id if plan.router else None)
            undo.push(f"public IP {fip.name} in cloud {instance.cloud}",
                      partial(driver.release_public_ip, fip.id))
        bound = driver.associate_public_ip(fip.id, instance.id)
        undo.push(f"association of {fip.name}", partial(driver.disassociate_public_ip, fip.id))
        return [bound, *([] if fip.owned else [Change.association(fip)])]

    def _open_ssh(self, instance: Instance, undo: Undo) -> list[Any]:
        driver = self.driver(instance.cloud)
        group: SecurityGroup = public_ssh(self, instance.cloud, undo)
        server = driver.add_server_security_group(instance.id, group.id)
        undo.push(f"{PUBLIC_SSH} on instance {instance.name}",
                  partial(driver.remove_server_security_group, instance.id, group.id))
        out: list[Any] = [group, server]
        if not instance.owned:
            out += self.record(Change.of(instance.cloud, "server_group", instance.id,
                                         detail=PUBLIC_SSH))[0]
        return out

    # -- another session first ----------------------------------------------------------------

    def _first_come(self, instance: Instance, address: str | None,
                    plan: Callable[[Instance, frozenset[str]], _Plan],
                    do: Callable[[Instance, _Plan], T]) -> T:
        """``do`` what ``plan`` decides; when another session gets there first, plan again.
        A free public IP it took (or is taking) meanwhile is passed over for the next free
        one, or a new one; while it makes something this needs too (``public_ssh``), this
        waits for it.  An address the user asked for is theirs to retry: refused at once."""
        passed: frozenset[str] = frozenset()
        deadline = time.monotonic() + WAIT_FOR_OTHERS
        delay = 0.1
        while True:
            chosen = plan(instance, passed)
            try:
                return do(instance, chosen)
            except (InUseError, DriverError) as err:
                if address is not None or \
                        (isinstance(err, DriverError) and err.reason != CONFLICT):
                    raise
                fip = chosen.fip
                if fip is not None and fip.id not in passed and \
                        (isinstance(err, DriverError) or self._taken(fip)):
                    passed |= {fip.id}
                elif isinstance(err, InUseError) and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(2 * delay, 1.0)
                else:
                    raise
            # As the store has it now (the failed begin re-read what moved).
            instance = self.by_id(INSTANCE, instance.cloud, instance.id)

    def _taken(self, fip: PublicIP) -> bool:
        """Did another session take ``fip`` since it was planned, or is it taking it?"""
        now = self.cache.get(PUBLIC_IP, fip.cloud, fip.id)
        if now is None or now.instance_id:
            return True
        return self.work.claimed_by_others(fip.cloud, Claims.taking("public_ip", fip.id))

    # -- the writes ----------------------------------------------------------------------------

    def assign_public_ip(self, instance: Instance, address: str | None = None) -> PublicIP:
        """Give the instance a public IP: reuse a free one before allocating."""
        return self._first_come(instance, address,
                                lambda inst, passed: self._plan_ip(inst, address, passed),
                                self._assign)

    def _assign(self, instance: Instance, plan: _Plan) -> PublicIP:
        if plan.fip is None and not plan.allocate:
            current = self.public_ip_of(instance)
            assert current is not None
            return current
        intent = self._begin(instance, plan, "give a public IP to")
        with self.work.running(intent), Undo() as undo:
            puts = self._take_ip(instance, plan, undo)
            self.work.settle(intent, puts=puts)
        return self.by_id(PUBLIC_IP, instance.cloud, puts[0].id)

    def take_back_public_ip(self, instance: Instance) -> None:
        """The instance (one MiniCloud created) loses its public IP: disassociated, then
        released when MiniCloud allocated it (one it only associated is free again, and the
        record of the association goes)."""
        fip = self.public_ip_of(instance)
        if fip is None:
            return
        intent = self.work.begin(instance.cloud, f"take the public IP of {instance.name}",
                                 requires=[("instance", instance.id), ("public_ip", fip.id)])
        driver = self.driver(instance.cloud)
        with self.work.running(intent), Undo() as undo:
            free = driver.disassociate_public_ip(fip.id)
            undo.push(f"association of {fip.name}",
                      partial(driver.associate_public_ip, fip.id, instance.id))
            # Someone else's address MiniCloud associated: nothing is left for Reset to undo.
            self.work.settle(intent, puts=[free], deletes=[
                c for c in self.changes_of(fip.cloud, fip.id) if c.name == "association"])
        if fip.owned:
            self.public_ips.release(self.by_id(PUBLIC_IP, fip.cloud, fip.id))

    def add_security_group(self, instance: Instance, name: str) -> Instance:
        """Give the instance one more security group (``public_ssh`` is made when missing)."""
        if name in instance.security_groups:
            return instance
        ssh = name == PUBLIC_SSH
        group = None if ssh else self.find("security_group", name, instance.cloud)
        change = None if instance.owned else Change.of(instance.cloud, "server_group",
                                                       instance.id, detail=name)
        requires = [("instance", instance.id)] + ([] if group is None else
                                                 [("security_group", group.id)])
        driver = self.driver(instance.cloud)

        def add_it(undo: Undo) -> list[Any]:
            made = public_ssh(self, instance.cloud, undo) if group is None else None
            target = made or group
            assert target is not None
            server = driver.add_server_security_group(instance.id, target.id)
            undo.push(f"{name} on instance {instance.name}",
                      partial(driver.remove_server_security_group, instance.id, target.id))
            return [*([made] if made else []), server]

        self.change_in_place(instance.cloud, f"add security group {name} to {instance.name}",
                             change, requires, add_it,
                             claims=[Claims.ensure("security_group", PUBLIC_SSH)] if ssh
                             else None)
        return self.by_id(INSTANCE, instance.cloud, instance.id)

    def remove_security_group(self, instance: Instance, name: str) -> Instance:
        """Take one security group off the instance (Reset gives it back to an instance
        MiniCloud did not create)."""
        if name not in instance.security_groups:
            return instance
        self.require(instance.cloud, "security_groups", "change an instance's security groups")
        group = self.find("security_group", name, instance.cloud)
        change = None if instance.owned else Change.of(instance.cloud, "server_group_removed",
                                                       instance.id, detail=name)
        driver = self.driver(instance.cloud)

        def remove_it(undo: Undo) -> list[Any]:
            server = driver.remove_server_security_group(instance.id, group.id)
            undo.push(f"{name} back on instance {instance.name}",
                      partial(driver.add_server_security_group, instance.id, group.id))
            return [server]

        self.change_in_place(instance.cloud, f"remove security group {name} from "
                             f"{instance.name}", change,
                             [("instance", instance.id), ("security_group", group.id)],
                             remove_it)
        return self.by_id(INSTANCE, instance.cloud, instance.id)

    def asks_public_ip(self, instance: Instance) -> bool:
        """Whether connect would give the instance a public IP, and its cloud's type lets
        the user name the address (a front end then asks which; empty: any free one)."""
        return (self.public_ip_of(instance) is None and self.route(instance) is not None
                and self.features(instance.cloud).public_ip_by_address)

    def check_public_ip(self, instance: Instance, address: str) -> str:
        """A public IP typed for the instance, checked as connect checks it."""
        return self._check_address(instance, *self._routed(instance), address)

    def _routed(self, instance: Instance) -> tuple[Network, Router]:
        route = self.route(instance)
        if route is None:
            raise ValidationError(f"instance {instance.name} is on no network routed to an "
                                  "external network; attach its network to a router with a "
                                  "gateway")
        return route[1], route[0]

    def connectable(self) -> list[Instance]:
        """The instances ``connect`` applies to now."""
        return [i for i in sorted(self.cache.all(INSTANCE), key=lambda i: (i.name, i.cloud))
                if self.connect_refusal(i) is None]

    def connect_refusal(self, instance: Instance) -> ValidationError | None:
        """Why ``connect`` would refuse the instance now, or None."""
        if instance.status == State.SHUTOFF:
            return ValidationError(f"instance {instance.name} is stopped: start it first")
        return None

    def connect(self, instance: Instance, user: str | None = None,
                address: str | None = None) -> ConnectPlan:
        """Public IP where the network is routed out, SSH access, then the ssh command.  The
        intent is settled before ssh runs."""
        refusal = self.connect_refusal(instance)
        if refusal is not None:
            raise refusal
        if user:  # every argument is checked before the first cloud call
            user = check_login_user(user)
        routed = self.gateway_network(instance) is not None or bool(address)

        def plan(inst: Instance, passed: frozenset[str]) -> _Plan:
            chosen = self._plan_ip(inst, address, passed) if routed else _Plan()
            chosen.ssh = self._needs_ssh(inst)
            return chosen

        plan_done, ip = self._first_come(instance, address, plan, partial(self._open, routed))
        if not ip:
            raise ValidationError(f"instance {instance.name} has no address to connect to")
        instance = self.by_id(INSTANCE, instance.cloud, instance.id)
        user = user or self.login_user(instance) or "root"
        command = [*self.session.config.ssh_command, f"{user}@{ip}"]
        gave = plan_done.fip is not None or plan_done.allocate
        return ConnectPlan(instance, ip, user, command, self.features(instance.cloud).hosts,
                           public=routed, gave_public_ip=gave, opened_ssh=plan_done.ssh,
                           router_without_gateway=None if routed else self._stuck(instance))

    def _open(self, routed: bool, instance: Instance,
              plan: _Plan) -> tuple[_Plan, str | None]:
        """Connect's write: the public IP and SSH access ``plan`` says; the plan done and the
        address to use."""
        ip = instance.private_ip
        if routed and plan.fip is None and not plan.allocate:
            current = self.public_ip_of(instance)
            ip = current.name if current is not None else ip
        if plan.fip is not None or plan.allocate or plan.ssh:
            intent = self._begin(instance, plan, "open SSH to")
            with self.work.running(intent), Undo() as undo:
                puts: list[Any] = []
                if plan.fip is not None or plan.allocate:
                    puts += self._take_ip(instance, plan, undo)
                    ip = puts[0].name
                if plan.ssh:
                    puts += self._open_ssh(instance, undo)
                self.work.settle(intent, puts=puts)
        return plan, ip

    def _stuck(self, instance: Instance) -> str | None:
        """The router attached to one of the instance's networks that has no gateway."""
        return next((r.name for r in sorted(self.cache.all(ROUTER, instance.cloud),
                                            key=lambda r: r.name)
                     if not r.gateway_network_id
                     and any(n.network_id in r.interface_network_ids for n in instance.nics)),
                    None)

    # -- who logs in ---------------------------------------------------------------------------

    def login_user(self, instance: Instance) -> str | None:
        image = next((i for i in self.cache.all(IMAGE, instance.cloud)
                      if i.name == instance.image), None)
        if image is not None:
            for prop in ("os_admin_user", "default_user"):
                if image.properties.get(prop):
                    # The image is the cloud's text: it reaches ssh only if it is a user name.
                    return check_login_user(str(image.properties[prop]),
                                            f"login user of image {image.name} ({prop})")
        if self.session.config.ssh_user:
            return self.session.config.ssh_user
        lowered = instance.image.lower()
        return next((user for key, user in KNOWN_USERS.items() if key in lowered), None)

    def asks_login_user(self, instance: Instance) -> bool:
        """True when connect would have to guess the login user of a real host."""
        return self.login_user(instance) is None and self.features(instance.cloud).hosts
