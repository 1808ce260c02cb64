"""Shared pieces of the benchmarks: a large synthetic deployment and a scratch home."""

from __future__ import annotations

import ipaddress
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minicloud.model.objects import (  # noqa: E402
    Cloud,
    Cluster,
    Deployment,
    Instance,
    Network,
    Nic,
    PublicIP,
    Router,
    Subnet,
)


def scratch_home() -> Path:
    return Path(tempfile.mkdtemp(prefix="minicloud-bench-"))


def env_for(home: Path) -> dict[str, str]:
    env = dict(os.environ, MINICLOUD_HOME=str(home), HOME=str(home),
               PYTHONPATH=str(ROOT))
    env.pop("MINICLOUD_DB_URL", None)
    # As installed: modules compiled once (pip compiles them), not at every start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def large_deployment(clouds: int = 3, instances: int = 1000, networks: int = 100,
                     routers: int = 10) -> Deployment:
    """``instances``, private ``networks`` and ``routers`` in all, spread over ``clouds``."""
    dep = Deployment()

    def share(total: int, c: int) -> int:
        return total // clouds + (1 if c < total % clouds else 0)

    for c in range(clouds):
        cname = f"cloud{c}"
        dep.clouds.append(Cloud(cname, "stub", f"site{c}.example"))
        ext = Network(cname, f"{cname}-ext", "public", subnets=[
            Subnet(f"{cname}-ext-s", "", "203.0.113.0/24", "203.0.113.1")], external=True)
        dep.networks.append(ext)
        nets = []
        for n in range(share(networks, c)):
            cidr = ipaddress.ip_network(f"10.{c * 4 + n // 256}.{n % 256}.0/24")
            net = Network(cname, f"{cname}-net{n}", f"net{n:03d}", owned=True,
                          subnets=[Subnet(f"{cname}-s{n}", f"net{n:03d}-subnet", str(cidr),
                                          str(cidr.network_address + 1))])
            nets.append(net)
            dep.networks.append(net)
        n_routers = share(routers, c)
        for r in range(n_routers):
            attached = [n.id for n in nets[r::max(1, n_routers)]][:5]
            dep.routers.append(Router(cname, f"{cname}-r{r}", f"router{r:02d}", owned=True,
                                      gateway_network_id=ext.id,
                                      interface_network_ids=attached))
        for k in range(4):
            dep.clusters.append(Cluster(cname, f"cluster{k}"))
        per_cloud = share(instances, c)
        for i in range(per_cloud):
            net = nets[i % len(nets)]
            host = 10 + i // len(nets)
            ip = str(ipaddress.ip_network(net.cidrs[0])[host])
            inst = Instance(cname, f"{cname}-i{i}", f"vm{i:05d}", owned=True, image="cirros",
                            flavor="m1.tiny", cluster=f"cluster{i % 5}" if i % 5 < 4 else None,
                            nics=[Nic(net.id, ip, f"{cname}-p{i}")],
                            security_groups=["default"], status="ACTIVE")
            dep.instances.append(inst)
            if i % 10 == 0 and i // 10 < 250:
                dep.public_ips.append(PublicIP(cname, f"{cname}-f{i}",
                                               f"203.0.113.{2 + i // 10}", owned=True,
                                               network_id=ext.id, instance_id=inst.id))
    return dep


def save_deployment(app, dep: Deployment) -> None:
    """Write a whole deployment into the store in one transaction."""
    with app.inventory.write() as tx:
        for group in (dep.clouds, dep.clusters, dep.networks, dep.routers, dep.instances,
                      dep.public_ips):
            for obj in group:
                tx.put(obj, force=True)


def build_stub_store(home: Path, clouds: int = 3, instances: int = 1000) -> Path:
    """A store at ``home`` with ``clouds`` Stub clouds sharing ``instances`` servers (ten a
    network, a router for every ten networks), written in bulk at the Stub clouds' location and
    synced once into MiniCloud's (tests/bulk.py).  Returns the store's path."""
    from minicloud.app import MiniCloud
    from minicloud.config import Config
    from minicloud.state.dburl import StoreURL
    from tests.bulk import bulk_stub_cloud

    path = home / "minicloud.db"
    app = MiniCloud(Config(home=home, db_url=StoreURL.sqlite(path)), notify=lambda line: None)
    for c in range(clouds):
        share = instances // clouds + (1 if c < instances % clouds else 0)
        networks = max(1, share // 10)
        bulk_stub_cloud(app, f"cloud{c}", share, networks, routers=max(1, networks // 10),
                        location=f"site{c}.example", net_base=c * 1024)
    app.close()
    return path
