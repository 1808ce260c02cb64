"""Configuration: where minicloud.ini is found, and what overrides what (DESIGN.md 4d)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from minicloud.config import find_config, load_config
from minicloud.drivers import DRIVERS
from minicloud.model.errors import ConfigError
from minicloud.state.dburl import StoreURL
from tests.conftest import KNOWN_SECTIONS

VARS = ("MINICLOUD_CONFIG", "MINICLOUD_DB_URL", "MINICLOUD_DB_PASSWORD", "MINICLOUD_SSH",
        "MINICLOUD_HOME")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MINICLOUD_HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


def ini(path: Path, url: str = "", ssh: str = "", user: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ""
    if url:
        text += f"[database]\nurl = {url}\n"
    if ssh or user:
        text += "[ssh]\n" + (f"command = {ssh}\n" if ssh else "") + \
            (f"user = {user}\n" if user else "")
    path.write_text(text or "# nothing\n")
    return path


def test_no_config_uses_the_defaults(home: Path) -> None:
    assert find_config() is None
    config = load_config()
    assert config.path is None
    assert config.home == home
    assert config.db_url == StoreURL(sqlite_file=str(home / "minicloud.db"))
    assert config.ssh_command == ["ssh"]
    assert config.ssh_user == ""
    assert config.log_file == home / "minicloud.log"


def test_home_defaults_to_dot_minicloud(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MINICLOUD_HOME")
    assert load_config().home == Path.home() / ".minicloud"


def test_search_order(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    in_home = ini(home / "minicloud.ini", "sqlite:////data/home.db")
    assert find_config() == in_home
    assert load_config().db_url == StoreURL(sqlite_file="/data/home.db")

    in_cwd = ini(Path.cwd() / "minicloud.ini", "sqlite:////data/cwd.db")
    assert find_config().resolve() == in_cwd.resolve()
    assert load_config().db_url == StoreURL(sqlite_file="/data/cwd.db")

    from_env = ini(tmp_path / "env" / "custom.ini", "sqlite:////data/env.db")
    monkeypatch.setenv("MINICLOUD_CONFIG", str(from_env))
    assert find_config() == from_env
    assert load_config().db_url == StoreURL(sqlite_file="/data/env.db")

    explicit = ini(tmp_path / "explicit" / "mine.ini", "sqlite:////data/explicit.db")
    assert find_config(str(explicit)) == explicit
    config = load_config(str(explicit))
    assert config.db_url == StoreURL(sqlite_file="/data/explicit.db")
    assert config.path == explicit


def test_missing_config_files_are_errors(home: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "nope.ini"))
    monkeypatch.setenv("MINICLOUD_CONFIG", str(tmp_path / "absent.ini"))
    with pytest.raises(ConfigError, match="MINICLOUD_CONFIG"):
        load_config()


def test_unreadable_config_is_a_config_error(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.ini"
    bad.write_text("this is not an ini file\n[unclosed\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(bad))


def test_db_url_env_overrides_the_file(home: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = ini(tmp_path / "c.ini", "sqlite:///relative.db")
    monkeypatch.setenv("MINICLOUD_DB_URL", "sqlite:////elsewhere/x.db")
    assert load_config(str(path)).db_url == StoreURL(sqlite_file="/elsewhere/x.db")
    monkeypatch.delenv("MINICLOUD_CONFIG", raising=False)
    assert load_config().db_url == StoreURL(sqlite_file="/elsewhere/x.db")  # without a file


def test_relative_sqlite_path_is_relative_to_the_config_file(home: Path, tmp_path: Path) -> None:
    path = ini(tmp_path / "conf" / "minicloud.ini", "sqlite:///data/mini.db")
    config = load_config(str(path))
    expected = (tmp_path / "conf" / "data" / "mini.db").resolve()
    assert config.db_url == StoreURL(sqlite_file=str(expected))
    assert not config.db_url.sqlite_file.startswith(str(Path.cwd()))


def test_relative_config_path_from_another_folder(home: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ini(tmp_path / "conf" / "minicloud.ini", "sqlite:///mini.db")
    monkeypatch.chdir(tmp_path)
    config = load_config(os.path.join("conf", "minicloud.ini"))
    assert config.db_url == StoreURL(sqlite_file=str((tmp_path / "conf" / "mini.db").resolve()))


def test_absolute_sqlite_and_mysql_urls_are_kept(home: Path, tmp_path: Path) -> None:
    path = ini(tmp_path / "a.ini", "sqlite:////abs/mini.db")
    assert load_config(str(path)).db_url == StoreURL(sqlite_file="/abs/mini.db")
    url = "mysql+pymysql://mini@db:3306/minicloud?charset=utf8mb4"
    path = ini(tmp_path / "b.ini", url)
    assert load_config(str(path)).db_url == StoreURL(texts=(url,))


def test_db_password_is_inserted(home: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = ini(tmp_path / "c.ini", "mysql+pymysql://mini@db:3306/minicloud?charset=utf8mb4")
    monkeypatch.setenv("MINICLOUD_DB_PASSWORD", "p@ss/word")
    config = load_config(str(path))
    assert config.db_url.rendered() == \
        "mysql+pymysql://mini:p%40ss%2Fword@db:3306/minicloud?charset=utf8mb4"
    monkeypatch.setenv("MINICLOUD_DB_URL", "mysql+pymysql://other@dbhost/mc")
    assert load_config(str(path)).db_url.rendered() == \
        "mysql+pymysql://other:p%40ss%2Fword@dbhost/mc"


def test_ssh_command_and_user(home: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = ini(tmp_path / "c.ini", ssh="ssh -o StrictHostKeyChecking=no", user="admin")
    config = load_config(str(path))
    assert config.ssh_command == ["ssh", "-o", "StrictHostKeyChecking=no"]
    assert config.ssh_user == "admin"
    monkeypatch.setenv("MINICLOUD_SSH", "/usr/bin/echo 'two words'")
    assert load_config(str(path)).ssh_command == ["/usr/bin/echo", "two words"]
    monkeypatch.setenv("MINICLOUD_SSH", "ssh 'unclosed")
    with pytest.raises(ConfigError, match="ssh command"):
        load_config(str(path))


def test_debug_flag(home: Path) -> None:
    assert load_config(debug=True).debug is True
    assert load_config().debug is False


# -- errors that are one line (issue 15) ---------------------------------------------------------


@pytest.mark.parametrize(("url", "problem"), [
    ("postgresql://mini@db/minicloud", "the postgresql:// scheme"),
    ("mysql://mini@db/minicloud", "mysql:// needs the PyMySQL driver"),
    ("mysql+pymysql://mini@db/minicloud?charset=latin1", "charset latin1"),
    ("mysql+pymysql://mini@db/", "no database name"),
    ("mysql+pymysql://mini@db", "no database name"),
    ("mysql+pymysql://mini@db:port/mc", "a bad host or port"),
    ("mysql+pymysql://mini@/mc", "no host"),
    ("sqlite://", "needs three slashes"),
    ("nosuch", "not a URL"),
])
def test_unsupported_store_urls_are_one_config_error(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                     url: str, problem: str) -> None:
    monkeypatch.setenv("MINICLOUD_DB_URL", url)
    with pytest.raises(ConfigError) as caught:
        load_config()
    text = str(caught.value)
    assert "\n" not in text
    assert problem in text
    assert text.endswith("use sqlite:///PATH or mysql+pymysql://USER[:PASSWORD]@HOST[:PORT]/"
                         "DATABASE[?charset=utf8mb4]")


def test_supported_store_urls_pass(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("sqlite:///x.db", "mysql+pymysql://mini@db/mc",
                "mysql+pymysql://mini@/mc?unix_socket=/run/mysqld/mysqld.sock",
                "mysql+pymysql://mini:pw@db:3307/mc?charset=utf8mb4&connect_timeout=2"):
        monkeypatch.setenv("MINICLOUD_DB_URL", url)
        assert load_config().db_url == StoreURL.of(url)


def test_unsupported_url_one_shot_exits_2_without_importing_a_driver(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from minicloud.cli.main import main

    monkeypatch.setenv("MINICLOUD_DB_URL", "postgresql://mini@db/minicloud")
    monkeypatch.delitem(sys.modules, "psycopg", raising=False)
    assert main(["topology"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minicloud: unsupported store URL postgresql://mini@db/minicloud "
                          "(the postgresql:// scheme)")
    assert len(err.splitlines()) == 1
    assert "psycopg" not in sys.modules and "psycopg2" not in sys.modules


def test_unknown_sections_and_keys_are_warned(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.ini"
    path.write_text("[Database]\nurl = sqlite:///x.db\n[ssh]\ncomand = y\nuser = me\n")
    config = load_config(str(path))
    assert config.warnings == [
        f"{path}: unknown section [Database] (known: {KNOWN_SECTIONS})",
        f"{path}: unknown key 'comand' in [ssh] (known: command, user)",
    ]
    assert config.ssh_user == "me"
    assert load_config(str(ini(tmp_path / "ok.ini", ssh="ssh -4"))).warnings == []


def test_unknown_key_warning_in_a_one_shot_command(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from minicloud.cli.main import main

    (home / "minicloud.ini").write_text("[databse]\nurl = sqlite:///elsewhere.db\n")
    assert main(["topology"]) == 0
    captured = capsys.readouterr()
    assert captured.err == (f"minicloud: warning: {home / 'minicloud.ini'}: unknown section "
                            f"[databse] (known: {KNOWN_SECTIONS})\n")


def test_ini_with_a_utf8_bom_is_read(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "bom.ini"
    path.write_bytes(b"\xef\xbb\xbf[ssh]\ncommand = myssh -4\n")
    config = load_config(str(path))
    assert config.ssh_command == ["myssh", "-4"]
    assert config.warnings == []


def test_home_too_long_for_the_file_system_is_one_line(home: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from minicloud.cli.main import main

    long_home = home / ("a" * 300)
    monkeypatch.setenv("MINICLOUD_HOME", str(long_home))
    with pytest.raises(ConfigError, match="MINICLOUD_HOME is too long for the file system"):
        load_config()
    assert main(["topology"]) == 2
    err = capsys.readouterr().err
    assert err == ("minicloud: MINICLOUD_HOME is too long for the file system "
                   f"({len(str(long_home))} characters): choose a shorter folder\n")


def test_corrupt_sqlite_store_one_shot_is_one_line(home: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from minicloud.cli.main import main

    (home / "minicloud.db").write_bytes(b"\0" * 100)  # was read as an empty store
    assert main(["topology"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"minicloud: store {home / 'minicloud.db'}: not an SQLite database")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("section", list(DRIVERS))
@pytest.mark.parametrize("value", ["soon", "0", "-5", "99999", "nan", "inf"])
def test_a_bad_timeout_is_a_one_line_config_error(home: Path, tmp_path: Path, value: str,
                                                   section: str) -> None:
    path = tmp_path / "t.ini"
    path.write_text(f"[{section}]\ntimeout = {value}\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert str(err.value) == (f"{path}: [{section}] timeout must be a number of seconds above 0 "
                              f"and at most 3600, not {value!r}")


def test_timeouts_by_cloud_type(home: Path, tmp_path: Path) -> None:
    """Each registered type's ``[<type>] timeout``; a type that sets none is left to its
    driver's default."""
    assert load_config().timeouts == {}
    path = tmp_path / "t.ini"
    path.write_text("[openstack]\ntimeout = 2.5\n")
    assert load_config(str(path)).timeouts == {"openstack": 2.5}
    path.write_text("".join(f"[{name}]\ntimeout = {i + 1}\n" for i, name in enumerate(DRIVERS)))
    config = load_config(str(path))
    assert config.timeouts == {name: float(i + 1) for i, name in enumerate(DRIVERS)}
    assert config.warnings == []


