"""The CloudStack driver's plumbing: the ``cs`` client (from a cloudstack.ini section or from
the cloud's settings), the one place API calls run (:meth:`CloudStackSession._call`, where
every failure becomes a :class:`DriverError`), lists, async jobs, the zone and MiniCloud's tags.

``cs`` signs every request (HMAC-SHA1), pages lists (``fetch_list``) and polls async jobs
through queryAsyncJobResult (``fetch_result``); this module only chooses when.
"""

from __future__ import annotations

import configparser
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from cs import CloudStack, read_config
from cs.client import read_config_from_ini

from ...model.errors import FAILED, NOT_FOUND, DriverError
from ...model.objects import Cloud
from ..base import OWNER_TAG, Driver
from .errors import SecretNeeded, map_error

log = logging.getLogger("minicloud.drivers.cloudstack")

SECRET = "secret_key"  # the name of the declared secret setting: the driver receives it so
# Seconds one HTTP request may wait for an answer, unless a cloudstack.ini section (its
# ``timeout``, or CLOUDSTACK_TIMEOUT) or minicloud.ini ([cloudstack] timeout, handed over as
# ``request_timeout``) says otherwise.
API_TIMEOUT = 60.0
JOB_TIMEOUT = 600  # seconds an async job may take


def ini_sections() -> list[str]:
    """The sections of the cloudstack.ini files ``cs`` reads (the current folder's,
    ~/.cloudstack.ini, CLOUDSTACK_CONFIG), or []."""
    paths = [os.path.expanduser("~/.cloudstack.ini"), os.path.join(os.getcwd(), "cloudstack.ini")]
    if os.environ.get("CLOUDSTACK_CONFIG"):
        paths.append(os.path.expanduser(os.environ["CLOUDSTACK_CONFIG"]))
    parser = configparser.ConfigParser()
    try:
        parser.read(paths)
    except configparser.Error:
        return []
    return parser.sections()


def _own_timeout(section: str) -> bool:
    """Whether a cloudstack.ini section (or CLOUDSTACK_TIMEOUT) sets the request timeout."""
    if os.environ.get("CLOUDSTACK_TIMEOUT"):
        return True
    try:
        return "timeout" in read_config_from_ini(section)
    except (SystemExit, configparser.Error, ValueError):  # said by read_config already
        return False


def tags_of(item: Mapping[str, Any]) -> dict[str, str]:
    return {t.get("key", ""): t.get("value", "") for t in item.get("tags") or []}


def owned(item: Mapping[str, Any]) -> bool:
    return tags_of(item).get(OWNER_TAG) == "true"


