"""What the topology pictures' tests share: sample deployments (the demo, hostile names, several
clouds), small strict readers of the DOT and Mermaid text the renderers write, and Graphviz.

The readers accept only the statements the renderers write and fail on anything else, so a
name that escaped its quotes shows up as a parse error or as a wrong count.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field

import pytest

from minicloud.model.objects import Cloud, Cluster, Deployment, Nic, PublicIP, Router
from minicloud.model.printable import visible
from tests.render.test_topology import demo, net, vm

# Names no cloud should give, and that some will.
HOSTILE = [
    'q"uote', "back\\slash\\", "<b>&amp;</b>", "&lt;", "new\nline\r\ttab\x00\x7f\x85",
    "br]ack}et;", "a-->b", "Zürich", "rocket \U0001f680 ok", "x" * 300, "#quot;", "end",
    "\\N\\G\\l", "`md`", "style a:b#35;", "%%c", "sep\u2028par\u2029", "{{hex}}", "(['x'])",
    "<br/>", "a|b", "\\", '"',
]


def owned_demo() -> Deployment:
    """The demo as MiniCloud built it: everything its own but the cloud's external network."""
    dep = demo()
    for obj in [*dep.networks, *dep.routers, *dep.instances]:
        obj.owned = obj.name != "external"
    return dep


def hostile() -> Deployment:
    """Every hostile name as a cloud, cluster, router, network, subnet, instance and status."""
    c, other = HOSTILE[0], HOSTILE[7]
    networks = [net(c, f"n{i}", name, f"10.0.{i}.0/24", subnet_name=name)
                for i, name in enumerate(HOSTILE)]
    networks[0].external = True
    instances = [vm(c, f"i{i}", name, f"n{i}", f"10.0.{i}.5", HOSTILE[5] if i % 2 else None,
                    (name,), status=name) for i, name in enumerate(HOSTILE)]
    return Deployment(
        clouds=[Cloud(name=c, type="stub", location=HOSTILE[1]),
                Cloud(name=other, type="openstack", location=HOSTILE[2], reachable=False)],
        clusters=[Cluster(cloud=c, name=HOSTILE[5])],
        networks=networks,
        routers=[Router(cloud=c, id="r", name=HOSTILE[6], gateway_network_id="n0",
                        interface_network_ids=["n1", "n2", "gone"])],
        instances=instances,
        public_ips=[PublicIP(cloud=c, id="f", name="10.0.0.9", network_id="n0",
                             instance_id="i3")],
    )


def several_clouds() -> Deployment:
    """Two clouds with same-named objects, an empty cloud, an empty cluster, an instance on a
    network MiniCloud does not know, and an instance with two networks."""
    dep = owned_demo()
    dep.clouds += [Cloud(name="Bern", type="stub", location="Zürich"),
                   Cloud(name="Empty", type="stub", reachable=False)]
    dep.clusters.append(Cluster(cloud="Bern", name="Idle"))
    dep.networks += [net("Bern", "b-lon", "LondonNet", "10.20.0.0/24"),
                     net("Bern", "b-two", "Second", "10.21.0.0/24")]
    dep.routers.append(Router(cloud="Bern", id="b-r", name="LondonGateway",
                              interface_network_ids=["b-lon"]))
    two = vm("Bern", "b-i", "Ben", "b-lon", "10.20.0.5")
    two.nics.append(Nic(network_id="b-two", ip="10.21.0.5"))
    dep.instances += [two, vm("Bern", "b-x", "Stray", "unknown-net", None)]
    return dep


SAMPLES = {"demo": owned_demo, "hostile": hostile, "several_clouds": several_clouds,
           "empty": Deployment}


def names_in(dep: Deployment) -> set[str]:
    """Every name a picture must show, as it shows them (control characters made visible)."""
    found = {c.name for c in dep.clouds} | {c.name for c in dep.clusters}
    found |= {o.name for o in [*dep.networks, *dep.routers, *dep.instances]}
    found |= {i.status for i in dep.instances}
    return {visible(name) for name in found}


# -- Graphviz ---------------------------------------------------------------------------------


def dot_program() -> str:
    """Graphviz's ``dot``; skips without it, but fails under CI (.ci/run installs it)."""
    found = shutil.which("dot")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Graphviz's dot is missing: .ci/run installs the graphviz package")
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz)")
    return found


# -- reading DOT ------------------------------------------------------------------------------

_DOT_TOKEN = re.compile(r'\s*(?:("(?:[^"\\\n]|\\.)*")|(->)|([{}\[\];,=])|([A-Za-z_][\w]*))')


@dataclass
class Dot:
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    # cluster name -> (its attributes, its parent cluster or None)
    clusters: dict[str, tuple[dict[str, str], str | None]] = field(default_factory=dict)
    parent: dict[str, str | None] = field(default_factory=dict)  # node -> its cluster

    def lines(self, node: str) -> list[str]:
        return self.nodes[node]["label"].split("\n")


def dot_unquote(token: str) -> str:
    """A quoted DOT string as Graphviz shows it: ``\\n`` a line break, ``\\x`` is x, and
    ``&amp;`` is ``&`` (the renderer writes no other entity)."""
    assert token.startswith('"') and token.endswith('"'), token
    text = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), token[1:-1])
    assert "&" not in text.replace("&amp;", ""), f"a bare & in {token}"
    return text.replace("&amp;", "&")


