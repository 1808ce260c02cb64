"""Keeping secrets out of logs and messages.

Masking is structural: a value is hidden where its place says it is a secret (the password of a
URL's ``user:PASS@``, an auth header, a known field such as ``password=`` or ``"secret_key":``),
never by searching the text for the secret itself.  Replacing every occurrence of a password
would reveal it (password ``e``: ``Unabl*** to ***stablish ...``) and garble the message.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# scheme://user:PASS@host -> scheme://user:***@host (the user and host stay: they say where).
_URL_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@")

# Known secret fields and auth headers, as JSON, Python reprs, key=value or "Header: value".
_KEYS = (r"password|passwd|secret|secret_?key|api_?secret|token|auth_?token|access_?token|"
         r"refresh_?token|x-auth-token|x-subject-token|authorization|proxy-authorization")
_FIELD = re.compile(
    # Not part of a longer word or of a path ("/srv/token:1/minicloud.db" names a file).
    # A prefix joined by '_' or '-' is the same field: os_password, db-password.
    r"""(?<![\w./-])(?P<key>["']?(?:[A-Za-z0-9]+[_-])*(?:""" + _KEYS + r""")["']?\s*[:=]\s*)"""
    r"""(?P<value>"[^"]*"|'[^']*'|(?:Bearer|Basic|Token)\s+[^\s,;'"{}\[\]]+|"""
    r"""[^\s,;&'"{}\[\]]+)""",
    re.IGNORECASE)


def _mask_value(match: re.Match[str]) -> str:
    value = match["value"]
    if value[:1] in "\"'":
        return f"{match['key']}{value[0]}{MASK}{value[0]}"
    scheme = value.split(None, 1)
    if len(scheme) == 2:  # "Bearer xyz": the scheme is not the secret
        return f"{match['key']}{scheme[0]} {MASK}"
    return f"{match['key']}{MASK}"


def redact(text: str) -> str:
    """``text`` with the values in secret places masked; everything else as it was."""
    text = _URL_USERINFO.sub(rf"\1{MASK}@", text)
    return _FIELD.sub(_mask_value, text)


class RedactingFilter(logging.Filter):
    """Rewrites every record's message so that no password or token reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not hide the record
            message = str(record.msg)
        if record.exc_info:
            # Tracebacks are text too: redact them and keep only the redacted copy.
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg = redact(message)
        record.args = ()
        return True
