"""The read path of a long-lived session (issue 23, item 4), in process: two MiniClouds on one
store; one writes, the other's next read after time passed (``expire_reads``) sees it, having
asked the store for the generations once and read again only the clouds that moved.  A
one-shot command never asks (it is one moment).  On SQLite and MySQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.model.objects import State
from minicloud.state.cache import Inventory
from tests.state.test_cost import Rows, _store
from tests.state.test_cost import rows_read as rows_read  # the fixture


def _run(new_app: Callable[[], MiniCloud], *argv: str) -> None:
    app = new_app()
    try:
        assert run_command(app, list(argv)) == 0, argv
    finally:
        app.close()


@pytest.fixture
def two(tmp_path: Path, db_url: str) -> Iterator[tuple[MiniCloud, Callable[[], MiniCloud]]]:
    """A session holding the whole store (as the menu does), and a maker of others."""
    new_app = _store(tmp_path, db_url, 10)
    menu = new_app().open()
    yield menu, new_app
    menu.close()


def _asks(app: MiniCloud, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The generations queries ``app``'s store makes (one entry each; a read of rows asks
    too, in its own transaction)."""
    asked: list[int] = []
    store = app.store
    original = store.generations

    def counted() -> dict[str, int]:
        asked.append(1)
        return original()

    monkeypatch.setattr(store, "generations", counted)
    return asked


def _fresh_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each time a session asks the store what moved."""
    asked: list[str] = []
    original = Inventory.fresh

    def counted(self: Inventory) -> list[str]:
        asked.append("fresh")
        return original(self)

    monkeypatch.setattr(Inventory, "fresh", counted)
    return asked


def _status(app: MiniCloud, cloud: str, name: str) -> str:
    return next(i.status for i in app.instances.all(cloud) if i.name == name)


def test_the_next_read_after_time_passed_sees_another_sessions_write(
        two: tuple[MiniCloud, Callable[[], MiniCloud]], rows_read: Rows,
        monkeypatch: pytest.MonkeyPatch) -> None:
    menu, new_app = two
    assert _status(menu, "Small", "vm00003") == State.ACTIVE
    _run(new_app, "instances", "stop", "vm00003", "--cloud", "Small")
    assert _status(menu, "Small", "vm00003") == State.ACTIVE  # no time passed: one moment
    asked = _fresh_calls(monkeypatch)
    rows_read.clear()
    menu.expire_reads()
    assert _status(menu, "Small", "vm00003") == State.SHUTOFF
    assert len(asked) == 1
    # Small's instances again, and the clouds' rows: nothing of Big.
    assert {cloud for _, cloud in rows_read} <= {"Small", "Big"}
    assert all(cloud == "Small" for table, cloud in rows_read if table != "clouds"), rows_read
    assert rows_read[("instances", "Small")] == 20
    # The whole store again (a tree, a list of everything): Small's other kinds only.
    rows_read.clear()
    tree = menu.topology.tree()
    assert "Instance: vm00003 [10.0.101.11] (net001) [default] [SHUTOFF]" in "\n".join(tree)
    assert not [k for k in rows_read if k[1] == "Big" and k[0] != "clouds"], rows_read
    menu.topology.deployment()
    assert not [k for k in rows_read if k[1] == "Big" and k[0] != "clouds"], rows_read
    assert len(asked) == 1  # one question per moment, however many reads


def test_nothing_moved_costs_one_query_and_no_row(
        two: tuple[MiniCloud, Callable[[], MiniCloud]], rows_read: Rows,
        monkeypatch: pytest.MonkeyPatch) -> None:
    menu, _ = two
    menu.topology.deployment()
    asked = _asks(menu, monkeypatch)
    rows_read.clear()
    for _ in range(3):
        menu.expire_reads()
        menu.topology.deployment()
        menu.instances.all()
    assert len(asked) == 3 and not rows_read, rows_read


def test_clouds_added_removed_or_destroyed_elsewhere(
        two: tuple[MiniCloud, Callable[[], MiniCloud]]) -> None:
    menu, new_app = two
    _run(new_app, "clouds", "add", "Edge", "--type", "stub", "--external-cidr",
         "198.51.100.0/24")
    _run(new_app, "clouds", "remove", "Small", "--yes")
    menu.expire_reads()
    assert [c.name for c in menu.clouds.all()] == ["Big", "Edge"]
    assert {i.cloud for i in menu.instances.all()} == {"Big"}
    assert [n.name for n in menu.networks.all("Edge")] == ["public"]
    _run(new_app, "destroy", "--yes")
    menu.expire_reads()
    assert menu.clouds.all() == [] and menu.instances.all() == []


def test_a_one_shot_command_never_asks_what_moved(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    new_app = _store(tmp_path, db_url, 10)
    asked = _fresh_calls(monkeypatch)
    for argv in (("topology",), ("instances", "list"), ("instances", "show", "vm00003",
                                                         "--cloud", "Small"),
                 ("instances", "stop", "vm00003", "--cloud", "Small")):
        _run(new_app, *argv)
    assert asked == []


def test_topology_with_nothing_changed_is_one_read_of_the_store(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The clouds' rows, with every generation and token in the same snapshot: one read,
    whatever the store holds, and no question of what moved."""
    from minicloud.state.store import Store

    new_app = _store(tmp_path, db_url, 10)
    _run(new_app, "topology")  # the parts saved
    reads: list[str] = []
    for name in ("read", "load_all", "generations"):
        original = getattr(Store, name)

        def counted(self: Store, *args: object, __o: object = original, __n: str = name,
                    ) -> object:
            if not self.in_transaction:  # a read's own generations are part of that read
                reads.append(__n)
            return __o(self, *args)  # type: ignore[operator]

        monkeypatch.setattr(Store, name, counted)
    asked = _fresh_calls(monkeypatch)
    _run(new_app, "topology")
    assert reads == ["read"] and asked == []
