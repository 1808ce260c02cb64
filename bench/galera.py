"""A one-shot write on a three-node MariaDB Galera cluster, beside `openstack --version`.

Needs ``MINICLOUD_GALERA_PROXY_URL`` (``scripts/galera-test-cluster.sh start DIR`` prints it
with ``MINICLOUD_GALERA_URLS``) and python-openstackclient.  A Stub cloud is added once in a
database of its own; then ``networks create`` (a new name each time: a real write, with its
intent, the Stub's own transaction and the settle, each a certified commit) runs through the
proxy, and through the three node URLs, each run paired with one of `openstack --version` in
the same run; the figure is the ratio of the medians (target: within 1.0 through the proxy).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

from common import env_for, scratch_home

RUNS = 7
DATABASE = "minicloud_test_bench"  # the test account may make minicloud_test%


def with_database(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=DATABASE).render_as_string(hide_password=False)


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"galera: {' '.join(cmd[2:5])} failed: {done.stderr.strip()}")
    return elapsed


def empty_database(url: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS `{DATABASE}`"))
    finally:
        engine.dispose()


def main() -> None:
    proxy = os.environ.get("MINICLOUD_GALERA_PROXY_URL", "")
    nodes = os.environ.get("MINICLOUD_GALERA_URLS", "").split()
    osc = shutil.which("openstack")
    if not proxy or not nodes or not osc:
        print("galera: not measured: needs MINICLOUD_GALERA_PROXY_URL and MINICLOUD_GALERA_URLS"
              " (scripts/galera-test-cluster.sh start DIR) and python-openstackclient")
        return
    empty_database(proxy)
    home = scratch_home()
    places = {"proxy": with_database(proxy),
              "node URLs": " ".join(with_database(url) for url in nodes)}
    env = dict(env_for(home), MINICLOUD_DB_URL=places["proxy"])
    mc = [sys.executable, "-m", "minicloud"]
    timed([*mc, "clouds", "add", "Lab", "--type", "stub"], env)
    timed([*mc, "networks", "create", "warm", "--cloud", "Lab", "--cidr", "10.0.0.0/24"], env)
    reference: list[float] = []
    figures: dict[str, list[float]] = {name: [] for name in places}
    for run in range(1, RUNS + 1):
        reference.append(timed([osc, "--version"], env_for(home)))
        for k, (name, url) in enumerate(places.items()):
            net = run * len(places) + k
            figures[name].append(timed(
                [*mc, "networks", "create", f"n{net}", "--cloud", "Lab", "--cidr",
                 f"10.{net}.0.0/24"], dict(env, MINICLOUD_DB_URL=url)))
    ref = statistics.median(reference)
    print(f"galera: openstack --version {ref * 1000:.0f} ms (median of {RUNS})")
    for name, times in figures.items():
        write = statistics.median(times)
        target = " (target <= 1.0)" if name == "proxy" else ""
        print(f"galera: one-shot write (networks create) through the {name}: "
              f"{write * 1000:.0f} ms, ratio {write / ref:.2f}{target}")
    empty_database(proxy)
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
