"""Reading a deployment file: every kind of mistake is one line naming the file, the line and
the key (issue 28)."""

from __future__ import annotations

from pathlib import Path

import pytest

from minicloud.deployment.parse import (
    MAX_BYTES,
    map_clouds,
    parse_bytes,
    parse_map,
    parse_text,
    read_file,
)
from minicloud.deployment.spec import FileError
from minicloud.model.errors import ValidationError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "trystack.yaml"

HEAD = "minicloud: 1\nclouds:\n  A:\n    type: stub\n"

# (what, text, the one line expected)
MISTAKES = [
    ("unknown key", HEAD + "    netwrks: {}\n",
     "f.yaml, line 5, clouds.A.netwrks: unknown key 'netwrks' (keys: type, location, "
     "settings, clusters, routers, networks, instances)"),
    ("unknown key of an instance", HEAD + "    instances:\n      vm:\n        image: cirros\n"
     "        flavor: m1.tiny\n        network: n\n        sise: 3\n",
     "f.yaml, line 10, clouds.A.instances.vm.sise: unknown key 'sise' (keys: image, flavor, "
     "network, cluster, fixed_ip, security_groups, public_ip)"),
    ("missing key", HEAD + "    networks:\n      n: {router: r}\n",
     "f.yaml, line 6, clouds.A.networks.n: missing key 'cidr'"),
    ("bad CIDR", HEAD + "    networks:\n      n:\n        cidr: 10.0.0.0/33\n",
     "f.yaml, line 7, clouds.A.networks.n.cidr: invalid CIDR '10.0.0.0/33': write an address "
     "and a prefix, e.g. 10.0.0.0/24"),
    ("host bits", HEAD + "    networks:\n      n: {cidr: 10.0.0.1/24}\n",
     "f.yaml, line 6, clouds.A.networks.n.cidr: '10.0.0.1/24' has host bits set: did you mean "
     "10.0.0.0/24?"),
    ("overlapping networks", HEAD + "    networks:\n      n: {cidr: 10.0.0.0/16}\n"
     "      m: {cidr: 10.0.1.0/24}\n",
     "f.yaml, line 7, clouds.A.networks.m.cidr: 10.0.1.0/24 overlaps network n (10.0.0.0/16)"),
    ("duplicate name", HEAD + "    networks:\n      n: {cidr: 10.0.0.0/24}\n"
     "      n: {cidr: 10.0.1.0/24}\n",
     "f.yaml, line 7, clouds.A.networks.n: 'n' given twice (first on line 6)"),
    ("duplicate cluster", HEAD + "    clusters: [a, b, a]\n",
     "f.yaml, line 5, clouds.A.clusters[2]: cluster 'a' listed twice"),
    ("bad name", HEAD + "    routers:\n      bad name: {}\n",
     "f.yaml, line 6, clouds.A.routers.bad name: invalid name 'bad name': use 1-64 characters: "
     "letters (of any script), digits, '.', '_' or '-', starting with a letter or digit"),
    ("unknown cluster", HEAD + "    instances:\n      vm: {image: i, flavor: f, network: n, "
     "cluster: c}\n",
     "f.yaml, line 6, clouds.A.instances.vm.cluster: no cluster 'c' in the clusters of cloud A"),
    ("fixed IP outside", HEAD + "    networks:\n      n: {cidr: 10.0.0.0/24}\n    instances:\n"
     "      vm: {image: i, flavor: f, network: n, fixed_ip: 10.9.9.9}\n",
     "f.yaml, line 8, clouds.A.instances.vm.fixed_ip: 10.9.9.9 is not in n (10.0.0.0/24)"),
    ("bad address", HEAD + "    instances:\n      vm: {image: i, flavor: f, network: n, "
     "public_ip: nope}\n",
     "f.yaml, line 6, clouds.A.instances.vm.public_ip: invalid IP address 'nope'"),
    ("wrong type", HEAD + "    instances:\n      vm: {image: 3, flavor: f, network: n}\n",
     "f.yaml, line 6, clouds.A.instances.vm.image: must be text, not 3"),
    ("wrong version", "minicloud: 2\nclouds: {}\n",
     "f.yaml, line 1, minicloud: must be 1, not 2"),
    ("YAML error: indentation", "minicloud: 1\nclouds:\n  A:\n   type: stub\n    x: 1\n",
     "f.yaml, line 5: not valid YAML: ..."),
    ("YAML error: unclosed list", HEAD + "    clusters: [a, b\n",
     "f.yaml, line 6: not valid YAML: ..."),
    ("YAML error: tab", "minicloud: 1\nclouds:\n\tA: {}\n",
     "f.yaml, line 3: not valid YAML: found character ..."),
    ("not a mapping", "- a\n- b\n", "f.yaml: must be a mapping of keys, not a list"),
    ("empty", "", "f.yaml: empty: a deployment file starts with 'minicloud: 1' and 'clouds:'"),
    ("number as a name", HEAD + "    clusters: [a, 12]\n",
     "f.yaml, line 5, clouds.A.clusters[1]: must be text, not 12"),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_one_line_naming_where(mistake: tuple[str, str, str]) -> None:
    _, text, expected = mistake
    with pytest.raises(FileError) as caught:
        parse_text(text, "f.yaml")
    said = str(caught.value)
    if expected.endswith("..."):  # PyYAML's own words (its C and Python parsers differ)
        assert said.startswith(expected[:-3]) and len(said) > len(expected), said
    else:
        assert said == expected
    assert "\n" not in said


def test_a_10_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (10 * 1000 * 1000) + b"\n")
    with pytest.raises(FileError) as caught:
        read_file(str(big))
    assert str(caught.value) == f"{big}: 10.0 MB, more than the 4 MB a deployment file may have"
    assert MAX_BYTES < 10 * 1000 * 1000


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(FileError, match=r"missing.yaml: cannot be read: No such file"):
        read_file(str(tmp_path / "missing.yaml"))
    with pytest.raises(FileError, match="is a folder"):
        read_file(str(tmp_path))
    with pytest.raises(FileError, match=r"^b.yaml, line 2: not UTF-8 text$"):
        parse_bytes(b"minicloud: 1\n\xff\n", "b.yaml")


