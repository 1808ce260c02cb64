"""Sync: HTTP requests and time for one full sync of an OpenStack cloud (mocked HTTP).

openstacksdk's real HTTP stack is served by the offline fake of the driver tests, with 10,
100 and 1,000 servers.  The request count must grow only with result pages, never per server;
target: at most the 13 requests one openstacksdk process needs (auth, version discovery,
one list per resource type) while every type fits in one page.  With 50 ms of latency per
request, the lists run concurrently, so a sync costs about one list, not the sum of nine.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

from common import ROOT, scratch_home

sys.path.insert(0, str(ROOT))

from minicloud.drivers.openstack.driver import OpenStackDriver
from minicloud.model.objects import Cloud
from minicloud.state.dburl import StoreURL
from minicloud.state.store import Store
from tests.drivers.fake_openstack import (
    CLOUD_SETTINGS,
    PASSWORD,
    FakeOpenStack,
    fake_openstack_driver,
)


def measure(servers: int, latency: float = 0.0, page_size: int = 1000) -> None:
    store = Store(StoreURL.sqlite(scratch_home() / "sync.db")).open()
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
    concurrent_sync(latency=0.05)


def concurrent_sync(latency: float) -> None:
    """Warm syncs with latency per request, on a transport that lets requests overlap
    (requests_mock's Mocker serialises them; an adapter mounted on the session does not)."""
    fake = FakeOpenStack()
    driver = OpenStackDriver(Cloud("os1", "openstack", "", dict(CLOUD_SETTINGS)),
                             {"password": PASSWORD})
    fake.mount(driver.conn.session.session)
    driver.snapshot()
    fake.latency = latency
    start = time.perf_counter()
    driver.snapshot()
    elapsed = time.perf_counter() - start
    print(f"sync: warm, {latency * 1000:.0f} ms per request, concurrent lists: {elapsed:.2f} s "
          f"(nine lists one after the other: >= {9 * latency:.2f} s)")


if __name__ == "__main__":
    main()
