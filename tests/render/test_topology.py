"""The topology tree: DESIGN.md section 4, byte for byte."""

from __future__ import annotations

from minicloud.model.objects import (
    Cloud,
    Cluster,
    Deployment,
    Instance,
    Network,
    Nic,
    PublicIP,
    Router,
    Subnet,
)
from minicloud.render.topology import EMPTY, Node, build, layout, render, render_text
from tests.reference import REFERENCE_TREE

# Copied from DESIGN.md section 4 (the product README's reference tree).
REFERENCE = REFERENCE_TREE

M = "      "  # the margin


def net(cloud: str, id_: str, name: str, *cidrs: str, external: bool = False,
        subnet_name: str = "") -> Network:
    subnets = [Subnet(id=f"{id_}-s{i}", name=subnet_name if i == 0 else "", cidr=cidr)
               for i, cidr in enumerate(cidrs)]
    return Network(cloud=cloud, id=id_, name=name, subnets=subnets, external=external)


def vm(cloud: str, id_: str, name: str, network_id: str | None = None, ip: str | None = None,
       cluster: str | None = None, groups: tuple[str, ...] = ("default",),
       status: str = "ACTIVE") -> Instance:
    nics = [Nic(network_id=network_id, ip=ip)] if network_id else []
    return Instance(cloud=cloud, id=id_, name=name, image="cirros", flavor="m1.tiny",
                    cluster=cluster, nics=nics, security_groups=list(groups), status=status)


def demo() -> Deployment:
    """DESIGN.md 4b, built directly as model objects."""
    c = "TryStack"
    return Deployment(
        clouds=[Cloud(name=c, type="stub", location="trystack.org")],
        clusters=[Cluster(cloud=c, name="London"), Cluster(cloud=c, name="Antwerp")],
        networks=[
            net(c, "n-ext", "external", "8.21.28.0/24", external=True, subnet_name="trystack"),
            net(c, "n-lon", "LondonNet", "10.10.2.0/24"),
            net(c, "n-ant", "AntwerpNet", "10.10.1.0/24"),
        ],
        routers=[Router(cloud=c, id="r-1", name="LondonGateway", gateway_network_id="n-ext",
                        interface_network_ids=["n-lon"])],
        instances=[
            vm(c, "i-ben", "Ben", "n-lon", "10.10.2.6", "London"),
            vm(c, "i-bourla", "Bourla", "n-ant", "10.10.1.12", "Antwerp"),
            vm(c, "i-tower", "Tower", "n-lon", "10.10.2.5", "London", ("public_ssh",)),
        ],
        public_ips=[
            PublicIP(cloud=c, id="fip-1", name="8.21.28.30", network_id="n-ext",
                     instance_id="i-tower"),
            PublicIP(cloud=c, id="fip-2", name="8.21.28.31", network_id="n-ext"),
        ],
    )


def labels_of(dep: Deployment) -> list[str]:
    """The labels of the tree, top to bottom, without prefixes or spacer lines."""
    return [line.split("+---", 1)[1] if "+---" in line else line.strip()
            for line in render(dep) if not line.endswith("|")]


def assert_clean(lines: list[str]) -> None:
    for line in lines:
        assert line == line.rstrip(), repr(line)
        assert "\n" not in line


# --- the reference ------------------------------------------------------------------------


def test_demo_matches_reference_byte_for_byte() -> None:
    dep = demo()
    assert render_text(dep) == REFERENCE
    assert render(dep) == REFERENCE.splitlines()
    assert render_text(dep).encode() == REFERENCE.encode()


def test_demo_is_independent_of_input_order() -> None:
    dep = demo()
    for seq in (dep.clusters, dep.networks, dep.instances, dep.public_ips):
        seq.reverse()
    assert render_text(dep) == REFERENCE


def test_render_text_ends_with_one_newline() -> None:
    text = render_text(demo())
    assert text.endswith("(1 instance)\n") and not text.endswith("\n\n")


