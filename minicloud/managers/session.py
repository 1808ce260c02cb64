"""One user's session: configuration, store, cached inventory, the unit of work every change
to the store goes through, drivers and the ways to speak.

Managers are handed a session instead of reaching into an application object.  Nothing here
syncs a cloud: getting a driver only builds it (the reconciler syncs, when it is asked to).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..config import Config
from ..drivers import DRIVERS
from ..drivers.pool import DriverPool
from ..state.cache import Inventory
from ..state.store import Store
from ..state.unit_of_work import Settler, UnitOfWork

log = logging.getLogger("minicloud")

Notify = Callable[[str], None]
# Where long waits (a login, a server booting) are reported, for a front end that shows them.
Progress = Callable[[str], None]


class Session:
    def __init__(self, config: Config, notify: Notify | None = None,
                 progress: Progress | None = None,
                 settler: Callable[[Session], Settler] | None = None) -> None:
        """``notify``: where one-line notices go; ``progress``: where long waits are reported
        (a front end that shows them hands its observer here; nothing sets it later);
        ``settler``: makes, from this session, what the unit of work hands the writes killed
        processes left pending (the composition root chooses it; without one they stay
        pending, counted as taken)."""
        self.config = config
        self.store = Store(config.db_url)
        self.inventory = Inventory(self.store, readable=_readable)
        # The pool gets the store's URLs as text (drivers know no StoreURL): each node's,
        # with its password, separated by spaces.
        store_urls = " ".join(node.rendered() for node in config.db_url.nodes)
        self.drivers = DriverPool(store_urls, config.home, config.timeouts,
                                  progress=self._waiting)
        # One-line notices for the user (a dropped object, an unreachable cloud...).
        self.notify: Notify = notify or (lambda text: log.warning("%s", text))
        # The store's too (a write that lost its database node and ran again on another).
        self.store.notify = lambda text: self.notify(text)
        self._progress = progress
        self.work = UnitOfWork(self.store, self.inventory,
                               settler(self) if settler is not None else None)

    def _waiting(self, text: str) -> None:
        self.work.renew()  # a long wait keeps this session's intents alive
        if self._progress is not None:
            self._progress(text)

    def close(self) -> None:
        self.drivers.close()
        self.store.close()


def _readable(obj: object) -> bool:
    """A cloud of a type this MiniCloud does not know is skipped (a newer one may share the
    store), and so is everything in it."""
    return getattr(obj, "kind", "") != "cloud" or getattr(obj, "type", None) in DRIVERS