def test_a_misspelled_timeout_section_or_key_is_one_warning(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.ini"
    path.write_text("[opnstack]\ntimeout = 7\n[openstack]\ntimout = 7\n")
    config = load_config(str(path))
    assert config.warnings == [
        f"{path}: unknown section [opnstack] (known: {KNOWN_SECTIONS})",
        f"{path}: unknown key 'timout' in [openstack] (known: timeout)",
    ]
    assert config.timeouts == {}


def test_the_known_sections_are_the_registered_types() -> None:
    from minicloud.config import KNOWN_KEYS
    from minicloud.drivers import DRIVERS

    assert {k for k in KNOWN_KEYS if k not in ("database", "ssh")} == set(DRIVERS)


def test_the_check_before_the_menu_is_cheap(home: Path) -> None:
    """The menu's precheck (configuration, then the SQLite file's header and schema) keeps
    the first menu instant: well under 0.1 s on a real store."""
    import argparse
    import time

    from minicloud.cli.main import precheck
    from minicloud.state.store import Store

    Store(f"sqlite:///{home / 'minicloud.db'}").open().close()
    args = argparse.Namespace(config=None, debug=False)
    precheck(args)  # imports paid once, as a process pays them before its first menu
    started = time.perf_counter()
    config = precheck(args)
    assert config is not None and config.warnings == []
    assert time.perf_counter() - started < 0.1


# -- paths in the store URL, and the shipped minicloud.ini (issue 25 item 3) -----------------------

SHIPPED = Path(__file__).resolve().parents[1] / "minicloud.ini"


def test_tilde_in_an_sqlite_path_is_the_home_folder(home: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Uncommenting ``url = sqlite:///~/.minicloud/minicloud.db`` opened a store in a folder
    literally named ``~`` beside the file."""
    user = tmp_path / "user"
    monkeypatch.setenv("HOME", str(user))
    monkeypatch.delenv("MINICLOUD_HOME")
    path = ini(tmp_path / "conf" / "minicloud.ini", "sqlite:///~/.minicloud/minicloud.db")
    config = load_config(str(path))
    assert config.db_url == StoreURL(sqlite_file=str(user / ".minicloud" / "minicloud.db"))
    assert config.db_url == load_config().db_url  # the default store, exactly
    monkeypatch.setenv("MINICLOUD_DB_URL", "sqlite:///~/other.db")
    assert load_config().db_url == StoreURL(sqlite_file=str(user / "other.db"))


def test_a_relative_path_in_the_variable_is_the_current_folder_s_and_said(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``sqlite:///tmp/x.db`` is ./tmp/x.db: every message names the file it resolves to."""
    from minicloud.cli.main import main

    monkeypatch.setenv("MINICLOUD_DB_URL", "sqlite:///tmp/x.db")
    expected = Path.cwd() / "tmp" / "x.db"
    assert load_config().db_url == StoreURL(sqlite_file=str(expected))
    (Path.cwd() / "tmp").write_text("a file where the folder would be\n")
    assert main(["clouds", "add", "Lab", "--type", "stub"]) in (1, 2)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and f"store {expected}: cannot create its folder" in err


def _effective(config: Any) -> dict[str, Any]:
    """What a configuration makes MiniCloud do: a type without ``[TYPE] timeout`` waits its
    driver's own default."""
    from minicloud.drivers.cloudstack.session import API_TIMEOUT as CLOUDSTACK
    from minicloud.drivers.openstack.session import API_TIMEOUT as OPENSTACK

    waits = {"openstack": OPENSTACK, "cloudstack": CLOUDSTACK}
    return {"store": config.db_url, "home": config.home, "ssh": config.ssh_command,
            "user": config.ssh_user, "warnings": config.warnings,
            "timeouts": {t: config.timeouts.get(t, waits.get(t)) for t in DRIVERS}}


def _commented_settings(lines: list[str]) -> list[tuple[int, str, str]]:
    """(line number, section, key) of each ``# key = value`` line of a known key."""
    from minicloud.config import KNOWN_KEYS

    found, section = [], ""
    for number, line in enumerate(lines):
        if line.startswith("["):
            section = line.strip("[] \n")
        elif line.startswith("# ") and "=" in line:
            key = line[2:].split("=", 1)[0].strip()
            if key in KNOWN_KEYS.get(section, ()):
                found.append((number, section, key))
    return found


@pytest.mark.parametrize("data_folder", ["default", "MINICLOUD_HOME"])
def test_the_shipped_ini_s_commented_values_are_exactly_the_defaults(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_folder: str) -> None:
    import configparser

    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    if data_folder == "default":
        monkeypatch.delenv("MINICLOUD_HOME")
    defaults = _effective(load_config())
    lines = SHIPPED.read_text(encoding="utf-8").splitlines(keepends=True)
    shipped = tmp_path / "conf" / "minicloud.ini"
    shipped.parent.mkdir()
    shipped.write_text("".join(lines), encoding="utf-8")
    assert _effective(load_config(str(shipped))) == defaults
    settings = _commented_settings(lines)
    # Every key MiniCloud knows is there, for each section of the file.
    assert {(section, key) for _, section, key in settings} == {
        ("database", "url"), ("ssh", "command"), ("ssh", "user"), ("openstack", "timeout"),
        ("cloudstack", "timeout")}
    for number, section, key in settings:
        changed = list(lines)
        changed[number] = changed[number][2:]  # "# url =" -> "url ="
        shipped.write_text("".join(changed), encoding="utf-8")
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(shipped, encoding="utf-8")
        assert parser.has_option(section, key)  # really set, so really compared
        assert _effective(load_config(str(shipped))) == defaults, changed[number]