# --- the generic layout -------------------------------------------------------------------


def test_layout_generic_tree() -> None:
    tree = Node("R", [
        Node("a", [Node("a1"), Node("a2", [Node("x")])]),
        Node("b"),
        Node("c", [Node("c1")]),
    ])
    assert layout(tree) == [
        M + "R",
        M + "|",
        M + "+---a",
        M + "|   |",
        M + "|   +---a1",
        M + "|   +---a2",
        M + "|       |",
        M + "|       +---x",
        M + "|",
        M + "+---b",
        M + "+---c",
        M + "    |",
        M + "    +---c1",
    ]


def test_layout_root_alone() -> None:
    assert layout(Node("MiniCloud")) == [M + "MiniCloud"]


def test_build_orders_sections() -> None:
    root = build(demo())
    assert root.label == "MiniCloud"
    assert [child.label for child in root.children] == ["Compute", "Networking"]


# --- sections -----------------------------------------------------------------------------


def test_empty_deployment() -> None:
    assert render(Deployment()) == [EMPTY]
    assert render_text(Deployment()) == EMPTY + "\n"
    assert EMPTY == "Nothing to show yet: no clouds."


def test_objects_without_a_cloud_are_not_shown() -> None:
    dep = Deployment(networks=[net("gone", "n", "n", "10.0.0.0/24")],
                     instances=[vm("gone", "i", "i", "n", "10.0.0.3")])
    assert render(dep) == [EMPTY]
    dep.clouds.append(Cloud(name="here", type="stub"))
    assert render_text(dep) == (
        f"{M}MiniCloud\n{M}|\n{M}+---Compute\n{M}    |\n{M}    +---Cloud: here\n"
    )


def test_empty_networking_section_left_out() -> None:
    dep = Deployment(clouds=[Cloud(name="c", type="stub", location="here")],
                     instances=[vm("c", "i1", "vm1", "n-unknown", "10.0.0.4")])
    assert render(dep) == [
        M + "MiniCloud",
        M + "|",
        M + "+---Compute",
        M + "    |",
        M + "    +---Cloud: c (here)",
        M + "        |",
        M + "        +---Instance: vm1 [10.0.0.4] (n-unknown) [default] [ACTIVE]",
    ]


def test_cloud_without_instances_is_a_leaf_under_compute() -> None:
    # Compute lists clouds, so with any cloud it is never empty; here only Networking has depth.
    dep = Deployment(clouds=[Cloud(name="c", type="stub")],
                     networks=[net("c", "n1", "n1", "10.0.0.0/24")])
    assert render(dep) == [
        M + "MiniCloud",
        M + "|",
        M + "+---Compute",
        M + "|   |",
        M + "|   +---Cloud: c",
        M + "|",
        M + "+---Networking",
        M + "    |",
        M + "    +---Network: n1 [10.0.0.0/24] (0 instances)",
    ]


def test_several_clouds_sorted_case_sensitively() -> None:
    dep = Deployment(
        clouds=[Cloud(name="beta", type="stub", location="b.example"),
                Cloud(name="Alpha", type="openstack", location="a.example"),
                Cloud(name="alpha", type="stub")],
        networks=[net("beta", "nb", "bnet", "10.2.0.0/24"),
                  net("Alpha", "na", "anet", "10.1.0.0/24")],
        instances=[vm("beta", "b1", "b1", "nb", "10.2.0.3"),
                   vm("Alpha", "a1", "a1", "na", "10.1.0.3", status="SHUTOFF")],
    )
    lines = render(dep)
    assert lines == [
        M + "MiniCloud",
        M + "|",
        M + "+---Compute",
        M + "|   |",
        M + "|   +---Cloud: Alpha (a.example)",
        M + "|   |   |",
        M + "|   |   +---Instance: a1 [10.1.0.3] (anet) [default] [SHUTOFF]",
        M + "|   |",
        M + "|   +---Cloud: alpha",
        M + "|   +---Cloud: beta (b.example)",
        M + "|       |",
        M + "|       +---Instance: b1 [10.2.0.3] (bnet) [default] [ACTIVE]",
        M + "|",
        M + "+---Networking",
        M + "    |",
        M + "    +---Cloud: Alpha",
        M + "    |   |",
        M + "    |   +---Network: anet [10.1.0.0/24] (1 instance)",
        M + "    |",
        M + "    +---Cloud: beta",
        M + "        |",
        M + "        +---Network: bnet [10.2.0.0/24] (1 instance)",
    ]


