"""Reading a deployment file: YAML with the line of every key, checked against the schema
(schema.py), then the rules a file must follow on its own (names unique, CIDRs valid and not
overlapping, references to what the file declares), into a :class:`DeploymentSpec`.  Every
mistake is one line naming the file, the line and the key (spec.FileError)."""

from __future__ import annotations

import ipaddress
from pathlib import Path as FilePath
from typing import Any

import yaml

from ..model.errors import ValidationError
from ..model.validation import check_no_overlap, parse_cidr
from . import schema
from .spec import (
    DEFAULT_GROUPS,
    CloudSpec,
    DeploymentSpec,
    FileError,
    InstanceSpec,
    NetworkSpec,
    Path,
    RouterSpec,
    file_error,
)

# A deployment of 10,000 instances is about 2 MB; a file far larger is a mistake (a log, an
# image), refused before it is read.
MAX_BYTES = 4 * 1024 * 1024
# Aliases may repeat a node: a file whose aliases build more than this many values beyond
# ten times the nodes it has is refused (a "billion laughs" file).
MAX_REPEATS = 10_000

try:  # libyaml's parser when PyYAML was built with it: several times faster
    Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    Loader = yaml.SafeLoader


def read_file(path: str) -> DeploymentSpec:
    """Read and check the deployment file at ``path``."""
    where = FilePath(path)
    try:
        size = where.stat().st_size
        if size > MAX_BYTES:
            raise file_error(path, None, (), f"{size / 1e6:.1f} MB, more than the "
                             f"{MAX_BYTES // (1024 * 1024)} MB a deployment file may have")
        data = where.read_bytes()
    except FileError:
        raise
    except IsADirectoryError:
        raise FileError(f"{path}: is a folder, not a deployment file") from None
    except OSError as err:
        raise FileError(f"{path}: cannot be read: {err.strerror or err}") from None
    return parse_bytes(data, path)


def parse_bytes(data: bytes, filename: str) -> DeploymentSpec:
    if len(data) > MAX_BYTES:
        raise file_error(filename, None, (), f"{len(data) / 1e6:.1f} MB, more than the "
                         f"{MAX_BYTES // (1024 * 1024)} MB a deployment file may have")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise file_error(filename, line, (), "not UTF-8 text") from None
    return parse_text(text, filename)


def parse_text(text: str, filename: str) -> DeploymentSpec:
    """A deployment file's text, checked, as typed values."""
    spec = DeploymentSpec(filename)
    document = _load(text, filename, spec.lines)
    try:
        schema.check(document)
    except schema.Mistake as err:
        raise spec.error(err.path, err.text) from None
    for name, body in document["clouds"].items():
        spec.clouds[name] = _cloud(spec, name, body)
    return spec


# -- YAML with lines -----------------------------------------------------------------------------

def _load(text: str, filename: str, lines: dict[Path, int]) -> Any:
    try:
        node = yaml.compose(text, Loader=Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "not valid YAML"
        raise file_error(filename, mark.line + 1 if mark else None, (),
                         f"not valid YAML: {problem}") from None
    except yaml.YAMLError as err:
        raise file_error(filename, None, (), f"not valid YAML: {err}") from None
    if node is None:
        raise file_error(filename, None, (), "empty: a deployment file starts with "
                         "'minicloud: 1' and 'clouds:'")
    return _Builder(filename, lines).build(node, ())


class _Builder:
    """Plain values from YAML nodes, noting the line of every key and list item; a key given
    twice in one mapping is refused (YAML would keep the last one silently)."""

    def __init__(self, filename: str, lines: dict[Path, int]) -> None:
        self.filename = filename
        self.lines = lines
        self.count = 0
        self.seen: set[int] = set()
        self.scalars = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        self.seen.add(id(node))
        if self.count > 10 * len(self.seen) + MAX_REPEATS:
            raise file_error(self.filename, node.start_mark.line + 1, path,
                             "too many values (aliases repeating a large part?)")
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, path)
                line = key_node.start_mark.line + 1
                if not isinstance(key, str):
                    raise file_error(self.filename, line, path,
                                     f"key {key!r} is not a name (write it in quotes)")
                here = (*path, key)
                if key in out:
                    raise file_error(self.filename, line, here,
                                     f"{key!r} given twice (first on line {self.lines[here]})")
                self.lines[here] = line
                out[key] = self.build(value_node, here)
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                at = (*path, index)
                self.lines[at] = item.start_mark.line + 1
                items.append(self.build(item, at))
            return items
        try:
            return self.scalars.construct_object(node)
        except yaml.YAMLError as err:
            raise file_error(self.filename, node.start_mark.line + 1, path,
                             f"not valid YAML: {getattr(err, 'problem', err)}") from None


# -- the rules of a file on its own ------------------------------------------------------------

