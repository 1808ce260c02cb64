"""MiniCloud with a fault, for the tests that run it as a process of its own.

    python -m tests.launch [--fail CALL[:N][,CALL[:N]...]] [--kill-after N[:SIGNAL]] -- ARGS

runs minicloud's real ``main(ARGS)`` after installing what the test asks for:

- ``--fail``: every driver the process builds is wrapped (tests/faults.py): the named calls
  fail, every time or the N-th;
- ``--kill-after N[:SIGNAL]``: after the N-th point where something is committed (a commit or
  a schema step of MiniCloud's store, a commit or schema step of a Stub location), the process
  sends itself SIGNAL (default KILL), so that a walk over N interrupts a command at every such
  point.  The product only calls its (empty) lists of observers there.

A malformed option is one line on stderr and exit 2, so that a typo never tests nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence

from minicloud.drivers.stub import location
from minicloud.state import signals
from tests.faults import Faults


def kill_after(spec: str) -> None:
    count, _, name = spec.partition(":")
    if not (count.isdigit() and int(count) > 0):
        raise ValueError(f"--kill-after {spec!r}: N must be a whole number from 1")
    sig = getattr(signal, f"SIG{name.upper()}", None) if name else signal.SIGKILL
    if not isinstance(sig, signal.Signals):
        raise ValueError(f"--kill-after {spec!r}: no signal is named {name!r}")
    after, seen = int(count), [0]

    def step() -> None:
        seen[0] += 1
        if seen[0] == after:
            if sig == signal.SIGINT:
                # A process started in the background ignores SIGINT; a Ctrl-C is meant.
                signal.signal(signal.SIGINT, signal.default_int_handler)
            os.kill(os.getpid(), sig)

    signals.after_step.append(step)
    location.after_step.append(step)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.launch")
    parser.add_argument("--fail", default="")
    parser.add_argument("--kill-after", default="")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    args = options.args[1:] if options.args[:1] == ["--"] else options.args
    try:
        faults = Faults.parse(options.fail)
        if options.kill_after:
            kill_after(options.kill_after)
    except ValueError as err:
        print(f"launch: {err}", file=sys.stderr)
        return 2
    from minicloud.cli.main import main as minicloud

    with faults.everywhere() if options.fail else contextlib.nullcontext():
        return minicloud(list(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