def test_leaf_followed_by_non_leaf_sibling_has_no_spacer() -> None:
    dep = Deployment(
        clouds=[Cloud(name="c", type="stub")],
        clusters=[Cluster(cloud="c", name="k")],
        networks=[net("c", "n", "n", "10.0.0.0/24")],
        instances=[vm("c", "i1", "loose", "n", "10.0.0.9"),
                   vm("c", "i2", "inside", "n", "10.0.0.3", cluster="k")],
    )
    lines = render(dep)
    loose = lines.index(M + "|       +---Instance: loose [10.0.0.9] (n) [default] [ACTIVE]")
    assert lines[loose + 1] == M + "|       +---Cluster: k"
    assert lines[loose + 2:loose + 4] == [
        M + "|           |",
        M + "|           +---Instance: inside [10.0.0.3] (n) [default] [ACTIVE]",
    ]
    assert lines[loose + 4] == M + "|"  # Compute has children and Networking follows
    assert lines[loose + 5] == M + "+---Networking"


def test_instances_outside_clusters_first_and_unknown_cluster_counts_as_none() -> None:
    dep = Deployment(
        clouds=[Cloud(name="c", type="stub")],
        clusters=[Cluster(cloud="c", name="A"), Cluster(cloud="other", name="Z")],
        instances=[vm("c", "1", "in-a", "n", "10.0.0.2", cluster="A"),
                   vm("c", "2", "in-z", "n", "10.0.0.4", cluster="Z"),
                   vm("c", "3", "free", "n", "10.0.0.3")],
    )
    labels = labels_of(dep)
    assert labels[labels.index("Cloud: c") + 1:] == [
        "Instance: free [10.0.0.3] (n) [default] [ACTIVE]",
        "Instance: in-z [10.0.0.4] (n) [default] [ACTIVE]",
        "Cluster: A",
        "Instance: in-a [10.0.0.2] (n) [default] [ACTIVE]",
    ]


def test_cluster_with_no_instances_is_a_leaf() -> None:
    dep = Deployment(
        clouds=[Cloud(name="c", type="stub")],
        clusters=[Cluster(cloud="c", name="b-full"), Cluster(cloud="c", name="a-empty"),
                  Cluster(cloud="c", name="c-empty")],
        instances=[vm("c", "i", "vm", "n", "10.0.0.5", cluster="b-full")],
    )
    assert render(dep) == [
        M + "MiniCloud",
        M + "|",
        M + "+---Compute",
        M + "    |",
        M + "    +---Cloud: c",
        M + "        |",
        M + "        +---Cluster: a-empty",
        M + "        +---Cluster: b-full",
        M + "        |   |",
        M + "        |   +---Instance: vm [10.0.0.5] (n) [default] [ACTIVE]",
        M + "        |",
        M + "        +---Cluster: c-empty",
    ]


# --- labels -------------------------------------------------------------------------------


def test_unreachable_cloud_and_empty_location() -> None:
    dep = Deployment(clouds=[Cloud(name="down", type="openstack", location="far.example",
                                   reachable=False),
                             Cloud(name="nowhere", type="stub", reachable=False),
                             Cloud(name="up", type="stub")])
    assert render(dep)[4:] == [
        M + "    +---Cloud: down (far.example) (unreachable)",
        M + "    +---Cloud: nowhere (unreachable)",
        M + "    +---Cloud: up",
    ]


