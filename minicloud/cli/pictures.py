"""``topology --format/--output``: which format to produce, and writing it to a file.

The renderers are pure (:mod:`minicloud.render.topology`, ``topology_dot``, ``topology_mermaid``,
:mod:`minicloud.render.views`); the file and the ``dot`` program are this module's, the CLI's I/O.
An ``--output`` file's extension names its format: ``.svg`` and ``.png`` are drawn from the
DOT text by Graphviz's ``dot``; ``.dot``/``.gv``, ``.mmd``/``.mermaid``, ``.json`` and
``.txt`` get the text the command would print.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from ..model.errors import ValidationError
from .present import Result

if TYPE_CHECKING:
    pass

# Drawn by ``dot -T<format>`` from the DOT text.
DRAWN = {".svg": "svg", ".png": "png"}
WRITTEN = {".txt": "text", ".json": "json", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid",
           ".mermaid": "mermaid"}
MISSING_DOT = "the 'dot' program is not installed (apt-get install graphviz)"
DOT_TIMEOUT = 300  # seconds; a deployment of thousands of objects takes a few



def chosen_format(given: str | None, as_json: bool, output: str | None) -> str:
    """The format to produce from ``--format``, ``--json`` and ``--output`` (argparse has
    already refused ``--format`` with ``--json``); a file's extension must agree with
    ``--format``, else ValidationError (bad usage)."""
    given = "json" if as_json else given
    if output is None:
        return given or "text"
    suffix = Path(output).suffix.lower()
    wanted = "dot" if suffix in DRAWN else WRITTEN.get(suffix)
    if wanted is None:
        known = ", ".join([*DRAWN, *WRITTEN])
        raise ValidationError(f"cannot write {output}: unknown extension "
                              f"{suffix or '(none)'}; use one of {known}")
    if given is not None and given != wanted:
        raise ValidationError(f"--format {given} does not fit {output} "
                              f"({suffix} files are {'drawn from ' if suffix in DRAWN else ''}"
                              f"{wanted})")
    return wanted


def save(path: str, text: str) -> Result:
    """Write ``text`` (rendered for ``path``'s extension) to ``path``, or what ``dot`` draws
    from it; the file appears whole or not at all.  Failures are the Result's errors."""
    target = Path(path)
    kind = DRAWN.get(target.suffix.lower())
    content = text.encode("utf-8")
    if kind is not None:
        drawn = _draw(kind, content)
        if isinstance(drawn, str):
            return Result(errors=[f"cannot draw {path}: {drawn}"])
        content = drawn
    return write_whole(path, content)


def write_whole(path: str, content: bytes) -> Result:
    """Write ``content`` to ``path``: the file appears whole or not at all."""
    target = Path(path)
    # A short name of its own beside the target: never longer than the target's (a name at
    # the file system's limit must still be written), never another writer's.
    partial = target.with_name(f".mc-{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        partial.write_bytes(content)
        os.replace(partial, target)
    except OSError as err:
        return Result(errors=[f"cannot write {path}: {err.strerror or err}"])
    finally:
        partial.unlink(missing_ok=True)
    return Result()


def _draw(kind: str, dot_text: bytes) -> bytes | str:
    """What ``dot -T<kind>`` draws from ``dot_text``, or why it could not."""
    import shutil
    import subprocess

    program = shutil.which("dot")
    if program is None:
        return MISSING_DOT
    try:
        done = subprocess.run([program, f"-T{kind}"], input=dot_text, capture_output=True,
                              timeout=DOT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return f"dot took more than {DOT_TIMEOUT} s"
    except OSError as err:  # found but cannot be run
        return f"dot cannot be run ({err.strerror or err})"
    if done.returncode != 0 or not done.stdout:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        return f"dot failed ({said[0] if said else f'exit code {done.returncode}'})"
    return done.stdout
