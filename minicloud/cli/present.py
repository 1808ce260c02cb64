"""What both front ends show: results, tables, records, and how objects read in a picker.

An action returns a :class:`Result`; the menu and the one-shot commands print it the same way
(the menu says its lines and its errors as ``Error: ...``; a command writes its lines to
stdout, its notes and errors to stderr, or ``--json`` data).  The JSON shapes come from
:mod:`minicloud.render.views`; this module only lays them out for people.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..model import json_text
from ..model.printable import printable

if TYPE_CHECKING:
    from ..app import MiniCloud
    from ..model.objects import Cloud, Flavor, Instance, Network, PublicIP

# What the menu says after a confirmation answered no; a command writes it to stderr (exit 1).
DECLINED = "Nothing changed."

Columns = Sequence[tuple[str, str]]


@dataclass
class Result:
    """What an action did, for both front ends.

    ``lines`` are the output (a command's stdout); ``errors`` name what failed, one line each
    (a command then exits 1); ``data`` is what ``--json`` prints; ``block`` marks several lines
    that the menu sets apart with a blank line; ``code`` is the exit code of a program the
    action ran (a command exits with it) and ``status`` the menu's sentence about it.
    ``output``, when set, is what a command writes to stdout instead of ``lines``, byte for
    byte (a picture's text, which must not be split and joined again).
    """

    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    data: Any = None
    block: bool = False
    code: int | None = None
    status: str | None = None
    output: str | None = None


def said(text: str) -> Result:
    """One sentence."""
    return Result([text])


def to_json(data: Any, pretty: bool = True) -> str:
    """Indented for a person; compact for a script, and written by orjson (json_text), ten
    times faster on a large deployment."""
    if pretty:
        return json.dumps(data, indent=2, ensure_ascii=False)
    return json_text.dumps(data)


# -- tables and records ------------------------------------------------------------------------


def cell(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return printable(", ".join(str(v) for v in value))
    return printable(str(value))


def table(data: list[dict[str, Any]], columns: Columns, empty: str,
          shown: list[dict[str, Any]] | None = None) -> Result:
    """``data`` (the JSON rows) as aligned columns of ``(HEADER, key)``, or ``empty``.

    ``shown`` are the rows as people read them (e.g. names instead of nested objects) when
    they differ from ``data``.
    """
    rows = data if shown is None else shown
    if not rows:
        return Result([empty], data=data)
    cells = [[header for header, _ in columns]]
    cells += [[cell(row.get(key)) for _, key in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
             for line in cells]
    return Result(lines, data=data, block=True)


def record(data: dict[str, Any], fields: Sequence[tuple[str, Any]]) -> Result:
    """One object as ``Label : value`` lines; ``data`` is what ``--json`` prints."""
    width = max(len(label) for label, _ in fields)
    return Result([f"{label:<{width}} : {cell(value)}" for label, value in fields], data=data,
                  block=True)


def text(content: str, data: Any = None) -> Result:
    """Preformatted text (the tree)."""
    return Result(content.splitlines(), data=data, block=True)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# -- the listings' columns ---------------------------------------------------------------------

CLOUD_COLUMNS = [("NAME", "name"), ("TYPE", "type"), ("LOCATION", "location"),
                 ("REACHABLE", "reachable"), ("CLUSTERS", "clusters"),
                 ("INSTANCES", "instances"), ("SYNCED", "synced")]


def synced(at: float | None, changes: int, now: float) -> str:
    """When a cloud was last read and what that read found changed outside MiniCloud:
    ``synced 3 min ago, 2 changes outside MiniCloud``."""
    if at is None:
        return "never synced"
    seconds = max(0, int(now - at))
    if seconds < 60:
        ago = "just now"
    elif seconds < 3600:
        ago = f"{seconds // 60} min ago"
    elif seconds < 86400:
        ago = f"{seconds // 3600} h ago"
    else:
        ago = f"{seconds // 86400} d ago"
    found = f", {plural(changes, 'change')} outside MiniCloud" if changes else ""
    return f"synced {ago}{found}"
CLUSTER_COLUMNS = [("NAME", "name"), ("CLOUD", "cloud"), ("INSTANCES", "instances")]
IMAGE_COLUMNS = [("NAME", "name"), ("CLOUD", "cloud"), ("ID", "id")]
FLAVOR_COLUMNS = [("NAME", "name"), ("VCPUS", "vcpus"), ("RAM_MB", "ram"), ("DISK_GB", "disk"),
                  ("CLOUD", "cloud")]
ROUTER_COLUMNS = [("NAME", "name"), ("CLOUD", "cloud"), ("GATEWAY", "gateway"),
                  ("NETWORKS", "networks"), ("OWNED", "owned")]
NETWORK_COLUMNS = [("NAME", "name"), ("CLOUD", "cloud"), ("CIDRS", "cidrs"),
                   ("EXTERNAL", "external"), ("ROUTERS", "routers"), ("INSTANCES", "instances"),
                   ("OWNED", "owned")]
PUBLIC_IP_COLUMNS = [("ADDRESS", "address"), ("CLOUD", "cloud"), ("NETWORK", "network"),
                     ("INSTANCE", "instance"), ("OWNED", "owned")]
INSTANCE_COLUMNS = [("NAME", "name"), ("CLOUD", "cloud"), ("CLUSTER", "cluster"),
                    ("STATUS", "status"), ("PRIVATE_IP", "private_ip"), ("NETWORK", "network"),
                    ("PUBLIC_IP", "public_ip"), ("GROUPS", "security_groups"),
                    ("IMAGE", "image"), ("FLAVOR", "flavor")]
SECURITY_GROUP_COLUMNS = [("NAME", "name"), ("CLOUD", "cloud"), ("RULES", "rules"),
                          ("SSH", "ssh"), ("OWNED", "owned")]


# -- how objects read in a picker --------------------------------------------------------------


def several_clouds(app: MiniCloud) -> bool:
    return len(app.clouds.all()) > 1


def named(app: MiniCloud, obj: Any) -> str:
    """An object's name, with `` @CLOUD`` when MiniCloud knows several clouds."""
    return f"{obj.name} @{obj.cloud}" if several_clouds(app) else obj.name


def describe_cloud(app: MiniCloud, cloud: Cloud) -> str:
    return f"{cloud.name} ({cloud.type}{', ' + cloud.location if cloud.location else ''})"


def describe_network(app: MiniCloud, net: Network) -> str:
    cidrs = ", ".join(net.cidrs) or "no subnet"
    return f"{named(app, net)} [{cidrs}]{' (external)' if net.external else ''}"


def describe_instance(app: MiniCloud, inst: Instance) -> str:
    return f"{named(app, inst)} [{inst.private_ip or '-'}] [{inst.status}]"


def describe_flavor(app: MiniCloud, flavor: Flavor) -> str:
    return f"{flavor.name} ({flavor.vcpus} vCPU, {flavor.ram} MB RAM, {flavor.disk} GB disk)"


def describe_public_ip(app: MiniCloud, fip: PublicIP) -> str:
    holder = next((i.name for i in app.instances.all(fip.cloud) if i.id == fip.instance_id),
                  None) if fip.instance_id else None
    used = f"attached to {holder}" if holder else "free"
    origin = "allocated by MiniCloud" if fip.owned else "not allocated by MiniCloud"
    return f"{named(app, fip)}: {used}, {origin}"


def name_only(app: MiniCloud, obj: Any) -> str:
    return str(getattr(obj, "name", obj))


# -- the terminal ------------------------------------------------------------------------------


def silence_stdout() -> None:
    """Nobody reads stdout any more (``| head``): send what is left to /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
