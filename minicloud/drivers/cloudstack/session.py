"""The CloudStack driver's plumbing: the ``cs`` client (from a cloudstack.ini section or from
the cloud's settings), the login (what the server and the account allow), the one place API
calls run (:meth:`CloudStackSession._call`, where every failure becomes a
:class:`DriverError`), lists, async jobs, the zone and MiniCloud's tags.

``cs`` signs every request (HMAC-SHA1) and pages lists (``fetch_list``); the driver polls
async jobs itself, because ``cs`` drops the ``id`` a create command answers beside its
``jobid`` (the object exists before its job runs and stays when the job fails).
"""

from __future__ import annotations

import configparser
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any

from cs import CloudStack, CloudStackApiException, read_config
from cs.client import read_config_from_ini

from ...model.errors import FAILED, INVALID, NOT_FOUND, TIMEOUT, DriverError
from ...model.objects import Cloud
from ..base import OWNER_TAG, Driver
from .errors import ConfigMissing, SecretNeeded, map_error

log = logging.getLogger("minicloud.drivers.cloudstack")

SECRET = "secret_key"  # the name of the declared secret setting: the driver receives it so
# Seconds one HTTP request may wait for an answer, unless a cloudstack.ini section (its
# ``timeout``, or CLOUDSTACK_TIMEOUT) or minicloud.ini ([cloudstack] timeout, handed over as
# ``request_timeout``) says otherwise.
API_TIMEOUT = 60.0
JOB_TIMEOUT = 600  # seconds an async job may take
PAGE_SIZE = 500  # cs's page size, and CloudStack's default.page.size
# BaseListCmd.getPageSize's refusal names the server's own limit (default.page.size).
_PAGE_LIMIT = re.compile(r"max allowed page size value: (\d+)")
INI_FILES = "./cloudstack.ini, ~/.cloudstack.ini or CLOUDSTACK_CONFIG"


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


def version_of(text: str | None) -> tuple[int, ...]:
    """"4.20.0.0" -> (4, 20, 0, 0); () when the server said nothing readable."""
    return tuple(int(n) for n in re.findall(r"\d+", text or "")[:4])


class JobFailed(CloudStackApiException):
    """An async job ended in failure; ``ident`` is the object its command made before the job
    ran (a BaseAsyncCreateCmd's ``id``), which CloudStack keeps."""

    def __init__(self, command: str, ident: str | None, error: Any):
        super().__init__(f"Job {command} failed", error=error)
        self.ident = ident


@dataclass(frozen=True)
class Login:
    """What the server and the account allow, read once per session: listCapabilities (its
    version; allowuserexpungerecovervm, true for an admin too), and whether the account lists
    the zone's public network (NetworkServiceImpl.searchForNetworks resets ``issystem`` for
    anyone but a root admin)."""

    version: tuple[int, ...]
    may_expunge: bool  # allow.user.expunge.recover.vm, or an admin
    root_admin: bool  # lists the zone's public network (issystem) and its IP ranges

    @property
    def keypairs(self) -> bool:
        """deployVirtualMachine takes ``keypairs`` (since 4.17; ``keypair`` is deprecated)."""
        return self.version >= (4, 17)