def _cloud(spec: DeploymentSpec, name: str, body: dict[str, Any]) -> CloudSpec:
    cloud = CloudSpec(name, name, body["type"], body.get("location"),
                      dict(body.get("settings") or {}))
    seen: dict[str, int] = {}
    for index, cluster in enumerate(body.get("clusters") or []):
        if cluster in seen:
            raise spec.error(cloud.path("clusters", index),
                             f"cluster {cluster!r} listed twice")
        seen[cluster] = index
        cloud.clusters.append(cluster)
    for router, data in (body.get("routers") or {}).items():
        cloud.routers[router] = RouterSpec(router, (data or {}).get("gateway"))
    for network, data in (body.get("networks") or {}).items():
        cloud.networks[network] = _network(spec, cloud, network, data)
    _no_overlaps(spec, cloud)
    for instance, data in (body.get("instances") or {}).items():
        cloud.instances[instance] = _instance(spec, cloud, instance, data)
    _no_shared_addresses(spec, cloud)
    return cloud


def _network(spec: DeploymentSpec, cloud: CloudSpec, name: str,
             data: dict[str, Any]) -> NetworkSpec:
    try:
        cidr = str(parse_cidr(data["cidr"]))
    except ValidationError as err:
        raise spec.error(cloud.path("networks", name, "cidr"), str(err)) from None
    return NetworkSpec(name, cidr, data.get("router"))


def _no_overlaps(spec: DeploymentSpec, cloud: CloudSpec) -> None:
    taken: list[tuple[str, str]] = []
    for network in cloud.networks.values():
        try:
            check_no_overlap(network.cidr, taken)
        except ValidationError as err:
            raise spec.error(cloud.path("networks", network.name, "cidr"), str(err)) from None
        taken.append((f"network {network.name}", network.cidr))


def _instance(spec: DeploymentSpec, cloud: CloudSpec, name: str,
              data: dict[str, Any]) -> InstanceSpec:
    def at(key: str) -> Path:
        return cloud.path("instances", name, key)

    cluster = data.get("cluster")
    if cluster is not None and cluster not in cloud.clusters:
        raise spec.error(at("cluster"), f"no cluster {cluster!r} in the clusters of cloud "
                                        f"{cloud.source}")
    groups = list(data.get("security_groups") or DEFAULT_GROUPS)
    for index, group in enumerate(groups):
        if group in groups[:index]:
            raise spec.error((*at("security_groups"), index),
                             f"security group {group!r} listed twice")
    fixed_ip = data.get("fixed_ip")
    if fixed_ip is not None:
        fixed_ip = _address(spec, at("fixed_ip"), fixed_ip)
        network = cloud.networks.get(data["network"])
        if network is not None and ipaddress.ip_address(fixed_ip) not in \
                ipaddress.ip_network(network.cidr):
            raise spec.error(at("fixed_ip"), f"{fixed_ip} is not in {network.name} "
                                             f"({network.cidr})")
    public_ip = data.get("public_ip")
    if isinstance(public_ip, str):
        public_ip = _address(spec, at("public_ip"), public_ip)
    return InstanceSpec(name, data["image"], data["flavor"], data["network"], cluster,
                        fixed_ip, groups, public_ip if public_ip is not False else None)


def _address(spec: DeploymentSpec, path: Path, text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise spec.error(path, f"invalid IP address {text[:45]!r}") from None


def _no_shared_addresses(spec: DeploymentSpec, cloud: CloudSpec) -> None:
    fixed: dict[tuple[str, str], str] = {}
    public: dict[str, str] = {}
    for instance in cloud.instances.values():
        if instance.fixed_ip is not None:
            key = (instance.network, instance.fixed_ip)
            if key in fixed:
                raise spec.error(cloud.path("instances", instance.name, "fixed_ip"),
                                 f"{instance.fixed_ip} is the fixed IP of instance "
                                 f"{fixed[key]} too")
            fixed[key] = instance.name
        if isinstance(instance.public_ip, str):
            if instance.public_ip in public:
                raise spec.error(cloud.path("instances", instance.name, "public_ip"),
                                 f"{instance.public_ip} is the public IP of instance "
                                 f"{public[instance.public_ip]} too")
            public[instance.public_ip] = instance.name


def map_clouds(spec: DeploymentSpec, mapping: dict[str, str]) -> DeploymentSpec:
    """The file applied to other clouds: ``{name in the file: cloud to apply it to}``."""
    for old in mapping:
        if old not in spec.clouds:
            raise ValidationError(f"--cloud-map {old}=...: the file has no cloud {old!r} "
                                  f"(its clouds: {', '.join(spec.clouds) or 'none'})")
    targets = [mapping.get(name, name) for name in spec.clouds]
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise ValidationError(f"--cloud-map: two clouds of the file would go to {twice[0]}")
    clouds = {}
    for name, cloud in spec.clouds.items():
        if name in mapping:
            cloud.name, cloud.mapped = mapping[name], True
        clouds[cloud.name] = cloud
    spec.clouds = clouds
    return spec


def parse_map(pairs: list[str] | None) -> dict[str, str]:
    """``--cloud-map OLD=NEW`` (repeated) as a mapping."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ValidationError(f"--cloud-map {pair[:60]!r}: write OLD=NEW, e.g. "
                                  "TryStack=devstack")
        if old.strip() in mapping:
            raise ValidationError(f"--cloud-map: {old.strip()} mapped twice")
        mapping[old.strip()] = new.strip()
    return mapping
