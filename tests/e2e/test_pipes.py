"""Output into a pipe whose reader goes away (``| head -1``): the command or the menu leaves
quietly, with no traceback on stderr nor in the log file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_commands import REPO, SCRUBBED


def _head_1(home: Path, args: list[str], stdin: str) -> tuple[int, str, str]:
    """Run minicloud, read its first line, close the pipe; its exit code, stderr and log."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(MINICLOUD_HOME=str(home), HOME=str(home), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "minicloud", *args], cwd=home, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(stdin.encode())
    proc.stdin.close()
    assert proc.stdout.readline()  # the first line, as head -1 reads it
    proc.stdout.close()
    code = proc.wait(timeout=120)
    err = proc.stderr.read().decode()
    log = home / "minicloud.log"
    return code, err, log.read_text() if log.exists() else ""


def test_a_menu_whose_pipe_closes_ends_quietly(tmp_path: Path) -> None:
    # The tree drawn 400 times: more than a pipe holds, so the writes meet the closed pipe.
    code, err, log = _head_1(tmp_path, ["--demo"], "1\n" * 400 + "8\n")
    assert "Traceback" not in err and "Traceback" not in log, (err, log)
    assert "Broken pipe" not in err and "BrokenPipe" not in log, (err, log)
    assert code in (0, 1, 141), code
