"""The driver pool: a location setting (the Stub's ``state``) is resolved against the place of
MiniCloud's store when a driver is built, and the stored value stays as the user gave it."""

from __future__ import annotations

from pathlib import Path

import pytest

from minicloud.drivers.pool import DriverPool, resolve_location
from minicloud.model.objects import Cloud

HOME = Path("/home/me/.minicloud")
STORE = "sqlite:////data/team/minicloud.db"
MYSQL = "mysql+pymysql://mc:s3cret@db.example.org:3306/minicloud?charset=utf8mb4"
# A Galera cluster's nodes (state/dburl.py: several URLs separated by spaces).
NODES = f"{MYSQL} {MYSQL.replace('db.', 'db2.')}"


@pytest.mark.parametrize(("value", "store", "expected"), [
    # empty: beside an SQLite store, named after it; a MySQL store's own database
    ("", STORE, "sqlite:////data/team/minicloud-stub.db"),
    ("", "sqlite:////data/team/other.db", "sqlite:////data/team/other-stub.db"),
    ("", MYSQL, MYSQL),
    ("", NODES, NODES),  # through the same nodes: a lost one is left for the next
    # a relative path: from the store's folder (from the data folder for a MySQL store)
    ("stub.db", STORE, "sqlite:////data/team/stub.db"),
    ("clouds/lab.db", STORE, "sqlite:////data/team/clouds/lab.db"),
    ("sqlite:///lab.db", STORE, "sqlite:////data/team/lab.db"),
    ("stub.db", MYSQL, "sqlite:////home/me/.minicloud/stub.db"),
    # absolute paths and other URLs: themselves
    ("/srv/stub.db", STORE, "sqlite:////srv/stub.db"),
    ("sqlite:////srv/stub.db", STORE, "sqlite:////srv/stub.db"),
    ("mysql+pymysql://lab@other.example.org/stub", STORE,
     "mysql+pymysql://lab@other.example.org/stub"),
    # on the store's server with the store's account: the store's password
    ("mysql+pymysql://mc@db.example.org:3306/stubs", MYSQL,
     "mysql+pymysql://mc:s3cret@db.example.org:3306/stubs"),
    ("mysql+pymysql://mc@db.example.org:3306/stubs", NODES,
     "mysql+pymysql://mc:s3cret@db.example.org:3306/stubs"),
    ("mysql+pymysql://other@db.example.org:3306/stubs", MYSQL,
     "mysql+pymysql://other@db.example.org:3306/stubs"),
])
def test_resolve_location(value: str, store: str, expected: str) -> None:
    assert resolve_location(value, store, HOME) == expected


def test_a_home_with_odd_characters_resolves_to_its_own_file(tmp_path: Path) -> None:
    """A store URL built as a URL (its path escaped) gives a location URL built likewise."""
    from sqlalchemy.engine import URL, make_url

    folder = tmp_path / "a?b%c #d"
    store = URL.create("sqlite", database=str(folder / "minicloud.db"))
    url = resolve_location("", store.render_as_string(), HOME)
    assert make_url(url).database == str(folder / "minicloud-stub.db")
    relative = resolve_location("lab?.db", store.render_as_string(), HOME)
    assert make_url(relative).database == str(folder / "lab?.db")


def test_the_driver_gets_the_resolved_setting_and_the_store_keeps_the_given_one(
        tmp_path: Path) -> None:
    pool = DriverPool(f"sqlite:///{tmp_path}/minicloud.db", tmp_path / "home")
    given = Cloud("Lab", "stub", settings={"state": "lab.db"})
    driver = pool.build(given)
    try:
        assert driver.cloud.settings["state"] == f"sqlite:///{tmp_path}/lab.db"
        assert given.settings == {"state": "lab.db"}  # what the store holds is untouched
        driver.setup()
        assert (tmp_path / "lab.db").is_file()
    finally:
        driver.close()
    default = pool.build(Cloud("Other", "stub"))
    try:
        assert default.cloud.settings["state"] == f"sqlite:///{tmp_path}/minicloud-stub.db"
    finally:
        default.close()
