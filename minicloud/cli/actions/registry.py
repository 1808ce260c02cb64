"""Every user action, in the order of the commands' help; the menu and the commands are built
from these."""

from __future__ import annotations

from . import clouds, clusters, deployments, general, instances, networks, public_ips, routers
from .base import Action, Entry

ACTIONS: tuple[Action, ...] = (
    general.Topology(),
    general.Refresh(),
    general.Drift(),
    deployments.Export(),
    deployments.PlanFile(),
    deployments.ApplyFile(),
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

# The commands that group several actions (``minicloud clouds ...``): what they act on.
NOUNS: dict[str, str] = {
    "clouds": "clouds",
    "clusters": "clusters",
    "images": "a cloud's images",
    "flavors": "a cloud's flavors",
    "routers": "routers",
    "networks": "networks",
    "public-ips": "public IPs",
    "instances": "instances",
    "security-groups": "security groups",
}


def group_help(group: str) -> str:
    """A group's line in the help: every subcommand it has, from the declarations (so a new
    action can never be missing from it), e.g. ``list, create, remove: networks``."""
    names = [a.path[1] for a in ACTIONS if len(a.path) == 2 and a.path[0] == group]
    return f"{', '.join(names)}: {NOUNS[group]}"


GROUPS: dict[str, str] = {group: group_help(group) for group in NOUNS}


def by_label() -> dict[str, tuple[Action, Entry]]:
    """Each menu entry's action (and the values the entry sets)."""
    found: dict[str, tuple[Action, Entry]] = {}
    for action in ACTIONS:
        for entry in action.entries():
            assert entry.label not in found, f"two actions for menu entry {entry.label!r}"
            found[entry.label] = (action, entry)
    return found
