"""The store when things go wrong (DESIGN.md section 7): rows this MiniCloud cannot read, a
store written by a newer one, a commit that fails, several clouds read at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from minicloud.model.errors import StoreError
from minicloud.state.store import SCHEMA_VERSION, Store
from minicloud.state.table import META_TABLE
from tests.consistency import minicloud, open_app

URL = "sqlite:///{}/minicloud.db"


def _rows(url: str, table: str) -> list[tuple[Any, ...]]:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sqlalchemy.text(
                f'SELECT key, data FROM "{table}" ORDER BY key'))]
    finally:
        engine.dispose()


def _insert(url: str, table: str, key: str, cloud: str, data: str | None) -> None:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(
                f'INSERT INTO "{table}" (key, cloud, data, version) VALUES (:k, :c, :d, 1)'),
                {"k": key, "c": cloud, "d": data})
    finally:
        engine.dispose()


def test_unreadable_rows_are_skipped_named_and_never_rewritten(tmp_path: Path) -> None:
    url = URL.format(tmp_path)
    app = open_app(tmp_path, url)
    app.clouds.add("Lab", "stub")
    app.networks.create("Lab", "n1", "10.1.0.0/24")
    app.close()
    _insert(url, "networks", "Lab/bad-json", "Lab", "{not json")
    _insert(url, "networks", "Lab/a-list", "Lab", "[1, 2]")
    _insert(url, "networks", "Lab/null", "Lab", None)
    _insert(url, "instances", "Lab/no-fields", "Lab", json.dumps({"cloud": "Lab"}))
    _insert(url, "clouds", "Future/Future", "Future",
            json.dumps({"name": "Future", "type": "quantum", "location": "", "settings": {}}))
    before = {t: _rows(url, t) for t in ("networks", "instances", "clouds")}
    done = minicloud(tmp_path, url, "topology")
    assert done.returncode == 0 and "n1" in done.stdout and "Future" not in done.stdout
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for named in ("networks/Lab/bad-json", "networks/Lab/a-list", "networks/Lab/null",
                  "clouds/Future"):
        assert named in done.stderr
    for args in (["networks", "list"], ["refresh"], ["reset", "--yes"]):
        done = minicloud(tmp_path, url, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert "Traceback" not in done.stderr
    after = {t: _rows(url, t) for t in ("networks", "instances", "clouds")}
    for table, rows in before.items():
        kept = [r for r in rows if r[0] in {"Lab/bad-json", "Lab/a-list", "Lab/null",
                                            "Lab/no-fields", "Future/Future"}]
        assert set(kept) <= set(after[table]), table  # left as they were


def test_a_store_of_a_newer_minicloud_is_refused_in_one_line(tmp_path: Path) -> None:
    url = URL.format(tmp_path)
    Store(url).open().close()
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"UPDATE {META_TABLE} SET value = :v WHERE name = 'schema'"),
                     {"v": str(SCHEMA_VERSION + 1)})
    engine.dispose()
    with pytest.raises(StoreError, match="newer MiniCloud"):
        Store(url).open()
    done = minicloud(tmp_path, url, "clouds", "add", "Lab", "--type", "stub")
    assert done.returncode == 2 and "newer MiniCloud" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_failed_commit_leaves_a_session_that_goes_on(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    app = open_app(tmp_path, URL.format(tmp_path))
    app.clouds.add("Lab", "stub")
    real = sqlalchemy.engine.Transaction.commit
    calls = {"n": 0}

    def full_disk(self: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the settle of the next write
            raise sqlalchemy.exc.OperationalError("COMMIT", {}, Exception("database or disk "
                                                                          "is full"))
        real(self)

    monkeypatch.setattr(sqlalchemy.engine.Transaction, "commit", full_disk)
    with pytest.raises(StoreError, match="disk is full"):
        app.networks.create("Lab", "n1", "10.1.0.0/24")
    monkeypatch.undo()
    assert app.networks.all("Lab") == [n for n in app.networks.all("Lab") if n.name != "n1"]
    app.networks.create("Lab", "n1", "10.1.0.0/24")  # the same session goes on
    assert "n1" in {n.name for n in app.networks.all("Lab")}
    app.close()


def test_refresh_reads_several_stub_clouds_at_once(tmp_path: Path) -> None:
    app = open_app(tmp_path, URL.format(tmp_path))
    for i in range(4):
        app.clouds.add(f"C{i}", "stub")
    app.close()
    for _ in range(5):  # the first read of every cloud, concurrently, in a new process
        done = minicloud(tmp_path, URL.format(tmp_path), "refresh")
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
