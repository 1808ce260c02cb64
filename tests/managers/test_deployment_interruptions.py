"""An apply of a deployment file killed after each of its commits, then applied again, ends in
the file's state with nothing duplicated; two applies of one file at once: one makes the
changes, the other waits for it and then finds nothing to do (issue 28).

Heavy: by default a sample of the kill points; ``MINICLOUD_TEST_VOLUME=full`` walks every one,
the backends and the signals taking turns along it (each point interrupted once: tests/
backends.py ``turn_of``), and races more rounds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.backends import StartingPoint, backend_url, turn_of
from tests.consistency import minicloud, open_app, start
from tests.reference import REFERENCE_TREE
from tests.volume import FULL, sample, scaled

pytestmark = pytest.mark.heavy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trystack.yaml"
SIGNALS = ["KILL", "INT"] if FULL else ["KILL"]
MAX_POINTS = 200


def _as_the_file_says(home: Path, url: str, what: str) -> None:
    """The demo's state, whole and once: the tree, an empty plan, no write pending, and the
    cloud itself holding each object once."""
    app = open_app(home, url)
    try:
        assert "\n".join(app.topology.tree()) + "\n" == REFERENCE_TREE, what
        assert app.deployments.plan(app.deployments.read(str(EXAMPLE))).plan.empty, what
        assert app.inventory.cache.all("intent") == [], what
        driver = app.make_driver_for(app.clouds.get("TryStack"))
        try:
            snap = driver.snapshot()
        finally:
            driver.close()
        assert sorted(s.name for s in snap.instances) == ["Ben", "Bourla", "Tower"], what
        assert sorted(n.name for n in snap.networks) == ["AntwerpNet", "LondonNet",
                                                         "external"], what
        assert [r.name for r in snap.routers] == ["LondonGateway"], what
        assert [f.name for f in snap.public_ips] == ["8.21.28.30"], what
        assert sorted(g.name for g in snap.security_groups) == ["default", "public_ssh"], what
    finally:
        app.close()


@pytest.mark.parametrize("signal", SIGNALS)
def test_apply_killed_at_every_commit_then_applied_again(signal: str, db_url: str,
                                                         tmp_path: Path) -> None:
    point = StartingPoint(db_url, tmp_path)
    point.build(lambda home, url: None)  # an empty store of the current schema
    points, finished = 0, False
    for n in sample(turn_of(range(1, MAX_POINTS + 1), db_url, signal, SIGNALS), every=25,
                    offset=5):
        home, url = point.copy(f"p{n}")
        done = minicloud(home, url, "apply", str(EXAMPLE), "--yes",
                         kill_after=f"{n}:{signal}")
        assert "Traceback" not in done.stderr, (n, done.stderr)
        again = minicloud(home, url, "apply", str(EXAMPLE), "--yes")
        assert again.returncode == 0, (n, again.stdout, again.stderr)
        assert "Traceback" not in again.stderr, (n, again.stderr)
        _as_the_file_says(home, url, f"killed after commit {n}")
        if done.returncode in (0, 1, 2):
            finished = True  # it ended before its N-th commit: every point was walked
            break
        points += 1
        shutil.rmtree(home.parent, ignore_errors=True)
    assert finished, f"apply still running after {MAX_POINTS} commits; walk further"
    assert points >= 2, "too few commits interrupted"


@pytest.mark.parametrize("round_", range(scaled(1, 3)))
def test_two_applies_of_one_file_at_once(round_: int, tmp_path: Path) -> None:
    url = backend_url("sqlite", tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    # The cloud exists: both take its apply lock; one applies, the other waits (or, when the
    # first was quicker, comes after it), then plans again and finds nothing left to do.
    added = minicloud(home, url, "clouds", "add", "TryStack", "--type", "stub", "--location",
                      "trystack.org", "--external-network", "external", "--external-cidr",
                      "8.21.28.0/24", "--external-subnet", "trystack")
    assert added.returncode == 0, added.stderr
    procs = [start(home, url, "apply", str(EXAMPLE), "--yes") for _ in range(2)]
    results = [p.communicate(timeout=180) + (p.returncode,) for p in procs]
    assert [code for _, _, code in results] == [0, 0], results
    outputs = sorted(out for out, _, _ in results)
    # It waited for the first (and says another session made them), or came after it.
    assert outputs[0] in ("No changes: the clouds are as the file says (another session made "
                          "them meanwhile).\n",
                          "No changes: the clouds are as the file says.\n"), results
    assert outputs[1].endswith("Apply complete: 8 changes made.\n"), results
    _as_the_file_says(home, url, f"race {round_}")
    listed = json.loads(minicloud(home, url, "instances", "list", "--json").stdout)
    assert sorted(i["name"] for i in listed) == ["Ben", "Bourla", "Tower"]
