"""Which store failures mean "run the whole transaction again", in one place, and how often.

On one MySQL/MariaDB server a transaction can lose a deadlock (1213) or wait too long for a
lock (1205).  On a Galera cluster (synchronous multi-primary replication) it also fails when
another node committed a conflicting change first: the loser's commit fails certification,
reported as the same deadlock error (1213), at the commit or at the statement after it was
aborted.  And a node can go: the connection drops (2006 "gone away", 2013 "lost connection",
2003/2002 "can't connect", 1053 "server shutdown", 1927 "connection killed"), or the node is
cut off from its cluster's majority and refuses all work (1047 "WSREP has not yet prepared node
for application use").  Each of these leaves nothing of the failed transaction behind, except
a connection lost *during COMMIT*: then the commit may or may not have happened.

What to do is the same for all of them: roll back, and run the transaction again *as a whole*,
from its first read (on another node when the node went), a few times with a random pause.
Never a single statement, and never a cloud call: a cloud call is not part of any store
transaction.  ``Store.retrying`` (state/store.py) is the helper that does it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..model.errors import StoreError

# The server's answers that mean "another transaction won": a deadlock or a failed Galera
# certification (1213), a lock wait that timed out (1205; also what a causal read says when it
# cannot be served in time).
CONFLICT_CODES = frozenset({1213, 1205})
# The node is gone or will not work: the connection was lost or refused, the server shuts down
# or killed the connection, or it is a Galera node outside the primary component.
LOST_CODES = frozenset({2002, 2003, 2006, 2013, 2055, 1053, 1927, 1047, 1180})
# Of those, the answers of a server that is there but cannot serve now: a connection dropped
# at its handshake (a proxy whose node is gone), shutting down, not in the primary component.
DROPPED = frozenset({2013, 1053, 1047})
# Words of the same failures when the driver gives no code (a connection closed under PyMySQL).
LOST_WORDS = ("already closed", "lost connection", "gone away", "broken pipe",
              "connection reset", "not yet prepared node")

CONFLICT = "conflict"
LOST = "lost"
# The connection was lost while the commit was under way: done or not, nobody knows yet.
UNKNOWN = "unknown"

# How many times a whole transaction is run at most, and the pauses between runs: between half
# a bound and the bound ("equal jitter"), the bound doubling from BASE_PAUSE up to MAX_PAUSE,
# so that two sessions that collided do not collide again in step.  1.5 to 3 s in all: enough
# for a proxy to notice a lost node and for a cluster to drop it from its view.
ATTEMPTS = 6
BASE_PAUSE = 0.1
MAX_PAUSE = 1.6


def error_code(exc: BaseException) -> int | None:
    """The server's error number of a database failure (SQLAlchemy's or the driver's)."""
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", None)
    if args and isinstance(args[0], int):
        return args[0]
    return None


def classify(exc: BaseException) -> str | None:
    """CONFLICT, LOST, or None when running the transaction again would not help (a
    constraint, a bad statement, a refused password, a full disk...)."""
    if isinstance(exc, RetryTransaction):
        return exc.reason
    code = error_code(exc)
    if code in CONFLICT_CODES:
        return CONFLICT
    if code in LOST_CODES:
        return LOST
    if getattr(exc, "connection_invalidated", False):
        return LOST
    text = str(getattr(exc, "orig", None) or exc).lower()
    if code in (None, 0) and any(word in text for word in LOST_WORDS):
        return LOST
    return None


class RetryTransaction(StoreError):
    """A transaction failed in a way that running it again as a whole may cure (``reason``:
    CONFLICT, LOST or UNKNOWN).  Its text is the one line to show when it is not retried (a
    caller that does not use ``Store.retrying``) or retries ran out."""

    def __init__(self, reason: str, message: str, *, started: bool = True) -> None:
        super().__init__(message)
        self.reason = reason
        # False when the transaction failed before its body ran (connecting, taking its locks):
        # nothing of it was done, on any node.
        self.started = started


@dataclass
class Backoff:
    """The pause before each further run of a transaction."""

    base: float = BASE_PAUSE
    cap: float = MAX_PAUSE

    def pause(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th run failed (1 for the first)."""
        bound = min(self.cap, self.base * 2 ** (attempt - 1))
        return random.uniform(bound / 2, bound)
