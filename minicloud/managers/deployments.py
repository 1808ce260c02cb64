"""A deployment as a file (issue 28): export what MiniCloud manages, plan a file against the
store, apply it.

Apply drives the other managers, so every step is an ordinary write of the write protocol
(its own intent, claims checked under the cloud's lock, undo on failure): an interrupted apply
is settled like any interrupted write, and applying the file again plans only what is left.
While it runs, an apply holds one more intent in each cloud of the file, whose claim
(``Exclusive``) no other apply may take: a second apply of the same clouds waits for it (for
``WAIT_SECONDS``, then is refused), then plans again and finds what the first one did.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..deployment import diff
from ..deployment.diff import ADD_CLOUD, CloudState, Plan, Step
from ..deployment.spec import DeploymentSpec
from ..drivers import driver_class
from ..model.errors import MiniCloudError, ValidationError
from ..model.objects import Intent
from ..state.claims import Claims, Held
from .base import Manager

if TYPE_CHECKING:
    from .access import AccessManager
    from .clouds import CloudManager
    from .clusters import ClusterManager
    from .instances import InstanceManager
    from .networks import NetworkManager
    from .routers import RouterManager
    from .session import Session
    from .sync import Synchronizer

APPLYING = "an apply of a deployment file"
DEMO_FILE = "trystack.yaml"
WAIT_SECONDS = 120.0
WAIT_STEP_SECONDS = 0.2


@dataclass
class PlanResult:
    plan: Plan
    # Clouds that could not be read (plan --refresh): one line each.
    unreadable: list[str] = field(default_factory=list)


@dataclass
class ApplyReport:
    # What was left to do once this apply held its clouds (another may have done the rest).
    planned: int = 0
    done: list[str] = field(default_factory=list)
    failed: str | None = None  # the change that failed, with why
    not_done: list[str] = field(default_factory=list)


class StalePlan(MiniCloudError):
    """The store changed between the plan shown and the apply: nothing was applied."""


class DeploymentManager(Manager):
    def __init__(self, session: Session, clouds: CloudManager, clusters: ClusterManager,
                 routers: RouterManager, networks: NetworkManager,
                 instances: InstanceManager, access: AccessManager, sync: Synchronizer
                 ) -> None:
        super().__init__(session)
        self.clouds = clouds
        self.clusters = clusters
        self.sync = sync
        self.routers = routers
        self.networks = networks
        self.instances = instances
        self.access = access

    # -- reading -----------------------------------------------------------------------------

    @staticmethod
    def read(path: str, cloud_map: list[str] | None = None) -> DeploymentSpec:
        """The deployment file at ``path``, checked (one line naming its line and key when
        it is wrong), applied to the clouds ``cloud_map`` (``OLD=NEW`` each) names."""
        from ..deployment import parse  # YAML is read only by the commands that need it

        return parse.map_clouds(parse.read_file(path), parse.parse_map(cloud_map))

    @staticmethod
    def demo() -> DeploymentSpec:
        """The README's demo deployment (examples/trystack.yaml, shipped in the package)."""
        from ..deployment import parse

        data = resources.files("minicloud.deployment").joinpath(DEMO_FILE).read_bytes()
        return parse.parse_bytes(data, DEMO_FILE)

    def state(self, name: str) -> CloudState:
        """One cloud as the store holds it, as the plan compares it."""
        cloud = self.cache.get("cloud", name, name)
        if cloud is None:
            return CloudState(name)
        cache = self.cache
        features = driver_class(cloud.type).features
        images, flavors = cache.all("image", name), cache.all("flavor", name)
        return CloudState(
            name, True, cloud.type, cloud.location, dict(cloud.settings),
            clusters={c.name for c in cache.all("cluster", name)},
            routers=CloudState.by_name(cache.all("router", name)),
            networks=CloudState.by_name(cache.all("network", name)),
            instances=CloudState.by_name(cache.all("instance", name)),
            public_ips=list(cache.all("public_ip", name)),
            security_groups={g.name for g in cache.all("security_group", name)},
            images={i.name for i in images}, flavors={f.name for f in flavors},
            image_ids={i.id: i.name for i in images},
            flavor_ids={f.id: f.name for f in flavors},
            move_networks=features.attach_network and features.detach_network)

    def export(self, cloud: str | None = None) -> str:
        """The deployment file of every cloud (or one): what MiniCloud created there."""
        names = [self.cloud(cloud).name] if cloud is not None else \
            [c.name for c in self.clouds.all()]
        from ..deployment import export

        return export.export_text([self.state(name) for name in names])

    def plan(self, spec: DeploymentSpec, refresh: bool = False,
             settle: bool = False) -> PlanResult:
        """What applying ``spec`` would do; with ``refresh``, the clouds it names are read
        first (one that cannot be read is named in ``unreadable``); with ``settle`` (before
        an apply), what killed processes left pending in them is settled first, as a write
        would, so that the plan shown is the one applied."""
        unreadable: list[str] = []
        if settle:
            for name in sorted(spec.clouds):
                if self.cache.get("cloud", name, name) is not None:
                    self.work.settle_dead(name)
        if refresh:
            for name in sorted(spec.clouds):
                if self.cache.get("cloud", name, name) is not None:
                    unreadable += self.sync.refresh(name)
        return PlanResult(self._plan(spec), unreadable)

    def _plan(self, spec: DeploymentSpec) -> Plan:
        return diff.plan(spec, {name: self.state(name) for name in spec.clouds})

    # -- applying ----------------------------------------------------------------------------

    def apply(self, spec: DeploymentSpec, shown: Plan | None = None,
              say: Callable[[str], None] | None = None) -> ApplyReport:
        """Make the clouds of ``spec`` what it says, step by step through the managers.

        ``shown``: the plan the user agreed to; when the store has changed since so that
        more would be done, nothing is (StalePlan).  A step that fails stops the apply: the
        report says what was done, what failed and why, and what was not done."""
        report = ApplyReport()
        say = say or (lambda text: None)
        first = self._plan(spec)
        self._check_agreed(first, shown)
        for change in first.changes:
            adds = [s for s in change.steps if s.phase == ADD_CLOUD]
            if adds and not self._add_cloud(adds[0], report, change.line()):
                report.not_done = [c.line() for c in first.changes if c is not change]
                return report
        held = self._hold(sorted(spec.clouds), say)
        try:
            plan = self._plan(spec)
            self._check_agreed(plan, shown)
            report.planned = len(report.done) + len(plan.changes)
            self._run(plan, report)
        finally:
            for intent in held:
                self.work.drop(intent)
        return report

    @staticmethod
    def _check_agreed(plan: Plan, shown: Plan | None) -> None:
        if shown is None:
            return
        agreed = {c.line(True) for c in shown.changes}
        more = [c.line() for c in plan.changes if c.line(True) not in agreed]
        if more:
            raise StalePlan(f"the clouds changed since the plan was shown ({more[0]}"
                            f"{', ...' if len(more) > 1 else ''}); nothing was applied: plan "
                            "again")

    def _add_cloud(self, step: Step, report: ApplyReport, line: str) -> bool:
        """Add a cloud of the file; another session's add of it meanwhile is as good."""
        try:
            self._do(step)
        except ValidationError:
            if self.cache.get("cloud", step.name, step.name) is None:
                self.session.inventory.reload_cloud(step.name)
            if self.cache.get("cloud", step.name, step.name) is None:
                raise
            return True
        except MiniCloudError as err:
            report.failed = f"{line}: {err}"
            return False
        report.done.append(line)
        return True

    def _hold(self, clouds: list[str], say: Callable[[str], None]) -> list[Intent]:
        """This apply's intent in each cloud, waiting while another apply holds one."""
        held: list[Intent] = []
        try:
            for cloud in clouds:
                deadline = time.monotonic() + WAIT_SECONDS
                waited = False
                while True:
                    try:
                        held.append(self.work.begin(cloud, APPLYING,
                                                    claims=[Claims.exclusive(APPLYING)]))
                        break
                    except Held:
                        if time.monotonic() >= deadline:
                            raise
                        if not waited:
                            say(f"Waiting for another session's apply in cloud {cloud}...")
                            waited = True
                        time.sleep(WAIT_STEP_SECONDS)
        except BaseException:
            for intent in held:
                self.work.drop(intent)
            raise
        return held

    def _run(self, plan: Plan, report: ApplyReport) -> None:
        left = {id(c): len(c.steps) for c in plan.changes}
        owner = {id(s): c for c in plan.changes for s in c.steps}
        several = len({c.cloud for c in plan.changes}) > 1
        for step in plan.steps():
            change = owner[id(step)]
            try:
                self._do(step)
            except MiniCloudError as err:
                partly = " (partly done)" if left[id(change)] < len(change.steps) else ""
                report.failed = f"{change.line(several)}{partly}: {err}"
                report.not_done = [c.line(several) for c in plan.changes
                                   if left[id(c)] and c is not change]
                return
            left[id(change)] -= 1
            if not left[id(change)]:
                report.done.append(change.line(several))

    # -- one step ----------------------------------------------------------------------------

    def _mine(self, kind: str, cloud: str, name: str) -> Any:
        """The object of ``kind`` called ``name`` that MiniCloud created (else the one there
        is), as the store holds it now."""
        found = self.cache.named(kind, cloud, name)
        mine = [o for o in found if o.owned]
        return (mine or found)[0] if found else self.find(kind, name, cloud)

    def _do(self, step: Step) -> None:
        cloud, name, a = step.cloud, step.name, step.args
        do = step.do
        if do == "add_cloud":
            self.clouds.add(name, a["type"], a["location"], a["settings"])
        elif do == "update_cloud":
            self.clouds.update(name, a["location"])
        elif do == "add_cluster":
            self.clusters.add(cloud, name)
        elif do == "remove_cluster":
            self.clusters.remove(cloud, name)
        elif do == "create_router":
            self.routers.create(cloud, name, gateway=a["gateway"])
        elif do == "set_gateway":
            self.routers.set_gateway(self._mine("router", cloud, name), a["gateway"])
        elif do == "clear_gateway":
            self.routers.clear_gateway(self._mine("router", cloud, name))
        elif do == "remove_router":
            self.routers.remove(self._mine("router", cloud, name))
        elif do == "create_network":
            router = self._mine("router", cloud, a["router"]).id if a["router"] else None
            self.networks.create(cloud, name, a["cidr"], router=router)
        elif do in ("attach", "detach"):
            network = self._mine("network", cloud, name)
            router = self._mine("router", cloud, a["router"])
            getattr(self.networks, do)(network, router)
        elif do == "remove_network":
            self.networks.remove(self._mine("network", cloud, name))
        elif do == "create_instance":
            groups = a["security_groups"]
            network = self._mine("network", cloud, a["network"]).id
            instance = self.instances.create(cloud, name, a["image"], a["flavor"],
                                             network, cluster=a["cluster"],
                                             security_group=groups[0], fixed_ip=a["fixed_ip"])
            for group in groups[1:]:
                instance = self.access.add_security_group(instance, group)
        elif do == "add_group":
            self.access.add_security_group(self._mine("instance", cloud, name), a["group"])
        elif do == "remove_group":
            self.access.remove_security_group(self._mine("instance", cloud, name),
                                                 a["group"])
        elif do == "remove_instance":
            self.instances.remove(self._mine("instance", cloud, name))
        elif do == "give_public_ip":
            self.access.assign_public_ip(self._mine("instance", cloud, name), a["address"])
        elif do == "take_public_ip":
            self.access.take_back_public_ip(self._mine("instance", cloud, name))
        else:  # pragma: no cover - diff.py and this table are written together
            raise AssertionError(f"unknown step {do}")
