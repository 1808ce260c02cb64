"""``python -m tests.slow_listing SECONDS ARGS...``: MiniCloud (``python -m minicloud ARGS``)
whose Stub listings take ``SECONDS`` longer, after the cloud was read: the race tests widen,
so, the moment between a sync's listing and its write, where another process's write settles
(fault injection is the tests' business: the product reads no such setting)."""

from __future__ import annotations

import sys
import time
from typing import Any


def main(argv: list[str]) -> int:
    from minicloud.cli.main import main as minicloud
    from minicloud.drivers.stub.driver import StubDriver

    seconds, args = float(argv[0]), argv[1:]
    listing = StubDriver.snapshot

    def slow(self: StubDriver) -> Any:
        found = listing(self)
        time.sleep(seconds)
        return found

    StubDriver.snapshot = slow  # type: ignore[method-assign]
    return minicloud(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
