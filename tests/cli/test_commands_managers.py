"""The one-shot commands and the interactive menu reach the very same manager methods.

Each case runs a command through ``run_command`` on one app and the matching menu entry
through the menu's entry function (``run_menu``, driven by a scripted prompter) on another app
holding the same demo deployment; a recording wrapper around the manager method must see the
same call, with the same arguments, from both.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.config import load_config
from tests.backends import seed_demo_sqlite

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trystack.yaml"
menus_main = pytest.importorskip("minicloud.cli.menus.main")
prompts = pytest.importorskip("minicloud.cli.prompts")

ENV = ("MINICLOUD_SSH", "MINICLOUD_DB_URL", "MINICLOUD_CONFIG",
       "MINICLOUD_DB_PASSWORD")


class ScriptedPrompter(prompts.Prompter):  # type: ignore[name-defined,misc]
    """Answers menus and pickers by entry label, questions and confirmations in order.

    A label answer picks the entry equal to it, else the first one starting with it, else the
    first one containing it (case-insensitive).  When the script runs out, input ends.
    """

    def __init__(self, script: list[str]):
        super().__init__(io.StringIO(""), io.StringIO())
        self.script = list(script)

    def _next(self) -> str:
        if not self.script:
            raise prompts.EndOfInput()
        return self.script.pop(0)

    def _choose(self, title: str, entries: Any, default: int | None) -> int:
        wanted = self._next().lower()
        labels = [entry.lower() for entry in entries]
        for test in (str.__eq__, str.startswith, str.__contains__):
            for number, label in enumerate(labels, 1):
                if test(label, wanted):
                    return number
        raise AssertionError(f"no entry {wanted!r} in [{title}]: {list(entries)}")

    def ask(self, label: str, default: str | None = None,
            validate: Callable[[str], Any] | None = None) -> str:
        answer = self._next() or (default or "")
        if validate is not None and answer:
            checked = validate(answer)
            if isinstance(checked, str):
                answer = checked
        return answer

    def confirm(self, question: str) -> bool:
        return self._next().lower() in ("y", "yes")


def _plain(value: Any) -> Any:
    """Model objects compare by kind, cloud and name (ids differ between two apps)."""
    if hasattr(value, "kind") and hasattr(value, "name"):
        return (value.kind, value.key[0], value.name)
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    return value


def record(monkeypatch: pytest.MonkeyPatch, app: MiniCloud, manager: str,
           method: str) -> list[dict[str, Any]]:
    """Wrap ``app.<manager>.<method>``; returns the list its calls are recorded in."""
    target = getattr(app, manager)
    original = getattr(target, method)
    signature = inspect.signature(original)
    calls: list[dict[str, Any]] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        calls.append({k: _plain(v) for k, v in bound.arguments.items()})
        return original(*args, **kwargs)

    monkeypatch.setattr(target, method, wrapper)
    return calls


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str],
                                                                                   MiniCloud]]:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    opened: list[MiniCloud] = []

    def make(label: str) -> MiniCloud:
        home = tmp_path / label
        monkeypatch.setenv("MINICLOUD_HOME", str(home))
        home.mkdir(parents=True, exist_ok=True)
        seed_demo_sqlite(home / "minicloud.db")
        # A deployment file for apply: the demo's, with one more cluster.
        (tmp_path / "more.yaml").write_text(
            EXAMPLE.read_text().replace("[Antwerp, London]", "[Antwerp, London, Paris]"))
        app = MiniCloud(load_config(), notify=lambda text: None).open()
        opened.append(app)
        return app

    yield make
    for app in opened:
        try:
            app.close()
        except Exception:  # noqa: BLE001 - the menu closes its app itself
            pass


# (command argv, menu script, manager, method)
CASES = [
    (["clouds", "list"], ["Cloud management", "List clouds"], "clouds", "all"),
    (["clusters", "add", "Paris", "--cloud", "TryStack"],
     ["Cloud management", "Add a cluster", "TryStack", "Paris"], "clusters", "add"),
    (["refresh"], ["Cloud management", "Refresh from clouds"], "sync", "refresh"),
    (["routers", "create", "R2", "--cloud", "TryStack", "--gateway", "external"],
     ["Router management", "Create a router", "TryStack", "R2", "external"],
     "routers", "create"),
    (["routers", "attach", "LondonGateway", "AntwerpNet"],
     ["Router management", "Attach a network", "LondonGateway", "AntwerpNet"],
     "networks", "attach"),
    (["networks", "create", "ParisNet", "--cloud", "TryStack", "--cidr", "10.10.3.0/24",
      "--router", "LondonGateway"],
     ["Network management", "Create a network", "TryStack", "ParisNet", "10.10.3.0/24",
      "LondonGateway"], "networks", "create"),
    (["instances", "create", "Eiffel", "--cloud", "TryStack", "--cluster", "London",
      "--image", "cirros", "--flavor", "m1.tiny", "--network", "LondonNet"],
     ["Instance management", "Create an instance", "TryStack", "Eiffel", "London", "cirros",
      "m1.tiny", "LondonNet", "default", ""], "instances", "create"),
    (["instances", "stop", "Ben"], ["Instance management", "Stop", "Ben"],
     "instances", "stop"),
    (["instances", "connect", "Tower"], ["Instance management", "Connect", "Tower"],
     "access", "connect"),
    (["reset", "--yes"], ["Reset to startup", "y"], "resetter", "reset"),
    (["export", "--output", "out.yaml"], ["Cloud management", "Export the deployment",
                                          "out.yaml"], "deployments", "export"),
    (["apply", "more.yaml", "--yes"], ["Cloud management", "Apply a deployment file",
                                       "more.yaml", "y"], "deployments", "plan"),
    (["apply", "more.yaml", "--yes"], ["Cloud management", "Apply a deployment file",
                                       "more.yaml", "y"], "clusters", "add"),
    # Commands that exist because the menu entry declares them.
    (["clouds", "update", "TryStack", "--location", "Brussels"],
     ["Cloud management", "Update a cloud", "TryStack", "Brussels"], "clouds", "update"),
    (["networks", "attach", "AntwerpNet", "LondonGateway"],
     ["Network management", "Attach to a router", "AntwerpNet", "LondonGateway"],
     "networks", "attach"),
    (["instances", "remove", "Bourla"], ["Instance management", "Remove an instance", "Bourla",
                                          "y"], "instances", "remove"),
]


@pytest.mark.parametrize(("argv", "script", "manager", "method"), CASES,
                         ids=[" ".join(case[0][:2]) for case in CASES])
def test_menu_and_command_call_the_same_manager_method(
        make_app: Callable[[str], MiniCloud], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], argv: list[str], script: list[str], manager: str,
        method: str) -> None:
    command_app = make_app("command")
    by_command = record(monkeypatch, command_app, manager, method)
    assert run_command(command_app, argv) == 0, capsys.readouterr().err

    menu_app = make_app("menu")
    by_menu = record(monkeypatch, menu_app, manager, method)
    prompter = ScriptedPrompter(script)
    assert menus_main.run_menu(lambda: menu_app, prompter) == 0
    assert not prompter.script, "the menu did not ask for everything scripted"
    shown = prompter.output.getvalue()
    assert "Error" not in shown, shown

    assert by_command, f"the command did not call {manager}.{method}"
    assert by_menu, f"the menu did not call {manager}.{method}"
    assert by_command == by_menu


def test_a_refused_request_is_refused_alike(make_app: Callable[[str], MiniCloud],
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Validation lives in the manager: both front ends get the same refusal."""
    command_app = make_app("command")
    by_command = record(monkeypatch, command_app, "clusters", "check_removable")
    assert run_command(command_app, ["clusters", "remove", "London", "--cloud",
                                     "TryStack"]) == 1
    refusal = capsys.readouterr().err.strip().removeprefix("minicloud: ")

    menu_app = make_app("menu")
    by_menu = record(monkeypatch, menu_app, "clusters", "check_removable")
    prompter = ScriptedPrompter(["Cloud management", "Remove a cluster", "London"])
    menus_main.run_menu(lambda: menu_app, prompter)
    # Refused before the menu's confirmation: the script has no answer for one.
    assert by_command == by_menu == [{"cluster": ("cluster", "TryStack", "London")}]
    assert refusal and refusal in prompter.output.getvalue()


def test_clearing_a_gateway_in_use_is_refused_alike(make_app: Callable[[str], MiniCloud],
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """``routers gateway --clear`` and the menu's "Clear the gateway" are one action."""
    command_app = make_app("command")
    by_command = record(monkeypatch, command_app, "routers", "clear_gateway")
    assert run_command(command_app, ["routers", "gateway", "LondonGateway", "--clear"]) == 1
    refusal = capsys.readouterr().err.strip().removeprefix("minicloud: ")

    menu_app = make_app("menu")
    by_menu = record(monkeypatch, menu_app, "routers", "clear_gateway")
    prompter = ScriptedPrompter(["Router management", "Clear the gateway", "LondonGateway"])
    menus_main.run_menu(lambda: menu_app, prompter)
    # The menu does not offer what the command is refused (issue 25, item 5): it says why.
    assert by_command == [{"router": ("router", "TryStack", "LondonGateway")}]
    assert by_menu == []
    assert "public IPs of Tower" in refusal
    assert f"No router's gateway can be cleared: {refusal}." in prompter.output.getvalue()
