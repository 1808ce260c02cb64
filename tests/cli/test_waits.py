"""A command at a terminal says what it waits for, every heartbeat, whatever the cloud's type
(issue 26: the menu did, commands printed nothing).  A command whose stderr is no terminal (a
script, a log) prints only its outcome: tests/drivers/test_openstack_settings.py checks it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from minicloud.cli.main import main
from tests.backends import seeded_url
from tests.silent import silent_server


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("MINICLOUD_CONFIG", "OS_CLOUD", "OS_AUTH_URL", "OS_CLIENT_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MINICLOUD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MINICLOUD_DB_URL", seeded_url(tmp_path / "mc.db"))
    monkeypatch.setenv("OS_PASSWORD", "a-long-password")
    monkeypatch.setattr("minicloud.drivers.base.HEARTBEAT", 0.1)
    (tmp_path / "minicloud.ini").write_text("[openstack]\ntimeout = 0.4\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def add_openstack(url: str) -> int:
    return main(["clouds", "add", "--type", "openstack", "--os-auth-url", f"{url}/v3",
                 "--os-project-name", "p", "--os-username", "u", "B"])


def test_an_openstack_login_on_a_terminal_says_what_it_waits_for(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    with silent_server() as url:
        assert add_openstack(url) == 1
    lines = capsys.readouterr().err.splitlines()
    assert any(line.startswith("minicloud: ... log in on cloud B: no answer yet, ")
               for line in lines), lines
    assert lines[-1].startswith("minicloud: cloud B: log in timed out: no answer from ")
