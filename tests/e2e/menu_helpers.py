"""Helpers for the menu's end-to-end tests: run ``python -m minicloud`` as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.reference import REFERENCE_TREE as _TREE

REPO = Path(__file__).resolve().parents[2]

REFERENCE_TREE = _TREE

EMPTY_TREE = "Nothing to show yet: add a cloud in Cloud management.\n"
# The same, as the topology command says it.
EMPTY_TOPOLOGY = "Nothing to show yet: add a cloud with 'minicloud clouds add NAME --type TYPE'.\n"

MAIN_MENU = """
[ MiniCloud ]
[1] : Cloud deployment topology
[2] : Cloud management
[3] : Router management
[4] : Network management
[5] : Instance management
[6] : Reset to startup
[7] : Destroy all data
[8] : Exit (keep data)
Make a choice : [1] """


@dataclass
class Result:
    code: int
    out: str
    err: str


def minicloud_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MINICLOUD_", "OS_"))}
    env.update(MINICLOUD_HOME=str(home), HOME=str(home),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                        os.environ.get("PYTHONPATH")])))
    return env


class Runner:
    """Runs ``python -m minicloud ARGS`` in one temporary home, with ``stdin`` fed in."""

    def __init__(self, home: Path):
        self.home = home

    def __call__(self, *args: str, stdin: str | bytes = b"", timeout: float = 60) -> Result:
        data = stdin.encode() if isinstance(stdin, str) else stdin
        proc = subprocess.run([sys.executable, "-m", "minicloud", *args], input=data,
                              capture_output=True, cwd=self.home, env=minicloud_env(self.home),
                              timeout=timeout)
        out = proc.stdout.decode("utf-8", "replace")
        err = proc.stderr.decode("utf-8", "replace")
        assert "Traceback" not in out and "Traceback" not in err, out + err
        return Result(proc.returncode, out, err)

    def topology(self) -> str:
        result = self("topology")
        assert result.code == 0, result.err
        return result.out



def with_demo(run: Runner) -> Runner:
    """Build the demo deployment in ``run``'s home."""
    result = run("--demo", "topology")
    assert result.code == 0, result.err
    assert result.out == REFERENCE_TREE
    return run
