"""Store URLs: where a store is, how its URL is made and shown (never with a password), and
what its failures mean.

A store is named by a :class:`StoreURL`: an SQLite store by its file, any other by the text of
its URL, or of several URLs separated by spaces (the nodes of one MySQL/MariaDB Galera
cluster, tried in order: the store goes on with the next when the one in use is lost).
SQLAlchemy's URL object is made from one node (``URL.create`` for a file, ``make_url`` for a
text) when the store is opened, never by putting strings together: a file name holding ``?``,
``%``, ``#`` or a space is then the same file for SQLAlchemy and for the sqlite3 reads of
state/sqlite_read.py, which take the file itself and import no SQLAlchemy (importing it costs
more than a whole ``minicloud topology``); a password from MINICLOUD_DB_PASSWORD goes into
each node's URL object.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from ..model.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

SQLITE_PREFIX = "sqlite:///"
MEMORY = ":memory:"
SUPPORTED_URLS = ("sqlite:///PATH or "
                  "mysql+pymysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?charset=utf8mb4]")


def split_urls(text: str) -> list[str]:
    """The URLs of a store setting: one, or several separated by spaces (a cluster's nodes).
    An SQLite URL is always one (its file's path may hold spaces; a server URL cannot: a
    space in it is written %20)."""
    text = text.strip()
    if text.startswith("sqlite"):
        return [text]
    return text.split()


@dataclass(frozen=True)
class StoreURL:
    """Where a store is: ``sqlite_file`` (an absolute path, or ``:memory:``) for an SQLite
    store, else ``texts``, the server URLs as they were written: one, or the nodes of one
    cluster (:attr:`nodes` gives each as a StoreURL of its own).  ``password``
    (MINICLOUD_DB_PASSWORD) goes into each URL that names a user but no password when its URL
    object is made.  Never shown whole: ``str()`` says where the store is, without a
    password."""

    texts: tuple[str, ...] = field(default=(), repr=False)
    sqlite_file: str = ""
    password: str | None = field(default=None, repr=False)

    @classmethod
    def of(cls, value: str | StoreURL, base: Path | None = None) -> StoreURL:
        """``value`` as a StoreURL.  A text may name several server URLs separated by
        whitespace (split_urls); an SQLite one is always one.  The path of an
        ``sqlite:///PATH`` URL is read as SQLAlchemy reads it (percent-escapes decoded), with
        ``~`` expanded; a relative path is relative to ``base`` (the folder of the file that
        gave it), else to the current folder.  An SQLite URL with options (``?...``) keeps
        its text, for SQLAlchemy alone: the configuration refuses it (check_url)."""
        if isinstance(value, StoreURL):
            return value
        value = value.strip()
        if not value.startswith(SQLITE_PREFIX) or "?" in value:
            return cls(texts=tuple(split_urls(value)) or (value,))
        path = unquote(value[len(SQLITE_PREFIX):])
        if path == MEMORY:
            return cls(sqlite_file=MEMORY)
        file = Path(os.path.expanduser(path))
        return cls.sqlite(file if file.is_absolute() else (base or Path.cwd()) / file)

    @classmethod
    def sqlite(cls, path: str | os.PathLike[str]) -> StoreURL:
        """The URL of an SQLite file (made absolute)."""
        return cls(sqlite_file=os.path.abspath(path))

    @property
    def nodes(self) -> tuple[StoreURL, ...]:
        """Each URL of the store as a StoreURL of its own (with the password): one, or the
        nodes of a cluster in the order they are tried."""
        if len(self.texts) <= 1:
            return (self,)
        return tuple(replace(self, texts=(text,)) for text in self.texts)

    @property
    def text(self) -> str:
        """The setting as it was written (several URLs: separated by one space); it may hold
        a password: never shown as it is (see shown())."""
        return " ".join(self.texts)

    @property
    def is_sqlite(self) -> bool:
        return bool(self.sqlite_file) or self.text.startswith("sqlite")

    @property
    def sqlite_path(self) -> str:
        """The file of an SQLite store; empty for another backend or an in-memory one."""
        return "" if self.sqlite_file == MEMORY else self.sqlite_file

    def with_password(self, password: str | None) -> StoreURL:
        """This URL (each of its nodes), with ``password`` for a server URL that names a user
        but no password."""
        return replace(self, password=password or None) if self.texts else self

    def sa(self) -> URL:
        """SQLAlchemy's URL object of a store of one URL (imports SQLAlchemy); for a cluster,
        take one node first (:attr:`nodes`).  A text that is no URL raises StoreError,
        naming it without its password."""
        from sqlalchemy.engine import URL, make_url
        from sqlalchemy.exc import ArgumentError

        if self.sqlite_file:
            return URL.create("sqlite", database=self.sqlite_file)
        if len(self.texts) > 1:
            raise ValueError("a store of several nodes has no one URL: take one of its nodes")
        try:
            url = make_url(self.text)
        except (ArgumentError, ValueError):
            raise StoreError(f"store URL {shown(self.text)} cannot be read as a URL: use "
                             f"{SUPPORTED_URLS}") from None
        if self.password and url.username and url.password is None:
            url = url.set(password=self.password)
        return url

    def rendered(self) -> str:
        """The URL's text with its password, for a library that takes text (dataset)."""
        return self.sa().render_as_string(hide_password=False)

    def __str__(self) -> str:
        return describe_url(self)


def check_url(url: str) -> None:
    """Refuse a store URL MiniCloud cannot use, naming it without its password, before any
    database driver is imported: SQLAlchemy would otherwise fail deep inside an import (``No
    module named 'psycopg'``).  Several URLs (space-separated) must each be a MySQL/MariaDB
    one: the nodes of a cluster."""
    urls = split_urls(url) or [url]
    for number, one in enumerate(urls, 1):
        problem = _url_problem(one)
        if problem:
            where = f"store URL {number} of {len(urls)}" if len(urls) > 1 else "store URL"
            raise ConfigError(f"unsupported {where} {shown(one)} ({problem}): use "
                              f"{SUPPORTED_URLS}")
    if len(urls) > 1 and any(one.startswith("sqlite") for one in urls):
        raise ConfigError("several store URLs name the nodes of one MySQL/MariaDB cluster; "
                          "an SQLite store is one file: give one sqlite:/// URL")


def _url_problem(url: str) -> str:
    """What is wrong with ``url`` in a few words; empty when it is usable."""
    if url.startswith(SQLITE_PREFIX):
        if "?" in url:
            # sqlite3 reads (state/sqlite_read.py) take the file alone: no options, so that
            # both ways of reading open the same file the same way.
            return "an SQLite URL takes no options: write a ? in a file name as %3F"
        return "" if len(url) > len(SQLITE_PREFIX) else "no file path"
    if url.startswith("sqlite:"):
        return "an SQLite URL needs three slashes and a file path"
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if not scheme:
        return "not a URL"
    if scheme != "mysql+pymysql":
        return f"the {scheme}:// scheme" if scheme != "mysql" else \
            "mysql:// needs the PyMySQL driver: mysql+pymysql://"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return "a bad host or port"
    query = parse_qs(parts.query)
    if not parts.hostname and "unix_socket" not in query:  # a local socket needs no host
        return "no host"
    if not parts.path.strip("/"):
        return "no database name"
    charset = query.get("charset")
    if charset and charset != ["utf8mb4"]:
        return f"charset {charset[-1]}: MiniCloud stores utf8mb4"
    return ""


def shown(text: str) -> str:
    """A URL's text as it may be shown: whatever stands between its user's ``:`` and the last
    ``@`` masked (a well-formed URL or not), and any password option.  Several URLs: each."""
    from ..secrets import MASK, redact

    urls = split_urls(text)
    if len(urls) > 1:
        return " ".join(shown(one) for one in urls)
    at = text.rfind("@")
    if at >= 0:
        head = text[:at]
        start = head.find("//")
        start = start + 2 if start >= 0 else head.find(":") + 1
        colon = head.find(":", start)
        if colon >= 0:
            text = f"{head[:colon + 1]}{MASK}{text[at:]}"
    return redact(text)


def describe_url(url: str | StoreURL) -> str:
    """``host:port/database`` (or the SQLite file) for error messages; never the password.
    Several URLs: each, separated by commas."""
    if isinstance(url, StoreURL):
        if url.sqlite_file:
            return "in-memory SQLite" if url.sqlite_file == MEMORY else url.sqlite_file
        url = url.text
    if len(split_urls(url)) > 1:
        return ", ".join(describe_url(one) for one in split_urls(url))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "an unparsable database URL"
    if not parts.scheme or "://" not in url:
        return "an unparsable database URL"
    if parts.scheme.startswith("sqlite"):
        return unquote(parts.path[1:]) if len(parts.path) > 1 else "in-memory SQLite"
    return f"{parts.hostname or 'localhost'}:{port or 3306}/{parts.path.lstrip('/')}"


def explain(url: str | StoreURL, exc: BaseException) -> str:
    """One line for a database failure: where, what, what to check; never the password."""
    from ..secrets import redact

    return redact(_explain(url, exc))


# A database driver refusing a keyword its URL's options gave it.
_UNKNOWN_OPTION = re.compile(r"unexpected keyword argument '([^']+)'")


def _explain(url: str | StoreURL, exc: BaseException) -> str:
    where = describe_url(url)
    if isinstance(exc, TypeError):
        found = _UNKNOWN_OPTION.search(str(exc))
        text = url.text if isinstance(url, StoreURL) else url
        option = f"option {found[1]!r}" if found else "an option"
        return f"store URL {shown(text)}: its {option} is unknown to the database driver"
    orig = getattr(exc, "orig", None)
    code = orig.args[0] if orig is not None and getattr(orig, "args", None) else None
    if code == 1045:
        return f"store {where}: access denied; check the user and password"
    if code in (1044, 1142):
        database = where.rsplit("/", 1)[-1]
        return (f"store {where}: access denied to the database for this account; "
                f"grant it: GRANT ALL ON `{database}`.* TO the MiniCloud user")
    if code in (2003, 2002, 2013, 2006):
        return f"store {where}: server unreachable; check that it runs and the host/port"
    if code == 1047:
        return (f"store {where}: this node is not primary (cut off from its cluster's "
                "majority): it refuses writes until it rejoins; nothing was changed; use "
                "another node or the proxy")
    if code == 1213:
        return (f"store {where}: busy: another session wrote the same rows at the same time "
                "(on another node); nothing was changed, try again")
    if code == 1205:
        return (f"store {where}: busy: another session held the lock too long; nothing was "
                "changed, try again")
    if code == 1049:
        return f"store {where}: unknown database"
    text = str(orig or exc).splitlines()[0] if str(orig or exc) else type(exc).__name__
    if "locked" in text or "busy" in text:
        return f"store {where}: busy (another MiniCloud is writing); try again"
    if "unable to open" in text:
        return f"store {where}: cannot open the file; check the folder and its permissions"
    return f"store {where}: {text}"


def unknown_option(exc: TypeError) -> bool:
    """Is this the database driver refusing an option of the URL (``?bogus=1``)?"""
    return _UNKNOWN_OPTION.search(str(exc)) is not None
