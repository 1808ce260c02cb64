"""Two objects of one name in one cloud (made outside MiniCloud) stay addressable: the refusal
lists their ids, and an id stands where a name would."""

from __future__ import annotations

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.drivers.base import ServerSpec


def test_an_id_addresses_one_of_two_same_named_instances(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    driver = demo_app.driver("TryStack")
    net = demo_app.networks.find("network", "AntwerpNet", "TryStack")
    twins = [driver.create_server(ServerSpec("twin", "image-cirros", "flavor-m1.tiny", net.id))
             for _ in range(2)]  # straight in the cloud, as another tool would
    demo_app.sync.refresh("TryStack")
    capsys.readouterr()
    assert run_command(demo_app, ["instances", "remove", "twin"]) == 2
    err = capsys.readouterr().err
    assert "2 instances are named 'twin' in cloud TryStack; give the id of one instead" in err
    assert all(t.id in err for t in twins)
    assert run_command(demo_app, ["instances", "remove", twins[0].id]) == 0, \
        capsys.readouterr().err
    left = [i for i in demo_app.instances.all("TryStack") if i.name == "twin"]
    assert [i.id for i in left] == [twins[1].id]
    assert run_command(demo_app, ["instances", "remove", "twin"]) == 0  # one name, one object
