"""One-shot commands over the same managers as the menu."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..app import MiniCloud
from ..topology import render_text


def run_command(app: MiniCloud, argv: Sequence[str]) -> int:
    if list(argv) == ["topology"]:
        sys.stdout.write(render_text(app.inventory.cache.deployment()))
        return 0
    print(f"minicloud: unknown command: {' '.join(argv)}", file=sys.stderr)
    return 2
