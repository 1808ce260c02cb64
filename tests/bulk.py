"""Large Stub clouds, written in bulk (the cost tests and bench/ use them).

The servers, networks, routers and public IPs go straight into the Stub cloud's location, in
bulk, as a cloud that was filled by other means would hold them; one refresh then brings them into
MiniCloud's tables, so the two agree and a write on the result works as on any other store.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from minicloud.drivers.stub.state import RUNNING
from minicloud.model.objects import Instance, Network, Nic, PublicIP, Router, Subnet

if TYPE_CHECKING:
    from minicloud.app import MiniCloud

CLUSTERS = ("cluster0", "cluster1", "cluster2", "cluster3")


def bulk_stub_cloud(app: MiniCloud, cloud: str, instances: int, networks: int,
                    routers: int = 0, location: str = "", net_base: int = 0) -> None:
    """Add Stub cloud ``cloud`` holding ``instances`` servers spread over ``networks``
    private /24 networks (10.N.M.0/24 from ``net_base``), ``routers`` routers (up to five
    interfaces each, gateway on the external network) and a public IP for every tenth
    server (up to 250)."""
    app.clouds.add(cloud, "stub", location)
    external = next(n for n in app.networks.all(cloud) if n.external)
    for cluster in CLUSTERS:
        app.clusters.add(cloud, cluster)
    rows: list[Any] = []

    def put(obj: Any) -> None:
        rows.append(obj)

    nets = []
    for n in range(max(1, networks)):
        index = net_base + n
        cidr = ipaddress.ip_network(f"10.{index // 256}.{index % 256}.0/24")
        net = Network(cloud, f"{cloud}-net{n}", f"net{n:03d}", owned=True,
                      subnets=[Subnet(f"{cloud}-s{n}", f"net{n:03d}-subnet", str(cidr),
                                      str(cidr.network_address + 1))])
        nets.append(net)
        put(net)
    for r in range(routers):
        attached = [net.id for net in nets[r::max(1, routers)]][:5]
        put(Router(cloud, f"{cloud}-r{r}", f"router{r:02d}", owned=True,
                   gateway_network_id=external.id, interface_network_ids=attached))
    for i in range(instances):
        net = nets[i % len(nets)]
        ip = str(ipaddress.ip_network(net.cidrs[0])[10 + i // len(nets)])
        server = Instance(cloud, f"{cloud}-i{i}", f"vm{i:05d}", owned=True, image="image-cirros",
                          flavor="flavor-m1.tiny", status=RUNNING,
                          cluster=CLUSTERS[i % 5] if i % 5 < 4 else None,
                          nics=[Nic(net.id, ip, f"{cloud}-p{i}")], security_groups=["default"])
        put(server)
        if i % 10 == 0 and i // 10 < 250:
            put(PublicIP(cloud, f"{cloud}-f{i}", f"{external.cidrs[0].rsplit('.', 1)[0]}."
                                                 f"{2 + i // 10}", owned=True,
                         network_id=external.id, instance_id=server.id,
                         port_id=f"{cloud}-p{i}", fixed_ip=ip))
    seeder = app.make_driver_for(app.clouds.get(cloud))
    try:
        seeder.seed_many(rows)  # type: ignore[attr-defined]
    finally:
        seeder.close()
    app.sync.refresh(cloud)
