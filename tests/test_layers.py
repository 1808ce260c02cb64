"""The package's layering.

The rules are import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``): the
layers ``cli`` -> ``app`` -> ``managers`` -> ``config`` -> (``state`` | ``drivers`` |
``render``) -> (``model`` | ``secrets``), what the UI, the drivers, the rendering and the model
must not import, that no cloud type's package imports another's, and no cycle between the
modules of a package.  :func:`test_import_contracts_hold` runs ``lint-imports`` so that the
default suite checks them (every import counts: at the top, in functions, under
``TYPE_CHECKING``).

Two rules the contracts cannot say are checked here:

- no import cycle at all, on import-linter's own graph (grimp): its ``acyclic_siblings``
  contract sees cycles between the modules of one package, not between a package's
  ``__init__`` and a module of that package that reads a name of it back;
- the UI (``minicloud/cli/``) does not reach past the managers through the objects it holds
  (``app.inventory``, ``app.session``, ``...store``): an attribute, not an import.

The attribute checker is tested on a small fake package tree at the end of this file.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "minicloud"
INSTALL = "pip install -e '.[test]' installs import-linter"

# Objects the UI gets hold of anyway must not take it past the managers.  Names, as attributes
# (``app.inventory``) or variables (``driver_class(...)``):
FORBIDDEN_UI_NAMES = (
    "inventory",  # the cache's object inventory
    "store",  # the Store behind the managers
    "_drivers",  # the driver instances the managers keep
    "make_driver_for",  # building a driver for a cloud
    "driver_class",  # the driver registry's look-up
)
# and as attributes only (the menu has variables of its own by these names):
FORBIDDEN_UI_ATTRIBUTES = (
    "session",  # the managers' session: what the UI needs is handed down when it is built
)


# -- the contracts ------------------------------------------------------------------------------


def _lint_imports() -> str | None:
    """``lint-imports`` of this Python's environment, else the one on PATH."""
    beside = Path(sys.executable).parent / "lint-imports"
    return str(beside) if beside.exists() else shutil.which("lint-imports")


