"""Issue 25: the menu and the commands tried as a newcomer would.  Each test names the item of
the issue it covers; they run in process (the menu on a scripted Prompter, commands through
run_command) on a copy of the demo store."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.cli.menus.main import run_menu
from minicloud.cli.prompts import Prompter
from minicloud.config import Config
from tests.backends import seed_demo_sqlite, seed_sqlite


def _open(tmp_path: Path) -> MiniCloud:
    return MiniCloud(Config(home=tmp_path, db_url=f"sqlite:///{tmp_path}/minicloud.db"),
                     notify=lambda text: None).open()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[MiniCloud]:
    """An empty store (what the menu and commands do is the point, not the backend)."""
    seed_sqlite(tmp_path / "minicloud.db")
    opened = _open(tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def demo_app(tmp_path: Path) -> Iterator[MiniCloud]:
    """A copy of the README's demo."""
    seed_demo_sqlite(tmp_path / "minicloud.db")
    opened = _open(tmp_path)
    yield opened
    opened.close()


def menu(app: MiniCloud, *answers: str) -> str:
    """What the menu shows for ``answers`` (one line each; ``""`` is Enter); the script
    running out ends the menu as end of input does."""
    out = io.StringIO()
    script = "".join(f"{a}\n" for a in answers)
    assert run_menu(lambda: app, Prompter(io.StringIO(script), out)) == 0
    return out.getvalue()


def command(app: MiniCloud, capsys: pytest.CaptureFixture[str],
            *argv: str) -> tuple[int, str, str]:
    code = run_command(app, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- item 6: no password in a URL setting, for every URL setting of every type ----------------

URL_SETTINGS = [
    ("openstack", ["--os-auth-url", "http://admin:PW-s3cret@keystone.example.com/v3",
                   "--os-project-name", "p", "--os-username", "u"], "Auth URL"),
    ("cloudstack", ["--cs-endpoint", "https://admin:PW-s3cret@cs.example.com/client/api",
                    "--cs-key", "k"], "API endpoint"),
]


@pytest.mark.parametrize(("type_name", "flags", "what"), URL_SETTINGS)
def test_a_url_with_a_password_is_refused_by_the_command(
        app: MiniCloud, capsys: pytest.CaptureFixture[str], type_name: str, flags: list[str],
        what: str) -> None:
    code, out, err = command(app, capsys, "clouds", "add", "C1", "--type", type_name, *flags)
    assert (code, out) == (2, "")
    assert err.startswith(f"minicloud: {what}") and "holds a password" in err
    assert "PW-s3cret" not in err and len(err.splitlines()) == 1
    assert app.clouds.all() == []


def test_a_url_with_a_password_is_refused_at_its_question(app: MiniCloud) -> None:
    # Cloud management > Add a cloud > OS1, openstack (types: cloudstack, openstack, stub),
    # no location, the auth URL with a password, then without.
    out = menu(app, "2", "3", "OS1", "2", "", "http://admin:PW-s3cret@keystone.example.com/v3",
               "http://keystone.example.com/v3")
    ask = "Auth URL (Keystone v3) : "
    assert f"{ask}Auth URL (Keystone v3) holds a password: give the URL without it" in out
    assert out.count(ask) == 2 and "Project : " in out
    assert "PW-s3cret" not in out
