"""Sync: HTTP requests and time for one full sync of an OpenStack cloud (mocked HTTP).

openstacksdk's real HTTP stack is served by the offline fake of the driver tests, with 10,
100 and 1,000 servers.  The request count must grow only with result pages, never per server;
target: at most the 13-14 requests one openstacksdk process needs (auth, version discovery,
one list per resource type) while every type fits in one page.  With 50 ms of latency per
request, the lists run concurrently, so a sync costs about one list, not the sum of ten.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

from common import ROOT, scratch_home

sys.path.insert(0, str(ROOT))

from minicloud.store import Store  # noqa: E402
from tests.drivers.fake_openstack import fake_openstack_driver  # noqa: E402


def measure(servers: int, latency: float = 0.0, page_size: int = 1000) -> None:
    store = Store(f"sqlite:///{scratch_home()}/sync.db").open()
    with fake_openstack_driver(store) as (driver, fake):
        net = fake.add_network("private")
        fake.add_subnet(net["id"], "private-subnet", "10.0.0.0/16")
        for i in range(servers):
            fake.add_server(f"vm{i}", [net["id"]])
        fake.page_size = page_size
        fake.latency = latency
        fake.reset_count()
        start = time.perf_counter()
        snapshot = driver.snapshot()
        elapsed = time.perf_counter() - start
        kinds = Counter(call.method for call in fake.calls)
        print(f"sync: {servers:5d} servers, page size {page_size:4d}, latency "
              f"{latency * 1000:3.0f} ms: {fake.request_count} requests "
              f"({dict(kinds)}), {elapsed:.2f} s, {len(snapshot.instances)} instances read")


def main() -> None:
    for servers in (10, 100, 1000):
        measure(servers)
    measure(1000, page_size=500)
    measure(10, latency=0.05)
    print("sync: with 50 ms per request, ten sequential lists would take >= 0.50 s")


if __name__ == "__main__":
    main()
