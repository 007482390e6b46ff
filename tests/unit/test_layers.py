"""The house's floors hold: no import runs back up a floor, and no import loop (imports inside
functions count: grimp reads every import statement).

The floors are the import-linter contract in ``pyproject.toml`` (``[tool.importlinter]``). The
two checks are also run on a small package made here with one upward import and one loop, so a
checker that quietly stopped seeing imports would fail this file too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("livecart", "ray_jobs", "serving", "validation", "feature_repo")


def lint_imports(
    cwd: Path, *args: str, env_path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    program = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert program is not None, "import-linter is a dev dependency"
    env = {"PATH": str(Path(sys.executable).parent)}
    if env_path is not None:
        env["PYTHONPATH"] = str(env_path)
    return subprocess.run(
        [program, "--no-cache", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def import_loops(*packages: str) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan's SCCs)."""
    graph = grimp.build_graph(*packages, include_external_packages=False)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    return [sorted(group) for group in _components(edges) if len(group) > 1]


def _components(edges: dict[str, list[str]]) -> Iterable[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, []):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            found.append(group)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_layers__livecart__no_upward_import() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_layers__livecart__no_import_loop() -> None:
    assert import_loops(*PACKAGES) == []


@pytest.fixture
def bad_house(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``house.low`` imports ``house.high`` inside a function; ``house.a`` <-> ``house.b``."""
    package = tmp_path / "house"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("def f():\n    from house import high\n    return high\n")
    (package / "high.py").write_text("import house.low\n")
    (package / "a.py").write_text("from house import b\n")
    (package / "b.py").write_text("def g():\n    import house.a\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = house\n\n"
        "[importlinter:contract:floors]\nname = floors\ntype = layers\n"
        "layers =\n    house.high\n    house.low\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_layers__upward_import_inside_a_function__contract_broken(bad_house: Path) -> None:
    result = lint_imports(bad_house, "--config", ".importlinter", env_path=bad_house)
    assert result.returncode != 0 and "house.low -> house.high" in result.stdout


def test_layers__loop_through_a_function_import__found(bad_house: Path) -> None:
    assert ["house.a", "house.b"] in import_loops("house")
