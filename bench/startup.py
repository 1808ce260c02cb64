"""Start-up: time to the main menu, and `minicloud topology` against `openstack --version`.

(a) `python -m minicloud` until `Make a choice : [1] ` is on stdout (target < 0.1 s);
(b) `python -m minicloud topology` on the demo store and on 3 clouds / 1,000 instances /
    100 networks, beside `openstack --version` (python-openstackclient, if installed) in the
    same run (target: under half its time).  Medians of several runs.
"""

from __future__ import annotations

import os
import select
import shutil
import statistics
import subprocess
import sys
import time

from common import env_for, large_deployment, save_deployment, scratch_home

from minicloud.app import MiniCloud
from minicloud.config import Config
from minicloud.managers.demo import build_demo
from minicloud.state.dburl import StoreURL

RUNS = 7
PROMPT = b"Make a choice : [1] "


def time_to_menu(env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "minicloud"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                            cwd=env["MINICLOUD_HOME"])
    seen = b""
    fd = proc.stdout.fileno()
    while PROMPT not in seen:
        ready, _, _ = select.select([fd], [], [], 10)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        seen += chunk
    elapsed = time.perf_counter() - start
    proc.communicate(b"8\n", timeout=30)
    if PROMPT not in seen:
        raise SystemExit("the main menu never appeared")
    return elapsed


def time_command(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, cwd=env["MINICLOUD_HOME"])
    return time.perf_counter() - start


def median(fn, *args) -> float:
    return statistics.median(fn(*args) for _ in range(RUNS))


def main() -> None:
    empty = scratch_home()
    print(f"startup: time to main menu {median(time_to_menu, env_for(empty)) * 1000:.0f} ms "
          "(target < 100 ms)")

    demo_home = scratch_home()
    demo_url = StoreURL.sqlite(demo_home / "minicloud.db")
    app = MiniCloud(Config(home=demo_home, db_url=demo_url)).open()
    build_demo(app)
    app.close()
    big_home = scratch_home()
    app = MiniCloud(Config(home=big_home, db_url=StoreURL.sqlite(big_home / "minicloud.db"))).open()
    save_deployment(app, large_deployment())
    app.close()

    topo = [sys.executable, "-m", "minicloud", "topology"]
    demo = median(time_command, topo, env_for(demo_home))
    big = median(time_command, topo, env_for(big_home))
    print(f"startup: topology, demo store {demo * 1000:.0f} ms")
    print(f"startup: topology, 3 clouds / 1,000 instances / 100 networks {big * 1000:.0f} ms")
    osc = shutil.which("openstack")
    if osc:
        ref = median(time_command, [osc, "--version"], env_for(empty))
        print(f"startup: openstack --version {ref * 1000:.0f} ms; ratios demo {demo / ref:.2f}, "
              f"large {big / ref:.2f} (target < 0.5)")
    else:
        print("startup: openstack --version not measured: "
              "pip install python-openstackclient for the comparison")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "minicloud", "topology"],
                          env=env_for(demo_home), capture_output=True, text=True,
                          cwd=demo_home)
    loaded = any(line.split("|")[-1].strip() == "openstack" for line in proc.stderr.splitlines())
    print(f"startup: openstacksdk imported by `topology` on a Stub store: {loaded}")


if __name__ == "__main__":
    main()
