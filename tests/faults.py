"""Fault injection, the tests' business: a driver wrapped so that named calls fail.

``Faults({"create_network": 2, "list_servers": None})`` fails the 2nd call of create_network
and every call of list_servers (with the driver's own error, "injected fault"), and counts every
call of the Driver interface it sees (``calls``).  A wrapped driver's methods are replaced on
the driver itself, so a call one of its methods makes of another (the Stub's create_server
reads the images) is counted and failed as a call from outside would be.  In a test,
``with faults.installed(app):`` wraps every driver the app's pool holds or builds until the
end of the block (``faults.everywhere()``: every pool's); in a subprocess, ``python -m
tests.launch --fail call:N -- ARGS`` does it for the whole process (tests/launch.py).
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from minicloud.drivers.base import Driver
from minicloud.model.errors import FAILED

# Helpers of the base class, not calls of a cloud's API.
LOCAL = {"setting", "secret", "state", "error", "close", "snapshot", "poll", "wait_server"}
# Every call of the Driver interface a fault may name.
CALLS = frozenset(name for name, value in vars(Driver).items()
                  if inspect.isfunction(value) and not name.startswith("_")) - LOCAL


class Faults:
    def __init__(self, plan: Mapping[str, int | None] | None = None) -> None:
        self.plan = dict(plan or {})
        for name, nth in self.plan.items():
            if name not in CALLS:
                raise ValueError(f"no driver call is named {name!r} "
                                 f"(known: {', '.join(sorted(CALLS))})")
            if nth is not None and nth < 1:
                raise ValueError(f"{name}:{nth}: the N-th call counts from 1")
        self.calls: Counter[str] = Counter()
        self._wrapped: list[Driver] = []

    @classmethod
    def parse(cls, text: str) -> Faults:
        """``call[,call:N]``: every call of ``call``, or only its N-th one."""
        plan: dict[str, int | None] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, colon, nth = item.partition(":")
            if colon and not (nth.isdigit() and int(nth) > 0):
                raise ValueError(f"{item!r}: N in call:N must be a whole number from 1")
            plan[name] = int(nth) if colon else None
        return cls(plan)

    def _fails(self, name: str) -> bool:
        if name not in self.plan:
            return False
        nth = self.plan[name]
        return nth is None or nth == self.calls[name]

    def wrap(self, driver: Driver) -> Driver:
        """``driver``, its calls counted and failed as planned (the same object)."""
        for name in CALLS:
            setattr(driver, name, self._call(driver, name, getattr(driver, name)))
        self._wrapped.append(driver)
        return driver

    def _call(self, driver: Driver, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if self._fails(name):
                raise driver.error(name.replace("_", " "), FAILED, "injected fault")
            return original(*args, **kwargs)

        return call

    def unwrap(self) -> None:
        """Every driver wrapped here back as it was."""
        for driver in self._wrapped:
            for name in CALLS:
                driver.__dict__.pop(name, None)
        self._wrapped.clear()

    @contextmanager
    def installed(self, app: Any) -> Iterator[Faults]:
        """Every driver ``app``'s pool holds, or builds meanwhile, wrapped until the end."""
        pool = app.session.drivers
        for driver in list(pool._drivers.values()):
            self.wrap(driver)
        build = pool.build

        def wrapped_build(*args: Any, **kwargs: Any) -> Driver:
            return self.wrap(build(*args, **kwargs))

        pool.build = wrapped_build
        try:
            yield self
        finally:
            del pool.build
            self.unwrap()


    @contextmanager
    def everywhere(self) -> Iterator[Faults]:
        """Every driver any pool of this process builds meanwhile, wrapped (for code that
        makes apps of its own, and for tests/launch.py)."""
        from minicloud.drivers.pool import DriverPool

        build = DriverPool.build

        def wrapped_build(pool: DriverPool, *args: Any, **kwargs: Any) -> Driver:
            return self.wrap(build(pool, *args, **kwargs))

        DriverPool.build = wrapped_build  # type: ignore[method-assign]
        try:
            yield self
        finally:
            DriverPool.build = build  # type: ignore[method-assign]
            self.unwrap()


def recorded(app: Any, operation: Callable[[Any], Any]) -> Counter[str]:
    """The driver calls ``operation(app)`` makes, by name."""
    faults = Faults()
    with faults.installed(app):
        operation(app)
    return faults.calls
