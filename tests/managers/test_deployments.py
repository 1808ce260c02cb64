"""A deployment as a file (issue 28), in process: export then apply reproduces the deployment,
plan is empty after apply, and every kind of change is planned and applied on the Stub and on
the OpenStack fake of the contract tests, through the managers (and so the write protocol)."""

from __future__ import annotations

import copy
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from minicloud.app import MiniCloud
from minicloud.config import Config
from minicloud.deployment.parse import map_clouds, parse_text
from minicloud.deployment.spec import FileError
from minicloud.managers.deployments import StalePlan
from minicloud.render.topology import render_text
from minicloud.state.store import Store
from tests.backends import seeded_url
from tests.consistency import seed_foreign
from tests.drivers.fake_openstack import CLOUD_SETTINGS, PASSWORD, fake_openstack_driver
from tests.reference import REFERENCE_TREE
from tests.volume import sample

CLOUD = "C"
# The base deployment every change starts from: the same file fits a Stub cloud and the
# OpenStack fake (both have images cirros and ubuntu, flavors m1.*, external network public).
BASE: dict[str, Any] = {"minicloud": 1, "clouds": {CLOUD: {
    "type": "TYPE",
    "clusters": ["A", "B"],
    "routers": {"R1": {"gateway": "public"}, "R2": {}},
    "networks": {"N1": {"cidr": "10.1.0.0/24", "router": "R1"},
                 "N2": {"cidr": "10.2.0.0/24", "router": "R2"}},
    "instances": {
        "vm1": {"image": "cirros", "flavor": "m1.tiny", "network": "N1", "cluster": "A",
                "fixed_ip": "10.1.0.10", "public_ip": True},
        "vm2": {"image": "cirros", "flavor": "m1.tiny", "network": "N2"},
    },
}}}


