"""`minicloud plan FILE` on an unchanged deployment (3 Stub clouds, 1,000 instances by default,
built in bulk), as a ratio to `openstack --version` measured pair by pair in the same run
(target <= 0.5); and what it costs: exit code 0, and the export it compares with."""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

from common import build_stub_store, env_for, scratch_home

MC = [sys.executable, "-m", "minicloud"]


def run(cmd: list[str], env: dict[str, str], cwd: str, codes: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          cwd=cwd)
    elapsed = time.perf_counter() - start
    if proc.returncode not in codes:
        raise SystemExit(f"{' '.join(cmd[2:])} exit {proc.returncode}: "
                         f"{proc.stderr.decode()[-300:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    osc = shutil.which("openstack")
    if osc is None:
        raise SystemExit("plan: needs `openstack` (pip install python-openstackclient)")
    ref = [osc, "--version"]
    home = scratch_home()
    build_stub_store(home, instances=args.instances)
    env = env_for(home)
    run([*MC, "export", "--output", "deployment.yaml"], env, str(home))
    size = (home / "deployment.yaml").stat().st_size
    plan = [*MC, "plan", "deployment.yaml"]
    pairs = []
    for _ in range(args.runs + 1):
        a = run(plan, env, str(home))  # exit 0: nothing to change
        b = run(ref, env, str(home))
        pairs.append((a, b))
    pairs = pairs[1:]  # the first pair warms the caches
    ratio = statistics.median(a / b for a, b in pairs)
    mine = statistics.median(a for a, _ in pairs)
    theirs = statistics.median(b for _, b in pairs)
    print(f"plan: unchanged deployment, {args.instances} instances in 3 Stub clouds, "
          f"file {size / 1000:.0f} kB: {mine * 1000:.0f} ms; openstack --version "
          f"{theirs * 1000:.0f} ms; ratio {ratio:.2f} (median of {args.runs} pairs; "
          "target <= 0.5)")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
