"""The topology as Graphviz DOT: structure, labels, escaping, determinism, and Graphviz itself.

The DOT text is read back by a strict reader (tests/pictures.py), then ``dot -Tsvg`` must
accept every output and its SVG must hold every name.
"""

from __future__ import annotations

import random
import subprocess
import xml.etree.ElementTree as ET

import pytest

from minicloud.model.objects import Deployment
from minicloud.model.printable import visible
from minicloud.render.topology import EMPTY
from minicloud.render.topology_dot import escape, render_dot
from tests.pictures import (
    HOSTILE,
    SAMPLES,
    dot_program,
    dot_unquote,
    hostile,
    names_in,
    owned_demo,
    read_dot,
    several_clouds,
)


def first_lines(dot_text: str) -> list[str]:
    dot = read_dot(dot_text)
    return [dot.lines(node)[0] for node in dot.nodes]


# -- the demo -----------------------------------------------------------------------------------


def test_demo_nodes_edges_and_boxes() -> None:
    dot = read_dot(render_dot(owned_demo()))
    assert len(dot.nodes) == 7 and len(dot.edges) == 5 and len(dot.clusters) == 3
    # Tree order: the clusters' instances (by IP), then routers, then networks.
    assert first_lines(render_dot(owned_demo())) == [
        "Bourla", "Tower", "Ben", "LondonGateway", "LondonNet", "external", "AntwerpNet"]
    assert list(dot.nodes) == [f"n{i}" for i in range(1, 8)]
    labels = {dot.lines(n)[0]: dot.lines(n) for n in dot.nodes}
    assert labels["Tower"] == ["Tower", "private 10.10.2.5", "public 8.21.28.30", "ACTIVE"]
    assert labels["Ben"] == ["Ben", "private 10.10.2.6", "ACTIVE"]
    assert labels["LondonGateway"] == ["LondonGateway", "gateway external"]
    assert labels["LondonNet"] == ["LondonNet", "10.10.2.0/24"]
    assert labels["external"] == ["external", "8.21.28.0/24", "external, subnet trystack"]


def test_demo_boxes_shapes_and_ownership() -> None:
    dot = read_dot(render_dot(owned_demo()))
    boxes = {attrs["label"]: parent for attrs, parent in dot.clusters.values()}
    assert boxes == {"Cloud: TryStack\nstub, trystack.org": None,
                     "Cluster: Antwerp": "cluster_box1", "Cluster: London": "cluster_box1"}
    by_name = {dot.lines(n)[0]: n for n in dot.nodes}
    assert dot.parent[by_name["Tower"]] == "cluster_box3"
    assert dot.parent[by_name["LondonNet"]] == "cluster_box1"
    shapes = {name: dot.nodes[n]["shape"] for name, n in by_name.items()}
    assert shapes["LondonGateway"] == "hexagon" and shapes["Ben"] == "box"
    dashed = {name for name, n in by_name.items() if "dashed" in dot.nodes[n]["style"]}
    assert dashed == {"external"}  # the one thing MiniCloud did not create


def test_demo_edges() -> None:
    dot = read_dot(render_dot(owned_demo()))
    name = {n: dot.lines(n)[0] for n in dot.nodes}
    edges = [(name[a], name[b], attrs.get("label")) for a, b, attrs in dot.edges]
    assert edges == [
        ("LondonGateway", "LondonNet", None),
        ("external", "LondonGateway", "gateway"),  # the way out drawn above its router
        ("AntwerpNet", "Bourla", None),
        ("LondonNet", "Tower", None),
        ("LondonNet", "Ben", None),
    ]


def test_empty_deployment_is_one_note() -> None:
    dot = read_dot(render_dot(Deployment()))
    assert [dot.lines(n) for n in dot.nodes] == [[EMPTY]] and not dot.edges


def test_unreachable_cloud_empty_boxes_and_unknown_networks() -> None:
    dot = read_dot(render_dot(several_clouds()))
    boxes = {attrs["label"].split("\n")[0]: attrs for attrs, _ in dot.clusters.values()}
    assert "unreachable: last known state" in boxes["Cloud: Empty"]["label"]
    assert "dashed" in boxes["Cloud: Empty"]["style"]
    assert "dashed" not in boxes["Cloud: Bern"]["style"]
    labels = first_lines(render_dot(several_clouds()))
    assert labels.count("LondonNet") == 2 and labels.count("LondonGateway") == 2
    assert {"nothing yet", "no instances", "unknown-net", "Stray"} <= set(labels)
    # Two ports of one instance: two edges.
    name = {n: dot.lines(n)[0] for n in dot.nodes}
    assert sorted(name[a] for a, b, _ in dot.edges if name[b] == "Ben") == [
        "LondonNet", "LondonNet", "Second"]


# -- escaping -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_escape_round_trips(name: str) -> None:
    quoted = f'"{escape(name)}"'
    assert "\n" not in quoted and "\r" not in quoted
    assert dot_unquote(quoted) == visible(name)


def test_hostile_names_keep_the_structure() -> None:
    dep = hostile()
    dot = read_dot(render_dot(dep))
    # Every instance, network (and the router's unknown one) and the router, once each.
    assert len(dot.nodes) == 2 * len(HOSTILE) + 1 + 1 + 1  # + "gone" + the empty cloud's note
    assert len(dot.edges) == len(HOSTILE) + 4
    assert len(dot.clusters) == 3
    shown = {line for node in dot.nodes for line in dot.lines(node)}
    shown |= {line for attrs, _ in dot.clusters.values() for line in attrs["label"].split("\n")}
    shown |= {line.removeprefix("Cloud: ").removeprefix("Cluster: ") for line in shown}
    assert names_in(dep) <= shown


# -- determinism ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_same_deployment_same_bytes_whatever_the_input_order(sample: str) -> None:
    first = render_dot(SAMPLES[sample]())
    assert render_dot(SAMPLES[sample]()) == first
    shuffled = SAMPLES[sample]()
    rng = random.Random(7)
    for seq in (shuffled.clouds, shuffled.clusters, shuffled.networks, shuffled.routers,
                shuffled.instances, shuffled.public_ips):
        rng.shuffle(seq)
    assert render_dot(shuffled) == first


# -- Graphviz accepts every output, and its SVG holds every name -------------------------------


def svg_texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(el.itertext()) for el in root.iter("{http://www.w3.org/2000/svg}text")]


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_dot_draws_every_output_with_every_name(sample: str) -> None:
    program = dot_program()
    dep = SAMPLES[sample]()
    done = subprocess.run([program, "-Tsvg"], input=render_dot(dep).encode(),
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0 and not done.stderr, done.stderr.decode()
    texts = svg_texts(done.stdout)
    for name in names_in(dep) or {EMPTY}:
        assert any(name in text for text in texts), (name, texts)
