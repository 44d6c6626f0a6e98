"""The package has no import circles (type-only imports count: they are circles in the design)."""

from __future__ import annotations

import ast
from pathlib import Path

import n58aio

ROOT = Path(n58aio.__file__).parent


def _module_name(path: Path) -> tuple[str, list[str]]:
    """The dotted name of ``path`` and the package its relative imports start from."""
    parts = ["n58aio", *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts), parts
    return ".".join(parts), parts[:-1]


def import_graph() -> dict[str, set[str]]:
    """Module -> the n58aio modules it imports (``from . import x`` names the module x)."""
    files = {_module_name(path)[0]: path for path in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = _module_name(path)[1]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                source = ".".join([*base, *([node.module] if node.module else [])])
                submodules = {f"{source}.{alias.name}" for alias in node.names} & files.keys()
                deps |= submodules or ({source} & files.keys())
            elif isinstance(node, ast.Import):
                deps |= {alias.name for alias in node.names} & files.keys()
        graph[name] = deps - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in sorted(graph[node]):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_detector_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_graph_sees_type_only_imports() -> None:
    graph = import_graph()
    assert "n58aio.transfer.modem_api" in graph["n58aio.transfer.download"]
    assert "n58aio.transfer.download" in graph["n58aio.modem"]


def test_no_import_circles() -> None:
    assert circles(import_graph()) == []


def test_transfer_and_pool_download_take_protocols() -> None:
    graph = import_graph()
    for module in ("n58aio.transfer.download", "n58aio.transfer.module_files"):
        assert "n58aio.modem" not in graph[module], module
    assert "n58aio.pool.pool" not in graph["n58aio.pool.download"]
