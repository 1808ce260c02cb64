"""Cost as the deployment grows: one-shot commands on 3 Stub clouds holding 10 to 30,000
instances, each as a ratio to `openstack --version` measured in the same run.

Every figure is the median of pairwise ratios: the MiniCloud command and `openstack --version`
run in turn (A B A B ...), so a machine that speeds up or slows down mid-run moves both.  The
stores are built in bulk (bench/common.build_stub_store), not by thousands of creates.

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

from common import build_stub_store, env_for, scratch_home

MC = [sys.executable, "-m", "minicloud"]
# (label, command or a function of the run's number giving one, target at 30,000)
Command = list[str] | Callable[[int], list[str]]


def commands() -> list[tuple[str, Command]]:
    create = ["instances", "create", "--cloud", "cloud0", "--image", "cirros",
              "--flavor", "m1.tiny", "--network", "net000"]
    return [
        ("help", [*MC, "help"]),
        ("instances create --help", [*MC, "instances", "create", "--help"]),
        ("usage error", [*MC, "instances", "create"]),
        ("topology", [*MC, "topology"]),
        ("topology --json", [*MC, "topology", "--json"]),
        ("instances create", lambda n: [*MC, *create, f"bench{n}"]),
        ("instances reboot", [*MC, "instances", "reboot", "vm00000", "--cloud", "cloud0"]),
    ]


def run(cmd: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          cwd=cwd)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(cmd[2:])} failed: {proc.stderr.decode()[-300:]}")
    return elapsed


def ratio(cmd: Command, ref: list[str], env: dict[str, str], cwd: str, runs: int,
          counter: list[int]) -> float:
    ratios = []
    for _ in range(runs + 1):
        counter[0] += 1
        argv = cmd(counter[0]) if callable(cmd) else cmd
        a = run(argv, env, cwd)
        b = run(ref, env, cwd)
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
        for label, cmd in commands():
            value = ratio(cmd, ref, env, str(home), args.runs, counter)
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
