"""The OpenStack driver's plumbing: the openstacksdk Connection (from a clouds.yaml entry or
from the cloud's settings), the one place SDK calls run (:meth:`OpenStackSession._call`, where
every failure becomes a :class:`DriverError`), rollback and MiniCloud's ownership tag.

openstacksdk takes most of a second to import, so it is imported inside the methods that need
it, never at module level.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ...model.errors import FAILED, ConfigError, DriverError, MiniCloudError
from ...model.objects import Cloud
from ..base import OWNER_TAG, Driver
from .convert import Body
from .errors import PasswordNeeded, map_error

log = logging.getLogger("minicloud.drivers.openstack")

# Seconds one HTTP request may wait for an answer, unless clouds.yaml (api_timeout) or
# minicloud.ini ([openstack] timeout, handed over as ``request_timeout``) says otherwise.
# Without one, a server that accepts and never answers holds a command for minutes.
API_TIMEOUT = 30.0
PASSWORD = "password"  # the name of the secret setting


def clouds_yaml_entries() -> list[str]:
    """The clouds configured in clouds.yaml (honours ``OS_CLIENT_CONFIG_FILE``), or []."""
    try:
        import openstack.config

        config = openstack.config.OpenStackConfig()
        names = config.get_cloud_names()
    except Exception:  # noqa: BLE001 - a broken clouds.yaml just means "no entries"
        return []
    usable = []
    for name in names:
        # Loaded one by one: get_all() logs a traceback at ERROR for an entry it cannot
        # load (no auth_url...); such an entry is one warning line here, and not offered.
        try:
            config.get_one(name)
        except Exception as exc:  # noqa: BLE001 - any unusable entry is skipped alike
            said = str(exc).strip().splitlines()
            log.warning("clouds.yaml entry %s cannot be used: %s", name,
                        said[0] if said else type(exc).__name__)
            continue
        usable.append(name)
    return list(dict.fromkeys(usable))


def clouds_yaml_files() -> list[str]:
    """The clouds.yaml files openstack.config would read, in its order, that exist."""
    from openstack.config import loader

    override = os.environ.get("OS_CLIENT_CONFIG_FILE")
    return [path for path in [override, *loader.CONFIG_FILES] if path and os.path.isfile(path)]


def _yaml_problem(path: str) -> str | None:
    """``PATH, line N: PROBLEM`` when the file is no valid YAML (openstack.config skips such a
    file with a log line, then says only that the cloud "was not found")."""
    import yaml  # PyYAML: openstacksdk needs it, MiniCloud too (deployment files)

    try:
        with open(path, encoding="utf-8") as file:
            yaml.safe_load(file)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return f"{path}{where}: {problem}"
    except (OSError, UnicodeDecodeError) as exc:
        return f"{path}: cannot read it ({exc.__class__.__name__})"
    return None


def entry_error(entry: str) -> ConfigError:
    """Why clouds.yaml gives no entry ``entry``: a file that is no valid YAML (file and line),
    or no such entry (the ones there are)."""
    files = clouds_yaml_files()
    for path in files:
        problem = _yaml_problem(path)
        if problem is not None:
            return ConfigError(f"clouds.yaml is not valid YAML: {problem}")
    entries = ", ".join(clouds_yaml_entries()) or "none"
    where = f"in {files[0]}" if files else "(no clouds.yaml found; OS_CLIENT_CONFIG_FILE names one)"
    return ConfigError(f"clouds.yaml has no entry {entry!r} {where} (entries: {entries})")


def wants_password(region: Any) -> bool:
    auth_type = region.config.get("auth_type") or "password"
    return auth_type in ("password", "v3password", "v2password")


def cloud_region(entry: str, password: str | None) -> Any:
    """The clouds.yaml entry (found as openstack.config finds it), plus a password."""
    from openstack import exceptions as sdk

    try:
        return _get_region(entry, password)
    except sdk.ConfigException as exc:
        if "was not found" in str(exc):
            raise entry_error(entry) from None
        raise ConfigError(f"clouds.yaml entry {entry!r}: {str(exc).splitlines()[0]}") from None


def _get_region(entry: str, password: str | None) -> Any:
    import openstack.config

    if password:
        return openstack.config.get_cloud_region(cloud=entry, app_name="minicloud",
                                                 password=password)
    return openstack.config.get_cloud_region(cloud=entry, app_name="minicloud")


def raw_list(proxy: Any, path: str, key: str) -> list[Body]:
    """Every page of one list, following the API's ``<key>_links`` next links."""
    from openstack import exceptions as sdk

    items: list[Body] = []
    url: str | None = path
    while url:
        response = proxy.get(url)
        sdk.raise_from_response(response)
        data = response.json()
        items.extend(Body(item) for item in data.get(key) or [])
        url = next((link.get("href") for link in data.get(f"{key}_links") or []
                    if link.get("rel") == "next"), None)
    return items