def test_import_contracts_hold() -> None:
    tool = _lint_imports()
    if tool is None:
        pytest.skip(f"lint-imports is not installed: the import contracts are not checked "
                    f"({INSTALL})")
    done = subprocess.run([tool, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr


# One break of each contract: (module, an import added to it in a function: a lazy import
# counts, what the contract then names, the contract's id).
BREAKS = (
    ("cli/present.py", "from ..state import cache",
     "minicloud.cli.present -> minicloud.state.cache",
     "ui"),
    ("drivers/stub/driver.py", "from ..openstack import errors",
     "minicloud.drivers.stub.driver -> minicloud.drivers.openstack.errors", "cloud-types"),
    ("drivers/openstack/session.py", "from ...managers import catalog",
     "minicloud.drivers.openstack.session -> minicloud.managers.catalog", "drivers"),
    ("render/views.py", "from ..drivers import base",
     "minicloud.render.views -> minicloud.drivers.base", "render"),
    ("model/codec.py", "from .. import secrets", "minicloud.model.codec -> minicloud.secrets",
     "model"),
    ("state/store.py", "from ..managers import session",
     "minicloud.state.store -> minicloud.managers.session", "layers"),
    ("managers/base.py", "from . import clouds",  # clouds.py imports base.py
     "No cycles are allowed in minicloud.managers.", "no-cycles"),
)


def test_each_contract_catches_its_break(tmp_path: Path) -> None:
    """The contracts are live: on a copy of the package with one break of each, each contract
    fails and names its break."""
    tool = _lint_imports()
    if tool is None:
        pytest.skip(f"lint-imports is not installed ({INSTALL})")
    shutil.copytree(PACKAGE_DIR, tmp_path / "minicloud",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for module, line, _, _ in BREAKS:
        with open(tmp_path / "minicloud" / module, "a", encoding="utf-8") as file:
            file.write(f"\n\ndef _break() -> None:\n    {line}  # noqa\n")
    for _, _, named, contract in BREAKS:
        done = subprocess.run([tool, "--no-cache", "--contract", contract], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 1 and named in done.stdout, (contract, done.stdout,
                                                                done.stderr)


# -- cycles -------------------------------------------------------------------------------------


def cycles(package: str) -> list[str]:
    """One line per import cycle in ``package`` (``a -> b -> a``), each group of modules once,
    on import-linter's graph."""
    grimp = pytest.importorskip("grimp", reason=f"grimp comes with import-linter ({INSTALL})")
    graph = grimp.build_graph(package, cache_dir=None)
    found: dict[frozenset[str], str] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None and frozenset(back) not in found:
                found[frozenset(back)] = " -> ".join([importer, *back])
    return sorted(found.values())


def test_no_import_cycles() -> None:
    found = cycles("minicloud")
    assert not found, f"{len(found)} import cycle(s):\n" + "\n".join(found)


def test_a_package_and_its_module_that_reads_it_back_are_a_cycle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What acyclic_siblings does not see, and this test does."""
    _tree(tmp_path, {
        "layered_pkg/__init__.py": "from .drivers import DRIVERS\n",
        "layered_pkg/drivers/__init__.py": "from .base import Driver\nDRIVERS = {}\n",
        "layered_pkg/drivers/base.py": """
            class Driver:
                def registry(self):
                    from . import DRIVERS
                    return DRIVERS
            """,
        "layered_pkg/model.py": "X = 1\n",
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cycles("layered_pkg") == [
        "layered_pkg.drivers -> layered_pkg.drivers.base -> layered_pkg.drivers"]


# -- the UI's reach -----------------------------------------------------------------------------


def ui_violations(package_dir: Path, ui: str = "cli") -> list[str]:
    """Every use of a forbidden name under ``<package>/<ui>/``, as ``path:line: what``."""
    root = package_dir.parent
    found: list[tuple[str, int, str]] = []
    for path in sorted((package_dir / ui).rglob("*.py")):
        where = str(path.relative_to(root))
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and (node.attr in FORBIDDEN_UI_NAMES
                                                    or node.attr in FORBIDDEN_UI_ATTRIBUTES):
                found.append((where, node.lineno,
                              f"uses .{node.attr} ({ast.unparse(node)})"))
            elif isinstance(node, ast.Name) and node.id in FORBIDDEN_UI_NAMES:
                found.append((where, node.lineno, f"uses {node.id}"))
    return [f"{where}:{line}: {what}" for where, line, what in sorted(found)]


def test_ui_reads_only_through_managers() -> None:
    violations = ui_violations(PACKAGE_DIR)
    assert not violations, (f"{len(violations)} place(s) in minicloud/cli/ reach past the "
                            "managers:\n" + "\n".join(violations))


def _tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (path under root -> source) and return root / "minicloud"."""
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return root / "minicloud"


def test_checker_reports_every_ui_violation(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        "minicloud/__init__.py": "",
        "minicloud/cli/__init__.py": "",
        "minicloud/cli/menus/session.py": """
            class Session:
                def __init__(self, session):
                    self.session = session  # the menu's own: an attribute all the same
            """,
        "minicloud/cli/commands.py": """
            def run(app, cloud, session):
                app.inventory.get(cloud)
                app.managers.store.save()
                app._drivers.clear()
                app.make_driver_for(cloud)
                app.session.progress = print
                session.app.clouds.all()
                return driver_class(cloud.type)
            """,
    })
    assert ui_violations(package) == [
        "minicloud/cli/commands.py:2: uses .inventory (app.inventory)",
        "minicloud/cli/commands.py:3: uses .store (app.managers.store)",
        "minicloud/cli/commands.py:4: uses ._drivers (app._drivers)",
        "minicloud/cli/commands.py:5: uses .make_driver_for (app.make_driver_for)",
        "minicloud/cli/commands.py:6: uses .session (app.session)",
        "minicloud/cli/commands.py:8: uses driver_class",
        "minicloud/cli/menus/session.py:3: uses .session (self.session)",
    ]
