"""The layer's import rules (docs/architecture.md), checked on the source's import statements.

Every `import` and `from ... import` counts, including those inside functions and under
TYPE_CHECKING: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYER_ROOT = REPO_ROOT / "layers" / "rankr_ghl"
PACKAGE = "rankr_ghl"
FUNCTIONS_ROOT = REPO_ROOT / "functions"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(source: str, module: str, *, is_package: bool) -> Iterator[str]:
    """Absolute names of every module (or module attribute) the source imports."""
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package_parts[: len(package_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            yield base
            for alias in node.names:
                yield f"{base}.{alias.name}"


def layer_modules() -> dict[str, set[str]]:
    """Every layer module -> the names it imports."""
    modules: dict[str, set[str]] = {}
    for path in sorted((LAYER_ROOT / PACKAGE).rglob("*.py")):
        name = module_name(path, LAYER_ROOT)
        modules[name] = set(imported_names(path.read_text(), name, is_package=path.name == "__init__.py"))
    return modules


MODULES = layer_modules()


def under(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def violations(sources: Iterable[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module in sources
        for name in MODULES[module]
        if under(name, *forbidden)
    )


def test_the_layer_is_found() -> None:
    assert "rankr_ghl.wiring" in MODULES and "rankr_ghl.sync.mapping" in MODULES


def test_sync_is_pure() -> None:
    sync = [m for m in MODULES if under(m, "rankr_ghl.sync")]
    forbidden = ("boto3", "botocore", "httpx", "rankr_ghl.aws", "rankr_ghl.ghl", "rankr_ghl.rankr")
    assert violations(sync, forbidden) == []


def test_the_layer_imports_no_devtools_bench_or_tests() -> None:
    forbidden = ("rankr_ghl_tools", "devtools", "bench", "tests", "conftest", "fakes")
    assert violations(MODULES, forbidden) == []


@pytest.mark.parametrize(("system", "other"), [("ghl", "rankr"), ("rankr", "ghl")])
def test_api_clients_stay_apart(system: str, other: str) -> None:
    sources = [m for m in MODULES if under(m, f"rankr_ghl.{system}")]
    forbidden = tuple(f"rankr_ghl.{name}" for name in (other, "flows", "aws", "connections", "wiring"))
    assert violations(sources, forbidden) == []


def test_flows_never_import_the_composition_root() -> None:
    flows = [m for m in MODULES if under(m, "rankr_ghl.flows")]
    assert violations(flows, ("rankr_ghl.wiring",)) == []


def test_no_handler_imports_another_handler() -> None:
    handlers = sorted(FUNCTIONS_ROOT.glob("*/app.py"))
    assert len(handlers) >= 5
    offenders = []
    for path in handlers:
        names = set(imported_names(path.read_text(), "app", is_package=False))
        for name in names:
            if name == "app" or under(name, "app", "functions"):
                offenders.append(f"{path.parent.name} imports {name}")
        offenders += [
            f"{path.parent.name} reads os.environ"
            for name in names
            if name in {"os", "os.environ", "os.getenv"}
        ]
    assert offenders == []


def module_of(name: str) -> str | None:
    """The layer module `name` refers to (an attribute import names its module)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, names in MODULES.items():
        targets = {module_of(n) for n in names if under(n, PACKAGE)}
        # Importing a package's submodule runs the package too, but that is not a cycle of ours.
        graph[module] = {t for t in targets if t is not None and t != module and t != PACKAGE}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_in_the_layer() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_rule_checks_see_lazy_and_relative_imports() -> None:
    source = "def f():\n    from .mapping import load_mapping\n    import boto3\n"
    names = set(imported_names(source, "rankr_ghl.sync.example", is_package=False))
    assert {"rankr_ghl.sync.mapping", "rankr_ghl.sync.mapping.load_mapping", "boto3"} <= names
