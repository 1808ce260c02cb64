"""Drift: what changed in a cloud outside MiniCloud, reported by ``refresh`` and by
``minicloud drift`` (which changes nothing), with its exit codes and JSON.  The changes are
made directly in the simulated cloud, as another tool would make them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.config import Config
from minicloud.model.kinds import TABLES
from minicloud.state.store import META_TABLE
from tests.faults import Faults

CLOUD = "TryStack"


def outside(app: MiniCloud) -> Any:
    """A driver of the demo cloud that shares nothing with the app: another tool."""
    return app.make_driver_for(app.clouds.get(CLOUD))


def change_behind_minicloud(app: MiniCloud) -> None:
    """Tower stopped, a router of someone else's with an interface on LondonNet, and a
    network MiniCloud made (empty) deleted."""
    app.networks.create(CLOUD, "Spare", "10.10.9.0/24")
    other = outside(app)
    tower = app.instances.find("instance", "Tower", CLOUD)
    other.stop_server(tower.id)
    corp = other.seed_router("corp")
    other.add_router_interface(corp.id, app.networks.find("network", "LondonNet", CLOUD).id)
    other.delete_network(app.networks.find("network", "Spare", CLOUD).id)


def run(app: MiniCloud, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_command(lambda: MiniCloud(app.config, notify=lambda line: None), list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_no_change_is_exit_0(demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(demo_app, capsys, "drift") == (0, "TryStack: no change outside MiniCloud.\n", "")


def test_changes_outside_are_reported_minicloud_s_own_first(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    change_behind_minicloud(demo_app)
    code, out, err = run(demo_app, capsys, "drift")
    assert (code, err) == (3, "")
    assert out.splitlines() == [
        "TryStack: 3 changes made outside MiniCloud:",
        "  MiniCloud's network Spare disappeared",
        "  MiniCloud's instance Tower changed: status ACTIVE -> SHUTOFF",
        "  router corp appeared",
    ]
    code, out, _ = run(demo_app, capsys, "drift", "--json")
    data = json.loads(out)
    assert code == 3 and data["drift"] is True
    [cloud] = data["clouds"]
    assert (cloud["cloud"], cloud["read"], cloud["error"], cloud["recorded"]) == \
        (CLOUD, True, None, [])
    assert [(d["kind"], d["name"], d["change"], d["owned"]) for d in cloud["differences"]] == [
        ("network", "Spare", "disappeared", True), ("instance", "Tower", "changed", True),
        ("router", "corp", "appeared", False)]
    assert cloud["differences"][1]["details"] == ["status ACTIVE -> SHUTOFF"]


def _dump(url: str) -> dict[str, list[Any]]:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sqlalchemy.inspect(engine).get_table_names()
            return {name: sorted(map(tuple, conn.execute(sqlalchemy.text(
                f"SELECT * FROM {name}")).fetchall()), key=repr) for name in names}
    finally:
        engine.dispose()


def test_drift_changes_nothing_in_the_store(demo_app: MiniCloud, db_url: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    change_behind_minicloud(demo_app)
    before = _dump(db_url)
    assert run(demo_app, capsys, "drift")[0] == 3
    assert run(demo_app, capsys, "drift", "--since", "1h", "--json")[0] == 3
    assert _dump(db_url) == before  # no lease, no lock row, no repair, no sync time
    assert set(TABLES.values()) | {META_TABLE} <= set(before)


def test_refresh_reports_records_and_drift_since_sees_it(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    change_behind_minicloud(demo_app)
    code, out, _ = run(demo_app, capsys, "refresh")
    assert code == 0
    assert "TryStack: 3 changes made outside MiniCloud:" in out
    assert "  MiniCloud's instance Tower changed: status ACTIVE -> SHUTOFF" in out
    assert run(demo_app, capsys, "drift")[0] == 0  # absorbed: the store agrees now
    code, out, _ = run(demo_app, capsys, "drift", "--since", "2h")
    assert code == 3
    assert "made outside MiniCloud (seen by the sync of " in out
    assert "  router corp appeared" in out
    code, out, _ = run(demo_app, capsys, "clouds", "list")
    assert "outside MiniCloud" in out and "synced just now, 3 changes" in out
    assert run(demo_app, capsys, "refresh")[1].count("outside MiniCloud") == 0  # no news


def test_a_cloud_that_cannot_be_read_wins_over_drift(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    demo_app.clouds.add("Aaa", "stub")
    change_behind_minicloud(demo_app)
    with Faults({"list_servers": 1}).everywhere():  # Aaa, read first
        code, out, err = run(demo_app, capsys, "drift")
    assert code == 1
    assert "cloud Aaa could not be read:" in err and "TryStack: 3 changes" in out


@pytest.mark.parametrize("argv", [["drift", "--cloud", "Nope"], ["drift", "--since", "soon"],
                                  ["drift", "--bogus"]])
def test_usage_is_exit_2(argv: list[str], demo_app: MiniCloud,
                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run(demo_app, capsys, *argv)[0] == 2


def test_a_fresh_store_has_no_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app: Callable[[], MiniCloud] = lambda: MiniCloud(  # noqa: E731
        Config(home=tmp_path, db_url=f"sqlite:///{tmp_path}/m.db"))
    assert run_command(app, ["drift"]) == 0
    assert capsys.readouterr().out == ""


def test_drift_does_not_bring_an_older_store_up_to_date(
        demo_app: MiniCloud, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    engine = sqlalchemy.create_engine(db_url)
    try:
        with engine.begin() as conn:  # as a MiniCloud of schema 2 left it
            conn.execute(sqlalchemy.text(f"UPDATE {META_TABLE} SET value = '2' "
                                         "WHERE name = 'schema'"))
    finally:
        engine.dispose()
    before = _dump(db_url)
    code, out, err = run(demo_app, capsys, "drift")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err  # as a store
    assert "changes nothing: run another command (e.g. refresh) first" in err
    assert _dump(db_url) == before
    assert run(demo_app, capsys, "refresh")[0] == 0  # which does bring it up to date
    assert run(demo_app, capsys, "drift")[0] == 0
