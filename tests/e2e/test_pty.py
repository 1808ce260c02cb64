"""Ctrl-C and Ctrl-D at a real terminal (pexpect): cancel, go back, exit 0."""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect
import pytest
from menu_helpers import minicloud_env

# A wait only bounds a failure: a first import of openstacksdk with no bytecode cache, on a
# loaded 2-core CI machine, can take longer than half a minute.
SLOW_START = 180

PROMPT = "Make a choice : [1] "


def spawn(home: Path) -> pexpect.spawn:
    child = pexpect.spawn(sys.executable, ["-m", "minicloud"], cwd=str(home),
                          env=minicloud_env(home), encoding="utf-8", timeout=SLOW_START)
    child.expect_exact("[ MiniCloud ]")
    child.expect_exact(PROMPT)
    return child


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert "Traceback" not in (child.before or "")
    return child.exitstatus


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def test_ctrl_c_at_a_nested_prompt_goes_back_to_the_submenu(home: Path) -> None:
    child = spawn(home)
    child.sendline("2")
    child.expect_exact("[ Clouds ]")
    child.expect_exact(PROMPT)
    child.sendline("3")
    child.expect_exact("Cloud name : ")
    child.sendintr()
    child.expect_exact("Cancelled.")
    child.expect_exact("[ Clouds ]")          # back in the submenu, not the main menu
    child.expect_exact(PROMPT)
    child.sendintr()                          # Ctrl-C at the submenu: the main menu
    child.expect_exact("[ MiniCloud ]")
    child.expect_exact(PROMPT)
    child.sendline("8")
    assert finish(child) == 0


def test_ctrl_c_at_the_main_menu_exits_0(home: Path) -> None:
    child = spawn(home)
    child.sendintr()
    assert finish(child) == 0


def test_ctrl_c_at_a_confirmation_cancels(home: Path) -> None:
    child = spawn(home)
    child.sendline("6")
    child.expect_exact("[y/N] ")
    child.sendintr()
    child.expect_exact("Cancelled.")
    child.expect_exact("[ MiniCloud ]")
    child.expect_exact(PROMPT)
    child.sendline("8")
    assert finish(child) == 0


def test_ctrl_d_at_a_nested_prompt_exits_0(home: Path) -> None:
    child = spawn(home)
    child.sendline("2")
    child.expect_exact("[ Clouds ]")
    child.expect_exact(PROMPT)
    child.sendline("3")
    child.expect_exact("Cloud name : ")
    child.sendeof()
    assert finish(child) == 0
