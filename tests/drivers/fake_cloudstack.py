"""A stateful fake CloudStack management server: a specification of what a real one answers.

Every rule it enforces cites, in a comment beside it, the class of apache/cloudstack it follows
("CS": paths of its main branch, the 4.20 line, unless a version is named).  Served to the real
``cs`` client either through ``requests_mock`` (:func:`fake_cloudstack`) or as a real HTTP
server on 127.0.0.1 (:func:`serve_cloudstack`, for ``python -m minicloud`` end to end).

The protocol (CS server/src/main/java/com/cloud/api/ApiServer.java):

- every request is signed; ``verifyRequest`` checks it: the parameters but ``signature`` sorted
  by name, values URL-encoded as java.net.URLEncoder does, the whole lower-cased, HMAC-SHA1
  with the secret key of the user whose ``apiKey`` it carries, base64; ``expires`` honoured for
  signatureVersion 3; an unknown command, key or signature is 401;
- every answer is ``{"<command in lower case>response": {...}}``; an error has the HTTP status
  of its ApiErrorCode and ``{"uuidList": [], "errorcode", "cserrorcode", "errortext"}``; an
  unexpected failure's text (530, 533, 534) is replaced by BaseCmd.USER_ERROR_MESSAGE for a
  caller who is not a root admin (``handleRequest``); a failed job keeps its text
  (ApiAsyncJobDispatcher.runJob);
- a list answers ``{"count": N, "<kind>": [...]}`` for the page asked, ``{}`` when empty; a
  ``pagesize`` above ``default.page.size`` (500 by default) is refused (BaseListCmd
  getPageSize, 431);
- an async command answers ``{"jobid"}``, and a BaseAsyncCreateCmd ``{"jobid", "id"}``: its
  object exists before the job runs, and stays when the job fails (``queueCommand``);
  queryAsyncJobResult gives ``jobstatus`` 0 (pending, ``job_polls`` times), then 1 with
  ``jobresult`` or 2 with the error.

Accounts and roles: the root admin ``admin`` (keys API_KEY / SECRET_KEY) exists from the start;
:meth:`FakeCloudStack.add_account` adds a domain admin or a user.  Each account has its own
``default`` security group, and lists show what its role may see
(fake_cloudstack_api.CloudStackApi.visible).  Two API generations: "4.20" and "4.15"
(fake_cloudstack_api.GENERATIONS).

Initial state: zone ``zone1`` (Advanced, no security groups), its public network ``public``
with the range 203.0.113.0/24, templates ``cirros`` and ``ubuntu``, service offerings
``m1.tiny``/``m1.small``/``m1.medium``, the default network and VPC offerings, the ACL lists
``default_allow``/``default_deny``.  Tests can count requests (:meth:`FakeCloudStack.count`),
inject failures (:meth:`FakeCloudStack.fail`) and read the state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

import requests_mock

from minicloud.drivers.cloudstack.driver import CloudStackDriver
from minicloud.drivers.cloudstack.network import NETWORK_OFFERING, TIER_OFFERING, VPC_OFFERING
from minicloud.model.objects import Cloud, Port
from tests.drivers.fake_cloudstack_api import (
    ADMIN,
    ADMIN_ONLY,
    ASYNC,
    ASYNC_CREATE,
    DOMAIN_ADMIN,
    GENERATIONS,
    LISTS,
    USER,
    USER_ERROR_MESSAGE,
    Account,
    FakeError,
)
from tests.drivers.fake_cloudstack_vm import CloudStackVms
from tests.volume import FULL

ENDPOINT = "https://cloudstack.example.com/client/api"
API_KEY = "fake-api-key"
SECRET_KEY = "fake-secret-key"
CLOUD_SETTINGS = {"endpoint": ENDPOINT, "api_key": API_KEY, "zone": "zone1"}
BAD_SIGNATURE = "unable to verify user credentials and/or request signature"

__all__ = ["ADMIN", "API_KEY", "CLOUD_SETTINGS", "DOMAIN_ADMIN", "ENDPOINT", "SECRET_KEY",
           "USER", "FakeCloudStack", "fake_cloudstack", "fake_cloudstack_driver",
           "serve_cloudstack"]


def java_encode(value: str) -> str:
    """java.net.URLEncoder.encode(value, "UTF-8").replaceAll("\\+", "%20")."""
    return quote_plus(value, safe="*").replace("~", "%7E").replace("+", "%20")


def signature(params: dict[str, str], secret: str) -> str:
    text = "&".join(f"{k}={java_encode(params[k])}" for k in sorted(params)
                    if k != "signature").lower()
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Failure:
    command: str  # lower case
    code: int
    text: str
    in_job: bool  # fail the async job, not the request


@dataclass
class Job:
    command: str
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    polls: int = 0
    created: str = field(default_factory=lambda: FakeCloudStack.now())


class FakeCloudStack(CloudStackVms):
    """State and request handling of the fake management server."""

    def __init__(self, public_name: str = "public", public_cidr: str = "203.0.113.0/24",
                 zone: str = "zone1", range_name: str = "", generation: str = "4.20",
                 network_type: str = "Advanced", security_groups: bool = False) -> None:
        super().__init__()
        self.lock = threading.RLock()
        self.generation = GENERATIONS[generation]
        self.calls: list[tuple[str, dict[str, str]]] = []  # (command, params) answered
        self.refused = 0  # requests refused for their signature
        self.failures: list[Failure] = []
        self.jobs: dict[str, Job] = {}
        self.job_polls = 0  # queryAsyncJobResult answers "pending" this many times first
        self.page_size = 500  # default.page.size
        self.zone = {"id": self.new_id(), "name": zone, "networktype": network_type,
                     "allocationstate": "Enabled", "securitygroupsenabled": security_groups}
        self.caller = self.add_account("admin", ADMIN, api_key=API_KEY, secret_key=SECRET_KEY)
        self._seed(public_name, public_cidr, range_name)

    @staticmethod
    def now() -> str:
        return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S%z")

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def _seed(self, public_name: str, public_cidr: str, range_name: str) -> None:
        self.add_public_network(public_name, public_cidr, range_name)
        for name in ("cirros", "ubuntu"):
            self.add("templates", name=name, displaytext=name, zoneid=self.zone["id"],
                     isready=True, status="Download Complete", format="QCOW2",
                     ostypename="Other Linux (64-bit)", templatetype="USER", hypervisor="KVM")
        for name, cpus, ram, disk in (("m1.tiny", 1, 512, 1), ("m1.small", 1, 2048, 20),
                                      ("m1.medium", 2, 4096, 40)):
            # ServiceOfferingResponse's rootdisksize: since 4.15, in both generations.
            self.add("offerings", name=name, displaytext=name, cpunumber=cpus, cpuspeed=1000,
                     memory=ram, rootdisksize=disk, storagetype="shared")
        for name in (NETWORK_OFFERING, TIER_OFFERING):
            self.add("network_offerings", name=name, displaytext=name, state="Enabled",
                     guestiptype="Isolated", forvpc=name == TIER_OFFERING)
        self.add("vpc_offerings", name=VPC_OFFERING, displaytext=VPC_OFFERING, state="Enabled")
        for name in ("default_allow", "default_deny"):
            self.add("acl_lists", name=name, description=name, vpcid=None)

    def add_account(self, name: str, role: str = USER, domain: str = "ROOT",
                    api_key: str | None = None, secret_key: str | None = None) -> Account:
        """An account of ``role`` (ADMIN, DOMAIN_ADMIN or USER) in ``domain`` (created when
        new), with its keys and its ``default`` security group (SecurityGroupManagerImpl
        createDefaultSecurityGroup)."""
        domainid = self.domains.setdefault(domain, self.new_id())
        account = Account(name, role, domain, api_key or f"key-{name}",
                          secret_key or f"secret-{name}", self.new_id(), domainid)
        self.accounts[account.api_key] = account
        self.owned("groups", account, name="default", description="Default Security Group",
                   ingressrule=[], egressrule=[])
        return account

    # -- HTTP ----------------------------------------------------------------------------------

    def install(self, mocker: requests_mock.Mocker, endpoint: str = ENDPOINT) -> None:
        mocker.register_uri(requests_mock.ANY, endpoint, text=self._mocked)

    def _mocked(self, request: Any, context: Any) -> str:
        query = urlsplit(request.url).query
        if request.method == "POST" and request.body:
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            query = f"{query}&{body}" if query else body
        context.status_code, text = self.respond(dict(parse_qsl(query, keep_blank_values=True)))
        context.headers["Content-Type"] = "application/json; charset=utf-8"
        return text

    def respond(self, params: dict[str, str]) -> tuple[int, str]:
        """The HTTP status and body of the answer to one request."""
        command = params.get("command", "")
        key = f"{command.lower()}response"
        with self.lock:
            try:
                self._check_signature(params)
                self.calls.append((command, params))
                body = self._dispatch(command, params)
                status = 200
            except FakeError as err:
                status = err.code
                body = {"uuidList": [], "errorcode": err.code, "cserrorcode": err.cs_code,
                        "errortext": err.text}
        return status, json.dumps({key: body})

    def _check_signature(self, params: dict[str, str]) -> None:
        account = self.accounts.get(params.get("apiKey", ""))
        ok = account is not None and hmac.compare_digest(
            params.get("signature", ""), signature(params, account.secret_key))
        expires = params.get("expires")
        if ok and params.get("signatureVersion") == "3" and expires:
            ok = datetime.strptime(expires, "%Y-%m-%dT%H:%M:%S%z") > datetime.now(timezone.utc)
        # ApiServer.verifyRequest: a command the server does not know fails the same way.
        if ok and params.get("command", "").lower() not in self._known:
            ok = False
        if not ok or account is None:
            self.refused += 1
            raise FakeError(401, BAD_SIGNATURE)
        self.caller = account

    @property
    def _known(self) -> set[str]:
        return {"queryasyncjobresult"} | {n[4:] for n in dir(self) if n.startswith("cmd_")}

    def _dispatch(self, command: str, params: dict[str, str]) -> dict[str, Any]:
        name = command.lower()
        self.expunge_due()
        if name == "queryasyncjobresult":
            return self._job_result(params.get("jobid", ""))
        if name in ADMIN_ONLY and self.caller.role != ADMIN:
            # RoleBasedAPIAccessChecker.checkAccess -> ApiServer: UNSUPPORTED_ACTION_ERROR.
            raise FakeError(432, f"The API [{command}] does not exist or is not available "
                                 f"for the account {self.caller.name}.")
        failure = next((f for f in self.failures if f.command == name), None)
        if failure is not None:
            self.failures.remove(failure)
        try:
            if failure is not None and not failure.in_job:
                raise FakeError(failure.code, failure.text)
            if name in ASYNC:
                return self._submit(name, params, failure)
            result: dict[str, Any] = getattr(self, f"cmd_{name}")(params)
        except FakeError as err:
            if err.code in (530, 533, 534) and self.caller.role != ADMIN:
                raise FakeError(err.code, USER_ERROR_MESSAGE, err.cs_code) from None
            raise
        if name in LISTS:
            return self._page(result[LISTS[name]], LISTS[name], params)
        return result

    def _page(self, items: list[Any], kind: str, params: dict[str, str]) -> dict[str, Any]:
        size = int(params.get("pagesize") or self.page_size)
        if size > self.page_size:
            raise FakeError(431, "Page size can't exceed max allowed page size value: "
                                 f"{self.page_size}")
        if not items:
            return {}
        page = int(params.get("page") or 1)
        return {"count": len(items), kind: items[(page - 1) * size:page * size]}

    def _submit(self, name: str, params: dict[str, str],
                failure: Failure | None) -> dict[str, Any]:
        handler: Callable[..., dict[str, Any]] = getattr(self, f"cmd_{name}")
        made = getattr(self, f"create_{name}")(params) if name in ASYNC_CREATE else None
        job = Job(name)
        if failure is not None:
            job.error = {"errorcode": failure.code, "errortext": failure.text}
        else:
            try:
                job.result = handler(params, made) if made is not None else handler(params)
            except FakeError as err:
                job.error = {"errorcode": err.code, "errortext": err.text}
        if job.error is not None and made is not None:
            getattr(self, f"failed_{name}", lambda obj: None)(made)  # the object stays
        jobid = self.new_id()
        self.jobs[jobid] = job
        return {"jobid": jobid, "id": made["id"]} if made is not None else {"jobid": jobid}

    def _job_result(self, jobid: str) -> dict[str, Any]:
        job = self.jobs.get(jobid)
        if job is None:
            raise FakeError(431, f"Unable to execute API command queryasyncjobresult due to "
                                 f"invalid value. Invalid parameter jobid value={jobid} due "
                                 "to incorrect long value format, or entity does not exist")
        answer: dict[str, Any] = {"jobid": jobid, "cmd": job.command, "created": job.created,
                                  "jobprocstatus": 0, "jobinstancetype": "None"}
        if job.polls < self.job_polls:
            job.polls += 1
            return {**answer, "jobstatus": 0, "jobresultcode": 0}
        if job.error is not None:
            return {**answer, "jobstatus": 2, "jobresultcode": job.error["errorcode"],
                    "jobresulttype": "object", "jobresult": job.error, "completed": self.now()}
        return {**answer, "jobstatus": 1, "jobresultcode": 0, "jobresulttype": "object",
                "jobresult": job.result or {"success": True}, "completed": self.now()}

    # -- for tests -----------------------------------------------------------------------------

    def fail(self, command: str, code: int = 530, text: str = "Injected failure",
             in_job: bool = False) -> None:
        """The next ``command`` fails: its request, or (``in_job``) its async job."""
        self.failures.append(Failure(command.lower(), code, text, in_job))

    def count(self, command: str) -> int:
        return sum(1 for c, _ in self.calls if c.lower() == command.lower())

    def named(self, kind: str, name: str) -> dict[str, Any]:
        return next(o for o in self.tables[kind].values() if o.get("name") == name)

    def model_ports(self) -> list[Port]:
        """The contract suite's view: every NIC of every virtual machine."""
        return [Port(n["id"], n["networkid"], vm["id"], "compute", [n["ipaddress"]])
                for vm in self.tables["vms"].values() for n in vm["nic"]]


