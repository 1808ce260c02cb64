#!/usr/bin/env python3
"""How long a command takes, as a ratio to `openstack --version` timed in the same run.

Machines here differ by up to 3.5 times in speed, so a time alone says little: this times the
yardstick (python-openstackclient's `openstack --version`, median of several runs) before and
after the command, and prints the command's wall time as a ratio to their mean.

    scripts/suite-ratio.py                      # the README's test command: python -m pytest
    scripts/suite-ratio.py -- python -m pytest tests/e2e
    scripts/suite-ratio.py --label ci -- .ci/run

The last line is one the README and the CI log quote, e.g.
``suite-ratio: python -m pytest: 71.2 s = 139x openstack --version (0.512 s before, 0.508 s
after); 982 passed, 292 skipped``.  Exit status: the command's own.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time

RUNS = 5


def yardstick(openstack: str) -> float:
    """Median wall time of `openstack --version`, after one warm-up run."""
    times = []
    for run in range(RUNS + 1):
        started = time.perf_counter()
        subprocess.run([openstack, "--version"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        if run:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def summary(output: str) -> str:
    """pytest's result line ("982 passed, 292 skipped in ..."), without the time."""
    for line in reversed(output.splitlines()):
        match = re.search(r"(\d+ (passed|failed|error).*?) in [\d.]+s", line)
        if match:
            return re.sub(r"=+", "", match.group(1)).strip()
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", help="what to call the command in the last line")
    parser.add_argument("command", nargs="*", help="the command (default: python -m pytest)")
    args = parser.parse_args()
    command = args.command or [sys.executable, "-m", "pytest"]
    label = args.label or " ".join(["python" if c == sys.executable else c
                                    for c in command])
    openstack = shutil.which("openstack")
    if openstack is None:
        print("suite-ratio: no `openstack` command for the yardstick: "
              "pip install python-openstackclient", file=sys.stderr)
        return 2
    before = yardstick(openstack)
    print(f"suite-ratio: openstack --version takes {before:.3f} s (before)", flush=True)
    started = time.perf_counter()
    # The command's output passes through as it comes; pytest's result line is kept.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        tail = (tail + [line])[-200:]
    code = proc.wait()
    took = time.perf_counter() - started
    after = yardstick(openstack)
    ratio = took / ((before + after) / 2)
    result = summary("".join(tail))
    print(f"suite-ratio: {label}: {took:.1f} s = {ratio:.0f}x openstack --version "
          f"({before:.3f} s before, {after:.3f} s after)" + (f"; {result}" if result else ""))
    return code


if __name__ == "__main__":
    sys.exit(main())
