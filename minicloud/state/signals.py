"""Signals held back while the store commits or changes its schema, then honoured.

A Ctrl-C or a TERM that lands in the middle of a commit must not leave the connection in a
state no later statement can use, nor a half-made schema step: the signal waits for the step
to finish, then acts as it would have (KeyboardInterrupt, or the default action).  Connecting
is never wrapped: a hung server must stay interruptible.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def deferred() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals
        return
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in HELD}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(pending):  # each once, in the order they came
            signal.raise_signal(signum)


class KillSwitch:
    """``MINICLOUD_KILL_AFTER=N[:SIGNAL]``: after the N-th commit or schema step of this
    process, send it SIGNAL (default KILL).  The consistency tests walk N over an operation to
    interrupt it at every point where the store changes."""

    def __init__(self, spec: str | None = None) -> None:
        spec = os.environ.get("MINICLOUD_KILL_AFTER", "") if spec is None else spec
        count, _, name = spec.partition(":")
        self.after = int(count) if count.strip().isdigit() else 0
        self.signal: int = getattr(signal, f"SIG{name.upper()}", signal.SIGKILL) if name \
            else signal.SIGKILL
        self.seen = 0

    def step(self) -> None:
        if not self.after:
            return
        self.seen += 1
        if self.seen == self.after:
            if self.signal == signal.SIGINT:
                # A process started in the background ignores SIGINT; a Ctrl-C is meant.
                signal.signal(signal.SIGINT, signal.default_int_handler)
            os.kill(os.getpid(), self.signal)


kill_switch = KillSwitch()
