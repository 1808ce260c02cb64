"""A commit whose answer is lost (issue 27): the connection goes while COMMIT runs, so the
client does not know whether it happened.  The unit of work resolves it by reading back what
the transaction wrote (its intent, by the id drawn before the first run; a settle's end of
that intent; a listing's time) and otherwise runs the whole transaction again.

Walked here for every write commit of the multi-step operations (create an instance and give
it a public IP, ``clouds add``, ``clouds remove``, Reset, Destroy): the answer of the N-th
commit is lost, once after the commit happened and once before; the operation must finish as
if nothing had happened (a lost commit that did not happen says the one line of a write that
lost its node), with nothing pending, duplicated or left behind.  The failure is made here (a
2013 in place of the commit's answer), so this runs on every backend; on a Galera cluster the
real thing is the kill walk (tests/state/test_galera_walks.py).

Heavy: a sample of the operations and points by default, every one at
``MINICLOUD_TEST_VOLUME=full``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from minicloud.app import MiniCloud
from minicloud.model.kinds import KINDS
from minicloud.state.retry import Backoff
from minicloud.state.store import NODE_LOST, Store
from tests.backends import BACKENDS, StartingPoint, backend_url
from tests.consistency import open_app, picture
from tests.volume import sample

pytestmark = pytest.mark.heavy

LAB, EDGE = "Lab", "Edge"


class ServerSaid(Exception):
    """What the database driver raises: the server's error number and text."""


def _lost() -> sa.exc.OperationalError:
    return sa.exc.OperationalError("COMMIT", {}, ServerSaid(
        2013, "Lost connection to MySQL server during query"))


@contextmanager
def losing_answer(store: Store, nth: int, committed: bool) -> Iterator[list[int]]:
    """The answer of the ``nth`` commit of a write that runs again (``Store.retrying`` with
    ``write``: the unit of work's) is lost: after the commit happened when ``committed``,
    before it otherwise.  Yields the count of such commits seen (0 = none lost)."""
    seen = [0]
    writing = [0]
    commit, retrying = store._commit, store.retrying

    def counted(body: Any, **kwargs: Any) -> Any:
        outer = store._conn is None and bool(kwargs.get("write")) and not any(
            lock.startswith("stub/") for lock in kwargs.get("locks", ()))  # the Stub's own
        writing[0] += outer
        try:
            return retrying(body, **kwargs)
        finally:
            writing[0] -= outer

    def answer(tx: Any) -> None:
        if writing[0]:
            seen[0] += 1
            if seen[0] == nth:
                if committed:
                    commit(tx)
                raise _lost()
        commit(tx)

    store._commit = answer  # type: ignore[method-assign]
    store.retrying = counted  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del store._commit, store.retrying


def _base(home: Path, url: str) -> dict[str, Any]:
    """Cloud Lab with a routed network ``n`` (an instance on it can have a public IP), cloud
    Edge; what each cloud held before MiniCloud touched it (what Reset gives back)."""
    app = open_app(home, url)
    try:
        for cloud in (LAB, EDGE):
            app.clouds.add(cloud, "stub")
        before = {cloud: picture(app, cloud) for cloud in (LAB, EDGE)}
        app.routers.create(LAB, "gw", gateway="public")
        app.networks.create(LAB, "n", "10.60.0.0/24", router="gw")
        return before
    finally:
        app.close()


def _instance_with_public_ip(app: MiniCloud) -> None:
    vm = app.instances.create(LAB, "vm", "cirros", "m1.tiny", "n")
    app.access.assign_public_ip(vm)


def _reset(app: MiniCloud) -> None:
    assert app.resetter.reset().failures == []  # the router and network of the base undone


OPERATIONS: list[tuple[str, Callable[[MiniCloud], Any]]] = [
    ("instance with a public IP", _instance_with_public_ip),
    ("clouds add", lambda app: app.clouds.add("Far", "stub")),
    ("clouds remove", lambda app: app.clouds.remove(EDGE)),
    ("reset", _reset),
    ("destroy", lambda app: app.resetter.destroy()),
]


def _after(app: MiniCloud, what: str, before: dict[str, Any]) -> None:
    """The store after ``what`` finished: exactly what it made, nothing pending."""
    assert app.inventory.cache.all("intent") == [], what
    names = {c.name for c in app.clouds.all()}
    if what == "destroy":
        assert names == set(), names
        assert all(app.store.kind(kind).rows() == [] for kind in KINDS), what
        return
    expected = {"clouds add": {LAB, EDGE, "Far"}, "clouds remove": {LAB}}.get(what, {LAB, EDGE})
    assert names == expected, (what, names)
    if what == "instance with a public IP":
        vms = [i for i in app.inventory.cache.all("instance", LAB) if i.name == "vm"]
        assert len(vms) == 1, vms
        assert app.access.public_ip_of(vms[0]) is not None
        assert len(picture(app, LAB)["public_ips"]) == 1
    if what == "reset":
        assert picture(app, LAB) == before[LAB]
    if what == "clouds add":
        far = picture(app, "Far")
        assert ("public", True, ("203.0.113.0/24",)) in far["networks"], far
    # The store and the clouds agree: a refresh changes nothing, Reset restores the start.
    assert app.sync.refresh() == []
    assert app.resetter.reset().failures == []
    for cloud in expected & {LAB, EDGE}:
        assert picture(app, cloud) == before[cloud], (what, cloud)


def _commits(point: StartingPoint, operation: Callable[[MiniCloud], Any]) -> int:
    """How many write commits the operation makes (nothing lost)."""
    home, url = point.copy("count")
    app = open_app(home, url)
    try:
        with losing_answer(app.store, 0, committed=True) as seen:
            operation(app)
        return seen[0]
    finally:
        app.close()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request.param, tmp_path)


# (operation, whether the lost commit happened): by default a third of them, a few points each.
WALKS = sample([(op, committed) for op in OPERATIONS for committed in (True, False)], every=3)


@pytest.mark.parametrize(("operation", "committed"), WALKS,
                         ids=[f"{o[0]}-{'committed' if c else 'not committed'}"
                              for o, c in WALKS])
def test_a_lost_commit_answer_at_every_point_is_resolved(
        operation: tuple[str, Callable[[MiniCloud], Any]], committed: bool, db_url: str,
        tmp_path: Path) -> None:
    what, run = operation
    point = StartingPoint(db_url, tmp_path)
    before = point.build(_base)
    total = _commits(point, run)
    assert total >= 2, (what, total)
    walked = 0
    for n in sample(range(1, total + 1), every=4, offset=1 + committed):
        home, url = point.copy(f"p{n}")
        app = open_app(home, url)
        notices: list[str] = []
        app.store.notify = notices.append
        app.store.backoff = Backoff(base=0.001, cap=0.002)
        try:
            with losing_answer(app.store, n, committed) as seen:
                run(app)  # finishes: no error
            assert seen[0] >= n, (what, n, seen)
            # Lost before it happened: run again, with the one line; after: verified, quiet.
            assert notices == ([] if committed else [NODE_LOST]), (what, n, notices)
            walked += 1
        finally:
            app.close()
        app = open_app(home, url)
        try:
            _after(app, what, before)
        finally:
            app.close()
    assert walked >= 1
