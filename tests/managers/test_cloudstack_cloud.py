"""A CloudStack cloud through MiniCloud's real commands, menu and managers (offline fake): the
README deployment and its reference tree, tiers that cannot leave their VPC, the secret asked
in CloudStack's words, and a mixed deployment (Stub, OpenStack, CloudStack) in one tree and one
Reset."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests_mock

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.cli.menus.main import run_menu
from minicloud.cli.prompts import Prompter
from minicloud.config import Config
from minicloud.render.topology import render
from tests.backends import seeded_url
from tests.drivers.fake_cloudstack import API_KEY, ENDPOINT, SECRET_KEY, USER, FakeCloudStack
from tests.drivers.fake_openstack import CLOUD_SETTINGS as OS_SETTINGS
from tests.drivers.fake_openstack import PASSWORD as OS_PASSWORD
from tests.drivers.fake_openstack import FakeOpenStack
from tests.reference import AFTER_RESET_TREE, REFERENCE_TREE

ADD = ["clouds", "add", "TryStack", "--type", "cloudstack", "--location", "trystack.org",
       "--cs-endpoint", ENDPOINT, "--cs-key", API_KEY, "--cs-zone", "zone1"]

# The README's demo deployment, one command at a time (README, "One-shot commands").
README_DEMO = (
    ["clusters", "add", "Antwerp", "--cloud", "TryStack"],
    ["clusters", "add", "London", "--cloud", "TryStack"],
    ["routers", "create", "LondonGateway", "--cloud", "TryStack", "--gateway", "external"],
    ["networks", "create", "LondonNet", "--cloud", "TryStack", "--cidr", "10.10.2.0/24",
     "--router", "LondonGateway"],
    ["networks", "create", "AntwerpNet", "--cloud", "TryStack", "--cidr", "10.10.1.0/24"],
    ["instances", "create", "Bourla", "--cloud", "TryStack", "--cluster", "Antwerp",
     "--image", "cirros", "--flavor", "m1.tiny", "--network", "AntwerpNet",
     "--fixed-ip", "10.10.1.12"],
    ["instances", "create", "Tower", "--cloud", "TryStack", "--cluster", "London",
     "--image", "cirros", "--flavor", "m1.tiny", "--network", "LondonNet",
     "--security-group", "public_ssh", "--fixed-ip", "10.10.2.5"],
    ["instances", "create", "Ben", "--cloud", "TryStack", "--cluster", "London",
     "--image", "cirros", "--flavor", "m1.tiny", "--network", "LondonNet",
     "--fixed-ip", "10.10.2.6"],
    ["instances", "connect", "Tower", "--public-ip", "8.21.28.30"],
)


def _app(tmp_path: Path) -> MiniCloud:
    return MiniCloud(Config(home=tmp_path, db_url=seeded_url(tmp_path / "mc.db"))).open()


def _run(app: MiniCloud, *argv: str) -> int:
    return run_command(app, list(argv))


def _readme_fake() -> FakeCloudStack:
    return FakeCloudStack(public_name="external", public_cidr="8.21.28.0/24",
                          range_name="trystack")


@pytest.fixture
def readme_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 ) -> Iterator[tuple[MiniCloud, FakeCloudStack]]:
    """Cloud TryStack added (as the README's first line does) on the README's fake, served
    for the whole test; the app is closed whatever happens."""
    monkeypatch.setenv("CLOUDSTACK_SECRET", SECRET_KEY)
    fake = _readme_fake()
    with requests_mock.Mocker() as mocker:
        fake.install(mocker)
        app = _app(tmp_path)
        try:
            app.config.ssh_command = ["true"]  # connect runs it: a CloudStack cloud has hosts
            assert _run(app, *ADD) == 0
            yield app, fake
        finally:
            app.close()


def test_the_readme_deployment_on_cloudstack_prints_the_reference_tree(
        readme_cloud: tuple[MiniCloud, FakeCloudStack],
        capsys: pytest.CaptureFixture[str]) -> None:
    app, fake = readme_cloud
    for argv in README_DEMO:
        assert _run(app, *argv) == 0, (argv, capsys.readouterr().err)
    # LondonNet was born a tier of the LondonGateway VPC; Tower's address is static NAT.
    vpc = next(v for v in fake.tables["vpcs"].values() if v["name"] == "LondonGateway")
    assert {n["name"] for n in fake.tiers(vpc["id"])} == {"LondonNet"}
    nat = next(ip for ip in fake.tables["ips"].values() if ip.get("isstaticnat"))
    assert nat["ipaddress"] == "8.21.28.30" and nat.get("vpcid") == vpc["id"]
    capsys.readouterr()
    assert _run(app, "topology") == 0
    assert capsys.readouterr().out == REFERENCE_TREE
    assert _run(app, "reset", "--yes") == 0, capsys.readouterr().err
    assert fake.tables["vms"] == {} and fake.tables["networks"] == {}
    assert fake.tables["vpcs"] == {}
    assert not any(ip.get("ipaddress") == "8.21.28.30" for ip in fake.tables["ips"].values())
    assert {g["name"] for g in fake.tables["groups"].values()} == {"default"}
    capsys.readouterr()
    assert _run(app, "topology") == 0
    assert capsys.readouterr().out == AFTER_RESET_TREE


def test_a_tier_cannot_leave_its_vpc_and_its_vpc_waits_for_it(
        readme_cloud: tuple[MiniCloud, FakeCloudStack],
        capsys: pytest.CaptureFixture[str]) -> None:
    app, fake = readme_cloud
    for argv in README_DEMO[2:4]:
        assert _run(app, *argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    for argv, words in (
            (["networks", "detach", "LondonNet", "LondonGateway"],
             "cannot detach a network from its router"),
            (["routers", "detach", "LondonGateway", "LondonNet"],
             "cannot detach a network from its router"),
            (["routers", "remove", "LondonGateway"],
             "router LondonGateway has networks that cannot leave it in cloud TryStack: "
             "LondonNet; remove them first"),
            (["networks", "create", "Other", "--cloud", "TryStack", "--cidr",
              "10.10.3.0/24"], None)):
        code = _run(app, *argv)
        err = capsys.readouterr().err
        if words is None:
            assert code == 0, err
            continue
        assert code != 0 and len(err.splitlines()) == 1 and words in err, err
    for argv in (["networks", "attach", "Other", "LondonGateway"],
                 ["routers", "attach", "LondonGateway", "Other"]):
        assert _run(app, *argv) != 0
        err = capsys.readouterr().err
        assert err == ("minicloud: cloud TryStack (cloudstack) cannot attach an existing "
                       "network to a router\n"), err
    assert len(fake.tables["vpcs"]) == 1
    # Removing the tier takes it out of its VPC (no detach call); then the VPC may go.
    assert _run(app, "networks", "remove", "LondonNet") == 0, capsys.readouterr().err
    assert app.routers.all()[0].interface_network_ids == []
    assert _run(app, "routers", "remove", "LondonGateway") == 0, capsys.readouterr().err
    assert fake.tables["vpcs"] == {}
    assert {n["name"] for n in fake.tables["networks"].values()} == {"Other"}


def test_a_vpc_keeps_its_gateway_refused_in_one_line_before_any_cloud_call(
        readme_cloud: tuple[MiniCloud, FakeCloudStack],
        capsys: pytest.CaptureFixture[str]) -> None:
    app, fake = readme_cloud
    assert _run(app, *README_DEMO[2]) == 0, capsys.readouterr().err
    router = app.routers.find("router", "LondonGateway")
    capsys.readouterr()
    calls = len(fake.calls)
    assert _run(app, "routers", "gateway", "LondonGateway", "--clear") == 2
    assert capsys.readouterr().err == ("minicloud: cloud TryStack (cloudstack) cannot clear "
                                       "a router's gateway\n")
    assert _run(app, "routers", "gateway", "LondonGateway", "external") == 2
    assert capsys.readouterr().err == ("minicloud: external is the gateway of "
                                       "LondonGateway already\n")
    assert len(fake.calls) == calls
    assert app.routers.find("router", "LondonGateway").gateway_network_id == \
        router.gateway_network_id


def test_the_menu_adds_a_cloudstack_cloud(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDSTACK_SECRET", SECRET_KEY)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.cloudstack.ini: settings by hand
    monkeypatch.chdir(tmp_path)
    fake = FakeCloudStack()
    # Cloud management > Add a cloud > name, type cloudstack (first), no location, endpoint,
    # key, zone; the secret comes from CLOUDSTACK_SECRET.  Then Back, Exit.
    script = f"2\n3\ncs1\ncloudstack\n\n{ENDPOINT}\n{API_KEY}\nzone1\n13\n8\n"
    out = io.StringIO()
    with requests_mock.Mocker() as mocker:
        fake.install(mocker)
        app = _app(tmp_path)
        assert run_menu(lambda: app, Prompter(io.StringIO(script), out)) == 0
    shown = out.getvalue()
    assert "Cloud cs1 added (cloudstack)." in shown, shown
    assert "API secret key: taken from CLOUDSTACK_SECRET." in shown
    assert SECRET_KEY not in shown


def test_a_mixed_deployment_in_one_tree_and_one_reset(tmp_path: Path) -> None:
    cloudstack, openstack = FakeCloudStack(), FakeOpenStack()
    with requests_mock.Mocker() as mocker:
        cloudstack.install(mocker)
        openstack.install(mocker)
        app = _app(tmp_path)
        app.clouds.add("cs1", "cloudstack", "", {"endpoint": ENDPOINT, "api_key": API_KEY},
                       SECRET_KEY)
        app.clouds.add("os1", "openstack", "", dict(OS_SETTINGS), OS_PASSWORD)
        app.clouds.add("st1", "stub", "")
        # In every cloud the same steps: a router, a network on it (a VPC tier on cs1), an
        # instance there with a public IP, and a network of its own.
        for cloud in ("cs1", "os1", "st1"):
            app.routers.create(cloud, f"{cloud}router", gateway="public")
            app.networks.create(cloud, f"{cloud}net", "10.20.0.0/24", router=f"{cloud}router")
            app.networks.create(cloud, f"{cloud}alone", "10.21.0.0/24")
            vm = app.instances.create(cloud, f"{cloud}vm", "cirros", "m1.tiny", f"{cloud}net")
            app.access.assign_public_ip(vm)
        lines = render(app.topology.deployment())
        for cloud in ("cs1", "os1", "st1"):
            assert any(line.endswith(f"Cloud: {cloud}") for line in lines), lines
            assert any(f"Instance: {cloud}vm [10.20.0." in line and "[203.0.113." in line
                       for line in lines), lines
            assert any(f"Network: {cloud}net [10.20.0.0/24] (1 instance)" in line
                       for line in lines), lines
        report = app.resetter.reset()
        assert report.failures == []
        assert cloudstack.tables["vms"] == {} and cloudstack.tables["vpcs"] == {}
        assert cloudstack.tables["networks"] == {} and cloudstack.tables["ips"] == {}
        assert openstack.servers == {} and openstack.routers == {}
        assert {n["name"] for n in openstack.networks.values()} == {"public"}
        assert app.instances.all() == [] and app.routers.all() == []
        assert app.public_ips.public_ips() == []
        assert {(n.cloud, n.name) for n in app.networks.all()} == {
            ("cs1", "public"), ("os1", "public"), ("st1", "public")}
        app.close()


def test_a_tier_on_someone_elses_vpc_is_recorded_and_reset_deletes_only_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDSTACK_SECRET", SECRET_KEY)
    fake = _readme_fake()
    with requests_mock.Mocker() as mocker:
        fake.install(mocker)
        app = _app(tmp_path)
        app.clouds.add("cs1", "cloudstack", "", {"endpoint": ENDPOINT, "api_key": API_KEY})
        theirs = app.make_driver_for(app.clouds.get("cs1")).create_router("Theirs")
        fake.tables["vpcs"][theirs.id]["tags"] = []  # someone else's VPC
        app.sync.refresh("cs1")
        assert not app.clouds.find("router", "Theirs").owned
        net = app.networks.create("cs1", "Mine", "10.30.0.0/24", router="Theirs")
        assert app.clouds.find("router", "Theirs").interface_network_ids == [net.id]
        assert [(c.name, c.target_id, c.network_id) for c in app.inventory.cache.all("change")] == [
            ("interface", theirs.id, net.id)]
        assert app.resetter.reset().failures == []
        assert [v["name"] for v in fake.tables["vpcs"].values()] == ["Theirs"]
        assert fake.tiers(theirs.id) == [] and app.inventory.cache.all("change") == []
        app.close()


def test_a_later_menu_asks_the_api_secret_key_in_cloudstacks_words(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDSTACK_SECRET", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    fake = FakeCloudStack()
    with requests_mock.Mocker() as mocker:
        fake.install(mocker)
        first = _app(tmp_path)
        first.clouds.add("cs1", "cloudstack", "", {"endpoint": ENDPOINT, "api_key": API_KEY},
                         SECRET_KEY)
        first.close()
        # Router management > Create a router > (the one cloud) > R1 > no gateway; the secret
        # key is asked once, then the same entry goes on by itself.  Back, Exit.
        script = "3\n3\n\nR1\n1\n" + SECRET_KEY + "\n9\n8\n"
        out = io.StringIO()
        later = _app(tmp_path)
        assert run_menu(lambda: later, Prompter(io.StringIO(script), out)) == 0
    shown = out.getvalue()
    assert "API secret key for cloud cs1 (kept for this session only) : " in shown, shown
    assert "Password" not in shown and SECRET_KEY not in shown
    assert "Router R1 created in cloud cs1." in shown, shown
    assert [v["name"] for v in fake.tables["vpcs"].values()] == ["R1"]


def test_clouds_add_takes_the_types_own_secret_variable_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CLOUDSTACK_SECRET", raising=False)
    monkeypatch.setenv("OS_PASSWORD", "an-openstack-password")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with requests_mock.Mocker() as mocker:
        FakeCloudStack().install(mocker)
        app = _app(tmp_path)
        assert _run(app, *ADD) == 2  # no secret key: OS_PASSWORD is OpenStack's, not its
        err = capsys.readouterr().err
        assert "CLOUDSTACK_SECRET" in err and "an-openstack-password" not in err
        assert app.clouds.all() == []
        app.close()


def test_connect_never_takes_a_free_address_held_for_another_vpc(
        readme_cloud: tuple[MiniCloud, FakeCloudStack],
        capsys: pytest.CaptureFixture[str]) -> None:
    app, fake = readme_cloud
    for argv in (
            ["routers", "create", "VpcA", "--cloud", "TryStack", "--gateway", "external"],
            ["routers", "create", "VpcB", "--cloud", "TryStack", "--gateway", "external"],
            ["networks", "create", "TierB", "--cloud", "TryStack", "--cidr",
             "10.20.1.0/24", "--router", "VpcB"],
            ["instances", "create", "Bee", "--cloud", "TryStack", "--image", "cirros",
             "--flavor", "m1.tiny", "--network", "TierB"]):
        assert _run(app, *argv) == 0, (argv, capsys.readouterr().err)
    vpc_a = fake.named("vpcs", "VpcA")["id"]
    vpc_b = fake.named("vpcs", "VpcB")["id"]
    # A free address MiniCloud acquired for VpcA (and the listing says so: vpcid).
    kept = fake._acquire(None, vpc_a, "8.21.28.40")
    kept["tags"] = [{"key": "minicloud", "value": "true"}]
    assert _run(app, "refresh") == 0, capsys.readouterr().err
    fips = {f.name: f for f in app.public_ips.public_ips("TryStack")}
    assert fips["8.21.28.40"].router_id == vpc_a and not fips["8.21.28.40"].instance_id
    # Asked for by address, it is refused in one line before any request.
    capsys.readouterr()
    assert _run(app, "instances", "connect", "Bee", "--public-ip", "8.21.28.40") != 0
    err = capsys.readouterr().err
    assert err == ("minicloud: public IP 8.21.28.40 is held for router VpcA, not VpcB "
                   "that routes instance Bee\n"), err
    # Connect gives Bee a new address, acquired for VpcB; VpcA's stays free.
    assert _run(app, "instances", "connect", "Bee") == 0, capsys.readouterr().err
    ips = {ip["ipaddress"]: ip for ip in fake.tables["ips"].values()
           if not ip["issourcenat"]}
    assert len(ips) == 2 and "8.21.28.40" in ips
    given = next(ip for a, ip in ips.items() if a != "8.21.28.40")
    assert (given["vpcid"], given["isstaticnat"]) == (vpc_b, True)
    assert (ips["8.21.28.40"]["vpcid"], ips["8.21.28.40"]["isstaticnat"]) == (vpc_a, False)


def test_a_regular_users_reset_says_what_stays_and_a_later_one_finishes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A regular user's key may not expunge: Reset destroys the instances, names the network
    their destroyed machines keep (exit 1), and once CloudStack has expunged them a later
    Reset finishes."""
    fake = _readme_fake()
    alice = fake.add_account("alice", USER)
    monkeypatch.setenv("CLOUDSTACK_SECRET", alice.secret_key)
    with requests_mock.Mocker() as mocker:
        fake.install(mocker)
        app = _app(tmp_path)
        try:
            app.config.ssh_command = ["true"]
            add = [*ADD[:ADD.index("--cs-key") + 1], alice.api_key, "--cs-zone", "zone1"]
            for argv in (add, *README_DEMO[1:4], *README_DEMO[6:7],
                         ["instances", "connect", "Tower"]):
                assert _run(app, *argv) == 0, (argv, capsys.readouterr().err)
            assert [vm["account"] for vm in fake.tables["vms"].values()] == ["alice"]
            capsys.readouterr()
            assert _run(app, "reset", "--yes") == 1
            err = capsys.readouterr().err
            assert "this API key may not expunge, so remove the network again later" in err
            assert [n["name"] for n in fake.tables["networks"].values()] == ["LondonNet"]
            assert [vm["state"] for vm in fake.tables["vms"].values()] == ["Destroyed"]
            fake.expunge_delay = 0  # CloudStack's expunge thread has run
            assert _run(app, "reset", "--yes") == 0, capsys.readouterr().err
            assert fake.tables["networks"] == {} and fake.tables["vpcs"] == {}
            assert fake.tables["vms"] == {}
        finally:
            app.close()