def test_aliases_cannot_blow_up() -> None:
    names = "abcdefgh"
    layers = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 8):  # each layer ten times the one before: 10^8 values in the end
        aliases = ", ".join([f"*{names[n - 1]}"] * 10)
        layers.append(f"{names[n]}: &{names[n]} [{aliases}]")
    with pytest.raises(FileError, match="too many values"):
        parse_text("\n".join(layers) + "\n", "f.yaml")


def test_the_example_reads_as_the_demo() -> None:
    spec = read_file(str(EXAMPLE))
    (cloud,) = spec.clouds.values()
    assert (cloud.name, cloud.type, cloud.location) == ("TryStack", "stub", "trystack.org")
    assert cloud.clusters == ["Antwerp", "London"]
    assert cloud.routers["LondonGateway"].gateway == "external"
    assert {n.name: (n.cidr, n.router) for n in cloud.networks.values()} == {
        "AntwerpNet": ("10.10.1.0/24", None), "LondonNet": ("10.10.2.0/24", "LondonGateway")}
    tower = cloud.instances["Tower"]
    assert (tower.fixed_ip, tower.security_groups, tower.public_ip) == (
        "10.10.2.5", ["public_ssh"], "8.21.28.30")
    assert cloud.instances["Ben"].public_ip is None


def test_the_package_ships_the_example() -> None:
    shipped = REPO / "minicloud" / "deployment" / "trystack.yaml"
    assert shipped.read_bytes() == EXAMPLE.read_bytes()


def test_defaults() -> None:
    spec = parse_text(HEAD + "    routers:\n      r:\n    instances:\n      vm: {image: i, "
                      "flavor: f, network: n, public_ip: true}\n      v2: {image: i, flavor: f,"
                      " network: n, public_ip: false}\n", "f.yaml")
    cloud = spec.clouds["A"]
    assert cloud.routers["r"].gateway is None
    assert cloud.instances["vm"].security_groups == ["default"]
    assert cloud.instances["vm"].public_ip is True
    assert cloud.instances["v2"].public_ip is None


def test_cloud_map() -> None:
    spec = map_clouds(parse_text(HEAD, "f.yaml"), parse_map(["A=B"]))
    assert list(spec.clouds) == ["B"]
    assert spec.clouds["B"].mapped and spec.clouds["B"].source == "A"
    for bad, words in ((["A"], "write OLD=NEW"), (["A=B", "A=C"], "mapped twice"),
                       (["=B"], "write OLD=NEW")):
        with pytest.raises(ValidationError, match=words):
            parse_map(bad)
    with pytest.raises(ValidationError, match="the file has no cloud 'Z'"):
        map_clouds(parse_text(HEAD, "f.yaml"), {"Z": "B"})
