"""OpenStack driver: what a cloud is added with (its settings, the password, clouds.yaml,
the domains sent to Keystone), against the offline fake."""

from __future__ import annotations

import textwrap

import pytest
import requests_mock

from minicloud.drivers.openstack.driver import OpenStackDriver, clouds_yaml_entries
from minicloud.model import errors
from minicloud.model.errors import DriverError
from minicloud.model.objects import Cloud
from tests.drivers.fake_openstack import AUTH_URL, CLOUD_SETTINGS, PASSWORD, FakeOpenStack

# -- the password ------------------------------------------------------------------------------


def test_wrong_password_is_unauthorized():
    fake = FakeOpenStack(password="another")
    cloud = Cloud("os1", "openstack", settings={"auth_url": AUTH_URL, "project": "demo",
                                                "user": "demo"})
    with requests_mock.Mocker() as mocker:
        fake.install(mocker)
        driver = OpenStackDriver(cloud, {"password": PASSWORD})
        with pytest.raises(DriverError) as caught:
            driver.list_networks()
    assert caught.value.reason == errors.UNAUTHORIZED
    assert caught.value.operation == "list networks"
    assert PASSWORD not in str(caught.value)


def test_missing_password_is_unauthorized(monkeypatch):
    monkeypatch.delenv("OS_PASSWORD", raising=False)
    cloud = Cloud("os1", "openstack", settings={"auth_url": AUTH_URL, "project": "demo",
                                                "user": "demo"})
    with requests_mock.Mocker() as mocker:
        driver = OpenStackDriver(cloud)
        with pytest.raises(DriverError) as caught:
            driver.list_servers()
        assert mocker.call_count == 0
    assert caught.value.reason == errors.UNAUTHORIZED
    assert "password is needed" in caught.value.detail


def test_os_password_is_used(monkeypatch):
    monkeypatch.setenv("OS_PASSWORD", PASSWORD)
    fake = FakeOpenStack()
    cloud = Cloud("os1", "openstack", settings={"auth_url": AUTH_URL, "project": "demo",
                                                "user": "demo"})
    with requests_mock.Mocker() as mocker:
        fake.install(mocker)
        assert [n.name for n in OpenStackDriver(cloud).list_networks()] == ["public"]


# -- settings and domains ----------------------------------------------------------------------


def _login_domains(fake):
    (login,) = fake.logins
    user = login["identity"]["password"]["user"]
    project = login["scope"]["project"]
    return user["domain"]["name"], project["domain"]["name"]


def test_user_and_project_domains_go_to_keystone():
    settings = dict(CLOUD_SETTINGS, user_domain="Staff", project_domain="Research")
    fake = FakeOpenStack()
    with requests_mock.Mocker() as mocker:
        fake.install(mocker)
        driver = OpenStackDriver(Cloud("os1", "openstack", settings=settings),
                                 {"password": PASSWORD})
        assert [n.name for n in driver.list_networks()] == ["public"]
    assert _login_domains(fake) == ("Staff", "Research")


def test_a_cloud_stored_with_one_domain_still_connects():
    settings = {"auth_url": AUTH_URL, "project": "demo", "user": "demo", "domain": "Legacy"}
    fake = FakeOpenStack()
    with requests_mock.Mocker() as mocker:
        fake.install(mocker)
        driver = OpenStackDriver(Cloud("os1", "openstack", settings=settings),
                                 {"password": PASSWORD})
        assert [n.name for n in driver.list_networks()] == ["public"]
    assert _login_domains(fake) == ("Legacy", "Legacy")


def test_password_comes_from_its_settings_env_variable(monkeypatch):
    driver = OpenStackDriver(Cloud("os1", "openstack", settings=dict(CLOUD_SETTINGS)))
    monkeypatch.delenv("OS_PASSWORD", raising=False)
    assert driver.secret("password") is None
    monkeypatch.setenv("OS_PASSWORD", "from-env")
    assert driver.secret("password") == "from-env"
    given = OpenStackDriver(Cloud("os1", "openstack"), {"password": "given"})
    assert given.secret("password") == "given"
    assert driver.secret("auth_url") is None  # not a secret: never read from the environment


@pytest.mark.parametrize(("value", "ok"), [
    ("https://keystone.example.com:5000/v3", True), (" http://10.0.0.1/identity/v3 ", True),
    ("keystone.example.com/v3", False), ("ftp://keystone.example.com/v3", False),
    ("https:///v3", False), ("", False)])
def test_auth_url_is_checked(value, ok):
    (setting,) = [s for s in OpenStackDriver.settings if s.name == "auth_url"]
    assert setting.check is not None
    if ok:
        assert setting.check(value) == value.strip()
    else:
        with pytest.raises(errors.ValidationError, match="invalid auth URL"):
            setting.check(value)


