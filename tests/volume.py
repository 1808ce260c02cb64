"""How much of the heavy tests to run: one variable, ``MINICLOUD_TEST_VOLUME``.

- unset, empty or ``small``: the quick default (``python -m pytest`` on a laptop);
- ``full``: CI volume (``.ci/run`` sets it): today's full walks and example counts.

Heavy tests are marked ``heavy`` and take their sizes from here, never from the variable
directly::

    from tests.volume import scaled, sample, shared

    STREAMS = scaled(10, 50)                    # 10 by default, 50 in CI
    for point in sample(plan, every=4, offset=1):   # a quarter of the plan, all of it in CI
        ...
    for n in shared(points, SIGNALS, signal):   # KILL the odd points, INT the even ones
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

ENV = "MINICLOUD_TEST_VOLUME"
VOLUMES = ("small", "full")

VOLUME = os.environ.get(ENV, "").strip().lower() or "small"
if VOLUME not in VOLUMES:
    raise RuntimeError(f"{ENV}={os.environ[ENV]!r}: use one of {', '.join(VOLUMES)}")

FULL = VOLUME == "full"

T = TypeVar("T")
S = TypeVar("S")


def scaled(small: int, full: int) -> int:
    """``small`` by default, ``full`` when ``MINICLOUD_TEST_VOLUME=full``."""
    return full if FULL else small


def sample(points: Sequence[T], every: int, offset: int = 0) -> list[T]:
    """All ``points`` at full volume; by default every ``every``-th one, deterministically.

    The walk starts at ``offset`` (taken modulo ``every``), so cases that pass different
    offsets sample different points and together cover more of the walk.  A non-empty walk
    always keeps at least one point (the one at ``offset`` modulo its length), so every case
    still runs.  The order of ``points`` is kept.
    """
    points = list(points)
    if FULL or every <= 1 or not points:
        return points
    start = offset % every
    if start >= len(points):
        start = offset % len(points)
    return points[start::every]


def shared(points: Sequence[T], among: Sequence[S], one: S) -> list[T]:
    """``one``'s turn of a walk that several cases share: each point once, by each in turn
    (two signals: the first takes points 1, 3, 5..., the second 2, 4, 6...).  Together they
    interrupt every point; alone (a single case, as by default) it takes them all."""
    points = list(points)
    return points[among.index(one)::len(among)]