def test_instance_labels() -> None:
    c = "c"
    dep = Deployment(
        clouds=[Cloud(name=c, type="stub")],
        networks=[net(c, "n1", "first", "10.0.0.0/24"), net(c, "n2", "second", "10.1.0.0/24")],
        instances=[
            Instance(cloud=c, id="a", name="multi", status="ACTIVE",
                     nics=[Nic("n2", "10.1.0.7"), Nic("n1", "10.0.0.7")],
                     security_groups=["web", "public_ssh", "default"]),
            Instance(cloud=c, id="b", name="bare", status="BUILD"),
            Instance(cloud=c, id="d", name="waiting", nics=[Nic("n1")], status="BUILD",
                     security_groups=["default"]),
            Instance(cloud=c, id="e", name="lost", nics=[Nic("gone-id", "10.9.0.2")],
                     security_groups=["default"], status="ERROR"),
        ],
        public_ips=[PublicIP(cloud=c, id="p", name="203.0.113.9", instance_id="a"),
                    PublicIP(cloud="elsewhere", id="q", name="198.51.100.1", instance_id="b")],
    )
    labels = labels_of(dep)
    assert labels[labels.index("Cloud: c") + 1:labels.index("Networking")] == [
        "Instance: multi [10.1.0.7] (second) [web, public_ssh, default] [203.0.113.9] [ACTIVE]",
        "Instance: lost [10.9.0.2] (gone-id) [default] [ERROR]",
        "Instance: bare [-] (-) [] [BUILD]",
        "Instance: waiting [-] (first) [default] [BUILD]",
    ]


def test_instance_ordering_ipv4_ipv6_missing() -> None:
    c = "c"
    dep = Deployment(
        clouds=[Cloud(name=c, type="stub")],
        instances=[
            vm(c, "1", "none-b", "n"),
            vm(c, "2", "v6", "n", "fd00::5"),
            vm(c, "3", "twelve", "n", "10.0.0.12"),
            vm(c, "4", "none-a"),
            vm(c, "5", "six", "n", "10.0.0.6"),
            vm(c, "6", "five", "n", "10.0.0.5"),
            vm(c, "7", "v6-low", "n", "fd00::1"),
            vm(c, "8", "same-b", "n", "10.0.0.6"),
            vm(c, "9", "far", "n", "192.168.0.1"),
        ],
    )
    names = [label.split(" ")[1] for label in labels_of(dep) if label.startswith("Instance:")]
    assert names == ["five", "same-b", "six", "twelve", "far", "v6-low", "v6", "none-a", "none-b"]


def test_network_labels() -> None:
    c = "c"
    dep = Deployment(
        clouds=[Cloud(name=c, type="stub")],
        networks=[
            net(c, "n1", "dual", "10.0.0.0/24", "fd00:1::/64"),
            net(c, "n2", "empty"),
            net(c, "n3", "ext-cidr", "198.51.100.0/24", external=True),
            net(c, "n4", "ext-named", "203.0.113.0/24", external=True, subnet_name="pub"),
            net(c, "n5", "ext-bare", external=True),
        ],
        instances=[
            # two nics on one network count once
            Instance(cloud=c, id="a", name="a", nics=[Nic("n1", "10.0.0.3"), Nic("n1")]),
            vm(c, "b", "b", "n1", "fd00:1::3"),
            vm("other", "x", "x", "n1", "10.0.0.4"),  # other cloud: not counted (nor shown)
        ],
    )
    labels = labels_of(dep)
    assert labels[labels.index("Networking") + 1:] == [
        "Network: dual [10.0.0.0/24, fd00:1::/64] (2 instances)",
        "Network: empty [] (0 instances)",
        "Network: ext-bare (external) []",
        "Network: ext-cidr (external) [198.51.100.0/24]",
        "Network: ext-named (external) [pub]",
    ]


