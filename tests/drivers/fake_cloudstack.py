"""A stateful fake CloudStack management server for offline tests.

It is served to the real ``cs`` client through ``requests_mock``: ``cs`` signs and sends real
requests, the fake checks each signature as the management server does (ApiServer.verifyRequest:
the parameters but ``signature`` sorted by name, values URL-encoded as java.net.URLEncoder does,
the whole lower-cased, HMAC-SHA1 with the secret key, base64; ``expires`` honoured for
signatureVersion 3) and answers with the shapes of CloudStack's API, following the response
classes of apache/cloudstack's ``api/src/main/java/org/apache/cloudstack/api/response`` for
API version 4.19/4.20 (UserVmResponse, NicResponse, NetworkResponse, VpcResponse,
IPAddressResponse, FirewallRuleResponse, NetworkACLItemResponse, NetworkACLResponse,
SecurityGroupResponse, SSHKeyPairResponse, ZoneResponse, TemplateResponse,
ServiceOfferingResponse, VlanIpRangeResponse, AsyncJobResponse, ExceptionResponse):

- every answer is ``{"<command in lower case>response": {...}}``; an error has the HTTP status
  of its ApiErrorCode (401, 431, 530...) and ``{"uuidList": [], "errorcode", "cserrorcode",
  "errortext"}``;
- a list answers ``{"count": N, "<kind>": [...]}`` for the page asked (``page``/``pagesize``),
  ``{}`` when empty;
- an async command answers ``{"jobid", "id"}``; queryAsyncJobResult gives ``jobstatus`` 0
  (pending, ``job_polls`` times), then 1 with ``jobresult`` or 2 with the error.

Initial state: zone ``zone1`` (Advanced), its public network ``public`` with the range
203.0.113.0/24, templates ``cirros`` and ``ubuntu``, service offerings
``m1.tiny``/``m1.small``/``m1.medium``, the default network and VPC offerings, the ACL lists
``default_allow``/``default_deny`` and the account's ``default`` security group.  Tests can
count requests (:meth:`count`), inject failures (:meth:`fail`) and read the state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

import requests_mock

from minicloud.drivers.cloudstack.driver import CloudStackDriver
from minicloud.drivers.cloudstack.network import NETWORK_OFFERING, TIER_OFFERING, VPC_OFFERING
from minicloud.model.objects import Cloud, Port
from tests.drivers.fake_cloudstack_api import ASYNC, LISTS, FakeError
from tests.drivers.fake_cloudstack_vm import CloudStackVms

ENDPOINT = "https://cloudstack.example.com/client/api"
API_KEY = "fake-api-key"
SECRET_KEY = "fake-secret-key"
CLOUD_SETTINGS = {"endpoint": ENDPOINT, "api_key": API_KEY, "zone": "zone1"}
BAD_SIGNATURE = "unable to verify user credentials and/or request signature"

__all__ = ["API_KEY", "CLOUD_SETTINGS", "ENDPOINT", "SECRET_KEY", "FakeCloudStack",
           "fake_cloudstack", "fake_cloudstack_driver"]


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
                 zone: str = "zone1", range_name: str = "") -> None:
        self.lock = threading.RLock()
        self.api_key, self.secret_key = API_KEY, SECRET_KEY
        self.calls: list[tuple[str, dict[str, str]]] = []  # (command, params) answered
        self.refused = 0  # requests refused for their signature
        self.failures: list[Failure] = []
        self.jobs: dict[str, Job] = {}
        self.job_polls = 0  # queryAsyncJobResult answers "pending" this many times first
        super().__init__()
        self._seed(zone, public_name, public_cidr, range_name)

    @staticmethod
    def now() -> str:
        return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S%z")

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def _seed(self, zone: str, public_name: str, public_cidr: str, range_name: str) -> None:
        self.zone = {"id": self.new_id(), "name": zone, "networktype": "Advanced",
                     "allocationstate": "Enabled", "securitygroupsenabled": False}
        self.add_public_network(public_name, public_cidr, range_name)
        for name in ("cirros", "ubuntu"):
            self.add("templates", name=name, displaytext=name, zoneid=self.zone["id"],
                     isready=True, status="Download Complete", format="QCOW2",
                     ostypename="Other Linux (64-bit)", templatetype="USER", hypervisor="KVM")
        for name, cpus, ram, disk in (("m1.tiny", 1, 512, 1), ("m1.small", 1, 2048, 20),
                                      ("m1.medium", 2, 4096, 40)):
            self.add("offerings", name=name, displaytext=name, cpunumber=cpus, cpuspeed=1000,
                     memory=ram, rootdisksize=disk, storagetype="shared")
        for name in (NETWORK_OFFERING, TIER_OFFERING):
            self.add("network_offerings", name=name, displaytext=name, state="Enabled",
                     guestiptype="Isolated", forvpc=name == TIER_OFFERING)
        self.add("vpc_offerings", name=VPC_OFFERING, displaytext=VPC_OFFERING, state="Enabled")
        for name in ("default_allow", "default_deny"):
            self.add("acl_lists", name=name, description=name, vpcid=None)
        self.add("groups", name="default", description="Default Security Group",
                 ingressrule=[], egressrule=[], account="admin")

    # -- HTTP ----------------------------------------------------------------------------------

    def install(self, mocker: requests_mock.Mocker) -> None:
        mocker.register_uri(requests_mock.ANY, ENDPOINT, text=self._answer)

    def _params(self, request: Any) -> dict[str, str]:
        query = urlsplit(request.url).query
        if request.method == "POST" and request.body:
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            query = f"{query}&{body}" if query else body
        return dict(parse_qsl(query, keep_blank_values=True))

    def _answer(self, request: Any, context: Any) -> str:
        context.headers["Content-Type"] = "application/json; charset=utf-8"
        params = self._params(request)
        command = params.get("command", "")
        key = f"{command.lower()}response"
        with self.lock:
            try:
                self._check_signature(params)
                self.calls.append((command, params))
                body = self._dispatch(command, params)
            except FakeError as err:
                context.status_code = err.code
                body = {"uuidList": [], "errorcode": err.code, "cserrorcode": err.cs_code,
                        "errortext": err.text}
        return json.dumps({key: body})

    def _check_signature(self, params: dict[str, str]) -> None:
        ok = params.get("apiKey") == self.api_key and hmac.compare_digest(
            params.get("signature", ""), signature(params, self.secret_key))
        expires = params.get("expires")
        if ok and params.get("signatureVersion") == "3" and expires:
            ok = datetime.strptime(expires, "%Y-%m-%dT%H:%M:%S%z") > datetime.now(timezone.utc)
        if not ok:
            self.refused += 1
            raise FakeError(401, BAD_SIGNATURE)

    def _dispatch(self, command: str, params: dict[str, str]) -> dict[str, Any]:
        name = command.lower()
        if name == "queryasyncjobresult":
            return self._job_result(params.get("jobid", ""))
        failure = next((f for f in self.failures if f.command == name), None)
        if failure is not None:
            self.failures.remove(failure)
            if not failure.in_job:
                raise FakeError(failure.code, failure.text)
        handler = getattr(self, f"cmd_{name}", None)
        if handler is None:
            raise FakeError(432, f"The given command:{command} does not exist or it is not "
                                 "available for user")
        if name in ASYNC:
            return self._submit(name, handler, params, failure)
        result: dict[str, Any] = handler(params)
        if name in LISTS:
            return self._page(result[LISTS[name]], LISTS[name], params)
        return result

    def _page(self, items: list[Any], kind: str, params: dict[str, str]) -> dict[str, Any]:
        if not items:
            return {}
        page, size = int(params.get("page") or 1), int(params.get("pagesize") or 500)
        return {"count": len(items), kind: items[(page - 1) * size:page * size]}

    def _submit(self, name: str, handler: Any, params: dict[str, str],
                failure: Failure | None) -> dict[str, Any]:
        job = Job(name)
        if failure is not None:
            job.error = {"errorcode": failure.code, "errortext": failure.text}
        else:
            try:
                job.result = handler(params)
            except FakeError as err:
                job.error = {"errorcode": err.code, "errortext": err.text}
        jobid = self.new_id()
        self.jobs[jobid] = job
        answer = {"jobid": jobid}
        ident = next((v.get("id") for v in (job.result or {}).values() if isinstance(v, dict)),
                     None)
        return {**answer, "id": ident} if ident else answer

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
def fake_cloudstack_driver(cloud_name: str = "cs1", fake: FakeCloudStack | None = None,
                           ) -> Iterator[tuple[CloudStackDriver, FakeCloudStack]]:
    """A CloudStackDriver (secret key ``fake-secret-key``) wired to a fresh fake."""
    cloud = Cloud(name=cloud_name, type="cloudstack", location="cloudstack.example.com",
                  settings=dict(CLOUD_SETTINGS))
    with fake_cloudstack(fake) as served:
        driver = CloudStackDriver(cloud, {"secret_key": SECRET_KEY})
        driver.poll_interval = 0.01
        try:
            yield driver, served
        finally:
            driver.close()


@contextmanager
def contract_factory(store: Any) -> Iterator[tuple[CloudStackDriver, Any]]:
    """The contract suite's factory: the driver and the fake's ports (``store`` is unused: a
    CloudStack driver keeps no state of its own)."""
    with fake_cloudstack_driver("Contract") as (driver, fake):
        yield driver, fake.model_ports
