"""The import rules of ARCHITECTURE.md, checked on the source (imports inside functions count).

* Imports go one way: ``synthgen`` (produces) → ``evaluation`` (judges) → ``app`` (governs).
  ``synthgen`` imports neither of the others, ``evaluation`` never imports ``app``.
* No import cycle between modules, module-level or inside a function (an import only done for
  type checking, under ``if TYPE_CHECKING:``, runs nothing and is not counted).

Front ends and the worker using the service layer's public interface only (no ``platform._x``)
is checked by ``tests/app_api/test_api_layering.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("synthgen", "evaluation", "app")
#: the packages each package may import (besides itself)
ALLOWED = {"synthgen": set(), "evaluation": {"synthgen"}, "app": {"synthgen", "evaluation"}}


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path, known: set[str], root: Path = REPO) -> list[tuple[int, str]]:
    """(line, module) of every import in the file that runs (TYPE_CHECKING blocks excluded),
    wherever it stands; ``from pkg import sub`` counts as importing ``pkg.sub`` when that is a
    module, and ``importlib.import_module("x")``/``__import__("x")`` with a literal counts too."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((node.lineno, sub if sub in known else base))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def source_files(root: Path = REPO) -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (root / pkg).rglob("*.py") if "migrations/versions" not in str(p))


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    files = source_files(root)
    known = {module_name(p, root) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        graph[module_name(path, root)] = {m for _, m in imports_of(path, known, root) if m in known}
    return graph


def upward_imports(root: Path = REPO) -> list[str]:
    files = source_files(root)
    known = {module_name(p, root) for p in files}
    bad = []
    for path in files:
        own = module_name(path, root).split(".")[0]
        for line, target in imports_of(path, known, root):
            top = target.split(".")[0]
            if top in PACKAGES and top != own and top not in ALLOWED[own]:
                bad.append(f"{path.relative_to(root)}:{line} imports {target}")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_imports_only_go_down():
    assert upward_imports() == []


def test_no_import_cycles_even_inside_functions():
    assert cycles(import_graph()) == []


# -- the checks find what they are meant to find ----------------------------------------------
@pytest.fixture
def tree(tmp_path):
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("", encoding="utf-8")
    return tmp_path


def test_an_upward_import_inside_a_function_is_found(tree):
    (tree / "synthgen" / "cli.py").write_text("def main():\n    from app.core import worker\n", encoding="utf-8")
    (tree / "evaluation" / "x.py").write_text("import synthgen\n", encoding="utf-8")
    assert upward_imports(tree) == ["synthgen/cli.py:2 imports app.core"]


def test_an_import_by_name_is_found(tree):
    (tree / "synthgen" / "ext.py").write_text("import importlib\nm = importlib.import_module('app.cli')\n",
                                              encoding="utf-8")
    assert upward_imports(tree) == ["synthgen/ext.py:2 imports app.cli"]


def test_a_function_level_cycle_is_found_and_type_checking_imports_are_not(tree):
    (tree / "synthgen" / "model.py").write_text("def load():\n    from synthgen import baselines\n", encoding="utf-8")
    (tree / "synthgen" / "baselines.py").write_text("from synthgen.model import load\n", encoding="utf-8")
    (tree / "synthgen" / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                            "    from synthgen import b\n", encoding="utf-8")
    (tree / "synthgen" / "b.py").write_text("from synthgen import a\n", encoding="utf-8")
    assert cycles(import_graph(tree)) == [["synthgen.baselines", "synthgen.model"]]
