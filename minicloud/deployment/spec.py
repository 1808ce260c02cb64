"""A deployment file as typed values: what ``parse`` reads and ``diff`` compares."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model.errors import ValidationError

# A place in the file: the keys (and list positions) from the top, e.g.
# ("clouds", "TryStack", "networks", "LondonNet", "cidr").
Path = tuple[str | int, ...]

DEFAULT_GROUPS = ("default",)


class FileError(ValidationError):
    """A mistake in a deployment file, in one line naming the file, the line and the key."""


@dataclass
class RouterSpec:
    name: str
    gateway: str | None = None


@dataclass
class NetworkSpec:
    name: str
    cidr: str
    router: str | None = None


@dataclass
class InstanceSpec:
    name: str
    image: str
    flavor: str
    network: str
    cluster: str | None = None
    fixed_ip: str | None = None
    security_groups: list[str] = field(default_factory=lambda: list(DEFAULT_GROUPS))
    # True: any public IP; an address: that one; None: none.
    public_ip: bool | str | None = None


@dataclass
class CloudSpec:
    name: str          # the cloud it applies to (after --cloud-map)
    source: str        # its name in the file (where its keys are)
    type: str
    location: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    clusters: list[str] = field(default_factory=list)
    routers: dict[str, RouterSpec] = field(default_factory=dict)
    networks: dict[str, NetworkSpec] = field(default_factory=dict)
    instances: dict[str, InstanceSpec] = field(default_factory=dict)
    mapped: bool = False  # applied to another cloud than the one it was written for

    def path(self, *keys: str | int) -> Path:
        return ("clouds", self.source, *keys)


@dataclass
class DeploymentSpec:
    """A whole file: its clouds, and where each key is (for errors)."""

    filename: str
    clouds: dict[str, CloudSpec] = field(default_factory=dict)
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of the nearest key above it that the file has."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def error(self, path: Path, text: str) -> FileError:
        return file_error(self.filename, self.line(path), path, text)


def dotted(path: Path) -> str:
    """``clouds.TryStack.networks.LondonNet.cidr``; a list position as ``[0]``."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def file_error(filename: str, line: int | None, path: Path, text: str) -> FileError:
    where = filename + (f", line {line}" if line else "")
    key = dotted(path)
    return FileError(f"{where}{', ' + key if key else ''}: {text}")