@contextmanager
def fake_cloudstack(fake: FakeCloudStack | None = None) -> Iterator[FakeCloudStack]:
    """Serve ``fake`` (a new one by default) to every request of the process to ENDPOINT."""
    fake = fake or FakeCloudStack()
    with requests_mock.Mocker(real_http=False) as mocker:
        fake.install(mocker)
        yield fake


@contextmanager
def serve_cloudstack(fake: FakeCloudStack | None = None) -> Iterator[tuple[FakeCloudStack, str]]:
    """Serve ``fake`` as a real HTTP server on 127.0.0.1 (a free port): yields it and its API
    endpoint, ``http://127.0.0.1:PORT/client/api``, for processes the test starts."""
    served = fake or FakeCloudStack()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: str) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/client/api":
                self.send_error(404)
                return
            query = "&".join(q for q in (parts.query, body) if q)
            status, text = served.respond(dict(parse_qsl(query, keep_blank_values=True)))
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._answer(self.rfile.read(length).decode())

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="fake-cloudstack", daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}/client/api"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def fake_cloudstack_driver(cloud_name: str = "cs1", fake: FakeCloudStack | None = None,
                           account: Account | None = None,
                           ) -> Iterator[tuple[CloudStackDriver, FakeCloudStack]]:
    """A CloudStackDriver wired to a fresh fake, with the root admin's keys (or
    ``account``'s)."""
    with fake_cloudstack(fake) as served:
        who = account or served.accounts[API_KEY]
        cloud = Cloud(name=cloud_name, type="cloudstack", location="cloudstack.example.com",
                      settings={**CLOUD_SETTINGS, "api_key": who.api_key})
        driver = CloudStackDriver(cloud, {"secret_key": who.secret_key})
        driver.poll_interval = 0.01
        try:
            yield driver, served
        finally:
            driver.close()


