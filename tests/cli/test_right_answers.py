"""Issue 15, "Wrong results": a requested address is never silently replaced nor wrongly
accepted; each refusal is one line naming the address, with the documented exit code (in use
1, malformed / reserved / outside 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command

CREATE = ("instances", "create", "--cloud", "TryStack", "--image", "cirros", "--flavor",
          "m1.tiny")


def _refused(app: MiniCloud, capsys: pytest.CaptureFixture[str], code: int,
             *argv: str) -> str:
    capsys.readouterr()
    assert run_command(app, list(argv)) == code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minicloud: "), err
    return lines[0]


@pytest.mark.parametrize(("address", "code", "words"), [
    ("10.10.2.5", 1, "10.10.2.5 is in use by instance Tower"),
    ("10.10.2.1", 2, "10.10.2.1 is the gateway of LondonNet"),
    ("10.10.2.0", 2, "10.10.2.0 is the network address of 10.10.2.0/24"),
    ("10.10.2.255", 2, "10.10.2.255 is the broadcast address of 10.10.2.0/24"),
    ("10.10.9.9", 2, "10.10.9.9 is not in LondonNet (10.10.2.0/24)"),
    ("not-an-ip", 2, "invalid IP address 'not-an-ip'"),
])
def test_a_requested_private_ip_is_refused_in_one_line(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str], address: str, code: int,
        words: str) -> None:
    line = _refused(demo_app, capsys, code, *CREATE, "--network", "LondonNet",
                    "--fixed-ip", address, "x")
    assert words in line
    assert "x" not in {i.name for i in demo_app.instances.all()}


def test_the_ipv6_network_address_and_gateway_are_refused(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(demo_app, ["networks", "create", "V6", "--cloud", "TryStack",
                                  "--cidr", "fd00:1::/64"]) == 0
    line = _refused(demo_app, capsys, 2, *CREATE, "--network", "V6", "--fixed-ip",
                    "fd00:1::", "x")
    assert "fd00:1:: is the network address of fd00:1::/64" in line
    assert "fd00:1::1 is the gateway" in _refused(demo_app, capsys, 2, *CREATE, "--network",
                                                  "V6", "--fixed-ip", "fd00:1::1", "x")


@pytest.mark.parametrize(("address", "code", "words"), [
    ("8.21.28.30", 1, "public IP 8.21.28.30 is in use by instance Tower"),
    ("9.9.9.9", 2, "9.9.9.9 is not in the external network external (8.21.28.0/24)"),
    ("not-an-ip", 2, "invalid IP address 'not-an-ip'"),
])
def test_a_requested_public_ip_is_refused_not_replaced(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str], address: str, code: int,
        words: str) -> None:
    line = _refused(demo_app, capsys, code, "instances", "connect", "Ben",
                    "--public-ip", address)
    assert words in line
    ben = next(i for i in demo_app.instances.all() if i.name == "Ben")
    assert demo_app.access.public_ip_of(ben) is None


@pytest.mark.parametrize(("reason", "code"), [("conflict", 1), ("refused as invalid", 2)])
def test_the_clouds_own_refusal_has_the_same_exit_codes(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, reason: str, code: int) -> None:
    """When only the cloud knows (another user's port), in use is 1 and invalid is 2."""
    from minicloud.model.errors import DriverError

    def refuse(*_: object, **__: object) -> None:
        raise DriverError("TryStack", "create server x", reason, "IP address 10.10.2.77")

    monkeypatch.setattr(demo_app.instances, "create", refuse)
    line = _refused(demo_app, capsys, code, *CREATE, "--network", "LondonNet",
                    "--fixed-ip", "10.10.2.77", "x")
    assert "10.10.2.77" in line


# -- names, locations, login users, and the clouds' own text -----------------------------------

@pytest.mark.parametrize("argv", [
    ("clouds", "add", "Lab\x1b[2J", "--type", "stub"),
    ("clouds", "add", "Lab2", "--type", "stub", "--location", "x\n+---Cloud: Evil"),
    ("clouds", "add", "Lab2", "--type", "stub", "--location", "x" * 256),
    ("clusters", "add", "Paris\n", "--cloud", "TryStack"),
    ("routers", "create", "r\t1", "--cloud", "TryStack"),
    ("networks", "create", "n\r", "--cloud", "TryStack", "--cidr", "10.77.0.0/24"),
    (*CREATE, "--network", "LondonNet", "v\x07"),
])
def test_control_characters_are_refused_in_names_and_locations(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> None:
    line = _refused(demo_app, capsys, 2, *argv)
    assert "\n" not in line and "\x1b" not in line


@pytest.mark.parametrize("user", ["-oProxyCommand=touch x", "a b", "root;reboot", "$(id)",
                                  "me@host"])
def test_a_login_user_is_a_user_name(demo_app: MiniCloud,
                                     capsys: pytest.CaptureFixture[str], user: str) -> None:
    line = _refused(demo_app, capsys, 2, "instances", "connect", "Ben", f"--user={user}")
    assert "invalid login user" in line


def test_a_login_user_from_the_image_is_checked_too(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    images = demo_app.inventory.cache.all("image", "TryStack")
    cirros = next(i for i in images if i.name == "cirros")
    cirros.properties["os_admin_user"] = "-oProxyCommand=sh"
    line = _refused(demo_app, capsys, 2, "instances", "connect", "Ben")
    assert "login user of image cirros (os_admin_user)" in line
    capsys.readouterr()
    assert run_command(demo_app, ["instances", "connect", "Ben", "--user", "cirros"]) == 0
    assert "ssh cirros@" in capsys.readouterr().out


def test_a_clouds_text_is_shown_with_control_characters_escaped() -> None:
    from minicloud.cli.present import table
    from minicloud.render.topology import Node, layout

    lines = layout(Node("MiniCloud", [Node("Instance: evil\n+---Cloud: Fake [\x1b[31mUP]")]))
    assert lines[-1] == "      +---Instance: evil\\n+---Cloud: Fake [\\x1b[31mUP]"
    shown = table([{"name": "a\nb", "status": "OK\r"}], (("NAME", "name"), ("STATUS", "status")),
                  "none")
    assert shown.lines[-1] == "a\\nb  OK\\r"


# -- connect says what it did and what it could not -----------------------------------------------

def _connect(app: MiniCloud, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    capsys.readouterr()
    assert run_command(app, ["instances", "connect", *argv]) == 0
    return capsys.readouterr()


def test_connect_refuses_a_stopped_instance_in_one_line(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(demo_app, ["instances", "stop", "Ben"]) == 0
    line = _refused(demo_app, capsys, 2, "instances", "connect", "Ben")
    assert line == "minicloud: instance Ben is stopped: start it first"
    ben = next(i for i in demo_app.instances.all() if i.name == "Ben")
    assert demo_app.access.public_ip_of(ben) is None  # nothing was given on the way


def test_connect_says_what_it_gave(demo_app: MiniCloud, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    out, err = _connect(demo_app, capsys, "Ben")
    assert out == "ssh cirros@8.21.28.2\n"
    assert "Gave public IP 8.21.28.2 to Ben." in err
    assert "Added security group public_ssh (SSH, TCP 22) to Ben." in err
    assert "No route out" not in err
    out, err = _connect(demo_app, capsys, "Ben")  # again: nothing new to say
    assert "Gave" not in err and "Added" not in err


def test_connect_says_when_it_uses_the_private_address(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = _connect(demo_app, capsys, "Bourla")
    assert out == "ssh cirros@10.10.1.12\n"
    assert "No route out (its network is on no router with a gateway): using the private " \
           "address 10.10.1.12" in err
    assert run_command(demo_app, ["routers", "create", "R2", "--cloud", "TryStack"]) == 0
    assert run_command(demo_app, ["routers", "attach", "R2", "AntwerpNet"]) == 0
    out, err = _connect(demo_app, capsys, "Bourla")
    assert "No route out (router R2 has no gateway): using the private address" in err


def test_connect_says_how_to_make_an_ssh_key(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path
    monkeypatch.setenv("HOME", str(home))
    hint = "No SSH key found in ~/.ssh: make one with 'ssh-keygen -t ed25519'"
    assert hint in _connect(demo_app, capsys, "Tower")[1]
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_ed25519").write_text("key")
    assert hint not in _connect(demo_app, capsys, "Tower")[1]


def test_a_picker_shows_a_clouds_names_escaped() -> None:
    import io

    from minicloud.cli.prompts import Prompter

    out = io.StringIO()
    prompter = Prompter(io.StringIO("2\n"), out)
    assert prompter.pick("Instance", ["a", "evil\n[9] : Fake"]) == "evil\n[9] : Fake"
    assert "evil\\n[9] : Fake" in out.getvalue() and "\n[9] : Fake" not in out.getvalue()
