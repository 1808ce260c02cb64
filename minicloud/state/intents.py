"""Intents: reading them, and telling whether the session that recorded one is still there
(DESIGN.md section 7: host, process id and process start time, and a lease on the store's
clock for an owner on another host)."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from ..model.codec import from_dict
from ..model.objects import Intent

if TYPE_CHECKING:
    from .store import Store

LEASE_SECONDS = 120.0
RENEW_SECONDS = 30.0


def _start_time(pid: int) -> str | None:
    """When a process started (clock ticks since boot), or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


def this_process(session: str) -> dict[str, Any]:
    """The owner an intent of this session records: its process, and the session itself
    (two sessions of one process, as the tests have, are two owners)."""
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "started": _start_time(os.getpid()), "session": session}


def owner_alive(intent: Intent, now: float) -> bool:
    """Is the process that recorded ``intent`` still there?  On this host it is asked
    directly (a recycled pid has another start time); elsewhere its lease tells."""
    owner = intent.owner
    if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int):
        started = _start_time(owner["pid"])
        return started is not None and started == owner.get("started")
    return intent.lease_until > now


def recorded_here(intent: Intent, session: str) -> bool:
    """Recorded by this very session (then it is dead unless the session still runs it)."""
    owner = intent.owner
    return (owner.get("host") == socket.gethostname() and owner.get("pid") == os.getpid()
            and owner.get("session", session) == session)


def read_intents(store: Store, cloud: str | None = None) -> list[Intent]:
    """The pending intents of ``cloud`` (of every cloud, known or not, when None), as the
    store has them now (in the caller's transaction when there is one)."""
    intents = []
    for data, version in store.kind("intent").rows(cloud):
        try:
            intent = from_dict(Intent, data)
            intent.key  # noqa: B018 - fails on a row with a missing field
        except (TypeError, ValueError, KeyError, AttributeError):
            continue
        intent.version = version
        intents.append(intent)
    return intents
