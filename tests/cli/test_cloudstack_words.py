"""A CloudStack cloud as a new user meets it (issue 26, "seen as a new user would"): errors in
MiniCloud's words (one line, no signed query, the missing settings named), names refused at
the question and before any request in the type's own words, and waits that say what they
wait for, in the menu and in commands on a terminal.  Commands and the menu run in process."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests_mock

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.cli.main import main
from minicloud.cli.menus.main import run_menu
from minicloud.cli.prompts import Prompter
from minicloud.config import Config
from minicloud.model.printable import quoted
from tests.backends import seeded_url
from tests.drivers.fake_cloudstack import API_KEY, ENDPOINT, SECRET_KEY, FakeCloudStack
from tests.silent import refused_port, silent_server

HOST_RULE = ("CloudStack instance names are host names: letters, digits and '-', 63 "
             "characters at most, starting with a letter and not ending with '-'")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty MiniCloud home for in-process commands; no cloudstack.ini, no keys around."""
    for name in ("MINICLOUD_CONFIG", "MINICLOUD_DB_URL", "CLOUDSTACK_ENDPOINT", "CLOUDSTACK_KEY",
                 "CLOUDSTACK_SECRET", "CLOUDSTACK_CONFIG", "CLOUDSTACK_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MINICLOUD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MINICLOUD_DB_URL", seeded_url(tmp_path / "mc.db"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def one_shot(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


@pytest.fixture
def cloud(home: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MiniCloud, FakeCloudStack]]:
    """Cloud cs1 added, a network n1 on it, the fake served for the whole test."""
    monkeypatch.setenv("CLOUDSTACK_SECRET", SECRET_KEY)
    fake = FakeCloudStack()
    with requests_mock.Mocker() as mocker:
        fake.install(mocker)
        app = MiniCloud(Config(home=home, db_url=seeded_url(home / "mc.db"))).open()
        try:
            assert run_command(app, ["clouds", "add", "cs1", "--type", "cloudstack",
                                     "--cs-endpoint", ENDPOINT, "--cs-key", API_KEY]) == 0
            assert run_command(app, ["networks", "create", "n1", "--cloud", "cs1",
                                     "--cidr", "10.1.0.0/24"]) == 0
            yield app, fake
        finally:
            app.close()


# -- errors in MiniCloud's words --------------------------------------------------------------

def test_an_unreachable_endpoint_is_one_plain_line(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLOUDSTACK_SECRET", SECRET_KEY)
    port = refused_port()
    code, err = one_shot(capsys, "clouds", "add", "CS1", "--type", "cloudstack",
                         "--cs-endpoint", f"http://127.0.0.1:{port}/client/api",
                         "--cs-key", API_KEY)
    assert (code, err) == (1, f"minicloud: cloud CS1: log in unreachable: cannot reach "
                              f"http://127.0.0.1:{port}: connection refused\n")


def test_clouds_add_names_the_missing_settings(home: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, err = one_shot(capsys, "clouds", "add", "CS1", "--type", "cloudstack")
    assert code == 2
    assert err == ("minicloud: a CloudStack cloud needs --cs-config SECTION (from "
                   "cloudstack.ini), or --cs-endpoint and --cs-key; missing: --cs-endpoint, "
                   "--cs-key\n")
    code, err = one_shot(capsys, "clouds", "add", "CS1", "--type", "cloudstack",
                         "--cs-endpoint", ENDPOINT)
    assert (code, err.rstrip().rsplit(": ", 1)[-1]) == (2, "--cs-key")


def test_a_missing_secret_says_where_it_comes_from_not_that_it_is_asked(
        cloud: tuple[MiniCloud, FakeCloudStack], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    first, _ = cloud
    monkeypatch.delenv("CLOUDSTACK_SECRET")
    later = MiniCloud(first.config).open()  # a later session: no secret
    try:
        capsys.readouterr()
        assert run_command(later, ["refresh"]) == 1  # Refresh asks nothing
        assert capsys.readouterr().err == ("minicloud: cloud cs1: log in unauthorized: no API "
                                           "secret key: set CLOUDSTACK_SECRET; showing its "
                                           "last known state\n")
        assert run_command(later, ["routers", "create", "R1", "--cloud", "cs1"]) == 2
        assert capsys.readouterr().err == ("minicloud: cloud cs1: create router R1 "
                                           "unauthorized: no API secret key: set "
                                           "CLOUDSTACK_SECRET\n")
    finally:
        later.close()


def test_a_cloudstack_ini_section_that_is_not_there_is_named(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLOUDSTACK_SECRET", SECRET_KEY)
    code, err = one_shot(capsys, "clouds", "add", "CS1", "--type", "cloudstack",
                         "--cs-config", "lab")
    assert code == 1
    assert err == ("minicloud: cloud CS1: log in failed: no cloudstack.ini found "
                   "(./cloudstack.ini, ~/.cloudstack.ini or CLOUDSTACK_CONFIG)\n")
    (home / "cloudstack.ini").write_text("[other]\nendpoint = x\n")
    code, err = one_shot(capsys, "clouds", "add", "CS1", "--type", "cloudstack",
                         "--cs-config", "lab")
    assert err == ("minicloud: cloud CS1: log in failed: no section [lab] in cloudstack.ini "
                   "(./cloudstack.ini, ~/.cloudstack.ini or CLOUDSTACK_CONFIG)\n")


def test_a_zone_that_is_not_there_is_named_with_those_that_are(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLOUDSTACK_SECRET", SECRET_KEY)
    with requests_mock.Mocker() as mocker:
        FakeCloudStack().install(mocker)
        code, err = one_shot(capsys, "clouds", "add", "CS1", "--type", "cloudstack",
                             "--cs-endpoint", ENDPOINT, "--cs-key", API_KEY, "--cs-zone", "z9")
    assert (code, err) == (1, "minicloud: cloud CS1: find zone z9 not found: the zones are "
                              "zone1\n")


# -- names: the type's own rule, at the question and before any request ----------------------

@pytest.mark.parametrize("name", ["web_1", "1web", "w" * 64])
def test_a_name_that_is_no_host_name_is_refused_by_the_command_before_any_request(
        cloud: tuple[MiniCloud, FakeCloudStack], capsys: pytest.CaptureFixture[str],
        name: str) -> None:
    app, fake = cloud
    capsys.readouterr()
    calls = len(fake.calls)
    code = run_command(app, ["instances", "create", name, "--cloud", "cs1", "--image", "cirros",
                             "--flavor", "m1.tiny", "--network", "n1"])
    assert code == 2
    shown = quoted(name)
    assert capsys.readouterr().err == f"minicloud: invalid instance name {shown}: {HOST_RULE}\n"
    assert len(fake.calls) == calls


def test_the_menu_refuses_a_name_that_is_no_host_name_at_its_question(
        cloud: tuple[MiniCloud, FakeCloudStack]) -> None:
    app, fake = cloud
    # Instance management > Create an instance > the one cloud > web_1 (refused), then web1,
    # the first image and flavor, the rest by default; Back, Exit.
    out = io.StringIO()
    script = "5\n3\n\nweb_1\nweb1\n1\n1\n\n\n\n10\n8\n"
    assert run_menu(lambda: app, Prompter(io.StringIO(script), out)) == 0
    shown = out.getvalue()
    assert f"Instance name : invalid instance name 'web_1': {HOST_RULE}\nInstance name : " \
        in shown, shown
    assert "Instance web1 created" in shown, shown
    assert [vm["name"] for vm in fake.tables["vms"].values()] == ["web1"]


# -- waits that say what they wait for --------------------------------------------------------

def test_the_menu_says_what_a_silent_endpoint_is_waited_for(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDSTACK_SECRET", SECRET_KEY)
    monkeypatch.setattr("minicloud.drivers.base.HEARTBEAT", 0.1)
    (home / "minicloud.ini").write_text("[cloudstack]\ntimeout = 0.35\n")
    with silent_server() as url:
        app = MiniCloud(Config(home=home, db_url=seeded_url(home / "mc.db"),
                               timeouts={"cloudstack": 0.35}))
        out = io.StringIO()
        prompter = Prompter(io.StringIO(f"2\n3\ncs1\ncloudstack\n\n{url}/client/api\n"
                                        f"{API_KEY}\n\n13\n8\n"), out)
        app = MiniCloud(app.config, progress=prompter.progress).open()
        try:
            assert run_menu(lambda: app, prompter) == 0
        finally:
            app.close()
    shown = out.getvalue()
    assert "  ... log in on cloud cs1: no answer yet, " in shown, shown
    assert "log in timed out: no answer from " in shown and "within 0.35 s" in shown


def test_a_command_on_a_terminal_says_what_it_waits_for(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLOUDSTACK_SECRET", SECRET_KEY)
    monkeypatch.setattr("minicloud.drivers.base.HEARTBEAT", 0.1)
    (home / "minicloud.ini").write_text("[cloudstack]\ntimeout = 0.35\n")
    with silent_server() as url:
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
        code, err = one_shot(capsys, "--config", str(home / "minicloud.ini"), "clouds", "add",
                             "cs1", "--type", "cloudstack", "--cs-endpoint",
                             f"{url}/client/api", "--cs-key", API_KEY)
    assert code == 1
    lines = err.splitlines()
    assert lines[0].startswith("minicloud: ... logging in to cloud cs1"), err
    assert any(line.startswith("minicloud: ... log in on cloud cs1: no answer yet, ")
               for line in lines), err
    assert lines[-1] == (f"minicloud: cloud cs1: log in timed out: no answer from {url} within "
                         "0.35 s ([cloudstack] timeout in minicloud.ini)")
