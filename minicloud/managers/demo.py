"""The README's demo deployment (DESIGN.md section 4b), built through the managers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..model.names import PUBLIC_SSH

if TYPE_CHECKING:
    from .clouds import CloudManager
    from .clusters import ClusterManager
    from .instances import InstanceManager
    from .networks import NetworkManager
    from .routers import RouterManager

CLOUD = "TryStack"


class Managers(Protocol):
    """What the demo is built through: the managers it needs (the app holds them; nothing here
    knows the app)."""

    clouds: CloudManager
    clusters: ClusterManager
    routers: RouterManager
    networks: NetworkManager
    instances: InstanceManager


def build_demo(app: Managers) -> bool:
    """Build the demo in an empty store.  Returns False (and changes nothing) otherwise."""
    if app.clouds.all():
        return False
    app.clouds.add(CLOUD, "stub", "trystack.org", {
        "external_network": "external",
        "external_cidr": "8.21.28.0/24",
        "external_subnet": "trystack",
    })
    for cluster in ("Antwerp", "London"):
        app.clusters.add(CLOUD, cluster)
    app.routers.create(CLOUD, "LondonGateway", gateway="external")
    app.networks.create(CLOUD, "LondonNet", "10.10.2.0/24", router="LondonGateway")
    app.networks.create(CLOUD, "AntwerpNet", "10.10.1.0/24")
    create = app.instances.create
    create(CLOUD, "Bourla", "cirros", "m1.tiny", "AntwerpNet", cluster="Antwerp",
           fixed_ip="10.10.1.12")
    tower = create(CLOUD, "Tower", "cirros", "m1.tiny", "LondonNet", cluster="London",
                   security_group=PUBLIC_SSH, fixed_ip="10.10.2.5")
    app.instances.assign_public_ip(tower, "8.21.28.30")
    create(CLOUD, "Ben", "cirros", "m1.tiny", "LondonNet", cluster="London",
           fixed_ip="10.10.2.6")
    return True
