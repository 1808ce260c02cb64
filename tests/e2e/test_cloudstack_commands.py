"""``python -m minicloud`` end to end against the fake CloudStack served as a real HTTP server
on 127.0.0.1 (tests/drivers/fake_cloudstack.py serve_cloudstack), as the OpenStack functional
tests drive a real OpenStack: the one-shot commands and the menu, through the real ``cs``
client and the network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.backends import seeded_url
from tests.drivers.fake_cloudstack import API_KEY, SECRET_KEY, FakeCloudStack, serve_cloudstack

REPO = Path(__file__).resolve().parents[2]
HOST_RULE = ("CloudStack instance names are host names: letters, digits and '-', 63 "
             "characters at most, starting with a letter and not ending with '-'")


def minicloud(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("MINICLOUD_", "CLOUDSTACK_", "OS_"))}
    environ.update(MINICLOUD_HOME=str(home), HOME=str(home), CLOUDSTACK_SECRET=SECRET_KEY,
                   MINICLOUD_DB_URL=seeded_url(home / "minicloud.db"),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                            environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "minicloud", *args], cwd=home, env=environ,
                          capture_output=True, text=True, timeout=120, input=stdin)


def ok(home: Path, *args: str) -> str:
    done = minicloud(home, *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stdout


def test_commands_and_the_menu_drive_a_cloudstack_server_over_http(tmp_path: Path) -> None:
    fake = FakeCloudStack(public_name="external", public_cidr="8.21.28.0/24",
                          range_name="trystack")
    with serve_cloudstack(fake) as (_, endpoint):
        home = tmp_path
        ok(home, "clouds", "add", "TryStack", "--type", "cloudstack", "--location",
           "trystack.org", "--cs-endpoint", endpoint, "--cs-key", API_KEY, "--cs-zone", "zone1")
        # The menu: Network management > Create a network > the one cloud > name, CIDR, no
        # router; then the tree; Exit (end of input).
        done = minicloud(home, stdin="4\n3\n\nAntwerpNet\n10.10.1.0/24\n\n1\n")
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert "Network AntwerpNet [10.10.1.0/24] created in cloud TryStack." in done.stdout
        assert "+---Network: AntwerpNet [10.10.1.0/24] (0 instances)" in done.stdout
        assert [n["name"] for n in fake.tables["networks"].values()] == ["AntwerpNet"]
        # A command: a name that is no host name is refused before any request.
        calls = len(fake.calls)
        done = minicloud(home, "instances", "create", "Bourla_1", "--cloud", "TryStack",
                         "--image", "cirros", "--flavor", "m1.tiny", "--network", "AntwerpNet")
        assert (done.returncode, done.stderr) == (
            2, f"minicloud: invalid instance name 'Bourla_1': {HOST_RULE}\n")
        assert len(fake.calls) == calls
        ok(home, "instances", "create", "Bourla", "--cloud", "TryStack", "--image", "cirros",
           "--flavor", "m1.tiny", "--network", "AntwerpNet", "--fixed-ip", "10.10.1.12")
        [vm] = fake.tables["vms"].values()
        assert (vm["name"], vm["nic"][0]["ipaddress"], vm["state"]) == (
            "Bourla", "10.10.1.12", "Running")
