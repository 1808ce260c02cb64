"""Saved parts of the whole-store views (minicloud/render/saved_views.py): used again while their
cloud's generation stays, never once anything of that cloud changed, whoever changed it.
Counted in rows read, and checked against a whole render of what the store holds."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.config import Config
from minicloud.drivers.pool import LOCATION_SUFFIX
from minicloud.drivers.stub.driver import StubDriver
from minicloud.model.objects import State
from minicloud.render import saved_views
from minicloud.render.topology import render_text
from minicloud.render.views import Views
from minicloud.state.store import META_TABLE, Store
from tests.backends import _mysql_copy, backend_url
from tests.state.test_cost import Rows, _store
from tests.state.test_cost import rows_read as rows_read  # the fixture

TREE = ("topology",)
JSON = ("topology", "--json")


def _out(home: Path, url: str, argv: tuple[str, ...], capsys: pytest.CaptureFixture[str],
         ) -> str:
    """What a one-shot command prints (a new session, as from the shell)."""
    capsys.readouterr()
    app = MiniCloud(Config(home=home, db_url=url), notify=lambda line: None)
    try:
        assert run_command(app, list(argv)) == 0, argv
    finally:
        app.close()
    return capsys.readouterr().out


def _whole(home: Path, url: str) -> tuple[str, dict]:
    """The tree and the JSON view rendered from everything the store holds, nothing saved."""
    app = MiniCloud(Config(home=home, db_url=url), notify=lambda line: None)
    try:
        dep = app.topology.deployment()
        return render_text(dep), Views(dep).topology()
    finally:
        app.close()


def _read_besides_clouds(rows: Rows) -> dict[tuple[str, str], int]:
    return {k: n for k, n in rows.items() if k[0] != "clouds"}


@pytest.mark.parametrize("argv", [TREE, JSON], ids=["tree", "json"])
def test_again_it_reads_only_the_clouds_rows_and_prints_the_same(
        argv: tuple[str, ...], tmp_path: Path, db_url: str, rows_read: Rows,
        capsys: pytest.CaptureFixture[str]) -> None:
    _store(tmp_path, db_url, 60)
    first = _out(tmp_path, db_url, argv, capsys)
    assert rows_read[("instances", "Big")] == 60
    rows_read.clear()
    assert _out(tmp_path, db_url, argv, capsys) == first
    assert _read_besides_clouds(rows_read) == {}, rows_read
    tree, view = _whole(tmp_path, db_url)
    assert first == (tree if argv == TREE else json.dumps(view, ensure_ascii=False,
                                                          separators=(",", ":")) + "\n")


@pytest.mark.parametrize("argv", [TREE, JSON], ids=["tree", "json"])
def test_after_a_write_in_one_cloud_only_that_cloud_is_read_again(
        argv: tuple[str, ...], tmp_path: Path, db_url: str, rows_read: Rows,
        capsys: pytest.CaptureFixture[str]) -> None:
    _store(tmp_path, db_url, 60)
    before = _out(tmp_path, db_url, argv, capsys)
    _out(tmp_path, db_url, ("instances", "stop", "vm00003", "--cloud", "Small"), capsys)
    rows_read.clear()
    after = _out(tmp_path, db_url, argv, capsys)
    assert after != before
    read = _read_besides_clouds(rows_read)
    assert read and all(cloud == "Small" for _, cloud in read), read
    tree, view = _whole(tmp_path, db_url)
    assert after == (tree if argv == TREE else json.dumps(view, ensure_ascii=False,
                                                          separators=(",", ":")) + "\n")
    assert "Instance: vm00003 [10.0.101.11] (net001) [default] [SHUTOFF]" in tree


def test_a_refresh_that_finds_changes_outside_minicloud_is_shown(
        tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _store(tmp_path, db_url, 30)
    small = "vm00004 [10.0.100.12] (net000) [default]"
    assert f"{small} [ACTIVE]" in _out(tmp_path, db_url, TREE, capsys)
    app = MiniCloud(Config(home=tmp_path, db_url=db_url), notify=lambda line: None)
    try:  # someone stops the server in the cloud itself
        server = next(i for i in app.instances.all("Small") if i.name == "vm00004")
        driver = app.clouds.driver("Small")
        assert isinstance(driver, StubDriver)
        driver.stop_server(server.id)
    finally:
        app.close()
    assert f"{small} [ACTIVE]" in _out(tmp_path, db_url, TREE, capsys)  # nobody looked yet
    _out(tmp_path, db_url, ("refresh", "--cloud", "Small"), capsys)
    assert f"{small} [{State.SHUTOFF}]" in _out(tmp_path, db_url, TREE, capsys)


def test_random_changes_across_clouds_always_match_a_whole_render(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = backend_url("sqlite", tmp_path)
    _store(tmp_path, url, 40)
    rng = random.Random(20261201)
    made = 0
    for step in range(16):
        cloud = rng.choice(["Big", "Small"])
        net = "net000"
        choice = rng.randrange(4)
        if choice == 0:
            made += 1
            argv: tuple[str, ...] = ("instances", "create", f"r{made}", "--cloud", cloud,
                                     "--image", "cirros", "--flavor", "m1.tiny",
                                     "--network", net)
        elif choice == 1:
            argv = ("instances", "stop", f"vm{rng.randrange(20):05d}", "--cloud", cloud)
        elif choice == 2:
            argv = ("clusters", "add", f"c{step}", "--cloud", cloud)
        else:
            argv = ("networks", "create", f"n{step}", "--cloud", cloud,
                    "--cidr", f"10.{200 + step}.0.0/24")
        capsys.readouterr()
        app = MiniCloud(Config(home=tmp_path, db_url=url), notify=lambda line: None)
        try:
            run_command(app, list(argv))  # a refusal (already stopped...) changes nothing
        finally:
            app.close()
        tree, view = _whole(tmp_path, url)
        assert _out(tmp_path, url, TREE, capsys) == tree, (step, argv)
        assert json.loads(_out(tmp_path, url, JSON, capsys)) == view, (step, argv)


def test_a_store_made_again_uses_no_part_of_the_old_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = backend_url("sqlite", tmp_path)
    _store(tmp_path, url, 20)
    first = Store(url).open()
    old_id, old_generations = first.identity, first.generations()
    first.close()
    before = _out(tmp_path, url, TREE, capsys)
    assert old_id and before.count("+---Instance: ") == 40
    store_file = Path(url[len("sqlite:///"):])
    store_file.unlink()
    # Made again from nothing: its Stub clouds too (they live beside the store).
    store_file.with_name(f"{store_file.stem}{LOCATION_SUFFIX}").unlink()
    _store(tmp_path, url, 10)  # the same clouds, written as often: the same generations
    again = Store(url).open()
    assert again.identity not in (None, old_id)
    assert again.generations() == old_generations  # only the id tells the stores apart
    again.close()
    out = _out(tmp_path, url, TREE, capsys)
    assert out.count("+---Instance: ") == 30 and out == _whole(tmp_path, url)[0]


def test_parts_of_another_code_are_not_used(tmp_path: Path, rows_read: Rows,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    url = backend_url("sqlite", tmp_path)
    _store(tmp_path, url, 20)
    _out(tmp_path, url, TREE, capsys)
    monkeypatch.setattr(saved_views, "code_key", lambda: "an edited renderer")
    rows_read.clear()
    _out(tmp_path, url, TREE, capsys)
    assert rows_read[("instances", "Big")] == 20


def test_damaged_or_unwritable_parts_are_rendered(tmp_path: Path, rows_read: Rows,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = backend_url("sqlite", tmp_path)
    _store(tmp_path, url, 20)
    good = _out(tmp_path, url, TREE, capsys)
    files = sorted((tmp_path / saved_views.FOLDER).rglob("tree-*.json"))
    assert len(files) == 2
    files[0].write_text('{"key": ["Big", 1')  # cut short
    files[1].write_text(json.dumps({"key": 5, "part": {"compute": ["+---forged"]}}))
    assert _out(tmp_path, url, TREE, capsys) == good
    assert all(json.loads(f.read_text())["part"]["compute"] for f in files)  # rewritten

    def refuse(*args: object) -> None:
        raise PermissionError("read-only home")

    monkeypatch.setattr(os, "replace", refuse)
    for f in files:
        f.unlink()
    rows_read.clear()
    assert _out(tmp_path, url, TREE, capsys) == good
    assert _out(tmp_path, url, TREE, capsys) == good
    assert rows_read[("instances", "Big")] == 40  # rendered both times, nothing saved
    assert not list((tmp_path / saved_views.FOLDER).rglob("*.json"))
    assert not list((tmp_path / saved_views.FOLDER).rglob(".part-*"))  # no leftovers


def test_the_parts_of_removed_clouds_go(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    url = backend_url("sqlite", tmp_path)
    _store(tmp_path, url, 20)
    _out(tmp_path, url, TREE, capsys)
    _out(tmp_path, url, JSON, capsys)
    assert len(list((tmp_path / saved_views.FOLDER).rglob("*.json"))) == 4
    _out(tmp_path, url, ("clouds", "remove", "Small", "--yes"), capsys)
    _out(tmp_path, url, TREE, capsys)
    names = sorted(p.name.split("-")[0] for p in
                   (tmp_path / saved_views.FOLDER).rglob("*.json"))
    assert names == ["json", "json", "tree"]  # the tree's part of Small is gone


# -- a store whose rows were replaced at the same generations (issue 23, item 5) ------------------


def _copy_store(url: str, to: str) -> None:
    """Every table of store ``url`` (MiniCloud's rows and its generations) into ``to``, as
    putting a backup or another copy of the store file in place does."""
    if url.startswith("sqlite"):
        shutil.copyfile(url[len("sqlite:///"):], to[len("sqlite:///"):])
    else:
        _mysql_copy(url, make_url(to).database or "")


def _elsewhere(url: str, tag: str) -> str:
    """Where a copy of store ``url`` is kept (a file beside it, or a database of its own)."""
    if url.startswith("sqlite"):
        return f"{url}.{tag}"
    return make_url(url).set(database=f"{make_url(url).database}_{tag}").render_as_string(
        hide_password=False)


def _views_match_the_store(home: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    tree, view = _whole(home, url)
    assert _out(home, url, TREE, capsys) == tree
    assert json.loads(_out(home, url, JSON, capsys)) == view


def test_a_backup_put_back_then_written_never_shows_the_parts_of_the_other_past(
        tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _store(tmp_path, db_url, 20)
    _out(tmp_path, db_url, TREE, capsys)
    backup = _elsewhere(db_url, "backup")
    _copy_store(db_url, backup)
    _out(tmp_path, db_url, ("clusters", "add", "Lost", "--cloud", "Small"), capsys)
    assert "Cluster: Lost" in _out(tmp_path, db_url, TREE, capsys)  # saved with Lost...
    _out(tmp_path, db_url, JSON, capsys)
    _copy_store(backup, db_url)  # ... then the backup is put back, and written again:
    _out(tmp_path, db_url, ("clusters", "add", "Kept", "--cloud", "Small"), capsys)
    # Small has the generation it had with Lost, and other rows.
    tree = _out(tmp_path, db_url, TREE, capsys)
    assert "Cluster: Kept" in tree and "Cluster: Lost" not in tree
    _views_match_the_store(tmp_path, db_url, capsys)


def test_a_copy_of_the_same_origin_written_elsewhere_never_shows_this_ones_parts(
        tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _store(tmp_path, db_url, 20)
    _out(tmp_path, db_url, TREE, capsys)
    sibling, there = _elsewhere(db_url, "sibling"), tmp_path / "there"
    _copy_store(db_url, sibling)  # one store, two copies: the same id and generations
    there.mkdir()
    _out(tmp_path, db_url, ("clusters", "add", "Here", "--cloud", "Small"), capsys)
    _out(tmp_path, db_url, TREE, capsys)
    _out(tmp_path, db_url, JSON, capsys)
    _out(there, sibling, ("clusters", "add", "There", "--cloud", "Small"), capsys)
    _copy_store(sibling, db_url)  # the sibling brought into this home
    tree = _out(tmp_path, db_url, TREE, capsys)
    assert "Cluster: There" in tree and "Cluster: Here" not in tree
    _views_match_the_store(tmp_path, db_url, capsys)


def test_a_cloud_an_older_minicloud_wrote_last_is_rendered(
        tmp_path: Path, db_url: str, rows_read: Rows,
        capsys: pytest.CaptureFixture[str]) -> None:
    """An older MiniCloud sharing the store bumps the generation and writes no token: the
    token then is of another generation and stands for nothing, so the cloud is rendered
    (and nothing is saved for it) until a write of this MiniCloud gives it a token again."""
    _store(tmp_path, db_url, 20)
    _out(tmp_path, db_url, TREE, capsys)
    store = Store(db_url).open()
    try:
        with store.transaction(write=True, locks=("Small",)) as conn:
            meta = store.sa_table(META_TABLE)
            conn.execute(meta.update().where(meta.c.name == "lock/Small").values(
                value=str(store.generation(conn, "Small") + 1)))
    finally:
        store.close()
    for _ in range(2):  # rendered each time: no token stands for its rows, nothing saved
        rows_read.clear()
        assert _out(tmp_path, db_url, TREE, capsys) == _whole(tmp_path, db_url)[0]
        assert rows_read[("instances", "Small")] == 20 + 20  # the view's, and the whole's
        assert rows_read[("instances", "Big")] == 20  # the whole's only: Big's part is saved
    _out(tmp_path, db_url, ("clusters", "add", "Again", "--cloud", "Small"), capsys)
    _out(tmp_path, db_url, TREE, capsys)
    rows_read.clear()
    _out(tmp_path, db_url, TREE, capsys)
    assert _read_besides_clouds(rows_read) == {}, rows_read
