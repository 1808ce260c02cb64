"""Signals held back while the store commits or changes its schema, then honoured.

A Ctrl-C or a TERM that lands in the middle of a commit must not leave the connection in a
state no later statement can use, nor a half-made schema step: the signal waits for the step
to finish, then acts as it would have (KeyboardInterrupt, or the default action).  Connecting
is never wrapped: a hung server must stay interruptible.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
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


# Called after each commit and each schema step of the store: none in the product; a test
# may watch the points where the store changes (e.g. to interrupt a command at each one).
after_step: list[Callable[[], None]] = []


def stepped() -> None:
    """A commit or a schema step is done: tell the observers."""
    for observer in list(after_step):
        observer()