def text_of(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def spec_of(data: dict[str, Any] | str, mapping: dict[str, str] | None = None) -> Any:
    return map_clouds(parse_text(data if isinstance(data, str) else text_of(data), "f.yaml"),
                      mapping or {})


def apply(app: MiniCloud, data: dict[str, Any] | str, **kw: Any) -> list[str]:
    report = app.deployments.apply(spec_of(data), **kw)
    assert report.failed is None, report
    return report.done


def plan_lines(app: MiniCloud, data: dict[str, Any] | str) -> list[str]:
    return app.deployments.plan(spec_of(data)).plan.lines()


def as_applied(app: MiniCloud, wanted: dict[str, Any]) -> None:
    """The store holds what ``wanted`` says: plan finds nothing, and the export says the
    same (``public_ip: true`` stands for whatever address the instance got)."""
    assert plan_lines(app, wanted) == []
    exported = yaml.safe_load(app.deployments.export(CLOUD))["clouds"][CLOUD]
    want = copy.deepcopy(wanted["clouds"][CLOUD])
    for name, instance in want.get("instances", {}).items():
        instance.setdefault("security_groups", ["default"])
        got = exported["instances"][name]
        if instance.get("public_ip") is True:
            assert re.fullmatch(r"203\.0\.113\.\d+", got["public_ip"])
            instance["public_ip"] = got["public_ip"]
        if "fixed_ip" not in instance:
            got.pop("fixed_ip", None)
    for name, router in want.get("routers", {}).items():
        want["routers"][name] = router or {}
    for key in ("type", "location", "settings"):
        exported.pop(key, None)
        want.pop(key, None)
    assert exported == want
    assert app.inventory.cache.all("intent") == []


_STUB_BASE: list[Path] = []


def _stub_base() -> Path:
    """A store holding Stub cloud C with the base deployment applied (the Stub keeps its
    cloud in the same file), built once per test process and copied for each test."""
    if not _STUB_BASE:
        folder = Path(tempfile.mkdtemp(prefix="minicloud-deployment-"))
        app = MiniCloud(Config(home=folder, db_url=seeded_url(folder / "mc.db"))).open()
        try:
            app.clouds.add(CLOUD, "stub")
            apply(app, base_for("stub"))
        finally:
            app.close()
        _STUB_BASE.append(folder)
    return _STUB_BASE[0]


def base_for(kind: str) -> dict[str, Any]:
    base = copy.deepcopy(BASE)
    base["clouds"][CLOUD]["type"] = kind
    return base


@pytest.fixture(params=["stub", "openstack"])
def world(request: pytest.FixtureRequest, tmp_path: Path
          ) -> Iterator[tuple[MiniCloud, dict[str, Any], Any]]:
    """An app holding cloud C (a Stub cloud, or OpenStack through the offline fake), the base
    deployment applied to it; and the fake (None on the Stub)."""
    base = base_for(request.param)
    if request.param == "stub":
        for item in _stub_base().iterdir():  # the store and the Stub's own database beside it
            if item.is_file() and item.name.startswith("mc"):
                shutil.copyfile(item, tmp_path / item.name)
        app = MiniCloud(Config(home=tmp_path, db_url=f"sqlite:///{tmp_path}/mc.db")).open()
        yield app, base, None
        app.close()
        return
    with fake_openstack_driver(Store(seeded_url(tmp_path / "fake.db")).open()) as (_, fake):
        app = MiniCloud(Config(home=tmp_path, db_url=seeded_url(tmp_path / "mc.db"))).open()
        app.clouds.add(CLOUD, "openstack", "", dict(CLOUD_SETTINGS), PASSWORD)
        apply(app, base)
        yield app, base, fake
        app.close()


def _change(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set (or, with ``None``, delete) the key at ``path`` (dotted) of the cloud's part."""
    def edit(cloud: dict[str, Any]) -> None:
        *keys, last = path.split(".")
        node = cloud
        for key in keys:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return edit


# (what, edits of the cloud's part, the plan's lines)
CHANGES: list[tuple[str, list[Callable[[dict[str, Any]], None]], list[str]]] = [
    ("add a network", [_change("networks.N3", {"cidr": "10.3.0.0/24", "router": "R2"})],
     ["+ network N3 10.3.0.0/24 on router R2"]),
    ("add an instance", [_change("instances.vm3", {"image": "ubuntu", "flavor": "m1.small",
                                                   "network": "N1", "cluster": "B",
                                                   "public_ip": True})],
     ["+ instance vm3: ubuntu, m1.small, network N1, cluster B, security groups default, "
      "public IP any"]),
    ("add a router", [_change("routers.R3", {"gateway": "public"})],
     ["+ router R3 (gateway public)"]),
    ("add a cluster", [_change("clusters", ["A", "B", "C3"])], ["+ cluster C3"]),
    ("remove an instance", [_change("instances.vm2", None)], ["- instance vm2"]),
    ("remove a network and its instance",
     [_change("instances.vm2", None), _change("networks.N2", None)],
     ["- network N2", "- instance vm2"]),
    ("remove a router", [_change("routers.R2", None), _change("networks.N2.router", None)],
     ["- router R2", "~ network N2: router R2 -> none"]),
    ("remove a cluster", [_change("clusters", ["A"])], ["- cluster B"]),
    ("change an image", [_change("instances.vm2.image", "ubuntu")],
     ["~ instance vm2: image cirros -> ubuntu (replaced)"]),
    ("change a flavor", [_change("instances.vm2.flavor", "m1.small")],
     ["~ instance vm2: flavor m1.tiny -> m1.small (replaced)"]),
    ("change an instance's network", [_change("instances.vm2.network", "N1")],
     ["~ instance vm2: network N2 -> N1 (replaced)"]),
    ("change a cluster", [_change("instances.vm2.cluster", "B")],
     ["~ instance vm2: cluster none -> B (replaced)"]),
    ("change a fixed IP", [_change("instances.vm1.fixed_ip", "10.1.0.11")],
     ["~ instance vm1: fixed IP 10.1.0.10 -> 10.1.0.11 (replaced)"]),
    ("add a security group", [_change("instances.vm2.security_groups",
                                      ["default", "public_ssh"])],
     ["~ instance vm2: security groups default -> default, public_ssh"]),
    ("swap security groups", [_change("instances.vm2.security_groups", ["public_ssh"])],
     ["~ instance vm2: security groups default -> public_ssh"]),
    ("security groups and the public IP at once",
     [_change("instances.vm1.security_groups", ["public_ssh"]),
      _change("instances.vm1.public_ip", None)],
     ["~ instance vm1: security groups default -> public_ssh, public IP ADDRESS -> none"]),
    ("security groups of an instance replaced anyway",
     [_change("instances.vm2.security_groups", ["public_ssh"]),
      _change("instances.vm2.flavor", "m1.small")],
     ["~ instance vm2: flavor m1.tiny -> m1.small, security groups default -> public_ssh "
      "(replaced)"]),
    ("take a public IP away", [_change("instances.vm1.public_ip", None)],
     ["~ instance vm1: public IP ADDRESS -> none"]),
    ("ask for another public IP", [_change("instances.vm1.public_ip", "203.0.113.50")],
     ["~ instance vm1: public IP ADDRESS -> 203.0.113.50"]),
    ("change a network's CIDR", [_change("networks.N2.cidr", "10.22.0.0/24")],
     ["~ network N2: cidr 10.2.0.0/24 -> 10.22.0.0/24 (replaced)",
      "~ instance vm2: network N2 replaced (replaced)"]),
    ("set a gateway", [_change("routers.R2", {"gateway": "public"})],
     ["~ router R2: gateway none -> public"]),
    ("move a network between routers", [_change("networks.N2.router", "R1")],
     ["~ network N2: router R2 -> R1"]),
    ("change several things at once",
     [_change("instances.vm2.flavor", "m1.small"), _change("routers.R2", {"gateway": "public"}),
      _change("networks.N3", {"cidr": "10.3.0.0/24"}), _change("clusters", ["A", "B", "D"])],
     ["+ cluster D", "~ router R2: gateway none -> public", "+ network N3 10.3.0.0/24",
      "~ instance vm2: flavor m1.tiny -> m1.small (replaced)"]),
]


# Every change on the Stub; on the OpenStack fake (which is built again for each case) a third
# of them by default, all at full volume.
CASES = [("stub", c) for c in CHANGES] + [("openstack", c)
                                          for c in sample(CHANGES, every=3, offset=1)]


@pytest.mark.parametrize(("world", "change"), CASES, indirect=["world"],
                         ids=[f"{kind}-{c[0]}" for kind, c in CASES])
def test_each_kind_of_change_is_planned_and_applied(
        change: tuple[str, list[Callable[[dict[str, Any]], None]], list[str]],
        world: tuple[MiniCloud, dict[str, Any], Any]) -> None:
    app, base, fake = world
    _, edits, expected = change
    address = yaml.safe_load(app.deployments.export(CLOUD))["clouds"][CLOUD]["instances"][
        "vm1"]["public_ip"]
    wanted = copy.deepcopy(base)
    for edit in edits:
        edit(wanted["clouds"][CLOUD])
    before = fake.request_count if fake is not None else 0
    lines = plan_lines(app, wanted)
    assert (fake.request_count if fake is not None else 0) == before  # plan reads the store
    assert lines == [line.replace("ADDRESS", address) for line in expected]
    ids = {i.name: i.id for i in app.inventory.cache.all("instance", CLOUD)}
    done = apply(app, wanted)
    assert sorted(done) == sorted(lines)
    as_applied(app, wanted)
    # An instance changed but not replaced is the same server.
    for line in lines:
        if line.startswith("~ instance ") and not line.endswith("(replaced)"):
            name = line.split()[2].rstrip(":")
            assert app.instances.find("instance", name, CLOUD).id == ids[name], line


def test_plan_and_apply_of_an_unchanged_file_make_no_request(
        world: tuple[MiniCloud, dict[str, Any], Any]) -> None:
    app, base, fake = world
    before = fake.request_count if fake is not None else 0
    assert plan_lines(app, base) == []
    assert apply(app, base) == []
    assert (fake.request_count if fake is not None else 0) == before
    as_applied(app, base)


def test_apply_makes_only_the_requests_its_changes_need(tmp_path: Path) -> None:
    """On the OpenStack fake: a network added by a file costs what ``networks create``
    costs, and nothing more."""
    with fake_openstack_driver(Store(seeded_url(tmp_path / "fake.db")).open()) as (_, fake):
        app = MiniCloud(Config(home=tmp_path, db_url=seeded_url(tmp_path / "mc.db"))).open()
        app.clouds.add(CLOUD, "openstack", "", dict(CLOUD_SETTINGS), PASSWORD)
        wanted = {"minicloud": 1, "clouds": {CLOUD: {"type": "openstack", "networks": {
            "N1": {"cidr": "10.1.0.0/24"}}}}}
        start = fake.request_count
        app.networks.create(CLOUD, "direct", "10.9.0.0/24")
        by_hand = fake.request_count - start
        start = fake.request_count
        wanted["clouds"][CLOUD]["networks"]["direct"] = {"cidr": "10.9.0.0/24"}
        assert apply(app, wanted) == ["+ network N1 10.1.0.0/24"]
        assert fake.request_count - start == by_hand
        app.close()


# -- the demo, export and apply --------------------------------------------------------------


def _without_ids(view: Any) -> Any:
    if isinstance(view, dict):
        return {k: _without_ids(v) for k, v in view.items() if k not in ("id", "synced_at")}
    if isinstance(view, list):
        return [_without_ids(v) for v in view]
    return view


def test_export_then_apply_into_an_empty_store_reproduces_the_deployment(
        demo_app: MiniCloud, tmp_path: Path) -> None:
    text = demo_app.deployments.export()
    assert plan_lines(demo_app, text) == []
    empty = MiniCloud(Config(home=tmp_path / "other",
                             db_url=seeded_url(tmp_path / "other.db"))).open()
    try:
        apply(empty, text)
        assert "\n".join(empty.topology.tree()) + "\n" == REFERENCE_TREE
        assert _without_ids(empty.topology.view()) == \
            _without_ids(demo_app.topology.view())
        assert plan_lines(empty, text) == []
        assert empty.deployments.export() == text
    finally:
        empty.close()


def test_the_example_file_is_the_demos_export(demo_app: MiniCloud) -> None:
    example = (Path(__file__).resolve().parents[2] / "examples" / "trystack.yaml").read_text()
    body = [line for line in example.splitlines() if not line.startswith("#")]
    exported = [line for line in demo_app.deployments.export().splitlines()
                if not line.startswith("#")]
    assert exported == body


def test_the_example_on_an_empty_store_draws_the_readmes_tree(app: MiniCloud) -> None:
    spec = app.deployments.demo()
    done = app.deployments.apply(spec)
    assert done.failed is None and done.done[0] == "+ cloud TryStack (stub, trystack.org)"
    assert render_text(app.inventory.cache.deployment()) == REFERENCE_TREE
    assert app.deployments.plan(spec).plan.empty


# -- what MiniCloud did not create ---------------------------------------------------------


def test_other_peoples_objects_are_neither_exported_nor_removed(app: MiniCloud) -> None:
    app.clouds.add(CLOUD, "stub")
    seed_foreign(app, CLOUD)
    app.sync.refresh(CLOUD)
    text = app.deployments.export()
    assert "legacy" not in text and "corp" not in text and "theirs" not in text
    assert set(yaml.safe_load(text)["clouds"][CLOUD]) == {"type"}
    # A file that names none of them removes none of them; it may use them by name.
    wanted = {"minicloud": 1, "clouds": {CLOUD: {"type": "stub", "networks": {
        "mine": {"cidr": "10.70.0.0/24", "router": "corp"}}, "instances": {
        "vm": {"image": "cirros", "flavor": "m1.tiny", "network": "theirs"}}}}}
    assert plan_lines(app, wanted) == [
        "+ network mine 10.70.0.0/24 on router corp",
        "+ instance vm: cirros, m1.tiny, network theirs, security groups default"]
    apply(app, wanted)
    names = {i.name for i in app.instances.all(CLOUD)}
    assert names == {"legacy", "vm"}
    apply(app, {"minicloud": 1, "clouds": {CLOUD: {"type": "stub"}}})
    assert {i.name for i in app.instances.all(CLOUD)} == {"legacy"}
    assert {r.name for r in app.routers.all(CLOUD)} == {"corp"}
    assert {n.name for n in app.networks.all(CLOUD)} == {"public", "theirs"}
    # Naming one of theirs as the file's own is refused, at its line.
    taken = {"minicloud": 1, "clouds": {CLOUD: {"type": "stub", "routers": {"corp": {}}}}}
    with pytest.raises(FileError, match=r"^f.yaml, line \d+, clouds.C.routers.corp: cloud C "
                                        "has a router corp that MiniCloud did not create"):
        plan_lines(app, taken)


# -- mistakes only the clouds can show ------------------------------------------------------

REFUSALS = [
    ("instances.vm2.image", "windows",
     r"clouds.C.instances.vm2.image: unknown image 'windows' in cloud C \(images: cirros, "
     r"ubuntu\)"),
    ("instances.vm2.flavor", "huge", r"clouds.C.instances.vm2.flavor: unknown flavor 'huge'"),
    ("routers.R2", {"gateway": "N1"},
     r"clouds.C.routers.R2.gateway: no external network 'N1' in cloud C \(external networks: "
     "public\\)"),
    ("networks.N2.router", "nowhere",
     r"clouds.C.networks.N2.router: no router 'nowhere' in the file or in cloud C"),
    ("instances.vm2.network", "nowhere",
     r"clouds.C.instances.vm2.network: no network 'nowhere' in the file or in cloud C"),
    ("instances.vm2.security_groups", ["web"],
     r"clouds.C.instances.vm2.security_groups\[0\]: no security group 'web' in cloud C"),
    ("type", "openstack", r"clouds.C.type: cloud C is a stub cloud in MiniCloud, not openstack"),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_what_the_cloud_lacks_is_refused_at_plan_time_naming_the_line(
        refusal: tuple[str, Any, str], app: MiniCloud) -> None:
    app.clouds.add(CLOUD, "stub")
    path, value, words = refusal
    wanted = copy.deepcopy(BASE)
    wanted["clouds"][CLOUD]["type"] = "stub"
    _change(path, value)(wanted["clouds"][CLOUD])
    with pytest.raises(FileError, match=r"^f.yaml, line \d+, " + words):
        app.deployments.plan(spec_of(wanted))
    assert app.networks.all(CLOUD)[0].name == "public"  # nothing was made


# -- applied to another cloud ---------------------------------------------------------------


def test_a_design_on_a_stub_cloud_applies_to_an_openstack_cloud(tmp_path: Path) -> None:
    design = copy.deepcopy(BASE)
    design["clouds"] = {"Lab": {**design["clouds"][CLOUD], "type": "stub",
                                "location": "my laptop"}}
    with fake_openstack_driver(Store(seeded_url(tmp_path / "fake.db")).open()) as (_, fake):
        app = MiniCloud(Config(home=tmp_path, db_url=seeded_url(tmp_path / "mc.db"))).open()
        app.clouds.add("os1", "openstack", "example.com", dict(CLOUD_SETTINGS), PASSWORD)
        spec = spec_of(design, {"Lab": "os1"})
        found = app.deployments.plan(spec).plan
        assert "+ router R1 (gateway public)" in found.lines()
        assert app.deployments.apply(spec).failed is None
        assert app.deployments.plan(spec_of(design, {"Lab": "os1"})).plan.empty
        assert app.clouds.get("os1").location == "example.com"  # the design's stays there
        assert {s["name"] for s in fake.servers.values()} == {"vm1", "vm2"}
        with pytest.raises(FileError, match="--cloud-map: MiniCloud has no cloud 'nowhere'"):
            app.deployments.plan(spec_of(design, {"Lab": "nowhere"}))
        missing = copy.deepcopy(design)
        missing["clouds"]["Lab"]["instances"]["vm2"]["image"] = "plan9"
        with pytest.raises(FileError, match="unknown image 'plan9' in cloud os1"):
            app.deployments.plan(spec_of(missing, {"Lab": "os1"}))
        app.close()


# -- failures and the plan agreed to ------------------------------------------------------


def test_a_refused_step_stops_the_apply_saying_what_was_done_and_not(app: MiniCloud) -> None:
    app.clouds.add(CLOUD, "stub")
    wanted = copy.deepcopy(BASE)
    wanted["clouds"][CLOUD]["type"] = "stub"
    # .1 is the network's gateway: the managers refuse it when the instance is made.
    wanted["clouds"][CLOUD]["instances"]["vm1"]["fixed_ip"] = "10.1.0.1"
    report = app.deployments.apply(spec_of(wanted))
    assert report.failed is not None and report.failed.startswith(
        "+ instance vm1: ") and report.failed.endswith("10.1.0.1 is the gateway of N1")
    assert "+ network N1 10.1.0.0/24 on router R1" in report.done
    # Instances are made in name order: vm2 was not reached.
    assert report.not_done == [
        "+ instance vm2: cirros, m1.tiny, network N2, security groups default"]
    assert app.inventory.cache.all("intent") == []


def test_apply_refuses_when_the_store_changed_since_the_plan_shown(app: MiniCloud) -> None:
    app.clouds.add(CLOUD, "stub")
    wanted = {"minicloud": 1, "clouds": {CLOUD: {"type": "stub", "networks": {
        "N1": {"cidr": "10.1.0.0/24"}}}}}
    shown = app.deployments.plan(spec_of(wanted)).plan
    app.networks.create(CLOUD, "other", "10.8.0.0/24")  # another session, meanwhile
    with pytest.raises(StalePlan, match="- network other"):
        app.deployments.apply(spec_of(wanted), shown=shown)
    assert {n.name for n in app.networks.all(CLOUD)} == {"other", "public"}
    assert app.inventory.cache.all("intent") == []


# -- one apply at a time ------------------------------------------------------------------


def test_an_apply_waits_for_another_then_finds_it_done(app: MiniCloud, reopen: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from minicloud.managers import deployments
    from minicloud.state.claims import Claims, Held

    app.clouds.add(CLOUD, "stub")
    wanted = {"minicloud": 1, "clouds": {CLOUD: {"type": "stub", "clusters": ["A"]}}}
    other = reopen(app)  # another session, holding the cloud as an apply does
    held = other.session.work.begin(CLOUD, deployments.APPLYING,
                                    claims=[Claims.exclusive(deployments.APPLYING)])
    monkeypatch.setattr(deployments, "WAIT_SECONDS", 0.3)
    said: list[str] = []
    with pytest.raises(Held, match="^another session is running an apply of a deployment "
                                   "file in cloud C; try again when it is done$"):
        app.deployments.apply(spec_of(wanted), say=said.append)
    assert said == ["Waiting for another session's apply in cloud C..."]
    assert app.clusters.all(CLOUD) == []  # nothing was done
    # The other apply makes the change and lets go: this one then plans nothing.
    other.clusters.add(CLOUD, "A")
    other.session.work.drop(held)
    shown = app.deployments.plan(spec_of(wanted)).plan
    assert shown.lines() == ["+ cluster A"]  # as this session last read it
    report = app.deployments.apply(spec_of(wanted), shown=shown)
    assert (report.planned, report.done, report.failed) == (0, [], None)
    assert [c.name for c in app.clusters.all(CLOUD)] == ["A"]
    assert app.inventory.cache.all("intent") == []


def test_a_public_ip_where_no_router_routes_out_is_refused_at_plan_time(app: MiniCloud) -> None:
    app.clouds.add(CLOUD, "stub")
    wanted = copy.deepcopy(BASE)
    wanted["clouds"][CLOUD]["type"] = "stub"
    wanted["clouds"][CLOUD]["instances"]["vm2"]["public_ip"] = True  # N2 is on R2: no gateway
    with pytest.raises(FileError, match=r"clouds.C.instances.vm2.public_ip: network N2 is on no "
                                        "router with a gateway: no public IP can reach it$"):
        app.deployments.plan(spec_of(wanted))
    wanted["clouds"][CLOUD]["routers"]["R2"] = {"gateway": "public"}
    assert app.deployments.plan(spec_of(wanted)).plan.counts()["add"] == 8


def test_a_change_refused_half_way_says_it_is_partly_done(app: MiniCloud) -> None:
    app.clouds.add(CLOUD, "stub")
    wanted = copy.deepcopy(BASE)
    wanted["clouds"][CLOUD]["type"] = "stub"
    wanted["clouds"][CLOUD]["instances"]["vm1"]["public_ip"] = "198.51.100.7"  # not public's
    report = app.deployments.apply(spec_of(wanted))
    assert report.failed == ("+ instance vm1: cirros, m1.tiny, network N1, fixed IP 10.1.0.10, "
                             "cluster A, security groups default, public IP 198.51.100.7 (partly "
                             "done): 198.51.100.7 is not in the external network public "
                             "(203.0.113.0/24)")
    # The instance was made: the next plan asks for its public IP only.
    wanted["clouds"][CLOUD]["instances"]["vm1"]["public_ip"] = "203.0.113.9"
    assert plan_lines(app, wanted) == ["~ instance vm1: public IP none -> 203.0.113.9"]
    apply(app, wanted)
    as_applied(app, wanted)


def test_a_public_ip_the_instance_has_already_is_no_change_whatever_its_route(
        app: MiniCloud) -> None:
    """An export plans nothing on the store it came from, even where an instance holds a
    public IP that no router of MiniCloud's routes (the cloud associated it another way)."""
    app.clouds.add(CLOUD, "stub")
    wanted = {"minicloud": 1, "clouds": {CLOUD: {"type": "stub", "routers": {
        "R1": {"gateway": "public"}}, "networks": {"N1": {"cidr": "10.1.0.0/24",
                                                           "router": "R1"}},
        "instances": {"vm": {"image": "cirros", "flavor": "m1.tiny", "network": "N1",
                             "public_ip": True}}}}}
    apply(app, wanted)
    # The file now says N1 is on no router: its instance keeps the public IP it has, and
    # only the network's move is planned (a new public IP there would be refused).
    data = yaml.safe_load(app.deployments.export())
    data["clouds"][CLOUD]["networks"]["N1"].pop("router")
    assert plan_lines(app, data) == ["~ network N1: router R1 -> none"]
    data["clouds"][CLOUD]["instances"]["vm"]["public_ip"] = "203.0.113.99"
    with pytest.raises(FileError, match="network N1 is on no router with a gateway"):
        plan_lines(app, data)
