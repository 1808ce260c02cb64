"""Ctrl-C and Ctrl-D at every kind of nested prompt, at a real terminal (pexpect).

test_pty.py covers: Ctrl-C at a question with no default, at a submenu's menu, at the main
menu, at a confirmation of the main menu; Ctrl-D at a question with no default.  Here: Ctrl-C
and Ctrl-D at a question with a default, at a pick list, at a confirmation inside a submenu, at
the password prompt (no echo), and Ctrl-D at a submenu's menu.  Ctrl-C must cancel the
operation with nothing done and show the submenu again; Ctrl-D must exit 0 keeping the data.
"""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pexpect
import pytest
from menu_helpers import REFERENCE_TREE, Runner, minicloud_env

from minicloud.drivers import DRIVERS

# A wait only bounds a failure: a first import of openstacksdk with no bytecode cache, on a
# loaded 2-core CI machine, can take longer than half a minute.
SLOW_START = 180

PROMPT = "Make a choice : [1] "

# How to reach each kind of prompt from the Clouds submenu of the demo: (line to send, what to
# expect next) pairs; the last expectation is the prompt under test.
PATHS: dict[str, list[tuple[str | None, str]]] = {
    "question with a default": [
        ("4", "[ Cloud ]"), ("", "Location : [trystack.org] ")],
    "pick list": [
        ("3", "Cloud name : "), ("NewCloud", "[ Cloud type ]"),
        (None, f"Make a choice : [{sorted(DRIVERS).index('stub') + 1}] ")],  # the Stub
    "confirmation in a submenu": [
        ("5", "[ Cloud ]"), ("", "Remove cloud TryStack from MiniCloud? [y/N] ")],
    "password (no echo)": [
        ("3", "Cloud name : "), ("OS", "[ Cloud type ]"), ("openstack", "Location"),
        ("", "Auth URL (Keystone v3) : "), ("http://127.0.0.1:1/v3", "Project : "),
        ("proj", "User : "), ("user", "User domain : [Default] "),
        ("", "Project domain : [Default] "), ("", "Region"),
        ("", "Password : ")],
}


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo deployment, built once and copied for every test."""
    home = tmp_path_factory.mktemp("demo")
    Runner(home)("--demo", "topology")
    return home


@pytest.fixture
def home(demo_home: Path, tmp_path: Path) -> Path:
    shutil.copytree(demo_home, tmp_path, dirs_exist_ok=True)
    return tmp_path


def spawn(home: Path) -> pexpect.spawn:
    child = pexpect.spawn(sys.executable, ["-m", "minicloud"], cwd=str(home),
                          env=minicloud_env(home), encoding="utf-8", timeout=SLOW_START)
    child.expect_exact("[ MiniCloud ]")
    child.expect_exact(PROMPT)
    return child


def to_clouds(child: pexpect.spawn) -> None:
    child.sendline("2")
    child.expect_exact("[ Clouds ]")
    child.expect_exact(PROMPT)


def walk(child: pexpect.spawn, path: list[tuple[str | None, str]]) -> None:
    for line, expected in path:
        if line is not None:
            child.sendline(line)
        child.expect_exact(expected)
    if path[-1][1] == "Password : ":
        # Typed, never shown: the next expected text (Cancelled., or the end) must come with
        # no echo of it before (checked there, with no wait of its own).
        child.send(TYPED_SECRET)


TYPED_SECRET = "s3cr3t-typed"


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert "Traceback" not in (child.before or "")
    assert TYPED_SECRET not in (child.before or "")
    return child.exitstatus


def assert_unchanged(home: Path) -> None:
    assert Runner(home).topology() == REFERENCE_TREE


@pytest.mark.parametrize("kind", list(PATHS))
def test_ctrl_c_cancels_and_shows_the_submenu(home: Path, kind: str) -> None:
    child = spawn(home)
    to_clouds(child)
    walk(child, PATHS[kind])
    child.sendintr()
    child.expect_exact("Cancelled.")
    assert TYPED_SECRET not in (child.before or "")
    child.expect_exact("[ Clouds ]")
    child.expect_exact(PROMPT)
    child.sendline("2")  # List clouds: nothing was added, changed or removed
    # The whole table: TryStack is the only cloud (no row before or after it).
    child.expect_exact("\r\nNAME      TYPE  LOCATION      REACHABLE  CLUSTERS         INSTANCES"
                       "  SYNCED\r\n"
                       "TryStack  stub  trystack.org  yes        Antwerp, London  3          "
                       "synced ")
    child.expect(r"(just now|\d+ min ago)\r\n")
    child.expect_exact("[ Clouds ]")
    assert (child.before or "").strip() == ""
    child.expect_exact(PROMPT)
    child.sendline("13")
    child.expect_exact("[ MiniCloud ]")
    child.expect_exact(PROMPT)
    child.sendline("8")
    assert finish(child) == 0
    assert_unchanged(home)


@pytest.mark.parametrize("kind", ["submenu", *PATHS])
def test_ctrl_d_exits_0_keeping_the_data(home: Path, kind: str) -> None:
    child = spawn(home)
    to_clouds(child)
    if kind != "submenu":
        walk(child, PATHS[kind])
        if kind == "password (no echo)":
            child.send("\x15")  # Ctrl-U: an empty line, so Ctrl-D is an end of input
    child.sendeof()
    assert finish(child) == 0
    assert_unchanged(home)


LEFT, HOME, END, UP = "\x1b[D", "\x1b[H", "\x1b[F", "\x1b[A"


def test_a_question_has_line_editing_and_history(home: Path) -> None:
    """GNU readline at a text prompt: Left, Home and End move in the typed text (no ``^[[D``
    echoed, nothing thrown away); Up brings back the earlier answer."""
    child = pexpect.spawn(sys.executable, ["-m", "minicloud"], cwd=str(home),
                          env={**minicloud_env(home), "TERM": "xterm"}, encoding="utf-8",
                          timeout=SLOW_START)
    child.logfile_read = seen = io.StringIO()
    child.expect_exact(PROMPT)
    to_clouds(child)
    child.sendline("3")
    child.expect_exact("Cloud name : ")
    # Up recalls nothing (menu numbers are not kept); "Sac", Left twice, "t", Home, "Try",
    # End, "k": TryStack (taken: refused, and named).
    child.send(UP + "Sac" + LEFT + LEFT + "t" + HOME + "Try" + END + "k\r")
    child.expect_exact("a cloud named 'TryStack' exists already")
    child.expect_exact("Cloud name : ")
    child.send(UP + "\r")  # the answer again, from the history
    child.expect_exact("a cloud named 'TryStack' exists already")
    child.expect_exact("Cloud name : ")
    child.sendintr()
    child.expect_exact("[ Clouds ]")
    child.expect_exact(PROMPT)
    child.sendline("13")
    child.expect_exact(PROMPT)
    child.sendline("8")
    child.expect(pexpect.EOF)
    child.close()
    assert "^[" not in seen.getvalue() and "Traceback" not in seen.getvalue()
    assert child.exitstatus == 0
    assert_unchanged(home)


def test_ctrl_c_works_when_started_with_sigint_ignored(home: Path) -> None:
    """Started from a background job (or nohup), a process inherits an ignored SIGINT; the
    menu on a terminal still cancels with Ctrl-C."""
    import signal

    child = pexpect.spawn(sys.executable, ["-m", "minicloud"], cwd=str(home),
                          env=minicloud_env(home), encoding="utf-8", timeout=SLOW_START,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    child.expect_exact(PROMPT)
    to_clouds(child)
    walk(child, PATHS["question with a default"])
    child.sendintr()
    child.expect_exact("Cancelled.")
    child.expect_exact("[ Clouds ]")
    child.expect_exact(PROMPT)
    child.sendline("13")
    child.expect_exact(PROMPT)
    child.sendline("8")
    assert finish(child) == 0
    assert_unchanged(home)