def _dot_tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _DOT_TOKEN.match(text, pos)
        assert match and match.end() > pos, f"unexpected DOT text at {pos}: {text[pos:pos + 40]!r}"
        tokens.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
    return tokens


def _attrs(tokens: list[str], i: int) -> tuple[dict[str, str], int]:
    """``[k=v, ...]`` from ``tokens[i]`` (which is ``[``); returns them and the next index."""
    assert tokens[i] == "["
    attrs, i = {}, i + 1
    while tokens[i] != "]":
        key, eq, value = tokens[i:i + 3]
        assert eq == "=" and key not in attrs, tokens[i:i + 3]
        attrs[key] = dot_unquote(value)
        i += 3
        if tokens[i] == ",":
            i += 1
    return attrs, i + 1


def read_dot(text: str) -> Dot:
    tokens = _dot_tokens(text)
    assert tokens[:3] == ["digraph", '"MiniCloud"', "{"] and tokens[-1] == "}", tokens[:3]
    out, stack, i = Dot(), [None], 3
    while i < len(tokens) - 1:
        tok = tokens[i]
        if tok == "subgraph":
            name = dot_unquote(tokens[i + 1])
            assert tokens[i + 2] == "{" and name.startswith("cluster_") and name not in out.clusters
            out.clusters[name] = ({}, stack[-1])
            stack.append(name)
            i += 3
        elif tok == "}":
            stack.pop()
            i += 1
        elif tok in ("graph", "node", "edge"):
            _, i = _attrs(tokens, i + 1)
            assert tokens[i] == ";"
            i += 1
        elif tokens[i + 1] == "=":  # a cluster attribute
            cluster = stack[-1]
            assert cluster is not None and tokens[i + 3] == ";"
            out.clusters[cluster][0][tok] = dot_unquote(tokens[i + 2])
            i += 4
        elif tokens[i + 1] == "->":
            attrs: dict[str, str] = {}
            j = i + 3
            if tokens[j] == "[":
                attrs, j = _attrs(tokens, j)
            assert tokens[j] == ";"
            out.edges.append((dot_unquote(tok), dot_unquote(tokens[i + 2]), attrs))
            i = j + 1
        else:
            node = dot_unquote(tok)
            assert node not in out.nodes, f"node {node} twice"
            out.nodes[node], i = _attrs(tokens, i + 1)
            out.parent[node] = stack[-1]
            assert tokens[i] == ";"
            i += 1
    assert stack == [None], "unbalanced braces"
    return out


# -- reading Mermaid --------------------------------------------------------------------------

_MMD_LABEL = r'"([^"]*)"'
_MMD_NODE = re.compile(r"(n\d+)(\{\{|\(\[|\(|\[)" + _MMD_LABEL + r"(\}\}|\]\)|\)|\])")
_MMD_SUBGRAPH = re.compile(r"subgraph (box\d+)\[" + _MMD_LABEL + r"\]")
_MMD_EDGE = re.compile(r"(n\d+) (---|===\|gateway\|) (n\d+)")
_MMD_CLASS = re.compile(r"class (n\d+(?:,n\d+)*) (\w+)")
_MMD_OTHER = re.compile(r"classDef \w+ [\w:#,.\- ]+|style box\d+ [\w:#,.\- ]+|%% .*")


@dataclass
class Mermaid:
    nodes: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # id -> shape, lines
    subgraphs: dict[str, tuple[list[str], str | None]] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    classes: dict[str, set[str]] = field(default_factory=dict)  # class -> node ids
    parent: dict[str, str | None] = field(default_factory=dict)


def mermaid_label(text: str) -> list[str]:
    """A label's lines as Mermaid shows them (``#CODE;`` decoded)."""
    assert "<" not in text.replace("<br/>", "") and "&" not in text and '"' not in text, text
    return [re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), line)
            for line in text.split("<br/>")]


def read_mermaid(text: str) -> Mermaid:
    lines = text.splitlines()
    assert lines[0] == "flowchart TB" and text.endswith("\n")
    out, stack = Mermaid(), [None]
    for line in lines[1:]:
        body = line.strip()
        if (m := _MMD_NODE.fullmatch(body)) is not None:
            assert m.group(1) not in out.nodes
            out.nodes[m.group(1)] = (m.group(2), mermaid_label(m.group(3)))
            out.parent[m.group(1)] = stack[-1]
        elif (m := _MMD_SUBGRAPH.fullmatch(body)) is not None:
            out.subgraphs[m.group(1)] = (mermaid_label(m.group(2)), stack[-1])
            stack.append(m.group(1))
        elif body == "end":
            stack.pop()
        elif (m := _MMD_EDGE.fullmatch(body)) is not None:
            out.edges.append((m.group(1), m.group(3), m.group(2)))
        elif (m := _MMD_CLASS.fullmatch(body)) is not None:
            out.classes.setdefault(m.group(2), set()).update(m.group(1).split(","))
        else:
            assert _MMD_OTHER.fullmatch(body), f"unexpected Mermaid line: {line!r}"
    assert stack == [None], "unbalanced subgraphs"
    return out
