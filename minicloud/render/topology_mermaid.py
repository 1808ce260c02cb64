"""The deployment topology as a Mermaid flowchart (pure functions, no I/O).

The same graph as the DOT picture (:mod:`.topology_graph`): a subgraph per cloud and
per cluster, routers as hexagons, networks as stadiums, instances as rounded boxes, what
MiniCloud did not create dashed.  GitHub, GitLab and most wikis draw it from a ``mermaid``
code block.

Node and subgraph ids are generated (``n1``, ``box1``...), never names; every label is quoted
and each character that means something to Mermaid (or to the HTML it renders labels into)
is written as a ``#CODE;`` entity, so no name can break the syntax.
"""

from __future__ import annotations

from ..model.objects import Deployment
from ..model.printable import visible
from .topology_graph import (
    ATTACHMENT,
    EXTERNAL,
    GATEWAY,
    INSTANCE,
    INTERFACE,
    LEGEND,
    NETWORK,
    NOTE,
    ROUTER,
    Box,
    Edge,
    Item,
    build_graph,
)

INDENT = "  "
BREAK = "<br/>"
# ASCII characters a label may hold as they are; every other ASCII one becomes an entity.
_SAFE = frozenset(" .,_-/+@=")

# Each kind's brackets (shape) and class.
_SHAPES = {
    ROUTER: ("{{", "}}"),
    NETWORK: ("([", "])"),
    EXTERNAL: ("([", "])"),
    INSTANCE: ("(", ")"),
    NOTE: ("[", "]"),
}
_CLASSES = (
    (ROUTER, "fill:#fde68a,stroke:#92400e"),
    (NETWORK, "fill:#bbf7d0,stroke:#166534"),
    (EXTERNAL, "fill:#e5e7eb,stroke:#374151"),
    (INSTANCE, "fill:#dbeafe,stroke:#1e40af"),
    (NOTE, "fill:none,stroke:none"),
    ("foreign", "stroke-dasharray:5 3"),  # last, so it adds to the kind's look
)
_LINKS = {INTERFACE: "---", GATEWAY: "===|gateway|", ATTACHMENT: "---"}
UNREACHABLE_STYLE = "stroke:#b91c1c,stroke-dasharray:6 4"


def escape(text: str) -> str:
    """``text`` for inside a quoted Mermaid label: letters, digits, other non-ASCII characters
    and a few harmless signs as they are; any other ASCII character (quotes, ``#``, ``<>&``,
    brackets, ``;``, ``:``, backtick...) as the entity ``#CODE;``; control characters made
    visible first."""
    return "".join(
        char if (char.isalnum() or char in _SAFE or not char.isascii()) else f"#{ord(char)};"
        for char in visible(text)
    )


def label(lines: tuple[str, ...]) -> str:
    return '"' + BREAK.join(escape(line) for line in lines) + '"'


def _node(item: Item, indent: str) -> str:
    opening, closing = _SHAPES[item.kind]
    return f"{indent}{item.id}{opening}{label(item.lines)}{closing}"


def _box(box: Box, depth: int) -> list[str]:
    indent = INDENT * depth
    lines = [f"{indent}subgraph {box.id}[{label(box.lines)}]"]
    for part in box.parts:
        if isinstance(part, Box):
            lines += _box(part, depth + 1)
        else:
            lines.append(_node(part, indent + INDENT))
    lines.append(f"{indent}end")
    return lines


def _edge(edge: Edge) -> str:
    # Written from the way out down to the instances, as in the DOT picture.
    top, bottom = (edge.source, edge.target) if edge.kind == INTERFACE else \
        (edge.target, edge.source)
    return f"{INDENT}{top} {_LINKS[edge.kind]} {bottom}"


def _styles(items: list[Item], boxes: list[Box]) -> list[str]:
    lines = [f"{INDENT}classDef {name} {look}" for name, look in _CLASSES]
    for name, _ in _CLASSES:
        ids = [i.id for i in items if (i.kind == name if name != "foreign" else not i.owned)]
        if ids:
            lines.append(f"{INDENT}class {','.join(ids)} {name}")
    lines += [f"{INDENT}style {box.id} {UNREACHABLE_STYLE}" for box in boxes if box.unreachable]
    return lines


def render_mermaid(dep: Deployment) -> str:
    """The Mermaid text of the deployment's topology, ending with a newline."""
    graph = build_graph(dep)
    lines = ["flowchart TB", f"{INDENT}%% {LEGEND}"]
    lines += [_node(item, INDENT) for item in graph.items]
    for box in graph.boxes:
        lines += _box(box, 1)
    lines += [_edge(edge) for edge in graph.edges]
    lines += _styles(list(graph.walk()), graph.boxes)
    return "\n".join(lines) + "\n"
