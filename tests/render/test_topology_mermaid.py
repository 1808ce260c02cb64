"""The topology as a Mermaid flowchart: structure, labels, escaping, determinism.

No Mermaid renderer runs here (it needs a browser); the strict reader of tests/pictures.py
accepts only the lines the renderer writes, and the labels must read back exactly.
"""

from __future__ import annotations

import random
import re

import pytest

from minicloud.model.objects import Deployment
from minicloud.model.printable import visible
from minicloud.render.topology import EMPTY
from minicloud.render.topology_dot import render_dot
from minicloud.render.topology_mermaid import escape, render_mermaid
from tests.pictures import (
    HOSTILE,
    SAMPLES,
    hostile,
    mermaid_label,
    names_in,
    owned_demo,
    read_dot,
    read_mermaid,
    several_clouds,
)


def test_demo_nodes_edges_and_subgraphs() -> None:
    mmd = read_mermaid(render_mermaid(owned_demo()))
    assert len(mmd.nodes) == 7 and len(mmd.edges) == 5 and len(mmd.subgraphs) == 3
    names = {lines[0]: node for node, (_, lines) in mmd.nodes.items()}
    assert list(names) == ["Bourla", "Tower", "Ben", "LondonGateway", "LondonNet", "external",
                           "AntwerpNet"]
    assert mmd.nodes[names["Tower"]][1] == ["Tower", "private 10.10.2.5", "public 8.21.28.30",
                                            "ACTIVE"]
    assert mmd.nodes[names["LondonGateway"]][0] == "{{"  # a hexagon
    assert mmd.nodes[names["LondonNet"]][0] == "(["
    assert {box: (lines, parent) for box, (lines, parent) in mmd.subgraphs.items()} == {
        "box1": (["Cloud: TryStack", "stub, trystack.org"], None),
        "box2": (["Cluster: Antwerp"], "box1"),
        "box3": (["Cluster: London"], "box1"),
    }
    assert mmd.parent[names["Ben"]] == "box3"
    assert mmd.classes["foreign"] == {names["external"]}
    assert mmd.classes["instance"] == {names["Bourla"], names["Tower"], names["Ben"]}
    gateway = [(a, b) for a, b, link in mmd.edges if "gateway" in link]
    assert gateway == [(names["external"], names["LondonGateway"])]


def test_same_graph_as_the_dot_picture() -> None:
    for sample in SAMPLES.values():
        dot, mmd = read_dot(render_dot(sample())), read_mermaid(render_mermaid(sample()))
        assert [dot.lines(n) for n in dot.nodes] == [lines for _, lines in mmd.nodes.values()]
        assert [(a, b) for a, b, _ in dot.edges] == [(a, b) for a, b, _ in mmd.edges]


def test_empty_and_unreachable() -> None:
    mmd = read_mermaid(render_mermaid(Deployment()))
    assert [lines for _, lines in mmd.nodes.values()] == [[EMPTY]]
    text = render_mermaid(several_clouds())
    mmd = read_mermaid(text)
    empty = next(box for box, (lines, _) in mmd.subgraphs.items() if lines[0] == "Cloud: Empty")
    assert f"  style {empty} stroke:#b91c1c,stroke-dasharray:6 4" in text.splitlines()
    assert text.count("  style ") == 1


@pytest.mark.parametrize("name", HOSTILE)
def test_escape_round_trips(name: str) -> None:
    escaped = escape(name)
    # Nothing Mermaid (or the HTML it renders into) reads as syntax is left as it is.
    assert not re.search(r'["#\[\]{}()<>&;:|`%\\\n\r]', re.sub(r"#\d+;", "", escaped)), escaped
    assert mermaid_label(escaped) == [visible(name)]


def test_hostile_names_keep_the_structure() -> None:
    dep = hostile()
    mmd = read_mermaid(render_mermaid(dep))
    assert len(mmd.nodes) == 2 * len(HOSTILE) + 3
    assert len(mmd.edges) == len(HOSTILE) + 4 and len(mmd.subgraphs) == 3
    shown = {line for _, lines in mmd.nodes.values() for line in lines}
    shown |= {line for lines, _ in mmd.subgraphs.values() for line in lines}
    shown |= {line.removeprefix("Cloud: ").removeprefix("Cluster: ") for line in shown}
    assert names_in(dep) <= shown


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_same_deployment_same_bytes_whatever_the_input_order(sample: str) -> None:
    first = render_mermaid(SAMPLES[sample]())
    shuffled = SAMPLES[sample]()
    rng = random.Random(11)
    for seq in (shuffled.clouds, shuffled.clusters, shuffled.networks, shuffled.routers,
                shuffled.instances, shuffled.public_ips):
        rng.shuffle(seq)
    assert render_mermaid(SAMPLES[sample]()) == render_mermaid(shuffled) == first
