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
        ok(tmp_path, "clouds", "add", "TryStack", "--type", "cloudstack", "--location",
           "trystack.org", "--cs-endpoint", endpoint, "--cs-key", API_KEY, "--cs-zone", "zone1")
        # The menu: Network management > Create a network > the one cloud > name, CIDR (no
        # router to offer), Back; Instance management > Create an instance > the one cloud > a name
        # that is no host name (refused at its question), then Bourla, the first image and
        # flavor, the rest by default, Back; the tree; Exit (end of input).
        script = ("4\n3\n\nAntwerpNet\n10.10.1.0/24\n9\n"
                  "5\n3\n\nBourla_1\nBourla\n1\n1\n\n\n10.10.1.12\n10\n1\n")
        done = minicloud(tmp_path, stdin=script)
    assert done.returncode == 0, (done.stdout, done.stderr)
    shown = done.stdout
    assert "Network AntwerpNet [10.10.1.0/24] created in cloud TryStack." in shown, shown
    assert f"Instance name : invalid instance name 'Bourla_1': {HOST_RULE}\n" in shown, shown
    assert "+---Instance: Bourla [10.10.1.12] (AntwerpNet) [default] [ACTIVE]" in shown, shown
    assert [vm["name"] for vm in fake.tables["vms"].values()] == ["Bourla"]
    # Only the name that passed reached the server.
    assert [p["name"] for c, p in fake.calls if c == "deployVirtualMachine"] == ["Bourla"]
