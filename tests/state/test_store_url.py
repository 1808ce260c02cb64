"""Store URLs made with SQLAlchemy's URL object, never by putting strings together (issue 23
item 7, "What to build" 8): a data folder whose name holds ``?``, ``%``, ``#``, a space or a
letter outside ASCII is one file for writes and reads alike; a malformed URL, or an option the
database driver does not know, is one line naming the URL without its password."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from minicloud.model.errors import ConfigError, StoreError
from minicloud.state.dburl import StoreURL, check_url
from minicloud.state.store import Store
from tests.backends import MYSQL_URL, needs_mysql
from tests.consistency import minicloud

ODD_NAMES = ["what?", "100%", "100%25", "#1", "a b", "é-ß", "q?a=1&b#c%20d"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_an_sqlite_file_s_url_reads_back_as_the_same_file(name: str, tmp_path: Path) -> None:
    path = tmp_path / name / "minicloud.db"
    url = StoreURL.sqlite(path)
    assert url.sqlite_path == str(path)
    text = url.rendered()  # SQLAlchemy's own writing of it
    assert make_url(text).database == str(path)
    assert StoreURL.of(text) == url  # and MiniCloud reads that text as SQLAlchemy does


@pytest.mark.parametrize("text", [
    "sqlite:////tmp/plain.db", "sqlite:////tmp/a%3Fb/x.db", "sqlite:////tmp/a%25b/x.db",
    "sqlite:////tmp/a#b/x.db", "sqlite:////tmp/a b/x.db", "sqlite:////tmp/%C3%A9/x.db",
])
def test_sqlite_paths_are_read_as_sqlalchemy_reads_them(text: str) -> None:
    assert StoreURL.of(text).sqlite_file == make_url(text).database


def test_an_sqlite_url_with_options_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        check_url("sqlite:////tmp/what?/minicloud.db")
    assert "%3F" in str(caught.value) and "\n" not in str(caught.value)


def test_a_home_with_odd_characters_writes_and_reads_one_file(tmp_path: Path) -> None:
    """Two processes on the default store of such a home: the first writes, the second
    (which reads the file with sqlite3, without SQLAlchemy) sees what it wrote."""
    name = "what?100%#1 é"
    home = tmp_path / name
    home.mkdir()
    env = {"MINICLOUD_HOME": str(home)}
    added = minicloud(home, "", "clouds", "add", "Lab", "--type", "stub", env=env)
    assert added.returncode == 0, added.stderr
    listed = minicloud(home, "", "clouds", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "Lab" in listed.stdout, listed.stdout
    assert (home / "minicloud.db").is_file()
    # Nothing stray beside the home (a file named after the part before the ?, the %...).
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_malformed_url_is_one_line_without_its_password() -> None:
    for text in ("mysql+pymysql//mini:topsecret@db/mc",
                 "mysql+pymysql://mini:topsecret@db:port/mc?charset=utf8mb4"):
        with pytest.raises((ConfigError, StoreError)) as caught:
            check_url(text)
            Store(text).open()
        said = str(caught.value)
        assert "secret" not in said and "\n" not in said, said
        assert "mini:***@" in said, said


BOGUS = "mysql+pymysql://mini:hunter2secret@127.0.0.1:1/mc?charset=utf8mb4&bogus_opt=1"


def test_an_option_the_driver_does_not_know_is_one_line(tmp_path: Path) -> None:
    """PyMySQL refuses the keyword before it connects: no server is needed to see it."""
    with pytest.raises(StoreError) as caught:
        Store(BOGUS).open()
    said = str(caught.value)
    assert said == ("store URL mysql+pymysql://mini:***@127.0.0.1:1/mc?charset=utf8mb4&"
                    "bogus_opt=1: its option 'bogus_opt' is unknown to the database driver")
    done = minicloud(tmp_path, BOGUS, "topology")
    assert done.returncode in (1, 2) and done.stderr == f"minicloud: {said}\n"


@pytest.mark.parametrize("_", [pytest.param(None, marks=needs_mysql)])
def test_an_unknown_option_on_the_test_server_is_one_line(_: None, tmp_path: Path) -> None:
    url = make_url(MYSQL_URL).update_query_dict({"bogus_opt": "1"})
    done = minicloud(tmp_path, url.render_as_string(hide_password=False), "clouds", "list")
    assert done.returncode in (1, 2)
    assert len(done.stderr.splitlines()) == 1 and "'bogus_opt'" in done.stderr
    if url.password:
        assert str(url.password) not in done.stderr


# -- a cluster's nodes (several URLs in one store setting) ---------------------------------------

NODE = "mysql+pymysql://mini@db{n}.example.org:3306/mc?charset=utf8mb4"


def test_each_node_of_a_cluster_is_a_url_object_with_the_password() -> None:
    """MINICLOUD_DB_PASSWORD goes into every node's URL object (a password holding @, / or %
    stays one password: nothing is put together as text); nothing shown holds it."""
    setting = StoreURL.of(f" {NODE.format(n=1)}\n   {NODE.format(n=2)} ")
    nodes = setting.with_password("p@ss/w%rd").nodes
    assert [node.sa().host for node in nodes] == ["db1.example.org", "db2.example.org"]
    assert all(node.sa().password == "p@ss/w%rd" for node in nodes)
    assert all(node.sa().query == {"charset": "utf8mb4"} for node in nodes)
    assert str(setting.with_password("p@ss/w%rd")) == \
        "db1.example.org:3306/mc, db2.example.org:3306/mc"
    with pytest.raises(ValueError):
        setting.sa()  # a cluster has no one URL: the store takes its nodes one by one


def test_an_sqlite_path_with_spaces_and_odd_characters_is_one_node(tmp_path: Path) -> None:
    path = tmp_path / "a b" / "c ?%# d.db"
    setting = StoreURL.of(StoreURL.sqlite(path).rendered())
    assert setting.nodes == (setting,) and setting.sqlite_path == str(path)


def test_a_bad_node_is_named_without_its_password() -> None:
    bad = "mysql+pymysql://mini:topsecret@db2.example.org:port/mc"
    with pytest.raises(ConfigError) as caught:
        check_url(f"{NODE.format(n=1)} {bad}")
    said = str(caught.value)
    assert "store URL 2 of 2" in said and "mini:***@db2" in said, said
    assert "topsecret" not in said and "\n" not in said