def test_external_network_on_no_router_is_at_top_level() -> None:
    c = "c"
    dep = Deployment(
        clouds=[Cloud(name=c, type="stub")],
        networks=[net(c, "e", "public", "203.0.113.0/24", external=True, subnet_name="pub-sub"),
                  net(c, "p", "priv", "10.0.0.0/24")],
        routers=[Router(cloud=c, id="r", name="r", interface_network_ids=["p"])],
    )
    assert render(dep)[-6:] == [
        M + "    |",
        M + "    +---Router: r",
        M + "    |   |",
        M + "    |   +---Network: priv [10.0.0.0/24] (0 instances)",
        M + "    |",
        M + "    +---Network: public (external) [pub-sub]",
    ]


def test_router_children_interfaces_by_name_then_gateway_last() -> None:
    c = "c"
    dep = Deployment(
        clouds=[Cloud(name=c, type="stub")],
        networks=[net(c, "e", "a-ext", "203.0.113.0/24", external=True),
                  net(c, "z", "zeta", "10.0.2.0/24"),
                  net(c, "b", "beta", "10.0.1.0/24")],
        routers=[Router(cloud=c, id="r2", name="r2", interface_network_ids=["z", "b"],
                        gateway_network_id="e"),
                 Router(cloud=c, id="r1", name="r1")],
    )
    assert render(dep)[-7:] == [
        M + "    |",
        M + "    +---Router: r1",
        M + "    +---Router: r2 (a-ext)",
        M + "        |",
        M + "        +---Network: beta [10.0.1.0/24] (0 instances)",
        M + "        +---Network: zeta [10.0.2.0/24] (0 instances)",
        M + "        +---Network: a-ext (external) [203.0.113.0/24]",
    ]


def test_with_several_clouds_networking_has_one_cloud_node_each() -> None:
    dep = Deployment(
        clouds=[Cloud(name="cloudB", type="stub"), Cloud(name="cloudA", type="stub")],
        networks=[
            net("cloudA", "ea", "ext", "203.0.113.0/24", external=True),
            net("cloudB", "eb", "ext2", "198.51.100.0/24", external=True),
            net("cloudA", "na", "n", "10.0.0.0/24"),
            net("cloudB", "nb", "n", "10.0.0.0/24"),
            net("cloudA", "ua", "unique", "10.5.0.0/24"),
        ],
        routers=[
            Router(cloud="cloudB", id="rb", name="r1", gateway_network_id="eb"),
            Router(cloud="cloudA", id="ra", name="r1", gateway_network_id="ea",
                   interface_network_ids=["na"]),
            Router(cloud="cloudA", id="rs", name="solo"),
        ],
        instances=[vm("cloudB", "i", "vm", "nb", "10.0.0.3")],
    )
    labels = labels_of(dep)
    # Each cloud's routers and networks under its own Cloud node: no "@CLOUD" is needed.
    assert labels[labels.index("Networking") + 1:] == [
        "Cloud: cloudA",
        "Router: r1 (ext)",
        "Network: n [10.0.0.0/24] (0 instances)",
        "Network: ext (external) [203.0.113.0/24]",
        "Router: solo",
        "Network: unique [10.5.0.0/24] (0 instances)",
        "Cloud: cloudB",
        "Router: r1 (ext2)",
        "Network: ext2 (external) [198.51.100.0/24]",
        "Network: n [10.0.0.0/24] (1 instance)",
    ]
    assert not any("@" in label for label in labels)
    assert "Instance: vm [10.0.0.3] (n) [default] [ACTIVE]" in labels


def test_same_name_twice_in_one_cloud_gets_no_suffix() -> None:
    dep = Deployment(clouds=[Cloud(name="c", type="stub")],
                     networks=[net("c", "1", "dup", "10.0.0.0/24"),
                               net("c", "2", "dup", "10.0.1.0/24")])
    assert render(dep)[-2:] == [
        M + "    +---Network: dup [10.0.0.0/24] (0 instances)",
        M + "    +---Network: dup [10.0.1.0/24] (0 instances)",
    ]


