"""A password typed in one session is kept nowhere: a later session's menu asks for it (no
echo, never shown) and goes on; a later one-shot command exits 2 (configuration).  Against the
offline OpenStack fake, through the real menu loop and the real command runner."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.cli.menus.main import run_menu
from minicloud.cli.prompts import Prompter
from minicloud.config import Config
from minicloud.state.store import Store
from tests.drivers.fake_openstack import CLOUD_SETTINGS, PASSWORD, fake_openstack_driver


def _app(tmp_path: Path) -> MiniCloud:
    return MiniCloud(Config(home=tmp_path, db_url=f"sqlite:///{tmp_path}/mc.db")).open()


def test_a_later_menu_asks_for_the_password_and_a_command_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with fake_openstack_driver(Store(f"sqlite:///{tmp_path}/fake.db").open()) as (_, fake):
        first = _app(tmp_path)
        first.clouds.add("os1", "openstack", "", dict(CLOUD_SETTINGS), PASSWORD)
        first.close()

        command = _app(tmp_path)
        try:
            assert run_command(command, ["routers", "create", "R0", "--cloud", "os1"]) == 2
        finally:
            command.close()
        err = capsys.readouterr().err
        assert "password" in err.lower() and PASSWORD not in err
        assert not any(r["name"] == "R0" for r in fake.routers.values())

        # Router management > Create a router > (the one cloud) > R1 > no gateway; the
        # password is asked once, then the same entry goes on by itself.
        script = "3\n3\n\nR1\n1\n" + PASSWORD + "\n9\n8\n"
        out = io.StringIO()
        later = _app(tmp_path)
        code = run_menu(lambda: later, Prompter(io.StringIO(script), out))
        shown = out.getvalue()
        assert code == 0, shown
        assert "Password for cloud os1 (kept for this session only) : " in shown, shown
        assert PASSWORD not in shown
        assert "Router R1 created in cloud os1." in shown, shown
        assert [r["name"] for r in fake.routers.values()] == ["R1"]
