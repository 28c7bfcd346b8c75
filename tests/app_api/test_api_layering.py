"""Front ends and the worker use the service's public interface only: no reaching into Platform internals."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def private_platform_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
            if name in ("platform", "p") or (isinstance(base, ast.Call) and getattr(base.func, "id", "") in
                                             ("_platform", "platform")):
                found.append(f"{path.name}:{node.lineno} .{node.attr}")
    return found


def test_api_cli_dashboard_and_worker_do_not_touch_private_platform_attributes():
    files = [*sorted((REPO / "app" / "api").rglob("*.py")), *sorted((REPO / "app" / "cli").rglob("*.py")),
             *sorted((REPO / "app" / "ui").rglob("*.py")), REPO / "app" / "core" / "jobs.py",
             REPO / "app" / "core" / "worker.py"]
    assert [u for f in files for u in private_platform_uses(f)] == []


def test_the_checker_finds_a_private_use(tmp_path):
    bad = tmp_path / "probe.py"
    bad.write_text("def f(platform):\n    return platform._factory\n", encoding="utf-8")
    assert private_platform_uses(bad) == ["probe.py:2 ._factory"]
