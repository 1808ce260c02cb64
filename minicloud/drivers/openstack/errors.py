"""The one translation of openstacksdk / keystoneauth / requests failures into
:class:`DriverError` (openstacksdk is imported only when a failure is translated)."""

from __future__ import annotations

import re

from ...model.errors import (
    CONFLICT,
    FAILED,
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    QUOTA,
    SERVER,
    TIMEOUT,
    UNAUTHORIZED,
    UNREACHABLE,
    CredentialsNeeded,
    DriverError,
)
from ..support import error_detail, timeout_detail, unreachable_detail

_IN_USE = re.compile(r"already (in use|allocated)", re.IGNORECASE)


class PasswordNeeded(Exception):
    """No password in the constructor, OS_PASSWORD or clouds.yaml."""


def _status_of(exc: BaseException) -> int | None:
    for attr in ("status_code", "http_status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def message_of(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    if details and isinstance(details, str):
        return details
    message = getattr(exc, "message", None)
    if message and isinstance(message, str):
        return message
    return str(exc) or type(exc).__name__


# keystoneauth appends these to its messages; the reason already says as much.
_NOISE = re.compile(r"\s*\((HTTP \d+|Request-ID: [^)]*)\)")
def map_error(cloud: str, operation: str, exc: BaseException,
              timeout: float | None = None) -> DriverError:
    """The one translation of openstacksdk / keystoneauth / requests failures (``timeout``:
    the request limit in force, named when a request ran out of it)."""
    from keystoneauth1 import exceptions as ks
    from openstack import exceptions as sdk
    from requests import exceptions as rq

    status = _status_of(exc)
    message = message_of(exc)
    quota = "quota" in message.lower() or "overlimit" in message.lower()
    if isinstance(exc, (ks.ConnectTimeout, ks.RequestTimeout, sdk.ResourceTimeout,
                        rq.Timeout, TimeoutError)) and status in (None, 408):
        reason = TIMEOUT
        if not isinstance(exc, sdk.ResourceTimeout):  # a wait for a status says its own
            message = timeout_detail(message, timeout, "openstack")
    elif isinstance(exc, ks.SSLError):
        reason, message = UNREACHABLE, f"TLS verification failed: {message}"
    elif isinstance(exc, (ks.ConnectionError, rq.ConnectionError, ConnectionError)):
        reason, message = UNREACHABLE, unreachable_detail(message)
    elif status == 401 or isinstance(exc, (PasswordNeeded, ks.Unauthorized,
                                           ks.MissingAuthPlugin, ks.MissingRequiredOptions,
                                           ks.AuthorizationFailure)):
        reason = UNAUTHORIZED
    elif status == 413 or (quota and status is not None and 400 <= status < 500):
        reason = QUOTA
    elif status == 403:
        reason = FORBIDDEN
    elif status == 404:
        reason = NOT_FOUND
    elif status == 409 or (status == 400 and _IN_USE.search(message)):
        # Nova answers 400 for a fixed IP already in use; it is a conflict all the same.
        reason = CONFLICT
    elif status == 400:
        reason = INVALID
    elif status is not None and status >= 500:
        reason = SERVER
    else:
        reason = FAILED
        if not isinstance(exc, (sdk.SDKException, ks.ClientException)):
            message = f"{type(exc).__name__}: {message}"
    detail = " ".join(_NOISE.sub("", message).split())
    if status is not None and not detail.startswith(("HTTP", str(status))):
        detail = f"HTTP {status}: {detail}"
    # As every driver says it (support.error_detail): a password the cloud echoes in a field
    # or a URL is masked by place, never searched for (that would reveal it).
    detail = error_detail(detail)
    if isinstance(exc, PasswordNeeded):
        return CredentialsNeeded(cloud, operation, reason, detail)
    return DriverError(cloud, operation, reason, detail)


def with_note(err: DriverError, note: str | None) -> DriverError:
    if not note:
        return err
    detail = f"{err.detail}; {note}" if err.detail else note
    return DriverError(err.cloud, err.operation, err.reason, detail)