class CloudStackSession(Driver):
    """Client, error mapping, lists, jobs and tags, shared by every CloudStack call."""

    def __init__(self, cloud: Cloud, secrets: Mapping[str, str] | None = None):
        super().__init__(cloud, secrets)
        self._config: dict[str, Any] | None = None
        self._local = threading.local()  # one client (one HTTP session) per thread
        self._lock = threading.Lock()
        self._zone_id: str | None = None
        self._offerings: dict[str, str] = {}
        # Where the request timeout in use comes from, for a timed-out request to say.
        self._timeout_source = "[cloudstack] timeout in minicloud.ini"

    @property
    def timeout(self) -> float:
        """Seconds one request may wait for an answer, as minicloud.ini says."""
        return self.request_timeout or API_TIMEOUT

    # -- the client ----------------------------------------------------------------------------

    def _read_config(self) -> dict[str, Any]:
        """cs's configuration: a cloudstack.ini section (with CLOUDSTACK_* variables), or the
        cloud's settings; the secret given to the driver wins over the file's."""
        settings = self.cloud.settings
        section = settings.get("cs_config")
        if section:
            try:
                config = dict(read_config(section))
            except SystemExit as exc:  # cs exits when it finds no file at all
                raise SecretNeeded(str(exc)) from None
            except (configparser.Error, ValueError) as exc:
                raise SecretNeeded(f"cloudstack.ini section {section}: {exc}") from None
            if _own_timeout(section):  # the section's own timeout wins for its cloud
                self._timeout_source = f"timeout of cloudstack.ini section {section}"
            else:
                config["timeout"] = self.timeout
        else:
            config = {"endpoint": settings.get("endpoint", ""), "key": settings.get("api_key"),
                      "timeout": self.timeout, "method": "get"}
        secret = self.secret(SECRET) or config.get("secret")
        if not secret:
            raise SecretNeeded("the API secret key is needed: give it when asked or set "
                               "CLOUDSTACK_SECRET")
        config["secret"] = secret
        return config

    @property
    def client(self) -> CloudStack:
        with self._lock:
            if self._config is None:
                self._config = self._read_config()
            config = self._config
        client: CloudStack | None = getattr(self._local, "client", None)
        if client is None:
            allowed = ("endpoint", "key", "secret", "timeout", "method", "verify", "cert",
                       "cert_key", "retry", "expiration", "headers", "dangerous_no_tls_verify")
            client = CloudStack(**{k: v for k, v in config.items() if k in allowed},
                                poll_interval=self.poll_interval, job_timeout=JOB_TIMEOUT)
            # cs keeps whole seconds (2.5 would be 2, 0.5 would be 0); requests, which
            # sends, takes the fraction.
            client.timeout = float(config["timeout"])  # type: ignore[assignment]
            self._local.client = client
        return client

    @contextmanager
    def _call(self, operation: str) -> Iterator[None]:
        """Run a block of API calls; anything it raises becomes one DriverError."""
        try:
            yield
        except DriverError:
            raise
        except Exception as exc:  # noqa: BLE001 - nothing else may escape the driver
            raise _logged(map_error(self.cloud.name, operation, exc,
                                    self._timeout_note())) from None

    def _timeout_note(self) -> str:
        """What a request that timed out says of its limit (the one in use, and where to
        change it)."""
        try:
            seconds = float((self._config or {}).get("timeout") or self.timeout)
        except (TypeError, ValueError):  # a cloudstack.ini value cs refused
            seconds = self.timeout
        return f"no answer within {seconds:g} s ({self._timeout_source})"

    # -- requests ------------------------------------------------------------------------------

    def _list(self, command: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of one list: one request per page (``cs`` pages by page/pagesize)."""
        items = getattr(self.client, command)(fetch_list=True, **params)
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def _sync(self, command: str, **params: Any) -> dict[str, Any]:
        result = getattr(self.client, command)(**params)
        return result if isinstance(result, dict) else {}

    def _job(self, command: str, **params: Any) -> dict[str, Any]:
        """An async command, polled through queryAsyncJobResult until it ends."""
        result = getattr(self.client, command)(fetch_result=True, **params)
        return result if isinstance(result, dict) else {}

    def _get(self, command: str, ident: str, what: str, **params: Any) -> dict[str, Any]:
        found = self._list(command, id=ident, **params)
        if not found:
            raise self.error(f"find {what} {ident}", NOT_FOUND)
        return found[0]

    # -- the zone and the offerings ------------------------------------------------------------

    @property
    def zone_id(self) -> str:
        """The cloud's zone: the ``zone`` setting, else the only zone there is."""
        if self._zone_id is None:
            wanted = self.cloud.settings.get("zone") or ""
            zones = self._list("listZones", available=True)
            names = [z.get("name", "") for z in zones]
            match = [z for z in zones if wanted in (z.get("name"), z.get("id"))] if wanted \
                else zones if len(zones) == 1 else []
            if not match:
                detail = f"no zone {wanted!r}" if wanted else "name the zone"
                raise self.error("choose the zone", NOT_FOUND,
                                 f"{detail}; zones: {', '.join(names) or 'none'}")
            self._zone_id = str(match[0]["id"])
        return self._zone_id

    def _offering(self, command: str, name: str) -> str:
        """The id of a network or VPC offering, by its name (read once per session)."""
        if name not in self._offerings:
            found = [o for o in self._list(command, name=name)
                     if o.get("name") == name]
            if not found:
                raise self.error(f"find offering {name}", NOT_FOUND)
            self._offerings[name] = str(found[0]["id"])
        return self._offerings[name]

    # -- tags and rollback ---------------------------------------------------------------------

    def _tag(self, kind: str, ident: str, tags: Mapping[str, str]) -> None:
        """Resource tags (CloudStack takes them after creation, in an async job)."""
        pairs = [{"key": k, "value": v} for k, v in tags.items()]
        self._job("createTags", resourceids=ident, resourcetype=kind, tags=pairs)

    def _untag(self, kind: str, ident: str, keys: list[str]) -> None:
        self._job("deleteTags", resourceids=ident, resourcetype=kind,
                  tags=[{"key": k} for k in keys])

    def _mark(self, kind: str, ident: str, extra: Mapping[str, str] | None = None,
              undo: Callable[[], Any] | None = None, what: str = "") -> None:
        """MiniCloud's tag on something just made; when tagging fails, the thing is undone
        (an untagged object would never be cleaned by Reset)."""
        try:
            self._tag(kind, ident, {OWNER_TAG: "true", **(extra or {})})
        except Exception as exc:  # noqa: BLE001 - any failure: undo, then one DriverError
            err = map_error(self.cloud.name, f"tag {what or kind}", exc)
            if undo is not None:
                note = self._undo(f"delete {what or kind}", undo)
                if note:
                    err = DriverError(err.cloud, err.operation, err.reason,
                                      f"{err.detail}; {note}" if err.detail else note)
            raise err from None

    def _undo(self, what: str, action: Callable[[], Any]) -> str | None:
        """Best-effort rollback; returns a note naming what is left behind when it fails."""
        try:
            with self._call(what):
                action()
        except DriverError as err:
            log.warning("rollback failed: %s", err)
            return f"could not {what} ({err.reason}): it is left behind"
        return None

    # -- life cycle ----------------------------------------------------------------------------

    def setup(self) -> None:
        with self._call("log in"):
            self.zone_id  # noqa: B018 - a signed request, and the zone resolved

    def forget(self) -> None:
        self.close()

    def close(self) -> None:
        client = getattr(self._local, "client", None)
        self._local = threading.local()
        if client is not None:
            try:
                client.session.close()
            except Exception:  # closing is best effort
                log.debug("closing connection to %s failed", self.cloud.name, exc_info=True)


def _logged(err: DriverError) -> DriverError:
    """One debug line for a cloud's ordinary answer (a wrong password, a conflict); the
    traceback only for a failure nothing explained, where it helps."""
    log.debug("%s", err, exc_info=err.reason == FAILED)
    return err
