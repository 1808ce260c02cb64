"""Helpers of the consistency tests: a normalised picture of a cloud, read through a driver of
its own (names, attachments, addresses, status, security groups; never ids, since a restored
router interface or a re-made group gets a new one)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minicloud.app import MiniCloud
from minicloud.config import Config
from minicloud.drivers.base import ServerSpec
from minicloud.model.codec import to_dict
from minicloud.state.intents import read_intents
from minicloud.state.table import record_key

REPO = Path(__file__).resolve().parents[1]
SCRUBBED = ("MINICLOUD_SSH", "MINICLOUD_DB_URL", "MINICLOUD_CONFIG", "MINICLOUD_DB_PASSWORD",
            "OS_CLOUD", "OS_PASSWORD", "OS_CLIENT_CONFIG_FILE")


def picture(app: MiniCloud, cloud_name: str) -> dict[str, Any]:
    cloud = app.clouds.get(cloud_name)
    driver = app.make_driver_for(cloud)
    try:
        snap = driver.snapshot()
    finally:
        driver.close()
    nets = {n.id: n.name for n in snap.networks}
    servers = {s.id: s.name for s in snap.instances}
    return {
        "networks": sorted((n.name, n.external, tuple(n.cidrs)) for n in snap.networks),
        "routers": sorted((r.name, nets.get(r.gateway_network_id or "", None),
                           tuple(sorted(nets.get(i, i) for i in r.interface_network_ids)))
                          for r in snap.routers),
        "instances": sorted((s.name, s.status, tuple(sorted(s.security_groups)),
                             tuple(n.ip or "" for n in s.nics)) for s in snap.instances),
        "public_ips": sorted((f.name, servers.get(f.instance_id or "", None))
                             for f in snap.public_ips),
        "security_groups": sorted((g.name, len(g.rules)) for g in snap.security_groups),
    }


def seed_foreign(app: MiniCloud, cloud: str) -> dict[str, Any]:
    """What other people made in a Stub cloud before MiniCloud touched it: a router with a
    gateway and an interface, a network, a running server on it, a free public IP."""
    driver = app.make_driver_for(app.clouds.get(cloud))
    external = next(n for n in driver.list_networks() if n.external)
    theirs = driver.seed_network("theirs", "10.50.0.0/24", subnet_name="theirs-subnet")
    corp = driver.seed_router("corp", external.id)
    driver.add_router_interface(corp.id, theirs.id)
    server = driver.seed_server(ServerSpec("legacy", "image-cirros", "flavor-m1.tiny",
                                           theirs.id))
    driver.get_server(server.id)  # settles BUILD
    driver.seed_public_ip(external.id, "203.0.113.77")
    driver.close()
    app.sync.refresh()
    return {"external": external, "network": theirs, "router": corp}


def as_if_killed(app: MiniCloud) -> None:
    """The app's session ends as a killed process does, in the middle of its writes: they
    stay pending, and their owner is gone (its process's start time no longer matches)."""
    work = app.session.work
    work.active.clear()
    for intent in read_intents(app.store):
        if intent.owner.get("session") == work.session:
            data = to_dict(intent)
            data.pop("version")
            data["owner"]["started"] = "killed"
            app.store.kind("intent").put(record_key(intent.cloud, intent.id), intent.cloud, data)


def open_app(home: Path, url: str, notify: Callable[[str], None] | None = None) -> MiniCloud:
    return MiniCloud(Config(home=home, db_url=url), notify=notify).open()


def command(*args: str, fail: str = "", kill_after: str = "") -> list[str]:
    """``python -m minicloud ARGS``, or the test launcher (tests/launch.py) when the run needs
    a fault: ``fail`` (driver calls that fail, ``call[:N],...``), ``kill_after``
    (``N[:SIGNAL]``: the process is signalled after its N-th commit)."""
    if not fail and not kill_after:
        return [sys.executable, "-m", "minicloud", *args]
    launch = [sys.executable, "-m", "tests.launch"]
    if fail:
        launch += ["--fail", fail]
    if kill_after:
        launch += ["--kill-after", kill_after]
    return [*launch, "--", *args]


def minicloud(home: Path, url: str, *args: str, env: dict[str, str] | None = None,
              timeout: float = 120, stdin: str = "", fail: str = "", kill_after: str = ""
              ) -> subprocess.CompletedProcess[str]:
    """``python -m minicloud ARGS`` on the store at ``url`` (no ARGS: the menu, answering
    ``stdin``); through the test launcher when ``fail`` or ``kill_after`` asks for a fault
    (see :func:`command`)."""
    environ = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    environ.update(MINICLOUD_HOME=str(home), HOME=str(home), MINICLOUD_DB_URL=url,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                            environ.get("PYTHONPATH")])))
    environ.update(env or {})
    return subprocess.run(command(*args, fail=fail, kill_after=kill_after), cwd=home,
                          env=environ, capture_output=True, text=True, timeout=timeout,
                          input=stdin)


def start(home: Path, url: str, *args: str, slow_listing: float = 0.0
          ) -> subprocess.Popen[str]:
    """``python -m minicloud ARGS`` started (with ``slow_listing``, its Stub listings take
    that many seconds longer: tests/slow_listing.py)."""
    environ = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    environ.update(MINICLOUD_HOME=str(home), HOME=str(home), MINICLOUD_DB_URL=url,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                            environ.get("PYTHONPATH")])))
    program = ["tests.slow_listing", str(slow_listing)] if slow_listing else ["minicloud"]
    return subprocess.Popen([sys.executable, "-m", *program, *args], cwd=home, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