def test_settings_as_the_issue_asks():
    by_name = {s.name: s for s in OpenStackDriver.settings}
    assert {n: (s.flag, s.env) for n, s in by_name.items()} == {
        "os_cloud": ("--os-cloud", None),
        "auth_url": ("--os-auth-url", "OS_AUTH_URL"),
        "project": ("--os-project-name", "OS_PROJECT_NAME"),
        "user": ("--os-username", "OS_USERNAME"),
        "user_domain": ("--os-user-domain-name", None),
        "project_domain": ("--os-project-domain-name", None),
        "region": ("--os-region-name", "OS_REGION_NAME"),
        "password": (None, "OS_PASSWORD"),
    }
    assert by_name["os_cloud"].alone and by_name["os_cloud"].choices is not None
    assert by_name["password"].secret and by_name["region"].optional
    assert by_name["user_domain"].default == by_name["project_domain"].default == "Default"


# -- clouds.yaml -------------------------------------------------------------------------------


def _clouds_yaml(tmp_path, monkeypatch):
    path = tmp_path / "clouds.yaml"
    path.write_text(textwrap.dedent(f"""\
        clouds:
          fake:
            auth:
              auth_url: {AUTH_URL}
              username: demo
              project_name: demo
              user_domain_name: Default
              project_domain_name: Default
            region_name: RegionOne
          other:
            auth:
              auth_url: https://elsewhere.example.org/v3
              username: someone
              password: {PASSWORD}
              project_name: p
        """))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    for name in ("OS_CLOUD", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_clouds_yaml_entries(tmp_path, monkeypatch):
    path = _clouds_yaml(tmp_path, monkeypatch)
    assert clouds_yaml_entries() == ["fake", "other"]
    path.write_text("clouds: [this is: not valid")
    assert clouds_yaml_entries() == []


def test_clouds_yaml_entry_connects(tmp_path, monkeypatch):
    _clouds_yaml(tmp_path, monkeypatch)
    fake = FakeOpenStack()
    with requests_mock.Mocker() as mocker:
        fake.install(mocker)
        cloud = Cloud("os1", "openstack", settings={"os_cloud": "fake"})
        driver = OpenStackDriver(cloud, {"password": PASSWORD})
        assert [n.name for n in driver.list_networks()] == ["public"]
        without = OpenStackDriver(cloud)
        with pytest.raises(DriverError) as caught:
            without.list_networks()
        assert caught.value.reason == errors.UNAUTHORIZED
        unknown = OpenStackDriver(Cloud("os1", "openstack", settings={"os_cloud": "nope"}))
        # A configuration matter (exit 2), not a failed login.
        with pytest.raises(errors.ConfigError) as wrong:
            unknown.list_networks()
        assert str(wrong.value) == (f"clouds.yaml has no entry 'nope' in {tmp_path / 'clouds.yaml'}"
                                    " (entries: fake, other)")


# -- errors that are one line (issue 15) -------------------------------------------------------


def test_malformed_clouds_yaml_names_the_file_and_line(tmp_path, monkeypatch):
    path = _clouds_yaml(tmp_path, monkeypatch)
    path.write_text("clouds:\n  bad:\n    auth:\n      auth_url: http://x\n    - oops\n")
    driver = OpenStackDriver(Cloud("os1", "openstack", settings={"os_cloud": "bad"}))
    with pytest.raises(errors.ConfigError) as caught:
        driver.setup()
    assert str(caught.value) == (f"clouds.yaml is not valid YAML: {path}, line 5: expected "
                                 "<block end>, but found '-'")


def test_openstack_needs_an_entry_or_the_by_hand_settings():
    OpenStackDriver.check_complete({"os_cloud": "fake"})
    OpenStackDriver.check_complete({"auth_url": AUTH_URL, "project": "p", "user": "u"})
    with pytest.raises(errors.ConfigError) as caught:
        OpenStackDriver.check_complete({"user": "u"})
    assert str(caught.value) == (
        "an OpenStack cloud needs --os-cloud ENTRY (from clouds.yaml), or --os-auth-url, "
        "--os-project-name and --os-username; missing: --os-auth-url, --os-project-name")


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    """An empty MiniCloud home for in-process one-shot commands."""
    for name in ("MINICLOUD_CONFIG", "MINICLOUD_DB_URL", "OS_CLOUD", "OS_AUTH_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MINICLOUD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OS_PASSWORD", "a-long-password")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _one_shot(capsys, *argv):
    from minicloud.cli.main import main

    code = main(list(argv))
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    return code, err.rstrip("\n")


def test_clouds_add_without_entry_or_flags_says_what_is_missing(cli_home, capsys):
    code, err = _one_shot(capsys, "clouds", "add", "--type", "openstack", "B")
    assert code == 2
    assert err.endswith("missing: --os-auth-url, --os-project-name, --os-username")


def test_clouds_add_unknown_or_malformed_entry_exits_2(cli_home, monkeypatch, capsys):
    path = _clouds_yaml(cli_home, monkeypatch)
    monkeypatch.setenv("OS_PASSWORD", "a-long-password")
    code, err = _one_shot(capsys, "clouds", "add", "--type", "openstack", "--os-cloud", "nope", "B")
    assert (code, err) == (2, f"minicloud: clouds.yaml has no entry 'nope' in {path} "
                              "(entries: fake, other)")
    path.write_text("clouds:\n  fake: [unclosed\n")
    code, err = _one_shot(capsys, "clouds", "add", "--type", "openstack", "--os-cloud", "fake", "B")
    assert code == 2
    assert err.startswith(f"minicloud: clouds.yaml is not valid YAML: {path}, line 3:")
    from minicloud.cli.main import main

    assert main(["topology"]) == 0  # nothing was half-added
    assert capsys.readouterr().out == ("Nothing to show yet: add a cloud with "
                                        "'minicloud clouds add NAME --type TYPE'.\n")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_one_short_line(cli_home, capsys):
    port = _free_port()  # nothing listens there
    code, err = _one_shot(capsys, "clouds", "add", "--type", "openstack", "--os-auth-url",
                          f"http://127.0.0.1:{port}/v3", "--os-project-name", "p",
                          "--os-username", "u", "B")
    assert (code, err) == (1, f"minicloud: cloud B: log in unreachable: cannot reach "
                              f"http://127.0.0.1:{port}: connection refused")


@pytest.fixture
def silent_server():
    """A server that accepts connections and never answers; its URL."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_server_that_never_answers_gives_up_at_the_ini_timeout(cli_home, capsys, silent_server):
    import time

    ini = cli_home / "minicloud.ini"
    ini.write_text("[openstack]\ntimeout = 0.5\n")
    started = time.monotonic()
    code, err = _one_shot(capsys, "--config", str(ini), "clouds", "add", "--type", "openstack",
                          "--os-auth-url", f"{silent_server}/v3", "--os-project-name", "p",
                          "--os-username", "u", "B")
    elapsed = time.monotonic() - started
    assert (code, err) == (1, f"minicloud: cloud B: log in timed out: no answer from "
                              f"{silent_server} within 0.5 s ([openstack] timeout in "
                              "minicloud.ini)")
    assert elapsed < 10  # two requests (discovery, token) of 0.5 s, not minutes


def test_login_says_its_timeout_where_progress_is_shown(silent_server):
    cloud = Cloud("os1", "openstack", settings={"auth_url": f"{silent_server}/v3",
                                                "project": "p", "user": "u"})
    driver = OpenStackDriver(cloud, {"password": PASSWORD})
    driver.request_timeout = 0.3
    said = []
    driver.progress = said.append
    with pytest.raises(DriverError) as caught:
        driver.setup()
    assert caught.value.reason == errors.TIMEOUT
    assert said == ["logging in (each request gives up after 0.3 s without an answer: "
                    "[openstack] timeout in minicloud.ini)"]


def test_a_request_without_an_answer_shows_progress_while_it_waits(silent_server):
    cloud = Cloud("os1", "openstack", settings={"auth_url": f"{silent_server}/v3",
                                                "project": "p", "user": "u"})
    driver = OpenStackDriver(cloud, {"password": PASSWORD})
    driver.request_timeout = 0.5
    driver.heartbeat = 0.1
    said: list[str] = []
    driver.progress = said.append
    with pytest.raises(DriverError):
        driver.setup()
    beats = [line for line in said if line.startswith("log in on cloud os1: no answer yet, ")]
    assert len(beats) >= 2, said  # while the server said nothing, every 0.1 s


def test_ini_timeout_reaches_openstack_drivers(tmp_path):
    from minicloud.config import Config
    from minicloud.managers.session import Session

    config = Config(home=tmp_path, db_url=f"sqlite:///{tmp_path}/m.db", timeouts={"openstack": 7.0})
    session = Session(config)
    try:
        cloud = Cloud("os1", "openstack", settings={"auth_url": AUTH_URL, "project": "p",
                                                    "user": "u"})
        driver = session.drivers.build(cloud)
        assert isinstance(driver, OpenStackDriver) and driver.timeout == 7.0
    finally:
        session.close()
