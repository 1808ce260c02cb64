"""A clouds.yaml entry without a password: the menu asks once (no echo, never shown); a
one-shot command exits 2 and says to set OS_PASSWORD."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-7f3c-unique"
CLOUDS_YAML = """\
clouds:
  nopw:
    auth:
      auth_url: http://127.0.0.1:9/v3
      username: demo
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
"""


def run(tmp_path: Path, args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    (tmp_path / "clouds.yaml").write_text(CLOUDS_YAML)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "MINICLOUD_"))}
    env.update(OS_CLIENT_CONFIG_FILE=str(tmp_path / "clouds.yaml"), HOME=str(tmp_path),
               MINICLOUD_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "minicloud", *args], input=stdin, env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_command_without_password_exits_2_saying_so(tmp_path: Path) -> None:
    done = run(tmp_path, ["clouds", "add", "os1", "--type", "openstack", "--os-cloud", "nopw"])
    assert done.returncode == 2
    assert "password is needed" in done.stderr and "OS_PASSWORD" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert run(tmp_path, ["clouds", "list", "--json"]).stdout.strip() == "[]"  # nothing added


def test_menu_asks_for_the_password_once_and_never_shows_it(tmp_path: Path) -> None:
    # Cloud management > Add a cloud > name, type openstack, no location, the clouds.yaml entry;
    # the entry has no password: asked; the (unreachable) cloud then fails in one line.
    script = f"2\n3\nos1\nopenstack\n\n1\n{PASSWORD}\n13\n8\n"
    done = run(tmp_path, [], script)
    assert done.returncode == 0
    assert "Password for cloud os1 (kept for this session only) : " in done.stdout
    assert "Error: cloud os1: log in unreachable" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    for path in (tmp_path / "home").rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
