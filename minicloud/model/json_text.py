"""JSON text in and out where its volume matters: the saved views and ``--json``.

orjson parses and writes several times faster than the standard module (``topology --json`` of
30,000 instances is written 40 ms sooner).  It is stricter, so whatever it refuses (NaN, lone
surrogates, integers beyond 64 bits when writing) goes to the standard module, which gives the
answer MiniCloud always gave; written, a float with an exponent may be spelt ``1e16`` instead
of ``1e+16`` (read back the same).  It reads an integer beyond 64 bits as a float, so it reads
only what MiniCloud wrote itself (the saved views); the store's rows, which hold what clouds
said, are read by the standard module (table.decode).
"""

from __future__ import annotations

import json
from typing import Any

# orjson is imported by the calls that use it: help and usage errors never need it.


def loads(text: str | bytes) -> Any:
    """Text MiniCloud wrote (see above)."""
    import orjson

    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)  # the standard answer, or its ValueError


def dumps(data: Any) -> str:
    """Compact (no spaces), keys in their order, non-ASCII characters as they are."""
    import orjson

    try:
        return orjson.dumps(data).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def dumps_bytes(data: Any) -> bytes:
    """Compact UTF-8 for a file; what orjson refuses is written as ASCII escapes."""
    import orjson

    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        return json.dumps(data, separators=(",", ":")).encode("ascii")