def _contract(generation: str, role: str) -> Callable[[Any], Any]:
    @contextmanager
    def factory(folder: Any) -> Iterator[tuple[CloudStackDriver, Any]]:
        fake = FakeCloudStack(generation=generation)
        account = None
        if role != ADMIN:
            account = fake.add_account("alice", role)
            # A cloud whose expunge thread removes destroyed machines at once (expunge.delay
            # 0): a regular user may not expunge, and its networks wait for that thread.
            fake.expunge_delay = 0
        with fake_cloudstack_driver("Contract", fake, account) as (driver, served):
            driver.setup()
            yield driver, served.model_ports
    return factory


@contextmanager
def contract_factory(folder: Any) -> Iterator[tuple[CloudStackDriver, Any]]:
    """The contract suite's factory (``folder`` is unused: a CloudStack driver keeps no state
    of its own); its ``variants`` run the suite against both API generations, as a root admin
    and as a regular user."""
    with _contract("4.20", ADMIN)(folder) as pair:
        yield pair


# Both generations and both roles by default (the two diagonals); all four pairs at full
# volume (MINICLOUD_TEST_VOLUME=full, CI).
PAIRS = [("4.20", ADMIN), ("4.15", USER)] + ([("4.20", USER), ("4.15", ADMIN)] if FULL else [])
contract_factory.variants = {  # type: ignore[attr-defined]
    f"{generation}-{role.lower()}": _contract(generation, role) for generation, role in PAIRS}
