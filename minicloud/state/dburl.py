"""Database URLs: how they are shown (never with a password) and what their failures mean.

A store is one URL, or several separated by spaces: the nodes of one MySQL/MariaDB Galera
cluster, tried in order (the store goes on with the next when the one in use is lost).
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from ..model.errors import ConfigError

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


def check_url(url: str) -> None:
    """Refuse a store URL MiniCloud cannot use, before any database driver is imported:
    SQLAlchemy would otherwise fail deep inside an import (``No module named 'psycopg'``).
    Several URLs (space-separated) must each be a MySQL/MariaDB one: the nodes of a cluster."""
    urls = split_urls(url) or [url]
    for one in urls:
        problem = _url_problem(one)
        if problem:
            where = f"store URL {urls.index(one) + 1} of {len(urls)}" if len(urls) > 1 \
                else "store URL"
            raise ConfigError(f"unsupported {where} ({problem}): use {SUPPORTED_URLS}")
    if len(urls) > 1 and any(one.startswith("sqlite") for one in urls):
        raise ConfigError("several store URLs name the nodes of one MySQL/MariaDB cluster; "
                          "an SQLite store is one file: give one sqlite:/// URL")


def _url_problem(url: str) -> str:
    """What is wrong with ``url`` in a few words; empty when it is usable.  Never the
    password: the URL itself is not repeated."""
    if url.startswith("sqlite:///"):
        return "" if len(url) > len("sqlite:///") else "no file path"
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


def describe_url(url: str) -> str:
    """``host:port/database`` (or the SQLite file) for error messages; never the password.
    Several URLs: each, separated by commas."""
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
        return parts.path[1:] if len(parts.path) > 1 else "in-memory SQLite"
    return f"{parts.hostname or 'localhost'}:{port or 3306}/{parts.path.lstrip('/')}"


def with_password(url: str, password: str | None) -> str:
    """Put ``password`` (from ``MINICLOUD_DB_PASSWORD``) into a URL that has none (into each
    of several)."""
    if not password:
        return url
    urls = split_urls(url)
    if len(urls) > 1:
        return " ".join(with_password(one, password) for one in urls)
    parts = urlsplit(url)
    if parts.password is not None or not parts.username:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def explain(url: str, exc: BaseException) -> str:
    """One line for a database failure: where, what, what to check; never the password."""
    from ..secrets import redact

    return redact(_explain(url, exc))


def _explain(url: str, exc: BaseException) -> str:
    where = describe_url(url)
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