class OpenStackSession(Driver):
    """Connection, error mapping, rollback and tagging, shared by every OpenStack call."""

    def __init__(self, cloud: Cloud, secrets: Mapping[str, str] | None = None):
        super().__init__(cloud, secrets)
        self._conn: Any = None
        self._lock = threading.Lock()

    @property
    def timeout(self) -> float:
        return self.request_timeout or API_TIMEOUT

    @contextmanager
    def _call(self, operation: str) -> Iterator[None]:
        """Run a block of SDK calls; anything it raises becomes one DriverError."""
        try:
            with self._heartbeat(f"{operation} on cloud {self.cloud.name}"):
                yield
        except MiniCloudError:
            raise  # already one line (a DriverError, or clouds.yaml's ConfigError)
        except Exception as exc:  # noqa: BLE001 - nothing else may escape the driver
            raise _logged(map_error(self.cloud.name, operation, exc, self.timeout)) from None

    @property
    def conn(self) -> Any:
        """The openstacksdk Connection, made on first use (no request is sent yet)."""
        with self._lock:
            if self._conn is None:
                entry = self.cloud.settings.get("os_cloud")
                self._conn = self._connect_entry(entry) if entry else self._connect_by_hand()
            return self._conn

    def _connect_entry(self, entry: str) -> Any:
        """A clouds.yaml entry; a password given to the driver wins over the entry's own,
        which wins over the environment's."""
        import openstack

        given = self._secrets.get(PASSWORD)
        region = cloud_region(entry, given)
        auth = region.config.get("auth") or {}
        if not given and wants_password(region) and not auth.get("password"):
            region = cloud_region(entry, self._require_password())
        if region.config.get("api_timeout") is None:
            region.config["api_timeout"] = self.timeout
        return openstack.connection.Connection(config=region)

    def _connect_by_hand(self) -> Any:
        """The cloud's own settings (auth URL, project, user, domains, region)."""
        import openstack

        settings = self.cloud.settings
        # Clouds added before the two domains were separate have one ``domain``.
        legacy = settings.get("domain") or "Default"
        return openstack.connect(
            load_yaml_config=False, load_envvars=False, app_name="minicloud",
            auth_type="password",
            auth={"auth_url": settings.get("auth_url", ""),
                  "username": settings.get("user", ""), "password": self._require_password(),
                  "project_name": settings.get("project", ""),
                  "user_domain_name": settings.get("user_domain") or legacy,
                  "project_domain_name": settings.get("project_domain") or legacy},
            region_name=settings.get("region") or None, api_timeout=self.timeout)

    def _require_password(self) -> str:
        password = self.secret(PASSWORD)
        if not password:
            setting = self.setting(PASSWORD)
            where = f" or set {setting.env}" if setting is not None and setting.env else ""
            raise PasswordNeeded(f"a password is needed: give it when asked{where}")
        return password

    def _ready(self) -> Any:
        """Log in and discover the services now, so that concurrent lists share one token and
        one version document per service (the network proxy needs none)."""
        conn = self.conn
        conn.session.get_token()
        conn.compute.get_endpoint_data()  # the version document: microversions
        conn.image  # noqa: B018 - making the image proxy reads its version document
        conn.network  # noqa: B018
        return conn

    def setup(self) -> None:
        if self.progress:
            # A login to a server that never answers is silent until the timeout: say how
            # long that is.
            self.progress(f"logging in (each request gives up after {self.timeout:g} s "
                          "without an answer: [openstack] timeout in minicloud.ini)")
        with self._call("log in"):
            self._ready()

    def forget(self) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing is best effort
                log.debug("closing connection to %s failed", self.cloud.name, exc_info=True)

    def _undo(self, what: str, action: Callable[[], Any]) -> str | None:
        """Best-effort rollback; returns a note naming what is left behind when it fails."""
        try:
            with self._call(what):
                action()
        except DriverError as err:
            log.warning("rollback failed: %s", err)
            return f"could not {what} ({err.reason}): it is left behind"
        return None

    def _create_tagged(self, create: Callable[..., Any], **attrs: Any) -> Any:
        """Create a Neutron resource carrying MiniCloud's tag (at creation when accepted)."""
        from openstack import exceptions as sdk

        try:
            resource = create(tags=[OWNER_TAG], **attrs)
        except sdk.BadRequestException as exc:
            if "tags" not in str(exc):
                raise
            resource = create(**attrs)
        tags = list(resource.tags or [])
        if OWNER_TAG not in tags:
            self.conn.network.set_tags(resource, [*tags, OWNER_TAG])
            resource.tags = [*tags, OWNER_TAG]
        return resource


def _logged(err: DriverError) -> DriverError:
    """One debug line for a cloud's ordinary answer (a wrong password, a conflict); the
    traceback only for a failure nothing explained, where it helps."""
    log.debug("%s", err, exc_info=err.reason == FAILED)
    return err
