"""The driver seam, checked on the source with ``ast`` and ``tokenize`` (of ``minicloud``
only the registry's names are imported).

A cloud type is its driver package (``minicloud/drivers/<type>/``) plus one line of the
registry (``DRIVERS`` in ``minicloud/drivers/__init__.py``); everything above the driver layer
speaks to :class:`~minicloud.drivers.base.Driver` and asks ``Features``, never a type by its
name.  So, in every module of ``minicloud`` outside ``minicloud/drivers/``, and in the
package's ``__init__`` outside the registry:

- no import of a concrete driver module (``minicloud.drivers.<x>`` other than ``base``; the
  package itself, with the registry's strings, is fine), nor its dotted name in a string (an
  ``importlib.import_module`` is an import all the same);
- no mention of a registered type's name in code (names, strings, f-strings; comments and
  docstrings may explain what a cloud type does), but for the few ``NAMED_ABOVE`` with why.

The checker itself is tested on a small fake package tree at the end of this file.  That no
driver package imports another is an import-linter contract (``cloud-types`` in
pyproject.toml, run by tests/test_layers.py).
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass
from pathlib import Path

from minicloud.drivers import DRIVERS

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "minicloud"
# The registered types the product names above the driver layer, and why.  Every other one
# is named only by its driver's package and the registry: a new type is a new package.
NAMED_ABOVE = {
    "stub": "the demo deployment and clouds add's default type are Stub clouds",
}
TYPE_NAMES = tuple(name for name in DRIVERS if name not in NAMED_ABOVE)
# The driver layer's modules the rest may import: the interface, and the pool that builds
# drivers through the registry (it names no type).
SEAM_MODULES = ("base", "pool")
REGISTRY = "DRIVERS"  # the registry's name in the drivers package's __init__


@dataclass(frozen=True)
class Leak:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


# -- the package's modules and their imports (every import: top, functions, TYPE_CHECKING) ----


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


def _checked(path: Path, package_dir: Path) -> bool:
    """Modules above the driver layer, and the drivers package's own ``__init__``."""
    drivers = package_dir / "drivers"
    return drivers not in path.parents or path == drivers / "__init__.py"


def _registry_lines(path: Path, tree: ast.Module) -> set[int]:
    """The lines of the registry assignment, in the drivers package's ``__init__``."""
    if path.name != "__init__.py" or path.parent.name != "drivers":
        return set()
    lines: set[int] = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == REGISTRY for t in targets):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _docstrings(tree: ast.Module) -> set[tuple[int, int]]:
    """Where each docstring starts (line, column), as its STRING token does."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                out.add((first.lineno, first.col_offset))
    return out


def _code_tokens(source: str, tree: ast.Module) -> list[tokenize.TokenInfo]:
    """The tokens of code: no comment, no docstring."""
    docstrings = _docstrings(tree)
    return [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type in (tokenize.NAME, tokenize.STRING, tokenize.OP, tokenize.NUMBER)
            and not (t.type == tokenize.STRING and t.start in docstrings)]


def leaks(package_dir: Path, type_names: tuple[str, ...] = TYPE_NAMES) -> list[Leak]:
    """Every crossing of the seam in the package at ``package_dir``."""
    package = package_dir.name
    drivers = f"{package}.drivers"
    allowed = {drivers, *(f"{drivers}.{m}" for m in SEAM_MODULES)}
    named = re.compile(rf"\b{re.escape(drivers)}\.(\w+)")
    modules = discover(package_dir)
    found: list[Leak] = []
    for module, path in modules.items():
        if not _checked(path, package_dir):
            continue
        shown = path.relative_to(package_dir.parent)
        for imp in imports_of(module, path, modules):
            if imp.target.startswith(f"{drivers}.") and imp.target not in allowed:
                found.append(Leak(shown, imp.line, f"imports the driver module {imp.target}"))
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
        registry = _registry_lines(path, tree)
        for token in _code_tokens(source, tree):
            line = token.start[0]
            if line in registry:
                continue
            if token.type == tokenize.STRING:
                for match in named.finditer(token.string):
                    if match.group(1) not in SEAM_MODULES:
                        found.append(Leak(shown, line, f"names the driver module "
                                                       f"{match.group(0)} in a string"))
            for type_name in type_names:
                if type_name in token.string.lower():
                    found.append(Leak(shown, line, f"mentions the cloud type {type_name!r} "
                                                   f"in code: {token.string}"))
    return sorted(found, key=lambda leak: (str(leak.path), leak.line, leak.what))


def test_no_code_above_the_drivers_knows_a_concrete_driver() -> None:
    found = leaks(PACKAGE_DIR)
    assert not found, ("above the driver layer, code speaks to Driver and asks Features; a "
                       "cloud type is named only by the registry (minicloud/drivers/"
                       "__init__.py, DRIVERS):\n" + "\n".join(map(str, found)))


def test_the_registry_is_where_the_type_is_named() -> None:
    """The check looks where it should: the registry names the type, and is the one place
    of the drivers package's __init__ that may."""
    init = PACKAGE_DIR / "drivers" / "__init__.py"
    source = init.read_text(encoding="utf-8")
    lines = _registry_lines(init, ast.parse(source))
    registry = [source.splitlines()[n - 1] for n in lines]
    assert registry and TYPE_NAMES
    for name in TYPE_NAMES:
        assert any(f'"{name}"' in line for line in registry), name


