"""The package's folders are its architecture: imports run one way only.

cli → ops → installed | offline → controlplane | cluster | render → config → core. A
module may import from its own layer or any layer below; packages of one layer know
nothing of each other. An import that only type-checks (under ``if TYPE_CHECKING:``) may point
anywhere: it never runs.

And no circle, whatever the layers: no module reaches itself through its imports, those
inside functions and those that only type-check included (a type-only import up to a
caller is still the caller's shape leaking down: what the callee needs should be passed to
it). An edge is what a module names; the parent package a submodule's import runs first
does not count.
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
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


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


def every_import(tree: ast.AST, here: str, modules: set[str]) -> set[str]:
    """The airbox modules ``here`` names in any import: at the top, in a function, or only
    for the type checker; ``from package import module`` names the module."""
    found: set[str] = set()

    def resolve(base: str, name: str | None = None) -> str | None:
        if name is not None and f"{base}.{name}" in modules:
            return f"{base}.{name}"
        while base and base not in modules:
            base = base.rpartition(".")[0]
        return base or None

    package = here.split(".") if here in PACKAGES else here.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(resolve(a.name) or "" for a in node.names if a.name.startswith("airbox"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            if base == "airbox" or base.startswith("airbox."):
                found.update(resolve(base, a.name) or "" for a in node.names)
    found.discard("")
    found.discard(here)
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each group of modules that import one another in a circle (Tarjan's strongly
    connected components of more than one module), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def import_graph() -> dict[str, set[str]]:
    sources = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    modules = set(sources)
    return {
        name: every_import(ast.parse(path.read_text(encoding="utf-8")), name, modules)
        for name, path in sources.items()
    }


PACKAGES = {module_name(p) for p in PACKAGE.rglob("__init__.py")}


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


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("airbox.config.settings", "airbox.ops.status"),  # upward
        ("airbox.cluster.kube", "airbox.controlplane.api"),  # sideways between middle packages
        ("airbox.errors", "airbox.installed"),  # core reaching up
    ],
)
def test_the_rule_catches_a_wrong_import(source: str, target: str) -> None:
    # Inside a function too: a lazy import is still a dependency.
    tree = ast.parse(f"def f() -> None:\n    from {target} import x\n")
    assert judge(source, tree) == [f"{source}:2 imports {target}"]


def test_no_module_imports_itself_in_a_circle() -> None:
    assert circles(import_graph()) == []


def test_a_type_only_import_closes_a_circle() -> None:
    """The install Context once sat in ops/install.py, and registration, workspaces and
    preflight imported it for their type hints: six modules in one circle."""
    modules = {"airbox.ops.install", "airbox.controlplane.registration", "airbox.errors"}
    below = ast.parse(
        "from typing import TYPE_CHECKING\nfrom airbox import errors\n"
        "if TYPE_CHECKING:\n    from airbox.ops.install import Context\n"
    )
    above = ast.parse("def f() -> None:\n    from airbox.controlplane import registration\n")
    graph = {
        "airbox.controlplane.registration": every_import(
            below, "airbox.controlplane.registration", modules
        ),
        "airbox.ops.install": every_import(above, "airbox.ops.install", modules),
        "airbox.errors": set(),
    }
    assert graph["airbox.controlplane.registration"] == {"airbox.errors", "airbox.ops.install"}
    assert circles(graph) == [["airbox.controlplane.registration", "airbox.ops.install"]]
    del graph["airbox.controlplane.registration"]
    assert circles(graph) == []


def test_downward_and_root_imports_pass() -> None:
    tree = ast.parse(
        "from airbox import errors, __version__\nfrom airbox.config import settings\n"
        "from .pipeline import Step\n"
    )
    assert judge("airbox.ops.install", tree) == []


def test_type_only_imports_may_point_up() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from airbox.ops.install import Context\n"
    )
    assert runtime_imports(tree, "airbox.controlplane.registration") == []


def test_status_no_longer_finds_installs() -> None:
    defined = {
        n.name
        for path in (PACKAGE / "ops" / "status").glob("*.py")
        for n in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(n, ast.FunctionDef | ast.ClassDef)
    }
    assert "status_command" in defined
    assert not defined & {
        "Installed",
        "choose_name",
        "load_installed",
        "require_installed",
        "tool_runner",
    }


def test_every_package_is_shipped() -> None:
    """A folder missing from pyproject's package list vanishes from a non-editable install."""
    tomllib = pytest.importorskip("tomllib")

    listed = set(
        tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"][
            "packages"
        ]
    )
    folders = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert folders <= listed
    assert all(
        (PACKAGE / d).is_dir()
        for d in LAYERS
        if d != "installed" and not (PACKAGE / f"{d}.py").exists()
    )


def test_install_calls_its_steps_collaborators_directly() -> None:
    """No string-keyed hooks and no import by name: a step's code is found by reading it."""
    import dataclasses

    from airbox.ops.install import Context

    assert "hooks" not in {f.name for f in dataclasses.fields(Context)}
    sources = [PACKAGE / "ops" / "install.py", *(PACKAGE / "ops" / "install").glob("*.py")]
    text = "".join(p.read_text(encoding="utf-8") for p in sources if p.exists())
    assert "importlib" not in text and "hooks" not in text


def test_no_module_is_over_600_lines() -> None:
    """A module past 600 lines holds several concerns (ops/install.py had 1.5k): split it
    by concern, as ops/install/ and ops/status/ are."""
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}
