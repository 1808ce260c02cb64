"""What every part of the fake OpenStack shares: the services' URLs, the request context,
the error and response shapes, and the HTTP entry point with failure injection and counting
(:class:`FakeService`, a base of :class:`tests.drivers.fake_openstack.FakeOpenStack`)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import requests_mock

IDENTITY = "https://identity.example.com"
COMPUTE = "https://compute.example.com"
NETWORK = "https://network.example.com"
IMAGE = "https://image.example.com"

AUTH_URL = f"{IDENTITY}/v3"
PASSWORD = "secret-pw"
USER = "demo"
PROJECT = "demo"
COMPUTE_MAX_MICROVERSION = "2.96"

ROUTER_INTERFACE = "network:router_interface"
EXTENSIONS = ("router", "external-net", "security-group", "standard-attr-tag", "tag-creation",
              "fip-port-details", "quotas", "extraroute", "ext-gw-mode", "port-security")


class FakeError(Exception):
    """Raised by a handler to answer with an API error."""

    def __init__(self, status: int, message: str, kind: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


@dataclass
class Call:
    """One request the fake answered (``status`` 0 when the transport raised)."""

    method: str
    url: str
    path: str
    status: int = 0


@dataclass
class Failure:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    message: str
    exc: type[Exception] | Exception | None


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return str(uuid.uuid4())


def new_mac() -> str:
    raw = uuid.uuid4().bytes[:3]
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in raw)


def fingerprint_of(public_key: str) -> str:
    parts = public_key.split()
    try:
        blob = base64.b64decode(parts[1], validate=True) if len(parts) > 1 else b""
    except ValueError:
        blob = b""
    digest = hashlib.md5(blob or public_key.encode()).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


Reply = tuple[int, Any, dict[str, str]]


class Ctx:
    """One request as the handlers see it."""

    def __init__(self, request: Any, query: dict[str, str], body: Any):
        self.request = request
        self.query = query
        self.body = body

    @property
    def microversion(self) -> tuple[int, int]:
        header = self.request.headers.get("OpenStack-API-Version", "") or \
            self.request.headers.get("X-OpenStack-Nova-API-Version", "")
        match = re.search(r"(\d+)\.(\d+)", header)
        return (int(match.group(1)), int(match.group(2))) if match else (2, 1)


def make_response(request: Any, status: int, payload: Any,
              headers: dict[str, str]) -> requests.Response:
    headers = dict(headers)
    headers["x-openstack-request-id"] = "req-" + new_id()
    if payload is None:
        return requests_mock.create_response(request, status_code=status, headers=headers,
                                             content=b"")
    headers.setdefault("Content-Type", "application/json")
    return requests_mock.create_response(request, status_code=status, json=payload,
                                         headers=headers)


class FakeService:
    """Requests in, responses out: authentication, routing, injected failures, counting.

    The concrete fake provides the state these read (``lock``, ``calls``, ``failures``,
    ``tokens``, ``latency``) and its routing table (``_routes``).
    """

    lock: threading.RLock
    calls: list[Call]
    failures: list[Failure]
    tokens: set[str]
    latency: float
    _routes: list[tuple[str, str, re.Pattern[str], Callable[..., Any]]]

    # -- failure injection and counting --------------------------------------------------------

    def fail(self, method: str, path: str, status: int = 500, times: int = 1,
             message: str = "Injected failure",
             exc: type[Exception] | Exception | None = None) -> None:
        """Make the next ``times`` requests ``METHOD path`` fail.

        With ``exc`` (e.g. ``requests.exceptions.ConnectTimeout``) the transport raises it;
        otherwise the API answers ``status`` with ``message`` in the service's error shape.
        """
        with self.lock:
            self.failures.append(Failure(method.upper(), re.compile(path), status, times,
                                         message, exc))

    @property
    def request_count(self) -> int:
        return len(self.calls)

    def reset_count(self) -> None:
        with self.lock:
            self.calls.clear()

    def count(self, method: str, path: str) -> int:
        """How many ``METHOD path`` requests (``path`` a regular expression) were made."""
        pattern = re.compile(path)
        return sum(1 for c in self.calls if c.method == method and pattern.fullmatch(c.path))

    # -- requests_mock entry point -------------------------------------------------------------

    def install(self, mocker: requests_mock.Mocker | requests_mock.Adapter) -> None:
        """Answer the requests a Mocker (every session) or an Adapter (one session) sees."""
        mocker.add_matcher(self.handle)

    def mount(self, session: requests.Session) -> None:
        """Serve the fake on one requests session only.

        ``requests_mock.Mocker`` sends one request at a time (a global lock); an adapter
        mounted on the session does not, so concurrent requests really overlap.
        """
        adapter = requests_mock.Adapter()
        self.install(adapter)
        session.mount("https://", adapter)
        session.mount("http://", adapter)

    def handle(self, request: Any) -> requests.Response | None:
        parts = urlsplit(request.url)
        base = f"{parts.scheme}://{parts.netloc}"
        if base not in (IDENTITY, COMPUTE, NETWORK, IMAGE):
            return None
        path = parts.path.rstrip("/") or "/"
        is_version_document = path in ("/", "/v2.1", "/v2.0", "/v2")
        if self.latency and base != IDENTITY and not is_version_document:
            time.sleep(self.latency)  # outside the lock: concurrent requests overlap
        call = Call(request.method, request.url, path)
        with self.lock:
            self.calls.append(call)
            response = self._answer(request, base, path, parts.query, is_version_document)
            call.status = response.status_code
            return response

    def _answer(self, request: Any, base: str, path: str, query_string: str,
                is_version_document: bool) -> requests.Response:
        query = {k: v[-1] for k, v in parse_qs(query_string).items()}
        failure = self._take_failure(request.method, path)
        if failure is not None:
            if failure.exc is not None:
                raise failure.exc
            return self._error_response(request, base,
                                        FakeError(failure.status, failure.message))
        if base != IDENTITY and not is_version_document and \
                request.headers.get("X-Auth-Token") not in self.tokens:
            return self._error_response(request, base, FakeError(
                401, "The request you have made requires authentication.", "Unauthorized"))
        body = None
        if request.body:
            raw = request.body.decode() if isinstance(request.body, bytes) else request.body
            body = json.loads(raw) if raw.strip() else None
        try:
            for service, method, pattern, handler in self._routes:
                if service != base or method != request.method:
                    continue
                match = pattern.fullmatch(path)
                if match:
                    ctx = Ctx(request, query, body)
                    status, payload, headers = handler(ctx, *match.groups())
                    return make_response(request, status, payload, headers)
            raise FakeError(404, f"The resource could not be found: {request.method} "
                                 f"{path}", "HTTPNotFound")
        except FakeError as err:
            return self._error_response(request, base, err)

    def _take_failure(self, method: str, path: str) -> Failure | None:
        for failure in self.failures:
            if failure.method == method and failure.path.fullmatch(path):
                failure.times -= 1
                if failure.times <= 0:
                    self.failures.remove(failure)
                return failure
        return None

    def _error_response(self, request: Any, base: str, err: FakeError) -> requests.Response:
        if base == NETWORK:
            body: Any = {"NeutronError": {"type": err.kind or "HTTPError",
                                          "message": err.message, "detail": ""}}
        elif base == COMPUTE:
            key = {400: "badRequest", 403: "forbidden", 404: "itemNotFound",
                   409: "conflictingRequest", 413: "overLimit"}.get(err.status, "computeFault")
            body = {key: {"code": err.status, "message": err.message}}
        else:
            body = {"error": {"code": err.status, "title": err.kind or "Error",
                              "message": err.message}}
        return make_response(request, err.status, body, {})
