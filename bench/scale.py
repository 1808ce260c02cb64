"""Cost as the deployment grows: one-shot commands on 3 Stub clouds holding 10 to 30,000
instances, each as a ratio to `openstack --version` measured in the same run.

Every figure is the median of pairwise ratios: the MiniCloud command and `openstack --version`
run in turn (A B A B ...), so a machine that speeds up or slows down mid-run moves both.  The
stores are built in bulk (bench/common.build_stub_store), not by thousands of creates.

`topology` uses each cloud's saved part while its generation (and token) stays
(minicloud/render/saved_views.py), so it is measured three ways: nothing changed since the last
view; after a write to one of the three clouds (that cloud is rendered again); and with nothing
saved (every cloud rendered, as when all of them changed).

    python bench/scale.py [--sizes 10,1000,10000,30000] [--runs 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from common import build_stub_store, env_for, scratch_home

MC = [sys.executable, "-m", "minicloud"]
# A command, or a function of the run's number giving one.
Command = list[str] | Callable[[int], list[str]]
# Run untimed before each timed run: a write to one cloud, or forgetting the saved views.
Before = Callable[[Path, dict[str, str]], None] | None

REBOOT = [*MC, "instances", "reboot", "vm00000", "--cloud", "cloud0"]


def write_one_cloud(home: Path, env: dict[str, str]) -> None:
    subprocess.run(REBOOT, env=env, cwd=home, check=True, stdout=subprocess.DEVNULL)


def forget_saved_views(home: Path, env: dict[str, str]) -> None:
    shutil.rmtree(home / "views", ignore_errors=True)


def commands() -> list[tuple[str, Command, Before]]:
    create = ["instances", "create", "--cloud", "cloud0", "--image", "cirros",
              "--flavor", "m1.tiny", "--network", "net000"]
    return [
        ("help", [*MC, "help"], None),
        ("instances create --help", [*MC, "instances", "create", "--help"], None),
        ("usage error", [*MC, "instances", "create"], None),
        ("topology", [*MC, "topology"], None),
        ("topology --json", [*MC, "topology", "--json"], None),
        ("topology, after a write to one cloud", [*MC, "topology"], write_one_cloud),
        ("topology --json, after a write to one cloud", [*MC, "topology", "--json"],
         write_one_cloud),
        ("topology, nothing saved (every cloud changed)", [*MC, "topology"],
         forget_saved_views),
        ("topology --json, nothing saved", [*MC, "topology", "--json"], forget_saved_views),
        ("instances create", lambda n: [*MC, *create, f"bench{n}"], None),
        ("instances reboot", REBOOT, None),
    ]


def run(cmd: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          cwd=cwd)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(cmd[2:])} failed: {proc.stderr.decode()[-300:]}")
    return elapsed


def ratio(cmd: Command, before: Before, ref: list[str], env: dict[str, str], home: Path,
          runs: int, counter: list[int]) -> float:
    ratios = []
    for _ in range(runs + 1):
        counter[0] += 1
        argv = cmd(counter[0]) if callable(cmd) else cmd
        if before is not None:
            before(home, env)
        a = run(argv, env, str(home))
        b = run(ref, env, str(home))
        ratios.append(a / b)
    return statistics.median(ratios[1:])  # the first pair warms the caches


def first_topology(ref: list[str], runs: int) -> float:
    ratios = []
    for _ in range(runs):
        home = scratch_home()
        env = env_for(home)
        a = run([*MC, "topology"], env, str(home))
        b = run(ref, env, str(home))
        ratios.append(a / b)
        shutil.rmtree(home, ignore_errors=True)
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000,30000")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    osc = shutil.which("openstack")
    if osc is None:
        raise SystemExit("scale: needs `openstack` (pip install python-openstackclient)")
    ref = [osc, "--version"]
    sizes = [int(s) for s in args.sizes.split(",")]
    table: dict[str, list[str]] = {}
    for size in sizes:
        home = scratch_home()
        start = time.perf_counter()
        build_stub_store(home, instances=size)
        print(f"scale: built {size} instances in {time.perf_counter() - start:.1f} s",
              file=sys.stderr)
        env = env_for(home)
        counter = [0]
        for label, cmd, before in commands():
            value = ratio(cmd, before, ref, env, home, args.runs, counter)
            table.setdefault(label, []).append(f"{value:.2f}")
            print(f"scale: {size:>6} instances: {label}: {value:.2f}", file=sys.stderr)
        shutil.rmtree(home, ignore_errors=True)
    table["first topology, fresh home"] = [f"{first_topology(ref, args.runs):.2f}"]
    ref_time = statistics.median(run(ref, env_for(scratch_home()), "/") for _ in range(5))
    print(f"ratios to `openstack --version` ({ref_time * 1000:.0f} ms here), "
          f"3 Stub clouds, median of {args.runs} pairs")
    print("| command | " + " | ".join(f"{s:,} inst." for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for label, values in table.items():
        print(f"| `{label}` | " + " | ".join(values) + " |")


if __name__ == "__main__":
    main()
