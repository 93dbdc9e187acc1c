"""The package's folders are its architecture: imports run one way only.

cli → ops → installed | offline → controlplane | cluster | render → config → core. A
module may import from its own layer or any layer below; packages of one layer know
nothing of each other. An import that only type-checks (under ``if TYPE_CHECKING:``) may point
anywhere: it never runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "airbox"

# Lower number = lower layer. Top-level modules not named here are core (0).
LAYERS = {
    "cli": 5,
    "ops": 4,
    "installed": 3,
    # The offline bundle's archive: Docker, the toolchain and the chart's names below it.
    "offline": 3,
    "controlplane": 2,
    "cluster": 2,
    "render": 2,
    "config": 1,
}


def area(module: str) -> str:
    """The first name under ``airbox`` ("" for the package root itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer(module: str) -> int:
    return LAYERS.get(area(module), 0)


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports(tree: ast.AST, here: str) -> list[tuple[int, str]]:
    """(line, module) of every airbox import that runs, including those inside functions."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names if a.name.startswith("airbox"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = here.split(".")[: -node.level]
                base = ".".join([*package, base] if base else package)
            if base == "airbox":
                # `from airbox import x`: x may be a module (a layer) or a name of the root.
                found.extend((node.lineno, f"airbox.{a.name}") for a in node.names)
            elif base.startswith("airbox."):
                found.append((node.lineno, base))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def judge(here: str, tree: ast.AST) -> list[str]:
    problems: list[str] = []
    for line, target in runtime_imports(tree, here):
        if area(target) == area(here):
            continue
        upward = layer(target) > layer(here)
        sideways = layer(target) == layer(here) and layer(here) > 0
        if upward or sideways:
            problems.append(f"{here}:{line} imports {target}")
    return problems


def violations() -> list[str]:
    problems: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        problems.extend(judge(module_name(path), tree))
    return problems


def test_imports_run_one_way() -> None:
    assert violations() == []


@pytest.mark.parametrize(("source", "target"), [
    ("airbox.config.settings", "airbox.ops.status"),        # upward
    ("airbox.cluster.kube", "airbox.controlplane.api"),     # sideways between middle packages
    ("airbox.errors", "airbox.installed"),                  # core reaching up
])
def test_the_rule_catches_a_wrong_import(source: str, target: str) -> None:
    # Inside a function too: a lazy import is still a dependency.
    tree = ast.parse(f"def f() -> None:\n    from {target} import x\n")
    assert judge(source, tree) == [f"{source}:2 imports {target}"]


def test_downward_and_root_imports_pass() -> None:
    tree = ast.parse("from airbox import errors, __version__\nfrom airbox.config import settings\n"
                     "from .pipeline import Step\n")
    assert judge("airbox.ops.install", tree) == []


def test_type_only_imports_may_point_up() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                     "    from airbox.ops.install import Context\n")
    assert runtime_imports(tree, "airbox.controlplane.registration") == []


def test_status_no_longer_finds_installs() -> None:
    defined = {n.name for path in (PACKAGE / "ops" / "status").glob("*.py")
               for n in ast.parse(path.read_text(encoding="utf-8")).body
               if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    assert "status_command" in defined
    assert not defined & {"Installed", "choose_name", "load_installed", "require_installed",
                          "tool_runner"}


def test_every_package_is_shipped() -> None:
    """A folder missing from pyproject's package list vanishes from a non-editable install."""
    tomllib = pytest.importorskip("tomllib")

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    folders = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert folders <= listed
    assert all((PACKAGE / d).is_dir() for d in LAYERS if d != "installed" and
               not (PACKAGE / f"{d}.py").exists())