def test_router_naming_unknown_network_shows_its_id() -> None:
    dep = Deployment(clouds=[Cloud(name="c", type="stub")],
                     routers=[Router(cloud="c", id="r", name="r", gateway_network_id="gw-id",
                                     interface_network_ids=["if-id"])])
    assert render(dep)[-4:] == [
        M + "    +---Router: r (gw-id)",
        M + "        |",
        M + "        +---Network: if-id [] (0 instances)",
        M + "        +---Network: gw-id [] (0 instances)",
    ]


# --- whole-tree properties -----------------------------------------------------------------


def big(n_clouds: int = 3, n_instances: int = 1000, n_networks: int = 100,
        n_routers: int = 10) -> Deployment:
    dep = Deployment()
    for c in range(n_clouds):
        cloud = f"cloud{c}"
        dep.clouds.append(Cloud(name=cloud, type="stub", location=f"loc{c}"))
        dep.clusters += [Cluster(cloud=cloud, name=f"k{k}") for k in range(3)]
    for i in range(n_networks):
        cloud = f"cloud{i % n_clouds}"
        dep.networks.append(net(cloud, f"n{i}", f"net{i}", f"10.{i}.0.0/24"))
    for r in range(n_routers):
        cloud = f"cloud{r % n_clouds}"
        ifaces = [f"n{i}" for i in range(n_networks) if i % n_routers == r and i % 2 == 0
                  and f"cloud{i % n_clouds}" == cloud]
        dep.routers.append(Router(cloud=cloud, id=f"r{r}", name=f"router{r}",
                                  interface_network_ids=ifaces))
    for i in range(n_instances):
        n = i % n_networks
        cloud = f"cloud{n % n_clouds}"
        cluster = None if i % 4 == 0 else f"k{i % 3}"
        dep.instances.append(vm(cloud, f"i{i}", f"vm{i}", f"n{n}", f"10.{n}.{i // 250}.{i % 250}",
                                cluster))
        if i % 10 == 0:
            address = f"203.0.{i // 250}.{i % 250}"
            dep.public_ips.append(PublicIP(cloud=cloud, id=f"p{i}", name=address,
                                           instance_id=f"i{i}"))
    return dep


def test_thousand_instances_line_count() -> None:
    dep = big()
    lines = render(dep)
    assert_clean(lines)
    assert sum("+---Instance: " in line for line in lines) == 1000
    assert sum("+---Network: " in line for line in lines) == 100
    assert sum("+---Router: " in line for line in lines) == 10
    assert sum("+---Cloud: " in line for line in lines) == 6  # in Compute and in Networking
    assert sum("+---Cluster: " in line for line in lines) == 9
    # Spacers: root, Compute, each cloud, each cluster (all non-leaf) and after each non-leaf
    # sibling that is followed by another; routers with interfaces likewise.
    root = build(dep)
    expected = 1  # the root line

    def count(node: Node) -> int:
        total = 0
        if node.children:
            total += 1  # spacer before the first child
            for i, child in enumerate(node.children):
                total += 1 + count(child)
                if child.children and i < len(node.children) - 1:
                    total += 1
        return total

    expected += count(root)
    assert len(lines) == expected
    # Every line is either a label (root, 2 sections, 3 clouds in each, 9 clusters, 1000
    # instances, 10 routers, 100 networks each shown once) or a spacer ending with a bar.
    spacers = [line for line in lines if line.endswith("|")]
    assert len(lines) - len(spacers) == 1 + 2 + 3 * 2 + 9 + 1000 + 10 + 100


def test_no_trailing_spaces_anywhere() -> None:
    deps = [demo(), big(), Deployment(clouds=[Cloud(name="c", type="stub", location="")])]
    for dep in deps:
        text = render_text(dep)
        assert_clean(render(dep))
        assert " \n" not in text
