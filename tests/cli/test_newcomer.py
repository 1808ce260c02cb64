"""Issue 25: the menu and the commands tried as a newcomer would.  Each test names the item of
the issue it covers; they run in process (the menu on a scripted Prompter, commands through
run_command) on a copy of the demo store."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.cli.menus.main import run_menu
from minicloud.cli.prompts import Prompter
from minicloud.config import Config
from tests.backends import seed_demo_sqlite, seed_sqlite


def _open(tmp_path: Path) -> MiniCloud:
    return MiniCloud(Config(home=tmp_path, db_url=f"sqlite:///{tmp_path}/minicloud.db"),
                     notify=lambda text: None).open()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[MiniCloud]:
    """An empty store (what the menu and commands do is the point, not the backend)."""
    seed_sqlite(tmp_path / "minicloud.db")
    opened = _open(tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def demo_app(tmp_path: Path) -> Iterator[MiniCloud]:
    """A copy of the README's demo."""
    seed_demo_sqlite(tmp_path / "minicloud.db")
    opened = _open(tmp_path)
    yield opened
    opened.close()


def menu(app: MiniCloud, *answers: str) -> str:
    """What the menu shows for ``answers`` (one line each; ``""`` is Enter); the script
    running out ends the menu as end of input does."""
    out = io.StringIO()
    script = "".join(f"{a}\n" for a in answers)
    assert run_menu(lambda: app, Prompter(io.StringIO(script), out)) == 0
    return out.getvalue()


