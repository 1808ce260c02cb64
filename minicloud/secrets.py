"""Keeping secrets out of logs and messages."""

from __future__ import annotations

import logging
import re

# user:password@ in URLs; password/token fields in JSON or key=value text; auth tokens.
_PATTERNS = (
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1***@"),
    (re.compile(r'("?(?:password|passwd|secret|token|X-Auth-Token|X-Subject-Token)"?\s*[:=]\s*)'
                r'("[^"]*"|\'[^\']*\'|[^\s,}]+)', re.IGNORECASE), r"\1***"),
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


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
