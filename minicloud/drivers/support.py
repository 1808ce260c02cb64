"""What the cloud types' packages share besides the Driver interface: the words of their
errors (one line, the server by scheme, host and port, no URL query, secrets masked, the
socket's cause in plain words).  Polling and the heartbeat of long waits are the Driver's own
(drivers/base.py), written once there."""

from __future__ import annotations

import re

from ..secrets import redact

MAX_DETAIL = 300
# A URL's query, or a request path's ("url: /client/api?command=...&signature=..."): a signed
# request carries its API key, expiry and signature there.
_QUERY = re.compile(r"(?<=[\w/\]])\?[^\s'\")]*")
_URL = re.compile(r"https?://[^/\s:'\"?]+(:\d+)?")
# What the socket said, in the words urllib3 and the C library use -> a few plain words.
_CAUSES = (
    ("refused", "connection refused"),
    ("name or service not known", "unknown host"),
    ("nodename nor servname", "unknown host"),
    ("temporary failure in name resolution", "unknown host (name resolution failed)"),
    ("no route to host", "no route to host"),
    ("network is unreachable", "network unreachable"),
    ("reset by peer", "connection reset"),
    ("remote end closed", "connection closed by the server"),
    ("certificate verify failed", "TLS certificate verification failed"),
    ("timed out", "timed out"),
)


def server_of(text: str) -> str:
    """``scheme://host[:port]`` of the first URL in ``text``; "the server" when none."""
    found = _URL.search(text)
    return found.group(0) if found else "the server"


def unreachable_detail(message: str, server: str | None = None) -> str:
    """A transport failure (urllib3's paragraph, "Max retries exceeded ... NewConnection
    Error(...)") as one short line: ``cannot reach http://HOST:PORT: connection refused``;
    ``server`` when the message names none."""
    lowered = message.lower()
    cause = next((words for key, words in _CAUSES if key in lowered), "connection failed")
    return f"cannot reach {server or server_of(message)}: {cause}"


def error_detail(text: str, limit: int = MAX_DETAIL) -> str:
    """What a driver error says, as every driver says it: one line; no URL query; secrets in
    their places masked (secrets.redact); at most ``limit`` characters, cut at a word."""
    detail = redact(_QUERY.sub("", " ".join(text.split())))
    if len(detail) <= limit:
        return detail
    cut = detail[:limit - 3]
    if " " in cut[limit // 2:]:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "..."


def timeout_detail(message: str, timeout: float | None, type_name: str) -> str:
    """A request that got no answer in time, with the limit and where to change it."""
    limit = f" within {timeout:g} s" if timeout else ""
    return f"no answer from {server_of(message)}{limit} ([{type_name}] timeout in minicloud.ini)"
