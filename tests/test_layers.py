"""The package's layering, checked on the source with ``ast`` (nothing is imported).

Dependencies flow one way (README, Development): ``cli`` -> ``managers`` ->
``cache``/``store``/``drivers`` -> ``model``.  Two rules follow:

- no import cycle between the modules of ``minicloud``, counting every import: at the top,
  under ``if TYPE_CHECKING:`` and inside functions (a lazy import is still a dependency);
- the UI (``minicloud/cli/``) reads and writes only through the managers.

The checker itself is tested on small fake package trees at the end of this file.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "minicloud"

# The UI layer is thin over the managers: none of these below it may be imported from cli/.
FORBIDDEN_UI_IMPORTS = (
    "minicloud.cache",  # the cache is read and updated by the managers alone
    "minicloud.store",  # persistence is written through the managers' write path alone
    "minicloud.drivers",  # clouds are called by the managers alone: no driver, no registry
    "minicloud.managers.base",  # the managers' shared internals, not their public API
)

# The same rule for objects the UI gets hold of anyway: it must not reach past the managers.
FORBIDDEN_UI_NAMES = (
    "inventory",  # the cache's object inventory
    "store",  # the Store behind the managers
    "_drivers",  # the driver instances the managers keep
    "make_driver_for",  # building a driver for a cloud
    "driver_class",  # the driver registry's look-up
)


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module of the package
    path: Path
    line: int


def discover(package_dir: Path) -> dict[str, Path]:
    """Every module of the package: dotted name -> file (a package is its ``__init__.py``)."""
    modules: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _known_prefix(name: str, modules: dict[str, Path]) -> str | None:
    """The longest module of the package that ``name`` is or is inside of."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _base_of(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    """The absolute module that ``from <...> import`` names, relative imports resolved."""
    if node.level == 0:
        return node.module
    package = module.split(".") if is_package else module.split(".")[:-1]
    if node.level - 1 >= len(package):
        return None  # beyond the top-level package
    parts = package[: len(package) - (node.level - 1)]
    if node.module:
        parts.append(node.module)
    return ".".join(parts)


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """Every import of another module of the package in one module, wherever it stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def add(target: str | None, line: int) -> None:
        if target is not None and target != module:
            found.append(Import(module, target, path, line))

    for node in ast.walk(tree):  # walks into TYPE_CHECKING blocks and function bodies too
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(_known_prefix(alias.name, modules), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _base_of(node, module, is_package)
            if base is None:
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if alias.name != "*" and submodule in modules:
                    add(submodule, node.lineno)  # from pkg import sub: the submodule
                else:
                    add(_known_prefix(base, modules), node.lineno)  # a name of base
    return found


def import_graph(package_dir: Path) -> dict[str, list[Import]]:
    modules = discover(package_dir)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def _adjacency(graph: dict[str, list[Import]]) -> dict[str, list[str]]:
    return {m: sorted({i.target for i in imps if i.target in graph}) for m, imps in graph.items()}


def strongly_connected(adjacency: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the strongly connected components, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in adjacency[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(adjacency):
        if node not in index:
            visit(node)
    return sorted(components)


def elementary_cycles(adjacency: dict[str, list[str]], limit: int = 200) -> list[list[str]]:
    """Every simple cycle (as a module list, starting at its smallest name), by DFS inside
    each strongly connected component; at most ``limit`` of them."""
    cycles: list[list[str]] = []
    for component in strongly_connected(adjacency):
        members = set(component)
        if len(component) == 1:
            continue  # self-imports are not collected
        for start in component:  # cycles whose smallest module is ``start``
            allowed = {m for m in members if m >= start}
            path = [start]

            def walk(node: str, allowed: set[str] = allowed, path: list[str] = path,
                     start: str = start) -> None:
                for succ in adjacency[node]:
                    if len(cycles) >= limit:
                        return
                    if succ == start:
                        cycles.append([*path])
                    elif succ in allowed and succ not in path:
                        path.append(succ)
                        walk(succ)
                        path.pop()

            walk(start)
    return cycles


def describe_cycle(cycle: list[str], graph: dict[str, list[Import]]) -> str:
    """``a (line 3) -> b (line 7) -> a``: each module with the line(s) of its import of the next."""
    steps = []
    for source, target in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
        lines = sorted({i.line for i in graph[source] if i.target == target})
        where = f"line {lines[0]}" if len(lines) == 1 else f"lines {', '.join(map(str, lines))}"
        steps.append(f"{source} ({where})")
    return " -> ".join([*steps, cycle[0]])


def cycle_report(package_dir: Path) -> tuple[list[list[str]], list[str]]:
    """The strongly connected components with a cycle, and each elementary cycle described."""
    graph = import_graph(package_dir)
    adjacency = _adjacency(graph)
    components = [c for c in strongly_connected(adjacency) if len(c) > 1]
    return components, [describe_cycle(c, graph) for c in elementary_cycles(adjacency)]


def _forbidden(target: str) -> bool:
    return any(target == f or target.startswith(f + ".") for f in FORBIDDEN_UI_IMPORTS)


def ui_violations(package_dir: Path, ui: str = "cli") -> list[str]:
    """Every forbidden import and name use under ``<package>/<ui>/``, as ``path:line: what``."""
    modules = discover(package_dir)
    ui_prefix = f"{package_dir.name}.{ui}"
    root = package_dir.parent
    found: list[str] = []
    for name, path in modules.items():
        if name != ui_prefix and not name.startswith(ui_prefix + "."):
            continue
        where = path.relative_to(root)
        for imp in imports_of(name, path, modules):
            if _forbidden(imp.target):
                found.append(f"{where}:{imp.line}: imports {imp.target}")
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_UI_NAMES:
                found.append(f"{where}:{node.lineno}: uses .{node.attr} ({ast.unparse(node)})")
            elif isinstance(node, ast.Name) and node.id in FORBIDDEN_UI_NAMES:
                found.append(f"{where}:{node.lineno}: uses {node.id}")
    return sorted(found, key=_by_place)


def _by_place(entry: str) -> tuple[str, int, str]:
    path, line, rest = entry.split(":", 2)
    return path, int(line), rest


# -- the rules on the real package -----------------------------------------------------------


def test_no_import_cycles() -> None:
    components, cycles = cycle_report(PACKAGE_DIR)
    report = "\n".join(
        [f"{len(components)} group(s) of modules import each other:"]
        + [f"  {', '.join(c)}" for c in components]
        + [f"{len(cycles)} cycle(s):"] + [f"  {c}" for c in cycles])
    print(report)
    assert not components, report


def test_ui_reads_only_through_managers() -> None:
    violations = ui_violations(PACKAGE_DIR)
    report = "\n".join([f"{len(violations)} place(s) in minicloud/cli/ reach past the managers:"]
                       + [f"  {v}" for v in violations])
    print(report)
    assert not violations, report


# -- the checker, on fake package trees -------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (path under root -> source) and return root / "minicloud"."""
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return root / "minicloud"


# A layered package with every kind of import, and no cycle and no UI violation.
CLEAN_TREE = {
    # The package __init__ imports its submodules: not a cycle by itself.
    "minicloud/__init__.py": """
        from . import model
        from .managers import Managers
        __version__ = "0"
        """,
    "minicloud/model.py": "X = 1\n",
    "minicloud/store.py": "from .model import X\n",
    "minicloud/cache.py": "from . import store\n",
    "minicloud/drivers/__init__.py": "from .base import Driver\ndef driver_class(n): ...\n",
    "minicloud/drivers/base.py": "from ..model import X\nclass Driver: ...\n",
    "minicloud/managers/__init__.py": "from .clouds import Managers\nfrom . import base\n",
    "minicloud/managers/base.py": "from ..cache import *\n",
    "minicloud/managers/clouds.py": """
        from typing import TYPE_CHECKING
        from .base import *
        from ..drivers import driver_class
        if TYPE_CHECKING:
            from minicloud.store import Store
        class Managers:
            def load(self):
                import minicloud.cache
                from ..drivers import base
        """,
    "minicloud/cli/__init__.py": "",
    "minicloud/cli/prompts.py": "",
    "minicloud/cli/main.py": """
        from typing import TYPE_CHECKING
        from .. import __version__
        from ..managers import Managers
        if TYPE_CHECKING:
            from ..model import X
        def main(app):
            from .menus import clouds
            return app.clouds.all(store_name="x")
        """,
    "minicloud/cli/menus/__init__.py": "",
    "minicloud/cli/menus/clouds.py": "from ... import managers\nfrom .. import prompts\n",
}


def test_checker_resolves_every_kind_of_import(tmp_path: Path) -> None:
    graph = import_graph(_tree(tmp_path, CLEAN_TREE))
    edges = {m: sorted({i.target for i in imps}) for m, imps in graph.items()}
    assert edges["minicloud"] == ["minicloud.managers", "minicloud.model"]
    assert edges["minicloud.cache"] == ["minicloud.store"]  # from . import submodule
    assert edges["minicloud.managers"] == ["minicloud.managers.base", "minicloud.managers.clouds"]
    assert edges["minicloud.managers.base"] == ["minicloud.cache"]  # a star import
    # At the top, under TYPE_CHECKING, lazy `import a.b`, lazy `from ..pkg import submodule`.
    assert edges["minicloud.managers.clouds"] == [
        "minicloud.cache", "minicloud.drivers", "minicloud.drivers.base",
        "minicloud.managers.base", "minicloud.store"]
    assert edges["minicloud.cli.main"] == [
        "minicloud", "minicloud.cli.menus.clouds", "minicloud.managers", "minicloud.model"]
    assert edges["minicloud.cli.menus.clouds"] == ["minicloud.cli.prompts", "minicloud.managers"]
    assert edges["minicloud.model"] == edges["minicloud.cli.prompts"] == []


def test_checker_passes_a_clean_tree(tmp_path: Path) -> None:
    package = _tree(tmp_path, CLEAN_TREE)
    assert cycle_report(package) == ([], [])
    assert ui_violations(package) == []


def test_checker_reports_every_cycle(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        **CLEAN_TREE,
        # A lazy import on one side (cli.main imports menus.clouds inside main()).
        "minicloud/cli/menus/clouds.py": "from ...cli.main import main\n",
        # Only under TYPE_CHECKING on one side.
        "minicloud/store.py": """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from .cache import Cache
            """,
        # A package __init__ and its submodule that reads a name of the package back.
        "minicloud/drivers/base.py": "from . import driver_class\n",
    })
    components, cycles = cycle_report(package)
    assert components == [
        ["minicloud.cache", "minicloud.store"],
        ["minicloud.cli.main", "minicloud.cli.menus.clouds"],
        ["minicloud.drivers", "minicloud.drivers.base"],
    ]
    assert cycles == [
        "minicloud.cache (line 1) -> minicloud.store (line 3) -> minicloud.cache",
        "minicloud.cli.main (line 7) -> minicloud.cli.menus.clouds (line 1) -> minicloud.cli.main",
        "minicloud.drivers (line 1) -> minicloud.drivers.base (line 1) -> minicloud.drivers",
    ]


def test_checker_reports_every_cycle_of_a_component(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        "minicloud/__init__.py": "",
        "minicloud/a.py": "from . import b, c\n",
        "minicloud/b.py": "def f():\n    from .c import x\n",
        "minicloud/c.py": "import minicloud.a\nfrom . import a\n",
    })
    components, cycles = cycle_report(package)
    assert components == [["minicloud.a", "minicloud.b", "minicloud.c"]]
    assert cycles == [
        "minicloud.a (line 1) -> minicloud.b (line 2) -> minicloud.c (lines 1, 2) -> minicloud.a",
        "minicloud.a (line 1) -> minicloud.c (lines 1, 2) -> minicloud.a",
    ]


def test_checker_reports_every_ui_violation(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        **CLEAN_TREE,
        "minicloud/cli/commands.py": """
            from typing import TYPE_CHECKING
            import minicloud.store
            from minicloud import cache
            from ..managers.base import check_name
            from ..managers import base, clouds
            if TYPE_CHECKING:
                from ..drivers.base import Driver
            def run(app, cloud):
                from ..drivers import driver_class
                app.inventory.get(cloud)
                app.managers.store.save()
                app._drivers.clear()
                app.make_driver_for(cloud)
                return driver_class(cloud.type)
            """,
    })
    assert ui_violations(package) == [
        "minicloud/cli/commands.py:2: imports minicloud.store",
        "minicloud/cli/commands.py:3: imports minicloud.cache",
        "minicloud/cli/commands.py:4: imports minicloud.managers.base",
        "minicloud/cli/commands.py:5: imports minicloud.managers.base",
        "minicloud/cli/commands.py:7: imports minicloud.drivers.base",
        "minicloud/cli/commands.py:9: imports minicloud.drivers",
        "minicloud/cli/commands.py:10: uses .inventory (app.inventory)",
        "minicloud/cli/commands.py:11: uses .store (app.managers.store)",
        "minicloud/cli/commands.py:12: uses ._drivers (app._drivers)",
        "minicloud/cli/commands.py:13: uses .make_driver_for (app.make_driver_for)",
        "minicloud/cli/commands.py:14: uses driver_class",
    ]
