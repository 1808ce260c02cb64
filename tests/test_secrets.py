"""Passwords never leak: not to the database, the log file, stdout or stderr (issue 6).

Through the menu (an OpenStack cloud by auth URL, its password typed at the secret prompt), and
through the configuration (``[database] url`` with a password, ``MINICLOUD_DB_PASSWORD``), all
with ``--debug``; then the OpenStack driver against the offline fake with DEBUG logging.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).parent / "e2e"))
sys.path.insert(0, str(Path(__file__).parent / "drivers"))

from menu_helpers import minicloud_env

PASSWORD = "Zq9-s3cr3t!pw#X"
FORMS = (PASSWORD, quote(PASSWORD, safe=""), quote(PASSWORD))


def run(home: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[bytes]:
    full = minicloud_env(home)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "minicloud", *args], input=stdin.encode(),
                          capture_output=True, cwd=home, env=full, timeout=120)


def leaks(home: Path, proc: subprocess.CompletedProcess[bytes]) -> list[str]:
    """Where the password shows: stdout, stderr, or any file under ``home`` (db, log...)."""
    found = []
    places = {"stdout": proc.stdout, "stderr": proc.stderr}
    for path in home.rglob("*"):
        if path.is_file() and path.name != "minicloud.ini":  # the user's own file
            places[str(path.relative_to(home))] = path.read_bytes()
    for where, data in places.items():
        for form in FORMS:
            if form.encode() in data:
                found.append(f"{where} holds {form!r}")
    return found


def test_password_typed_for_an_openstack_cloud_stays_secret(tmp_path: Path) -> None:
    # ... user, both domains and the region by default, the password; the refused add is
    # not tried again (Cancel).
    script = ("2\n3\nOS\nopenstack\nlab\nhttp://127.0.0.1:1/v3\nproj\nuser\n\n\n\n"
              f"{PASSWORD}\nCancel\n2\n10\n13\n1\n8\n")
    proc = run(tmp_path, "--debug", stdin=script)
    out = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 0, proc.stderr.decode()
    assert "Password : " in out and "Error:" in out  # asked, then the log-in failed
    assert "Change Password: (hidden)" in out  # offered again, never shown
    assert "Traceback" not in out  # (--debug logs tracebacks of failed calls on stderr)
    assert (tmp_path / "minicloud.log").is_file()
    assert (tmp_path / "minicloud.db").is_file()
    assert not leaks(tmp_path, proc)


def test_password_from_os_password_stays_secret(tmp_path: Path) -> None:
    script = "2\n3\nOS\nopenstack\n\nhttp://127.0.0.1:1/v3\nproj\nuser\n\n\n13\n8\n"
    proc = run(tmp_path, "--debug", stdin=script, env={"OS_PASSWORD": PASSWORD})
    assert proc.returncode == 0
    assert "taken from OS_PASSWORD" in proc.stdout.decode()
    assert not leaks(tmp_path, proc)


MYSQL = "mysql+pymysql://minicloud{auth}@127.0.0.1:1/minicloud?charset=utf8mb4"


@pytest.mark.parametrize("how", ["ini", "env-url", "db-password"])
@pytest.mark.parametrize("command", [[], ["topology"], ["--demo", "topology"]],
                         ids=["menu", "topology", "demo"])
def test_database_password_stays_secret(tmp_path: Path, how: str, command: list[str]) -> None:
    env: dict[str, str] = {}
    with_password = MYSQL.format(auth=":" + quote(PASSWORD, safe=""))
    if how == "ini":
        (tmp_path / "minicloud.ini").write_text(f"[database]\nurl = {with_password}\n")
    elif how == "env-url":
        env["MINICLOUD_DB_URL"] = with_password
    else:
        env["MINICLOUD_DB_URL"] = MYSQL.format(auth="")
        env["MINICLOUD_DB_PASSWORD"] = PASSWORD
    proc = run(tmp_path, "--debug", *command, stdin="1\n2\n6\ny\n8\n", env=env)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, err
    assert "127.0.0.1:1" in err and "unreachable" in err  # the failure is explained
    assert not leaks(tmp_path, proc)


# -- the OpenStack driver, offline ---------------------------------------------------------------


def test_openstack_driver_logs_no_password_nor_token(tmp_path: Path, caplog) -> None:
    from fake_openstack import PASSWORD as OS_PASSWORD
    from fake_openstack import fake_openstack_driver

    from minicloud.cli.main import setup_logging
    from minicloud.config import Config
    from minicloud.drivers.base import ServerSpec
    from minicloud.state.store import Store

    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    caplog.set_level(logging.DEBUG)
    for name in ("openstack", "keystoneauth", "urllib3", "requests", "minicloud"):
        caplog.set_level(logging.DEBUG, logger=name)
    config = Config(home=tmp_path, db_url=f"sqlite:///{tmp_path}/minicloud.db")
    setup_logging(config, debug=True)  # the product's own handlers: file + stderr
    tokens: set[str] = set()
    try:
        with fake_openstack_driver(Store(config.db_url)) as (driver, fake):
            snap = driver.snapshot()
            images = {i.name: i.id for i in driver.list_images()}
            flavors = {f.name: f.id for f in driver.list_flavors()}
            net = driver.create_network("n1", "10.5.0.0/24")
            router = driver.create_router("r1")
            driver.add_router_interface(router.id, net.id)
            server = driver.create_server(ServerSpec("vm", images["cirros"],
                                                     flavors["m1.tiny"], net.id))
            driver.wait_server(server.id, "ACTIVE")
            driver.snapshot()
            tokens = set(fake.tokens)
            assert snap.networks is not None
    finally:
        for handler in root.handlers[:]:
            if handler not in saved[1]:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(saved[0])
    assert tokens, "the fake issued no token"
    texts = {"caplog": caplog.text,
             "log file": (tmp_path / "minicloud.log").read_text(encoding="utf-8")}
    assert "POST" in texts["caplog"] or "GET" in texts["caplog"], "no request was logged"
    for where, text in texts.items():
        assert OS_PASSWORD not in text, f"the password is in the {where}"
        for token in tokens:
            assert token not in text, f"a token is in the {where}"


# -- structural masking ------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "cloud lab: log in unreachable: Unable to establish connection to http://keystone.invalid/v3",
    "store /tmp/keystone/minicloud.db: file is not a database",
    "store sqlite://e: unable to open database file",
    "store /srv/token:1/minicloud.db: file is not a database",
    "a token bucket, a secret garden, passwords policy",  # the words alone are not fields
])
def test_text_with_no_secret_place_is_left_as_it_is(text: str) -> None:
    """Masking never searches for the password: with password ``e`` or ``keystone``, the
    message reads as it was written (masking substrings would reveal the password)."""
    from minicloud.secrets import redact

    assert redact(text) == text


@pytest.mark.parametrize(("text", "masked"), [
    ("mysql+pymysql://mini:p%40ss@db:3306/m", "mysql+pymysql://mini:***@db:3306/m"),
    ("to https://admin:keystone@keystone.invalid/v3", "to https://admin:***@keystone.invalid/v3"),
    ("X-Auth-Token: gAAAAB3x", "X-Auth-Token: ***"),
    ("{'X-Subject-Token': 'gAAAAB3x'}", "{'X-Subject-Token': '***'}"),
    ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
    ('{"auth": {"password": "e"}}', '{"auth": {"password": "***"}}'),
    ("password=e user=me", "password=*** user=me"),
    ("secret_key=AbC&apikey=k", "secret_key=***&apikey=k"),
    ("'secretkey': 'AbC'", "'secretkey': '***'"),
    ("OS_PASSWORD=e and db-password: e", "OS_PASSWORD=*** and db-password: ***"),
    ('{"password": {"user": {"password": "e"}}}', '{"password": {"user": {"password": "***"}}}'),
])
def test_secret_places_are_masked(text: str, masked: str) -> None:
    from minicloud.secrets import redact

    assert redact(text) == masked