# -- the checker, on a fake package ------------------------------------------------------------

def _tree(root: Path, files: dict[str, str]) -> Path:
    package = root / "pkg"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return package


def test_the_checker_finds_each_crossing_with_its_file_and_line(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        "__init__.py": "",
        "drivers/__init__.py": '''\
            """Drivers: cloudstack is one of them (a docstring may say so)."""
            from .base import Driver

            DRIVERS = {
                "cloudstack": "pkg.drivers.cloudstack:CloudStackDriver",
            }
            DEFAULT = "cloudstack"
            ''',
        "drivers/base.py": "class Driver: ...\n",
        "drivers/cloudstack.py": "KIND = 'cloudstack'  # inside the layer: fine\n",
        "managers/__init__.py": "",
        "managers/ok.py": '''\
            """Managers.  A CloudStack VPC is a router (docstrings may explain)."""
            from ..drivers import DRIVERS
            from ..drivers.base import Driver
            # cloudstack: comments may explain too


            def run(driver: Driver) -> str:
                """What cloudstack does."""
                return f"{len(DRIVERS)} types"
            ''',
        "managers/bad.py": '''\
            import importlib

            from ..drivers import cloudstack
            from ..drivers.cloudstack import KIND
            import pkg.drivers.cloudstack


            def load():
                return importlib.import_module("pkg.drivers.cloudstack")


            def cloudstack_only(cloud):
                return cloud.type == f"{'CloudStack'.lower()}"
            ''',
    })
    found = [str(leak) for leak in leaks(package, ("cloudstack",))]
    assert found == [
        "pkg/drivers/__init__.py:7: mentions the cloud type 'cloudstack' in code: "
        '"cloudstack"',
        "pkg/managers/bad.py:3: imports the driver module pkg.drivers.cloudstack",
        "pkg/managers/bad.py:3: mentions the cloud type 'cloudstack' in code: cloudstack",
        "pkg/managers/bad.py:4: imports the driver module pkg.drivers.cloudstack",
        "pkg/managers/bad.py:4: mentions the cloud type 'cloudstack' in code: cloudstack",
        "pkg/managers/bad.py:5: imports the driver module pkg.drivers.cloudstack",
        "pkg/managers/bad.py:5: mentions the cloud type 'cloudstack' in code: cloudstack",
        "pkg/managers/bad.py:9: mentions the cloud type 'cloudstack' in code: "
        '"pkg.drivers.cloudstack"',
        "pkg/managers/bad.py:9: names the driver module pkg.drivers.cloudstack in a string",
        "pkg/managers/bad.py:12: mentions the cloud type 'cloudstack' in code: "
        "cloudstack_only",
        "pkg/managers/bad.py:13: mentions the cloud type 'cloudstack' in code: "
        "f\"{'CloudStack'.lower()}\"",
    ], "\n".join(found)
