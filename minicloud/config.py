"""Configuration: ``minicloud.ini`` plus environment variables (DESIGN.md section 4d)."""

from __future__ import annotations

import configparser
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .dburl import with_password
from .errors import ConfigError

CONFIG_NAME = "minicloud.ini"


def home_dir() -> Path:
    return Path(os.environ.get("MINICLOUD_HOME") or Path.home() / ".minicloud")


@dataclass
class Config:
    home: Path
    db_url: str
    ssh_command: list[str] = field(default_factory=lambda: ["ssh"])
    ssh_user: str = ""
    path: Path | None = None
    debug: bool = False

    @property
    def log_file(self) -> Path:
        return self.home / "minicloud.log"


def find_config(explicit: str | None = None) -> Path | None:
    """``--config``, else MINICLOUD_CONFIG, else ./minicloud.ini, else $MINICLOUD_HOME's."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file not found: {explicit}")
        return path
    env = os.environ.get("MINICLOUD_CONFIG")
    if env:
        if not Path(env).is_file():
            raise ConfigError(f"config file not found: {env} (from MINICLOUD_CONFIG)")
        return Path(env)
    for candidate in (Path.cwd() / CONFIG_NAME, home_dir() / CONFIG_NAME):
        if candidate.is_file():
            return candidate
    return None


def _sqlite_relative(url: str, base: Path) -> str:
    """A relative SQLite path in a config file is relative to that file's folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix):]
        if rest and rest != ":memory:":
            return prefix + str((base / rest).resolve())
    return url


def load_config(explicit: str | None = None, debug: bool = False) -> Config:
    home = home_dir()
    path = find_config(explicit)
    parser = configparser.ConfigParser(interpolation=None)
    if path is not None:
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(f"cannot read {path}: {first}") from None
    url = parser.get("database", "url", fallback="").strip()
    if url and path is not None:
        url = _sqlite_relative(url, path.parent)
    url = os.environ.get("MINICLOUD_DB_URL") or url or f"sqlite:///{home / 'minicloud.db'}"
    url = with_password(url, os.environ.get("MINICLOUD_DB_PASSWORD"))
    ssh = os.environ.get("MINICLOUD_SSH") or parser.get("ssh", "command", fallback="ssh")
    try:
        ssh_command = shlex.split(ssh) or ["ssh"]
    except ValueError:
        raise ConfigError(f"cannot parse the ssh command: {ssh}") from None
    return Config(
        home=home,
        db_url=url,
        ssh_command=ssh_command,
        ssh_user=parser.get("ssh", "user", fallback="").strip(),
        path=path,
        debug=debug,
    )
