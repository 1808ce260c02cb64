"""The one translation of ``cs`` / requests failures into :class:`DriverError`, in MiniCloud's
words: one line, the server named by its scheme, host and port (never a request's query, where
a signed request carries its API key and signature), secrets masked (drivers.base
support.error_detail).

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
from ..support import error_detail, server_of, unreachable_detail

# CloudStack's ApiErrorCode -> MiniCloud's reason (org.apache.cloudstack.api.ApiErrorCode).
REASONS = {
    401: UNAUTHORIZED,  # UNAUTHORIZED: bad key or signature
    405: INVALID,  # METHOD_NOT_ALLOWED
    429: QUOTA,  # API_LIMIT_EXCEED
    430: INVALID,  # MALFORMED_PARAMETER_ERROR
    431: INVALID,  # PARAM_ERROR (also "entity does not exist", see below)
    432: FORBIDDEN,  # UNSUPPORTED_ACTION_ERROR: also a command the role may not run
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
# BaseCmd.USER_ERROR_MESSAGE: what a caller who is not a root admin reads instead of the
# cause of an unexpected failure.
HIDDEN = "internal error executing command, please contact your system administrator"


class SecretNeeded(Exception):
    """No secret key given, in CLOUDSTACK_SECRET or in the cloudstack.ini section."""


class ConfigMissing(Exception):
    """The cloudstack.ini section named for the cloud is not there (or not readable)."""


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
    if isinstance(exc, (rq.MissingSchema, rq.InvalidSchema, rq.InvalidURL)):
        return INVALID
    if code == 431 and any(words in text.lower() for words in MISSING):
        return NOT_FOUND
    if code is not None and code >= 500 and IN_USE.search(text):
        return CONFLICT
    if code is not None and code in REASONS:
        return REASONS[code]
    if code is not None and code >= 500:
        return SERVER
    return FAILED


def _words(exc: BaseException, code: int | None, text: str, reason: str, endpoint: str,
           timeout_note: str | None, hidden: bool) -> str:
    """What the error says, in MiniCloud's words."""
    server = server_of(endpoint) if endpoint else None
    if reason == UNREACHABLE:
        return unreachable_detail(text, server)
    if reason == TIMEOUT:
        return f"no answer from {server or server_of(text)} {timeout_note or ''}".strip()
    if isinstance(exc, (rq.MissingSchema, rq.InvalidSchema, rq.InvalidURL)):
        return f"the endpoint {endpoint!r} is no http(s) URL"
    if isinstance(exc, (SecretNeeded, ConfigMissing)):
        return text
    if isinstance(exc, CloudStackApiException):
        words = f"error {code}: {text}" if code is not None else text
        if hidden and HIDDEN in text.lower():
            # The server keeps the cause from an account that is not a root admin.
            words += " (the server tells the cause only to a root admin; its log has it)"
        return words
    if isinstance(exc, CloudStackException):
        # No CloudStack answer: an HTTP error page, or something that is not JSON.
        status = f"HTTP {code}" if code is not None else "an answer that is no API answer"
        return f"{status} from {server or 'the server'}: is the endpoint the API's URL " \
               "(https://HOST/client/api)?"
    return f"{type(exc).__name__}: {text}"


def map_error(cloud: str, operation: str, exc: BaseException,
              timeout_note: str | None = None, endpoint: str = "",
              hidden: bool = False) -> DriverError:
    """One DriverError, in one line, naming the server but never a request's query, with
    secrets masked (``timeout_note``: the limit a timed-out request ran out of and where it
    is set; ``hidden``: the account is no root admin, so the server hides failures' causes)."""
    code, text = _error_of(exc)
    reason = _reason(exc, code, text)
    detail = error_detail(_words(exc, code, text, reason, endpoint, timeout_note, hidden))
    if isinstance(exc, SecretNeeded):
        return CredentialsNeeded(cloud, operation, reason, detail)
    return DriverError(cloud, operation, reason, detail)
