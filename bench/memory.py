"""Memory: resident size of a MiniCloud process with 10,000 instances in its cache."""

from __future__ import annotations

import resource

from common import large_deployment, save_deployment, scratch_home

from minicloud.app import MiniCloud
from minicloud.config import Config
from minicloud.state.dburl import StoreURL


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    home = scratch_home()
    url = StoreURL.sqlite(home / "minicloud.db")
    app = MiniCloud(Config(home=home, db_url=url)).open()
    save_deployment(app, large_deployment(instances=10000, networks=300, routers=30))
    app.close()
    import gc

    gc.collect()
    before = rss_mb()
    fresh = MiniCloud(Config(home=home, db_url=url)).open()
    count = len(fresh.inventory.cache.all("instance"))
    gc.collect()
    after = rss_mb()
    print(f"memory: {count} instances cached: process RSS {after:.0f} MB "
          f"({after - before:.0f} MB for the loaded cache)")


if __name__ == "__main__":
    main()
