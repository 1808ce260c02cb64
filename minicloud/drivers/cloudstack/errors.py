"""The one translation of ``cs`` / requests failures into :class:`DriverError`.

CloudStack answers an error with an HTTP status equal to its ApiErrorCode and a body
``{"<command>response": {"errorcode": N, "cserrorcode": M, "errortext": "..."}}``; a failed
async job carries the same pair in its ``jobresult``.
"""

from __future__ import annotations

import re
from typing import Any

from cs import CloudStackApiException, CloudStackException
from requests import exceptions as rq

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
from ...secrets import redact

MAX_DETAIL = 300

# CloudStack's ApiErrorCode -> MiniCloud's reason (org.apache.cloudstack.api.ApiErrorCode).
REASONS = {
    401: UNAUTHORIZED,  # UNAUTHORIZED: bad key or signature
    405: INVALID,  # METHOD_NOT_ALLOWED
    429: QUOTA,  # API_LIMIT_EXCEED
    430: INVALID,  # MALFORMED_PARAMETER_ERROR
    431: INVALID,  # PARAM_ERROR (also "entity does not exist", see below)
    432: FAILED,  # UNSUPPORTED_ACTION_ERROR
    530: SERVER,  # INTERNAL_ERROR
    531: FORBIDDEN,  # ACCOUNT_ERROR: not allowed to this account
    532: QUOTA,  # ACCOUNT_RESOURCE_LIMIT_ERROR
    533: SERVER,  # INSUFFICIENT_CAPACITY_ERROR
    534: SERVER,  # RESOURCE_UNAVAILABLE_ERROR
    535: SERVER,  # RESOURCE_ALLOCATION_ERROR
    536: CONFLICT,  # RESOURCE_IN_USE_ERROR
    537: CONFLICT,  # NETWORK_RULE_CONFLICT_ERROR
}
# What CloudStack says when an id names nothing (a 431 with these words).
MISSING = ("entity does not exist", "unable to find", "does not exist", "not found")
IN_USE = re.compile(r"already (in use|allocated)", re.IGNORECASE)


class SecretNeeded(Exception):
    """No secret key given, in CLOUDSTACK_SECRET or in the cloudstack.ini section."""


def _error_of(exc: BaseException) -> tuple[int | None, str]:
    """(errorcode, errortext) of a CloudStack answer, else the HTTP status and the text."""
    error: Any = getattr(exc, "error", None)
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(error, dict):
        code = error.get("errorcode")
        text = str(error.get("errortext") or "")
        return (code if isinstance(code, int) else status), text
    args = [str(a) for a in getattr(exc, "args", ()) if a]
    return (status if isinstance(status, int) else None), " ".join(args) or type(exc).__name__


def _reason(exc: BaseException, code: int | None, text: str) -> str:
    if isinstance(exc, (rq.Timeout, TimeoutError)) or code == 408:
        return TIMEOUT
    if isinstance(exc, (rq.ConnectionError, ConnectionError)):
        return UNREACHABLE
    if isinstance(exc, SecretNeeded):
        return UNAUTHORIZED
    if code == 431 and any(words in text.lower() for words in MISSING):
        return NOT_FOUND
    if code is not None and code >= 500 and IN_USE.search(text):
        # deployVirtualMachine answers a taken ipaddress with INTERNAL_ERROR (530): it is a
        # conflict all the same, and the user can act on it.
        return CONFLICT
    if code is not None and code in REASONS:
        return REASONS[code]
    if code is not None and code >= 500:
        return SERVER
    return FAILED


def map_error(cloud: str, operation: str, exc: BaseException,
              timeout_note: str | None = None) -> DriverError:
    """One DriverError, in one line, with the secret key masked out (``timeout_note``: what
    a timed-out request says first, its limit and where it is set)."""
    code, text = _error_of(exc)
    reason = _reason(exc, code, text)
    if not isinstance(exc, (CloudStackException, SecretNeeded)) and \
            reason in (FAILED, UNREACHABLE, TIMEOUT):
        text = f"{type(exc).__name__}: {text}"
    if reason == TIMEOUT and timeout_note:
        text = f"{timeout_note}; {text}"
    detail = " ".join(text.split())
    if code is not None and isinstance(exc, CloudStackApiException):
        detail = f"error {code}: {detail}"
    # Structural masking (secrets.redact): a password the cloud echoes in a field or a URL
    # is hidden; the text is never searched for the password itself (that would reveal it).
    detail = redact(detail)
    if len(detail) > MAX_DETAIL:
        detail = detail[:MAX_DETAIL - 3] + "..."
    if isinstance(exc, SecretNeeded):
        return CredentialsNeeded(cloud, operation, reason, detail)
    return DriverError(cloud, operation, reason, detail)