def command(app: MiniCloud, capsys: pytest.CaptureFixture[str],
            *argv: str) -> tuple[int, str, str]:
    code = run_command(app, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- item 6: no password in a URL setting, for every URL setting of every type ----------------

URL_SETTINGS = [
    ("openstack", ["--os-auth-url", "http://admin:PW-s3cret@keystone.example.com/v3",
                   "--os-project-name", "p", "--os-username", "u"], "Auth URL"),
    ("cloudstack", ["--cs-endpoint", "https://admin:PW-s3cret@cs.example.com/client/api",
                    "--cs-key", "k"], "API endpoint"),
]


@pytest.mark.parametrize(("type_name", "flags", "what"), URL_SETTINGS)
def test_a_url_with_a_password_is_refused_by_the_command(
        app: MiniCloud, capsys: pytest.CaptureFixture[str], type_name: str, flags: list[str],
        what: str) -> None:
    code, out, err = command(app, capsys, "clouds", "add", "C1", "--type", type_name, *flags)
    assert (code, out) == (2, "")
    assert err.startswith(f"minicloud: {what}") and "put no password in this URL" in err
    assert "PW-s3cret" not in err and len(err.splitlines()) == 1
    assert app.clouds.all() == []


def test_a_url_with_a_password_is_refused_at_its_question(app: MiniCloud) -> None:
    # Cloud management > Add a cloud > OS1, openstack (types: cloudstack, openstack, stub),
    # no location, the auth URL with a password, then without.
    out = menu(app, "2", "3", "OS1", "2", "", "http://admin:PW-s3cret@keystone.example.com/v3",
               "http://keystone.example.com/v3")
    ask = "Auth URL (Keystone v3) : "
    assert (f"{ask}Auth URL (Keystone v3): put no password in this URL, it would be stored "
            "(the password is taken from OS_PASSWORD or asked with no echo, and never "
            "stored)\n") in out
    assert out.count(ask) == 2 and "Project : " in out
    assert "PW-s3cret" not in out


# -- Words -------------------------------------------------------------------------------------


def test_no_clouds_is_said_as_such(app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    out = menu(app, "3", "3")  # Router management > Create a router, with no cloud at all
    assert "No clouds yet: add one in Cloud management.\n" in out
    assert "No cloud here has routers." not in out
    # The command user is told the command, the menu user the menu.
    assert command(app, capsys, "topology") == (
        0, "Nothing to show yet: add a cloud with 'minicloud clouds add NAME --type TYPE'.\n", "")
    assert "Nothing to show yet: add a cloud in Cloud management.\n" in menu(app, "1")


def test_no_public_ips_after_the_last_one_went(demo_app: MiniCloud,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert command(demo_app, capsys, "public-ips", "release", "8.21.28.30")[0] == 0
    assert command(demo_app, capsys, "public-ips", "list") == (0, "No public IPs.\n", "")


def test_usage_errors_are_as_the_readme_says(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(lambda: None, ["routers", "create"]) == 2
    usage, error = capsys.readouterr().err.splitlines()
    assert usage.startswith("usage: minicloud routers create ")
    assert error == "minicloud routers create: error: the following arguments are required: NAME"
    text = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    assert ("Bad usage found by the parser (an unknown command or option, a missing argument) is "
            "said as Python command lines say it: the command's usage line, then "
            "`minicloud COMMAND: error: <text>` (exit 2).") in text


def test_help_names_the_default_group_and_the_types(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(lambda: None, ["help", "instances", "create"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "(default default)" not in shown
    assert "its security group (default: the cloud's group named 'default')" in shown
    assert run_command(lambda: None, ["help", "clouds", "add"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "--type TYPE the cloud type: cloudstack, openstack or stub" in shown


def test_a_very_long_answer_is_told_the_fields_limit(app: MiniCloud) -> None:
    out = menu(app, "2", "3", "x" * 5000, "Lab")
    assert "1000 characters at most" not in out
    assert "Cloud name : invalid cloud name 'xxx" in out and "1-64 characters" in out


def test_update_with_the_same_location_says_nothing_changed(demo_app: MiniCloud) -> None:
    before = demo_app.clouds.get("TryStack").location
    out = menu(demo_app, "2", "4", "", "")  # Update a cloud > TryStack > Enter on the default
    assert f"Cloud TryStack: location unchanged ({before}).\n" in out
    assert "location is now" not in out


@pytest.mark.parametrize("name", ["trystack", "TRYSTACK"])
def test_cloud_names_differing_only_in_case_are_one_name(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, _, err = command(demo_app, capsys, "clouds", "add", name, "--type", "stub")
    assert code == 2
    assert err == ("minicloud: cloud name "
                   f"'{name}' is cloud TryStack's: cloud names differ by more than case\n")
    assert [c.name for c in demo_app.clouds.all()] == ["TryStack"]
    out = menu(demo_app, "2", "3", name, "Lab")
    assert f"Cloud name : cloud name '{name}' is cloud TryStack's" in out


# -- item 5: pickers offer what the action applies to; preconditions first --------------------


def picker(out: str, title: str, nth: int = 0) -> list[str]:
    """The entries of the ``nth`` picker titled ``title`` shown in ``out``."""
    block = out.split(f"[ {title} ]\n")[nth + 1].split("Make a choice")[0]
    return [line.split(" : ", 1)[1] for line in block.splitlines() if line.startswith("[")]


def test_set_the_gateway_offers_no_router_that_has_one(demo_app: MiniCloud) -> None:
    out = menu(demo_app, "3", "6")  # Router management > Set the gateway
    assert ("No router can take a gateway now: router LondonGateway has a gateway already; "
            "clear it first.\n") in out
    assert "[ Router ]" not in out and "[ External network ]" not in out


def test_detach_offers_no_router_without_a_network(demo_app: MiniCloud) -> None:
    demo_app.public_ips.release(demo_app.public_ips.public_ips()[0])
    demo_app.routers.create("TryStack", "Empty")
    out = menu(demo_app, "3", "5")  # Router management > Detach a network
    assert picker(out, "Router") == ["LondonGateway", "Cancel"]


def test_attach_offers_no_network_that_is_on_every_router(demo_app: MiniCloud) -> None:
    out = menu(demo_app, "4", "4")  # Network management > Attach to a router
    assert [e.split()[0] for e in picker(out, "Network")] == ["AntwerpNet", "Cancel"]


def test_connect_offers_no_stopped_instance(demo_app: MiniCloud) -> None:
    demo_app.instances.stop(demo_app.instances.find("instance", "Ben", "TryStack"))
    out = menu(demo_app, "5", "8")  # Instance management > Connect
    assert [e.split()[0] for e in picker(out, "Instance")] == ["Bourla", "Tower", "Cancel"]


def test_create_an_instance_says_first_that_the_cloud_has_no_private_network(
        app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    app.clouds.add("Lab", "stub")
    out = menu(app, "5", "3")  # Instance management > Create an instance
    assert ("No cloud can take an instance now: cloud Lab has no private network: create one "
            "first.\n") in out
    assert "Instance name" not in out and "[ Cloud ]" not in out
    code, _, err = command(app, capsys, "instances", "create", "I1", "--image", "cirros",
                           "--flavor", "m1.tiny", "--network", "nope")
    assert (code, err) == (2, "minicloud: cloud Lab has no private network: create one first\n")


# -- Words: confirmations say what else goes --------------------------------------------------


def test_removing_an_instance_says_its_public_ip_goes(demo_app: MiniCloud,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = menu(demo_app, "5", "9", "3", "")  # Remove an instance > Tower > Enter (no)
    assert ("Remove instance Tower from cloud TryStack, releasing its public IP 8.21.28.30? "
            "[y/N] Nothing changed.") in out
    assert command(demo_app, capsys, "instances", "remove", "Tower") == (
        0, "Instance Tower removed; public IP 8.21.28.30 released.\n", "")


def test_releasing_a_public_ip_says_what_it_is_attached_to(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    out = menu(demo_app, "4", "7", "", "")  # Release a public IP > the one > Enter (no)
    assert ("Release public IP 8.21.28.30 back to cloud TryStack, detaching it from instance "
            "Tower? [y/N] Nothing changed.") in out
    assert command(demo_app, capsys, "public-ips", "release", "8.21.28.30") == (
        0, "Public IP 8.21.28.30 released (it was attached to instance Tower).\n", "")


# -- Words: an unusable clouds.yaml entry is one warning line in the log -----------------------


def test_an_entry_without_auth_url_is_one_warning_not_a_traceback(
        app: MiniCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "clouds.yaml"
    path.write_text("clouds:\n  broken:\n    auth:\n      username: demo\n"
                    "  good:\n    auth:\n      auth_url: https://keystone.example.com/v3\n"
                    "      username: demo\n      project_name: demo\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    caplog.set_level("DEBUG")
    out = menu(app, "2", "3", "OS1", "2", "")  # Add a cloud > OS1, openstack, no location
    assert picker(out, "clouds.yaml entry") == ["good", "Enter the details by hand", "Cancel"]
    assert [r for r in caplog.records if r.levelname == "ERROR" or r.exc_info] == []
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "clouds.yaml entry broken cannot be used: Auth plugin requires parameters which were "
        "not given: auth_url"]


# -- Words: names are letters of any script ----------------------------------------------------


def test_a_name_with_an_accented_letter_is_a_name(demo_app: MiniCloud,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert command(demo_app, capsys, "routers", "create", "Routeur-é") == (
        0, "Router Routeur-é created in cloud TryStack.\n", "")
    out = menu(demo_app, "4", "3", "", "Réseau-東京", "10.20.0.0/24", "1")
    assert "Network Réseau-東京 [10.20.0.0/24] created in cloud TryStack.\n" in out
    # A type whose API cannot take them says so in its own rule.
    from minicloud.drivers.cloudstack.driver import CloudStackDriver
    from minicloud.model.errors import ValidationError

    with pytest.raises(ValidationError, match="CloudStack instance names are host names"):
        CloudStackDriver.check_name("instance", "Routeur-é")


# -- item 8: the menu's Connect asks for the public address ------------------------------------


def test_a_deployment_built_in_the_menu_can_match_the_readme_tree(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.reference import REFERENCE_TREE

    assert command(demo_app, capsys, "public-ips", "release", "8.21.28.30")[0] == 0
    # Instance management > Connect > Tower; an address outside the external network, then
    # the README's.
    out = menu(demo_app, "5", "8", "3", "9.9.9.9", "8.21.28.30")
    ask = "Public IP (empty: any free one) : "
    assert f"{ask}9.9.9.9 is not in the external network external (8.21.28.0/24)\n{ask}" in out
    assert "Gave public IP 8.21.28.30 to Tower." in out
    assert command(demo_app, capsys, "topology") == (0, REFERENCE_TREE, "")


def test_connect_takes_any_free_address_on_enter(demo_app: MiniCloud) -> None:
    out = menu(demo_app, "5", "8", "1", "")  # Connect > Ben > Enter
    assert "Public IP (empty: any free one) : " in out
    assert "Gave public IP 8.21.28." in out
    # Tower has one already: nothing to ask.
    assert "Public IP" not in menu(demo_app, "5", "8", "3")


# -- item 4: each answer checked at its question; a refused Add is tried again -----------------


def test_a_location_too_long_is_refused_at_its_question(demo_app: MiniCloud) -> None:
    long = "L" * 300
    # Add a cloud: stub, the external network's three settings and the state's by default.
    out = menu(demo_app, "2", "3", "Lab", "", long, "Here", "", "", "", "")
    ask = "Location (e.g. a region or host) : "
    assert f"{ask}location too long (255 characters at most)\n{ask}" in out
    assert "Cloud Lab added (stub).\n" in out
    # Update asks again instead of ending the entry.
    out = menu(demo_app, "2", "4", "1", long, "Moon")  # Update a cloud > Lab
    assert "Location : [Here] location too long (255 characters at most)\nLocation : " in out
    assert "Cloud Lab: location is now Moon.\n" in out and "Error" not in out


def test_a_refused_add_is_tried_again_changing_only_the_wrong_answer(app: MiniCloud) -> None:
    from minicloud.state.store import Store
    from tests.drivers.fake_openstack import AUTH_URL, PASSWORD, fake_openstack_driver

    with fake_openstack_driver(Store(f"sqlite:///{app.config.home}/fake.db").open()):
        out = menu(app, "2", "3", "OS1", "openstack", "Brussels", AUTH_URL, "demo", "demo",
                   "", "", "", "wrong-pw",
                   "Change Password: (hidden)", PASSWORD, "")
    assert out.count("Cloud name : ") == 1 and out.count("Auth URL (Keystone v3) : ") == 1
    assert out.count("[ Try again ]") == 2
    assert "Error: cloud OS1: " in out
    assert "Cloud OS1 added (openstack).\n" in out
    assert PASSWORD not in out and "wrong-pw" not in out
    assert [(c.name, c.location) for c in app.clouds.all()] == [("OS1", "Brussels")]


# -- item 1: forgetting a cloud never needs it; Destroy with an unreachable cloud --------------


@pytest.fixture
def unreachable(demo_app: MiniCloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[MiniCloud]:
    """The demo with an OpenStack cloud os1 (added through the fake, with a router of
    MiniCloud's in it) that can no longer be reached: every request fails to connect."""
    import requests_mock

    from minicloud.state.store import Store
    from tests.drivers.fake_openstack import CLOUD_SETTINGS, PASSWORD, fake_openstack_driver

    home = demo_app.config.home
    with fake_openstack_driver(Store(f"sqlite:///{home}/fake.db").open()):
        demo_app.clouds.add("os1", "openstack", "", dict(CLOUD_SETTINGS), PASSWORD)
        demo_app.routers.create("os1", "r1")
    demo_app.close()
    again = _open(home)
    with requests_mock.Mocker():  # no address answers
        yield again
    again.close()


def test_the_menu_forgets_a_cloud_without_its_secret_or_a_request(
        unreachable: MiniCloud) -> None:
    out = menu(unreachable, "2", "5", "2", "y")  # Remove a cloud > os1 (after TryStack) > yes
    assert "Password" not in out and "Error" not in out
    assert "Cloud os1 forgotten; its resources stay in the cloud.\n" in out
    assert [c.name for c in unreachable.clouds.all()] == ["TryStack"]


def test_the_command_forgets_a_cloud_without_its_secret_or_a_request(
        unreachable: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    assert command(unreachable, capsys, "clouds", "remove", "os1", "--yes") == (
        0, "Cloud os1 forgotten; its resources stay in the cloud.\n", "")


def test_destroy_in_the_menu_names_what_stays_and_forgets_after_asking(
        unreachable: MiniCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_PASSWORD", "secret-pw")
    out = menu(unreachable, "7", "y", "y")  # Destroy all data > yes > forget anyway: yes
    assert "Reset failed: cloud os1: " in out
    assert ("What MiniCloud made stays in cloud os1: router r1. Forget every cloud all the "
            "same, leaving these where they are? [y/N] ") in out
    assert "left in cloud os1: router r1\n" in out
    assert "All data destroyed: the next start is a first start; what is listed above stays " \
           "in its cloud.\n" in out
    assert unreachable.clouds.all() == []


def test_destroy_declined_forgets_nothing_and_says_so(unreachable: MiniCloud,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_PASSWORD", "secret-pw")
    out = menu(unreachable, "7", "y", "")  # Destroy all data > yes > forget anyway: no
    assert ("Error: destroy stopped: the reset failed, so no cloud was forgotten (What "
            "MiniCloud made stays in cloud os1: router r1)") in out
    assert [c.name for c in unreachable.clouds.all()] == ["TryStack", "os1"]


def test_destroy_as_a_command_names_what_stays(unreachable: MiniCloud,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OS_PASSWORD", "secret-pw")
    code, out, err = command(unreachable, capsys, "destroy", "--yes")
    assert code == 1
    assert err.startswith("Reset failed: cloud os1: ")
    assert "left in cloud os1: router r1\n" in out
    assert "Destroy: " in out and "All data destroyed" in out
    assert unreachable.clouds.all() == []
