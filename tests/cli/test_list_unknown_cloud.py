"""A list command given a cloud MiniCloud does not know says so and exits 2, as every other
command does with an unknown name (it used to print "No routers." and exit 0)."""

from __future__ import annotations

from pathlib import Path

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.config import Config
from tests.backends import seeded_url

LISTS = ["routers", "clusters", "networks", "instances", "public-ips", "security-groups",
         "images", "flavors"]


@pytest.mark.parametrize("what", LISTS)
def test_unknown_cloud_on_a_list_exits_2(what: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    app = MiniCloud(Config(home=tmp_path, db_url=seeded_url(tmp_path / "mc.db"))).open()
    try:
        app.clouds.add("Lab", "stub")
        capsys.readouterr()
        assert run_command(app, [what, "list", "--cloud", "Nope"]) == 2
        assert capsys.readouterr().err.strip() == "minicloud: no cloud named 'Nope'"
        assert run_command(app, [what, "list", "--cloud", "Lab"]) == 0
    finally:
        app.close()