class CloudStackSession(Driver):
    """Client, error mapping, login, lists, jobs and tags, shared by every CloudStack call."""

    def __init__(self, cloud: Cloud, secrets: Mapping[str, str] | None = None):
        super().__init__(cloud, secrets)
        self._config: dict[str, Any] | None = None
        self._local = threading.local()  # one client (one HTTP session) per thread
        self._lock = threading.Lock()
        self._zone_id: str | None = None
        self._login: Login | None = None
        self._offerings: dict[str, str] = {}
        self._params: dict[str, set[str]] = {}  # command -> its parameters (listApis)
        self._page_size = PAGE_SIZE
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
            except SystemExit:  # cs exits when it finds no file at all
                raise ConfigMissing(f"no cloudstack.ini found ({INI_FILES})") from None
            except configparser.NoSectionError:
                raise ConfigMissing(f"no section [{section}] in cloudstack.ini "
                                    f"({INI_FILES})") from None
            except (configparser.Error, ValueError) as exc:
                raise ConfigMissing(f"cloudstack.ini section [{section}]: {exc}") from None
            if _own_timeout(section):  # the section's own timeout wins for its cloud
                self._timeout_source = f"timeout of cloudstack.ini section {section}"
            else:
                config["timeout"] = self.timeout
        else:
            config = {"endpoint": settings.get("endpoint", ""), "key": settings.get("api_key"),
                      "timeout": self.timeout, "method": "get"}
        secret = self.secret(SECRET) or config.get("secret")
        if not secret:
            where = f"`secret` in cloudstack.ini section [{section}], or " if section else ""
            raise SecretNeeded(f"no API secret key: set {where}CLOUDSTACK_SECRET")
        config["secret"] = secret
        return config

    @property
    def endpoint(self) -> str:
        """The API's URL, as far as it is known (for the errors to name the server)."""
        config = self._config or {}
        return str(config.get("endpoint") or self.cloud.settings.get("endpoint") or "")

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
    def _call(self, operation: str, beat: bool = True) -> Iterator[None]:
        """Run a block of API calls; anything it raises becomes one DriverError.  While it
        waits, a line every ``heartbeat`` seconds says for what (``beat`` false: a block run
        in a worker thread, whose caller beats for all of them)."""
        # What the wait stands at, shared with the heartbeat's thread: an async job's command
        # while one runs (thread-local data would not reach that thread).
        outer = getattr(self._local, "waiting", None)
        waiting: dict[str, str] = {}
        self._local.waiting = waiting if outer is None else outer

        def state() -> str:
            job = waiting.get("job")
            return f"job {job} still running" if job else "no answer yet"

        what = f"{operation} on cloud {self.cloud.name}"
        try:
            with self._heartbeat(what, state) if beat else nullcontext():
                yield
        except DriverError:
            raise
        except Exception as exc:  # noqa: BLE001 - nothing else may escape the driver
            raise _logged(self._error(operation, exc)) from None
        finally:
            self._local.waiting = outer

    def _error(self, operation: str, exc: BaseException) -> DriverError:
        return map_error(self.cloud.name, operation, exc, self._timeout_note(), self.endpoint,
                         hidden=self._login is not None and not self._login.root_admin)

    def _timeout_note(self) -> str:
        """What a request that timed out says of its limit (the one in use, and where to
        change it)."""
        try:
            seconds = float((self._config or {}).get("timeout") or self.timeout)
        except (TypeError, ValueError):  # a cloudstack.ini value cs refused
            seconds = self.timeout
        return f"within {seconds:g} s ({self._timeout_source})"

    # -- requests ------------------------------------------------------------------------------

    def _list(self, command: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of one list: one request per page.  A server whose default.page.size
        is below cs's page size refuses the first page: its own limit is used from then on."""
        try:
            items = getattr(self.client, command)(fetch_list=True, pagesize=self._page_size,
                                                  **params)
        except CloudStackApiException as exc:
            limit = _PAGE_LIMIT.search(str((getattr(exc, "error", None) or {})
                                           .get("errortext", "")))
            if not limit or int(limit[1]) >= self._page_size:
                raise
            self._page_size = int(limit[1])
            items = getattr(self.client, command)(fetch_list=True, pagesize=self._page_size,
                                                  **params)
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def _sync(self, command: str, **params: Any) -> dict[str, Any]:
        result = getattr(self.client, command)(**params)
        return result if isinstance(result, dict) else {}

    def _job(self, command: str, **params: Any) -> dict[str, Any]:
        """An async command, polled through queryAsyncJobResult until it ends.  A failed job
        raises :class:`JobFailed` with the id of what its command made, if anything."""
        answer = self._sync(command, **params)
        jobid = answer.get("jobid")
        if not jobid:
            return answer
        ident = str(answer["id"]) if answer.get("id") else None
        waiting = getattr(self._local, "waiting", None) or {}
        waiting["job"] = command
        try:
            return self._await(command, str(jobid), ident)
        finally:
            waiting.pop("job", None)

    def _await(self, command: str, jobid: str, ident: str | None) -> dict[str, Any]:
        start = time.monotonic()
        delay = self.poll_interval
        while True:
            job = self._sync("queryAsyncJobResult", jobid=jobid)
            status = job.get("jobstatus")
            result = job.get("jobresult")
            if status == 1:
                return result if isinstance(result, dict) else {}
            if status not in (0, None):
                raise JobFailed(command, ident, result if isinstance(result, dict) else {})
            if time.monotonic() - start > JOB_TIMEOUT:
                left = f"; {ident} is left as CloudStack made it" if ident else ""
                raise self.error(f"wait for job {command}", TIMEOUT,
                                 f"still running after {JOB_TIMEOUT} s{left}")
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)

    def _get(self, command: str, ident: str, what: str, **params: Any) -> dict[str, Any]:
        found = self._list(command, id=ident, **params)
        if not found:
            raise self.error(f"find {what} {ident}", NOT_FOUND)
        return found[0]

    def _accepts(self, command: str, param: str) -> bool:
        """Whether this server's ``command`` has ``param`` (listApis; a parameter a server
        does not know is ignored, never refused)."""
        if command not in self._params:
            apis = self._list("listApis", name=command)
            self._params[command] = {str(p.get("name")) for a in apis
                                     for p in a.get("params") or []}
        return param in self._params[command]

    # -- the login: the server, the account, the zone ------------------------------------------

    @property
    def login(self) -> Login:
        """The server's version, what the account may do and the zone: read at the first
        call (setup when a cloud is added)."""
        if self._login is None:
            caps = self._sync("listCapabilities").get("capability") or {}
            zone = self.zone_id
            public = self._list("listNetworks", zoneid=zone, issystem=True,
                                traffictype="Public")
            login = Login(version=version_of(caps.get("cloudstackversion")),
                          may_expunge=bool(caps.get("allowuserexpungerecovervm")),
                          root_admin=bool(public))
            # A regular user sees no public IP ranges (listVlanIpRanges is an admin command);
            # a server whose associateIpAddress has no ``ipaddress`` takes no address.
            self.granted = replace(
                self.features, public_ranges=login.root_admin,
                public_ip_by_address=self._accepts("associateIpAddress", "ipaddress"))
            self._login = login
        return self._login

    @property
    def zone_id(self) -> str:
        """The cloud's zone: the ``zone`` setting, else the only zone there is; one that
        MiniCloud cannot drive (Basic, or with security groups) is refused."""
        if self._zone_id is None:
            wanted = self.cloud.settings.get("zone") or ""
            zones = self._list("listZones", available=True)
            names = ", ".join(z.get("name", "") for z in zones) or "none"
            if wanted:
                match = [z for z in zones if wanted in (z.get("name"), z.get("id"))]
                if not match:
                    raise self.error(f"find zone {wanted}", NOT_FOUND, f"the zones are {names}")
            else:
                match = zones
                if len(zones) != 1:
                    raise self.error("choose the zone", FAILED,
                                     f"{len(zones)} zones ({names}): name one (--cs-zone)")
            zone = match[0]
            self._check_zone(zone)
            self._zone_id = str(zone["id"])
        return self._zone_id

    def _check_zone(self, zone: Mapping[str, Any]) -> None:
        """An Advanced zone without security groups: isolated networks and VPCs, as MiniCloud
        maps them (ZoneResponse's networktype and securitygroupsenabled)."""
        name = zone.get("name") or zone.get("id")
        kind = str(zone.get("networktype") or "Advanced")
        if kind.lower() != "advanced":
            raise self.error(f"use zone {name}", INVALID,
                             f"a {kind} zone has no isolated networks or VPCs: MiniCloud "
                             "drives Advanced zones without security groups")
        if zone.get("securitygroupsenabled"):
            raise self.error(f"use zone {name}", INVALID,
                             "an Advanced zone with security groups has no VPCs: MiniCloud "
                             "drives Advanced zones without security groups")

    def _offering(self, command: str, name: str) -> str:
        """The id of a network or VPC offering, by its name (read once per session)."""
        if name not in self._offerings:
            found = [o for o in self._list(command, name=name)
                     if o.get("name") == name]
            if not found:
                raise self.error(f"find offering {name}", NOT_FOUND)
            self._offerings[name] = str(found[0]["id"])
        return self._offerings[name]

    # -- tags, rollback and what a failed job leaves -------------------------------------------

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
            err = self._error(f"tag {what or kind}", exc)
            if undo is not None:
                note = self._undo(f"delete {what or kind}", undo)
                if note:
                    err = _noted(err, note)
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

    def _failed_create(self, operation: str, failed: JobFailed, kind: str, what: str,
                       undo: Callable[[str], Any]) -> DriverError:
        """The error of a create whose job failed.  Its object exists (CloudStack made it
        before the job): it is undone, or, when that fails too, marked as MiniCloud's so that
        Reset removes it; the error says which."""
        err = self._error(operation, failed)
        if not failed.ident:
            return err
        ident = failed.ident
        if self._undo(f"delete {what}", lambda: undo(ident)) is None:
            return _noted(err, f"the {what} CloudStack made was deleted again")
        try:
            with self._call(f"mark {what}"):
                self._tag(kind, ident, {OWNER_TAG: "true"})
        except DriverError:
            return _noted(err, f"the {what} CloudStack made ({ident}) is left behind")
        return _noted(err, f"the {what} CloudStack made ({ident}) is left behind, marked as "
                           "MiniCloud's: Reset removes it")

    # -- life cycle ----------------------------------------------------------------------------

    def setup(self) -> None:
        if self.progress:
            # A login to a server that never answers is silent until the timeout: say how
            # long that is.
            self.progress(f"logging in to cloud {self.cloud.name} (each request gives up "
                          f"after {self.timeout:g} s without an answer)")
        with self._call("log in"):
            self.login  # noqa: B018 - signed requests: the server, the account, the zone

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


def _noted(err: DriverError, note: str) -> DriverError:
    detail = f"{err.detail}; {note}" if err.detail else note
    return type(err)(err.cloud, err.operation, err.reason, detail)


def _logged(err: DriverError) -> DriverError:
    """One debug line for a cloud's ordinary answer (a wrong password, a conflict); the
    traceback only for a failure nothing explained, where it helps."""
    log.debug("%s", err, exc_info=err.reason == FAILED)
    return err
