"""The deployment topology as Graphviz DOT text (pure functions, no I/O).

One ``cluster_`` subgraph per cloud (and one per MiniCloud cluster inside it); routers are
hexagons, networks flat bars, instances rounded boxes; what MiniCloud did not create has a
dashed outline.  Edges run from the external network down to its routers, from a router to
its networks and from a network to its instances, so ``dot`` draws the way out on top.

Every string is written quoted and escaped by :func:`quote` (ids too), so no name can break
the syntax or turn into a Graphviz escape.  The same deployment gives the same bytes.
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
FONT = "Helvetica"
_DEFAULTS = (
    ("graph", {"fontname": FONT, "fontsize": "11", "rankdir": "TB", "labelloc": "b",
               "label": LEGEND}),
    ("node", {"fontname": FONT, "fontsize": "10"}),
    ("edge", {"fontname": FONT, "fontsize": "9", "dir": "none"}),
)

# Each kind's look: shape and fill; ``style`` gets ``dashed`` for foreign objects.
_LOOKS: dict[str, dict[str, str]] = {
    ROUTER: {"shape": "hexagon", "style": "filled", "fillcolor": "#fde68a"},
    NETWORK: {"shape": "box", "style": "filled", "fillcolor": "#bbf7d0", "width": "2.6",
              "height": "0.3"},
    EXTERNAL: {"shape": "box", "style": "filled", "fillcolor": "#e5e7eb", "width": "2.6",
               "height": "0.3"},
    INSTANCE: {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbeafe"},
    NOTE: {"shape": "plaintext", "style": "solid"},
}
_EDGE_LOOKS: dict[str, dict[str, str]] = {
    INTERFACE: {},
    GATEWAY: {"style": "bold", "label": "gateway"},
    ATTACHMENT: {"color": "#6b7280"},
}


def escape(text: str) -> str:
    """``text`` for inside a DOT quoted string, shown as is by Graphviz.

    Backslashes are doubled (else ``\\N``, ``\\G``, ``\\l``... would be expanded), quotes
    escaped, and ``&`` written ``&amp;`` (Graphviz decodes HTML entities in plain labels, so
    a name ``&lt;`` would otherwise read ``<``); control characters are made visible first.
    """
    text = visible(text)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")


def quote(text: str) -> str:
    return f'"{escape(text)}"'


def label(lines: tuple[str, ...]) -> str:
    """A quoted label of several lines (``\\n`` between them: centred lines)."""
    return '"' + "\\n".join(escape(line) for line in lines) + '"'


def attributes(attrs: dict[str, str]) -> str:
    """``[key="value", ...]`` in the given order."""
    return "[" + ", ".join(f"{key}={value}" for key, value in attrs.items()) + "]"


def _quoted(attrs: dict[str, str]) -> dict[str, str]:
    return {key: quote(value) for key, value in attrs.items()}


def _node(item: Item, indent: str) -> str:
    look = dict(_LOOKS[item.kind])
    if not item.owned:
        look["style"] += ",dashed"
    attrs = {"label": label(item.lines), **_quoted(look)}
    return f"{indent}{quote(item.id)} {attributes(attrs)};"


def _box(box: Box, depth: int) -> list[str]:
    indent = INDENT * depth
    inner = indent + INDENT
    colour = "#b91c1c" if box.unreachable else "#4b5563"
    look = {"labelloc": "t", "style": "rounded,dashed" if box.unreachable else "rounded",
            "color": colour, "fontcolor": colour}
    lines = [f"{indent}subgraph {quote('cluster_' + box.id)} {{",
             f"{inner}label={label(box.lines)};"]
    lines += [f"{inner}{key}={value};" for key, value in _quoted(look).items()]
    for part in box.parts:
        lines += _box(part, depth + 1) if isinstance(part, Box) else [_node(part, inner)]
    lines.append(f"{indent}}}")
    return lines


def _edge(edge: Edge) -> str:
    # Drawn from the way out down to the instances: gateway network above its router.
    top, bottom = (edge.source, edge.target) if edge.kind == INTERFACE else \
        (edge.target, edge.source)
    attrs = _quoted(_EDGE_LOOKS[edge.kind])
    tail = f" {attributes(attrs)}" if attrs else ""
    return f"{INDENT}{quote(top)} -> {quote(bottom)}{tail};"


def render_dot(dep: Deployment) -> str:
    """The DOT text of the deployment's topology, ending with a newline."""
    graph = build_graph(dep)
    lines = [f"digraph {quote('MiniCloud')} {{"]
    lines += [f"{INDENT}{what} {attributes(_quoted(attrs))};" for what, attrs in _DEFAULTS]
    lines += [_node(item, INDENT) for item in graph.items]
    for box in graph.boxes:
        lines += _box(box, 1)
    lines += [_edge(edge) for edge in graph.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"
