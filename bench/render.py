"""Topology render from a warm cache: 3 clouds / 1,000 instances / 100 networks / 10 routers.

Prints the time per render and the number of driver calls made (target: 0 calls, < 20 ms).
"""

from __future__ import annotations

import statistics
import time

from common import large_deployment

from minicloud.drivers.stub.driver import StubDriver
from minicloud.render.topology import render
from minicloud.state.cache import Cache


def main() -> None:
    calls = []
    for name in dir(StubDriver):
        if name.startswith(("list_", "get_", "create_", "delete_", "snapshot")):
            original = getattr(StubDriver, name)

            def counting(*a, _o=original, _n=name, **k):
                calls.append(_n)
                return _o(*a, **k)

            setattr(StubDriver, name, counting)
    cache = Cache()
    dep = large_deployment()
    for group in (dep.clouds, dep.clusters, dep.networks, dep.routers, dep.instances,
                  dep.public_ips):
        for obj in group:
            cache.put(obj)
    times = []
    for _ in range(30):
        start = time.perf_counter()
        lines = render(cache.deployment())
        times.append(time.perf_counter() - start)
    print(f"render: {len(dep.instances)} instances, {len(dep.networks)} networks, "
          f"{len(dep.routers)} routers, {len(dep.clouds)} clouds -> {len(lines)} lines")
    print(f"render: median {statistics.median(times) * 1000:.1f} ms, "
          f"max {max(times) * 1000:.1f} ms (target < 20 ms)")
    print(f"render: driver calls {len(calls)} (target 0)")


if __name__ == "__main__":
    main()
