"""``python -m tests.node_kill WHEN N -- ARGS [+ ARGS...]``: MiniCloud (``python -m minicloud
ARGS``, then each further command after a ``+``, in one process) on a Galera test cluster whose
node is SIGKILLed at the N-th write commit of the process (MiniCloud's own: a transaction
that ``Store.retrying`` runs with ``write``, as the unit of work's are; not the simulated
Stub cloud's, whose state is that cloud's business): just ``before`` its COMMIT is sent
(the client loses the answer: the outcome is unknown to it) or just ``after`` it returned.
The node killed is the one that commit's connection is on (the proxy's choice, or the node in
use of several URLs), through ``scripts/galera-test-cluster.sh kill`` (``MINICLOUD_GALERA_DIR``
from the environment; the cluster's ports from that folder).  It says ``node_kill: killed node K at
commit N`` on stderr, or, when the process made fewer write commits, ``node_kill: C write
commits`` (N = 0 only counts).  The exit code is the last command's, or the first that failed.

Fault injection is the tests' business (as tests/slow_listing.py): the product has a method
of its own for the commit (``Store._commit``) and nothing more.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "galera-test-cluster.sh"


def node_of(conn: Any) -> int:
    """Which node (1 to 3) a connection is on: its port, from the cluster's base port."""
    import sqlalchemy as sa

    port = int(conn.execute(sa.text("SELECT @@port")).scalar())
    return port - base_port()


def base_port() -> int:
    """The cluster's base port, as its ``start`` recorded it in its folder."""
    recorded = Path(os.environ["MINICLOUD_GALERA_DIR"]) / "base-port"
    return int(recorded.read_text().strip()) if recorded.exists() else 4400


def kill(node: int) -> None:
    done = subprocess.run(["bash", str(SCRIPT), "kill", os.environ["MINICLOUD_GALERA_DIR"],
                           str(node)], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise SystemExit(f"node_kill: could not kill node {node}: {done.stderr.strip()}")


def main(argv: list[str]) -> int:
    when, nth = argv[0], int(argv[1])
    if when not in ("before", "after") or argv[2] != "--":
        print("usage: python -m tests.node_kill before|after N -- ARGS [+ ARGS...]",
              file=sys.stderr)
        return 2
    commands: list[list[str]] = [[]]
    for arg in argv[3:]:
        if arg == "+":
            commands.append([])
        else:
            commands[-1].append(arg)

    from minicloud.cli.main import main as minicloud
    from minicloud.state.store import Store

    commit, retrying = Store._commit, Store.retrying
    seen = [0]
    writing = [0]
    killed: list[int] = []

    def counted(store: Store, body: Any, **kwargs: Any) -> Any:
        outer = store._conn is None and bool(kwargs.get("write")) and not any(
            lock.startswith("stub/") for lock in kwargs.get("locks", ()))  # the Stub's own
        writing[0] += outer
        try:
            return retrying(store, body, **kwargs)
        finally:
            writing[0] -= outer

    def hooked(store: Store, tx: Any) -> None:
        write = writing[0] > 0
        seen[0] += write
        hit = write and seen[0] == nth
        node = node_of(tx.connection) if hit else 0
        if hit and when == "before":
            kill(node)
            killed.append(node)
        commit(store, tx)
        if hit and when == "after":
            kill(node)
            killed.append(node)

    Store._commit = hooked  # type: ignore[method-assign]
    Store.retrying = counted  # type: ignore[method-assign]
    code = 0
    for args in commands:
        code = minicloud(args)
        if code != 0:
            break
    if killed:
        print(f"node_kill: killed node {killed[0]} at commit {nth}", file=sys.stderr)
    else:
        print(f"node_kill: {seen[0]} write commits", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
