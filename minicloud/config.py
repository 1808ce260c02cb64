"""Configuration: ``minicloud.ini`` plus environment variables (DESIGN.md section 4d)."""

from __future__ import annotations

import configparser
import errno
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .drivers import DRIVERS  # the registry's names only: no driver module is imported
from .model.errors import ConfigError
from .state.dburl import StoreURL, check_url

CONFIG_NAME = "minicloud.ini"
# Every section and key minicloud.ini may hold: anything else is warned about (a typo there
# would otherwise be ignored without a word, e.g. [databse] leaving the store where it was).
# Each registered cloud type has a section of its own, ``[<type>] timeout``: the seconds one
# request to a cloud of that type may wait for an answer (handed to its drivers as
# ``request_timeout``; a type that makes no requests, the Stub, takes it and ignores it).
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "database": ("url",),
    "ssh": ("command", "user"),
    **{type_name: ("timeout",) for type_name in DRIVERS},
}
MAX_TIMEOUT = 3600.0


def home_dir() -> Path:
    return Path(os.environ.get("MINICLOUD_HOME") or Path.home() / ".minicloud")


@dataclass
class Config:
    home: Path
    # Where the store is: an SQLite file, or one server URL or several (the nodes of a
    # Galera cluster).  The text of a setting is taken too (tests, scripts) and read as
    # StoreURL.of reads it.
    db_url: StoreURL
    ssh_command: list[str] = field(default_factory=lambda: ["ssh"])
    ssh_user: str = ""
    path: Path | None = None
    debug: bool = False
    # Seconds a request may wait for an answer, by cloud type, as ``[<type>] timeout`` set
    # them; a type not here uses its driver's own default.
    timeouts: dict[str, float] = field(default_factory=dict)
    # One line each, for the front end to show (unknown sections or keys).
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.db_url = StoreURL.of(self.db_url)

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


def _check_home(home: Path) -> None:
    """A MINICLOUD_HOME the file system cannot name is said once, in one line, rather than as
    each file in it fails (the path itself may be hundreds of characters: not repeated)."""
    try:
        os.stat(home)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise ConfigError(f"MINICLOUD_HOME is too long for the file system "
                              f"({len(str(home))} characters): choose a shorter "
                              "folder") from None


def unknown_keys(parser: configparser.ConfigParser, path: Path) -> list[str]:
    """One warning per section or key that MiniCloud does not know, naming the known ones."""
    out = []
    for section in parser.sections():
        known = KNOWN_KEYS.get(section)  # configparser sections are case-sensitive
        if known is None:
            out.append(f"{path}: unknown section [{section}] (known: "
                       f"{', '.join(f'[{s}]' for s in KNOWN_KEYS)})")
            continue
        for key in parser[section]:
            if key not in known:
                out.append(f"{path}: unknown key {key!r} in [{section}] (known: "
                           f"{', '.join(known)})")
    return out


def _timeouts(parser: configparser.ConfigParser, path: Path | None) -> dict[str, float]:
    """``[<type>] timeout`` of every registered cloud type that sets one."""
    out = {}
    for type_name in DRIVERS:
        text = parser.get(type_name, "timeout", fallback="").strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            value = 0.0
        if not 0 < value <= MAX_TIMEOUT:  # NaN too
            raise ConfigError(f"{path}: [{type_name}] timeout must be a number of seconds "
                              f"above 0 and at most {MAX_TIMEOUT:g}, not {text!r}")
        out[type_name] = value
    return out


def _store_url(configured: str, path: Path | None, home: Path) -> StoreURL:
    """MINICLOUD_DB_URL, else ``[database] url``, else the SQLite file in the data folder.
    ``~`` in an SQLite path is the user's home; a relative path is relative to the folder
    of the file that gives it (DESIGN.md 4d), or to the current folder when the variable
    does: either way it is made absolute here, so that every message names the file.
    Several server URLs (a cluster's nodes) may be on one line or on continuation lines."""
    text = os.environ.get("MINICLOUD_DB_URL", "").strip()
    base = None
    if not text and configured:
        text = configured
        base = path.parent.resolve() if path is not None else None
    if not text:
        return StoreURL.sqlite(home / "minicloud.db")
    check_url(text)  # before anything imports a database driver
    return StoreURL.of(text, base)


def load_config(explicit: str | None = None, debug: bool = False) -> Config:
    home = home_dir()
    _check_home(home)
    path = find_config(explicit)
    parser = configparser.ConfigParser(interpolation=None)
    warnings: list[str] = []
    if path is not None:
        try:
            # utf-8-sig: a file saved by Notepad starts with a BOM, which would otherwise
            # make its first section header unreadable.
            parser.read(path, encoding="utf-8-sig")
        except (configparser.Error, UnicodeDecodeError) as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(f"cannot read {path}: {first}") from None
        warnings = unknown_keys(parser, path)
    url = _store_url(parser.get("database", "url", fallback="").strip(), path, home)
    # Into every node's URL (one, or a cluster's), when it names a user but no password.
    url = url.with_password(os.environ.get("MINICLOUD_DB_PASSWORD"))
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
        timeouts=_timeouts(parser, path),
        warnings=warnings,
    )
