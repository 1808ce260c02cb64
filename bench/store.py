"""Store: save 10,000 objects in one write and load them at start.

SQLite always; MySQL too when MINICLOUD_TEST_MYSQL_URL is set (its tables are dropped first).
Targets on SQLite: save < 1 s, load < 0.5 s.
"""

from __future__ import annotations

import os
import time

from common import large_deployment, save_deployment, scratch_home

from minicloud.app import MiniCloud
from minicloud.config import Config
from minicloud.state.dburl import StoreURL, describe_url
from minicloud.state.store import Store


def bench(url: str | StoreURL, label: str) -> None:
    dep = large_deployment(clouds=3, instances=9000, networks=900, routers=90)
    total = sum(len(g) for g in (dep.clouds, dep.clusters, dep.networks, dep.routers,
                                 dep.instances, dep.public_ips))
    home = scratch_home()
    app = MiniCloud(Config(home=home, db_url=url)).open()
    start = time.perf_counter()
    save_deployment(app, dep)
    saved = time.perf_counter() - start
    app.close()
    start = time.perf_counter()
    fresh = MiniCloud(Config(home=home, db_url=url)).open()
    loaded = time.perf_counter() - start
    count = len(fresh.inventory.cache.all("instance"))
    fresh.close()
    print(f"store[{label}]: {total} objects: save {saved:.2f} s, load {loaded:.2f} s "
          f"({count} instances back) at {describe_url(url)}")


def main() -> None:
    bench(StoreURL.sqlite(scratch_home() / "bench.db"), "sqlite")
    url = os.environ.get("MINICLOUD_TEST_MYSQL_URL")
    if url:
        store = Store(url).open()
        store.drop_all()
        bench(url, "mysql")
    else:
        print("store[mysql]: not measured (MINICLOUD_TEST_MYSQL_URL is not set)")


if __name__ == "__main__":
    main()
