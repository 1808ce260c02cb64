"""Every user action, in the order of the commands' help; the menu and the commands are built
from these."""

from __future__ import annotations

from . import clouds, clusters, general, instances, networks, public_ips, routers
from .base import Action, Entry

ACTIONS: tuple[Action, ...] = (
    general.Topology(),
    general.Refresh(),
    *clouds.ACTIONS,
    *clusters.ACTIONS,
    *clouds.CATALOGUES,
    *routers.ACTIONS,
    *networks.ACTIONS,
    *public_ips.ACTIONS,
    *instances.ACTIONS,
    *instances.GROUPS,
    general.Reset(),
    general.Destroy(),
)

# The commands that group several actions (``minicloud clouds ...``).
GROUPS: dict[str, str] = {
    "clouds": "add, list, update and remove clouds",
    "clusters": "add, list and remove clusters",
    "images": "list a cloud's images",
    "flavors": "list a cloud's flavors",
    "routers": "create, change and remove routers",
    "networks": "create, attach, detach and remove networks",
    "public-ips": "list and release public IPs",
    "instances": "create, show, start, stop, remove and connect to instances",
    "security-groups": "list security groups",
}


def by_label() -> dict[str, tuple[Action, Entry]]:
    """Each menu entry's action (and the values the entry sets)."""
    found: dict[str, tuple[Action, Entry]] = {}
    for action in ACTIONS:
        for entry in action.entries():
            assert entry.label not in found, f"two actions for menu entry {entry.label!r}"
            found[entry.label] = (action, entry)
    return found
