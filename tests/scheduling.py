"""How pytest-xdist hands the tests to its workers: one at a time as each worker frees up
(as ``--dist load``), except the tests that share one machine-wide service, which go to one
worker as one unit of work.

The Galera cluster and the local OpenStack serve one case at a time (each case holds a file
lock: ``Cluster.held``, the functional tests' ``_one_at_a_time``).  Spread over the workers,
such cases would wait for each other's lock, each wait a worker doing nothing (CI saw minutes of
it).  ``xdist_group`` with ``--dist loadgroup`` says the same, but pytest 9 no longer honours it
(pytest-dev/pytest-xdist#1386), so the groups are named here by the modules that hold them.
The locks stay: they are what keeps other ways of running the suite correct.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling

GALERA, OPENSTACK = "the Galera cluster", "the local OpenStack"
# Test module -> the service its cases share.
SHARED_SERVICES = {
    "tests/state/test_galera.py": GALERA,
    "tests/state/test_galera_walks.py": GALERA,
    "tests/functional/": OPENSTACK,
}
# A case elsewhere parametrized with this backend (tests/backends.py RACE_BACKENDS) holds the
# cluster too.
GALERA_BACKEND = "galera"


def service_of(nodeid: str) -> str | None:
    found = next((service for prefix, service in SHARED_SERVICES.items()
                  if nodeid.startswith(prefix)), None)
    params = nodeid.partition("[")[2].removesuffix("]").split("-")
    return found or (GALERA if GALERA_BACKEND in params else None)


class SharedServiceScheduling(LoadScopeScheduling):
    """Each test its own unit of work, but a service's tests one unit.  The largest units go
    first (xdist's ``--loadscope-reorder``), so a long serial group starts at once beside the
    rest rather than last."""

    def _split_scope(self, nodeid: str) -> str:
        return service_of(nodeid) or nodeid


def make_scheduler(config: Any, log: Any) -> SharedServiceScheduling | None:
    """The scheduler for ``--dist load`` (what ``-n`` alone means); None leaves another
    ``--dist`` the user asked for to xdist."""
    if config.getoption("dist") != "load":
        return None
    return SharedServiceScheduling(config, log)
