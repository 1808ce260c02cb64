"""``minicloud export``, ``plan`` and ``apply`` as commands (in process): what they print,
their exit codes (plan: 0 nothing, 3 changes, 1 a cloud could not be read, 2 a mistake in the
file or bad usage), ``--json``; and the Cloud management entries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.config import Config
from tests.backends import seed_demo_sqlite
from tests.cli.test_commands_managers import ScriptedPrompter, menus_main
from tests.faults import Faults

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trystack.yaml"


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MiniCloud]:
    monkeypatch.chdir(tmp_path)
    seed_demo_sqlite(tmp_path / "minicloud.db")
    app = MiniCloud(Config(home=tmp_path, db_url=f"sqlite:///{tmp_path}/minicloud.db"),
                    notify=lambda text: None).open()
    yield app
    app.close()


def write(tmp_path: Path, name: str, old: str, new: str) -> str:
    text = EXAMPLE.read_text()
    assert old in text
    (tmp_path / name).write_text(text.replace(old, new))
    return name


def test_export_prints_the_file_or_writes_it(demo: MiniCloud, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(demo, ["export"]) == 0
    printed = capsys.readouterr().out
    assert printed == demo.deployments.export()
    assert run_command(demo, ["export", "--cloud", "TryStack", "--output", "d.yaml"]) == 0
    assert capsys.readouterr().out == "Deployment written to d.yaml.\n"
    assert (tmp_path / "d.yaml").read_text() == printed
    assert run_command(demo, ["export", "--cloud", "Nowhere"]) == 2
    assert capsys.readouterr().err == "minicloud: no cloud named 'Nowhere'\n"


def test_plan_exit_codes_and_words(demo: MiniCloud, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(demo, ["plan", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out == "No changes: the clouds are as the file says.\n"
    changed = write(tmp_path, "changed.yaml", "flavor: m1.tiny\n        cluster: London\n"
                    "        network: LondonNet\n        fixed_ip: 10.10.2.6",
                    "flavor: m1.small\n        cluster: London\n        network: LondonNet\n"
                    "        fixed_ip: 10.10.2.6")
    assert run_command(demo, ["plan", changed]) == 3
    assert capsys.readouterr().out == (
        "~ instance Ben: flavor m1.tiny -> m1.small (replaced)\n"
        "Plan: 0 to add, 1 to change, 0 to remove.\n")
    assert run_command(demo, ["plan", changed, "--json"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["changed"] is True and (data["add"], data["change"], data["remove"]) == (0, 1, 0)
    assert data["changes"] == [{"action": "change", "kind": "instance", "cloud": "TryStack",
                                "name": "Ben", "line": "~ instance Ben: flavor m1.tiny -> "
                                "m1.small (replaced)"}]
    bad = write(tmp_path, "bad.yaml", "cidr: 10.10.1.0/24", "cidr: 10.10.1.0/33")
    assert run_command(demo, ["plan", bad]) == 2
    assert capsys.readouterr().err == ("minicloud: bad.yaml, line 19, clouds.TryStack.networks."
                                       "AntwerpNet.cidr: invalid CIDR '10.10.1.0/33': write an "
                                       "address and a prefix, e.g. 10.10.0.0/24\n".replace(
                                           "10.10.0.0/24", "10.0.0.0/24"))
    unknown = write(tmp_path, "unknown.yaml", "image: cirros\n        flavor: m1.tiny\n"
                    "        cluster: Antwerp", "image: plan9\n        flavor: m1.tiny\n"
                    "        cluster: Antwerp")
    assert run_command(demo, ["plan", unknown]) == 2
    assert capsys.readouterr().err.startswith(
        "minicloud: unknown.yaml, line 32, clouds.TryStack.instances.Bourla.image: unknown "
        "image 'plan9' in cloud TryStack (images: cirros, ubuntu)")
    assert run_command(demo, ["plan", "missing.yaml"]) == 2
    assert "missing.yaml: cannot be read" in capsys.readouterr().err
    assert run_command(demo, ["plan", str(EXAMPLE), "--cloud-map", "TryStack"]) == 2
    assert "write OLD=NEW" in capsys.readouterr().err


def test_plan_refresh_says_when_a_cloud_cannot_be_read(
        demo: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    with Faults({"list_networks": None}).installed(demo):
        assert run_command(demo, ["plan", str(EXAMPLE), "--refresh"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("minicloud: cloud TryStack:") and err.count("\n") == 1


def test_apply_shows_the_plan_asks_and_applies(demo: MiniCloud, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    more = write(tmp_path, "more.yaml", "[Antwerp, London]", "[Antwerp, London, Paris]")
    # No terminal to ask on and no --yes: bad usage, nothing done.
    assert run_command(demo, ["apply", more]) == 2
    captured = capsys.readouterr()
    assert "+ cluster Paris" in captured.err and "confirm with --yes" in captured.err
    assert [c.name for c in demo.clusters.all("TryStack")] == ["Antwerp", "London"]
    assert run_command(demo, ["apply", more, "--yes"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "done: + cluster Paris\nApply complete: 1 change made.\n"
    assert captured.err == "+ cluster Paris\nPlan: 1 to add, 0 to change, 0 to remove.\n"
    assert run_command(demo, ["apply", more, "--yes"]) == 0
    assert capsys.readouterr().out == "No changes: the clouds are as the file says.\n"
    assert run_command(demo, ["plan", more]) == 0


def test_a_refused_step_is_exit_1_with_one_line_each(demo: MiniCloud, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    taken = write(tmp_path, "taken.yaml", "      Tower:\n", "      Tower2:\n        image: "
                  "cirros\n        flavor: m1.tiny\n        network: LondonNet\n        "
                  "fixed_ip: 10.10.2.1\n      Tower:\n")
    (tmp_path / "taken.yaml").write_text((tmp_path / "taken.yaml").read_text().replace(
        "[Antwerp, London]", "[Antwerp, London, Zürich]".replace("ü", "u")))
    assert run_command(demo, ["apply", taken, "--yes"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "done: + cluster Zurich\n"
    assert captured.err.endswith(
        "minicloud: failed: + instance Tower2: cirros, m1.tiny, network LondonNet, fixed IP "
        "10.10.2.1, security groups default: 10.10.2.1 is the gateway of LondonNet\n")


def test_the_menu_exports_and_applies(demo: MiniCloud, tmp_path: Path) -> None:
    more = write(tmp_path, "more.yaml", "[Antwerp, London]", "[Antwerp, London, Paris]")
    prompter = ScriptedPrompter(["Cloud management", "Export the deployment", "",
                                 "Apply a deployment file", more, "n",
                                 "Apply a deployment file", more, "y"])
    assert menus_main.run_menu(lambda: demo, prompter) == 0
    shown = prompter.output.getvalue()
    assert "    clusters: [Antwerp, London]\n" in shown  # the export, shown
    assert shown.count("+ cluster Paris\n") == 3  # asked twice, then done
    assert "Nothing changed." in shown and "done: + cluster Paris" in shown
    assert [c.name for c in demo.clusters.all("TryStack")] == ["Antwerp", "London", "Paris"]
