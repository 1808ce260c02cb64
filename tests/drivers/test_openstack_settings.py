"""OpenStack driver: what a cloud is added with (its settings, the password, clouds.yaml,
the domains sent to Keystone), against the offline fake."""

from __future__ import annotations

import textwrap

import pytest
import requests_mock

from minicloud import errors
from minicloud.drivers.openstack import OpenStackDriver, clouds_yaml_entries
from minicloud.errors import DriverError
from minicloud.model import Cloud
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
        with pytest.raises(DriverError) as caught:
            unknown.list_networks()
        assert "nope" in str(caught.value)
