"""``minicloud topology --format text|json|dot|mermaid [--output FILE]``, in process.

The text tree stays the default; ``--format json`` is ``--json`` (both together: usage, exit 2);
an ``--output`` file's extension names its format (.svg/.png drawn by Graphviz's dot).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from minicloud.app import MiniCloud
from minicloud.cli import commands
from minicloud.config import load_config
from minicloud.render.topology_dot import render_dot
from minicloud.render.topology_mermaid import render_mermaid
from tests.backends import seed_demo_sqlite
from tests.pictures import dot_program, read_dot, read_mermaid
from tests.reference import REFERENCE_TREE

MISSING = ("minicloud: cannot draw {}: the 'dot' program is not installed "
           "(apt-get install graphviz)\n")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MiniCloud]:
    for name in ("MINICLOUD_DB_URL", "MINICLOUD_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINICLOUD_HOME", str(tmp_path))
    seed_demo_sqlite(tmp_path / "minicloud.db")
    opened = MiniCloud(load_config(), notify=lambda text: None).open()
    yield opened
    opened.close()


def run(app: MiniCloud, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = commands.run_command(app, ["topology", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_stays_the_default(app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(app, capsys) == (0, REFERENCE_TREE, "")
    assert run(app, capsys, "--format", "text") == (0, REFERENCE_TREE, "")


def test_format_json_is_json(app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(app, capsys, "--json")
    assert code == 0 and run(app, capsys, "--format", "json") == (0, out, "")


@pytest.mark.parametrize("both", [["--json", "--format", "json"], ["--format", "dot", "--json"]])
def test_json_and_format_together_is_bad_usage(app: MiniCloud, both: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(app, capsys, *both)
    assert code == 2 and out == ""
    assert err.splitlines()[-1].startswith("minicloud topology: error: argument ")
    assert "not allowed with argument" in err


def test_unknown_format_is_bad_usage(app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(app, capsys, "--format", "svg")
    assert code == 2 and "invalid choice: 'svg'" in err


def test_dot_and_mermaid_of_the_demo(app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    dep = app.topology.deployment()
    code, out, err = run(app, capsys, "--format", "dot")
    assert (code, out, err) == (0, render_dot(dep), "")
    dot = read_dot(out)
    assert (len(dot.nodes), len(dot.edges), len(dot.clusters)) == (7, 5, 3)
    # Built by MiniCloud: all its own but the cloud's external network.
    assert [dot.lines(n)[0] for n in dot.nodes if "dashed" in dot.nodes[n]["style"]] == [
        "external"]
    code, out, err = run(app, capsys, "--format", "mermaid")
    assert (code, out, err) == (0, render_mermaid(dep), "")
    assert len(read_mermaid(out).nodes) == 7


@pytest.mark.parametrize(("name", "args"), [
    ("t.dot", ["--format", "dot"]), ("t.gv", ["--format", "dot"]),
    ("t.mmd", ["--format", "mermaid"]), ("t.mermaid", ["--format", "mermaid"]),
    ("t.json", ["--json"]), ("t.txt", []),
])
def test_output_writes_what_the_command_prints(app: MiniCloud, tmp_path: Path, name: str,
                                               args: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    printed = run(app, capsys, *args)[1]
    assert run(app, capsys, "--output", str(tmp_path / name)) == (0, "", "")
    assert (tmp_path / name).read_bytes() == printed.encode()
    assert run(app, capsys, *args, "--output", str(tmp_path / name)) == (0, "", "")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("args", [["--output", "t.pdf"], ["--output", "noextension"],
                                  ["--format", "mermaid", "--output", "t.svg"],
                                  ["--format", "text", "--output", "t.dot"],
                                  ["--json", "--output", "t.mmd"]])
def test_output_extension_must_fit(app: MiniCloud, args: list[str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(app, capsys, *args)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and err.startswith("minicloud: ")


def test_svg_and_png_are_drawn_by_dot(app: MiniCloud, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    dot_program()
    assert run(app, capsys, "--output", str(tmp_path / "t.svg")) == (0, "", "")
    assert run(app, capsys, "--format", "dot", "--output", str(tmp_path / "t.png")) == (0, "", "")
    svg = (tmp_path / "t.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and all(name in svg for name in ("TryStack", "Tower", "LondonGateway"))
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")


def test_missing_dot_is_one_line(app: MiniCloud, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    target = str(tmp_path / "t.svg")
    assert run(app, capsys, "--output", target) == (1, "", MISSING.format(target))
    assert not (tmp_path / "t.svg").exists()


def test_unwritable_file_is_one_line(app: MiniCloud, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    target = str(tmp_path / "missing-folder" / "t.dot")
    code, out, err = run(app, capsys, "--output", target)
    assert (code, out) == (1, "") and err == f"minicloud: cannot write {target}: " \
                                             "No such file or directory\n"


def test_output_to_a_name_at_the_file_systems_limit(app: MiniCloud, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 25 (7): the file is written through a temporary name of its own, never longer
    than the target's (it was the target's plus a suffix: 'File name too long')."""
    name = "t" * 251 + ".txt"  # 255 characters, the usual limit of one name
    assert run(app, capsys, "--output", str(tmp_path / name)) == (0, "", "")
    assert (tmp_path / name).read_text() == REFERENCE_TREE
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
