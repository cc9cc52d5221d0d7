"""The house rules that keep the code walkable, checked on the source (no Django needed).

- Apps import one way, down the layers below: core at the bottom imports no app; an app imports
  only apps in lower layers (apps in one layer do not import each other).
- No app imports `config` (settings, env readers, the Celery app), except management commands,
  which are entry points like config itself.
- No module imports another that imports it back, directly or around a longer circle; imports
  inside functions count too (they are circles postponed), TYPE_CHECKING imports do not.
- No production module is over MAX_MODULE_LINES lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Lowest first. An app may import the apps of any lower layer, never a higher or the same one.
LAYERS: list[set[str]] = [
    {"core"},
    {"audit"},
    {"accounts"},
    {"todos", "providers"},
    {"keys"},
    {"quotas"},
    {"mcp_tools"},
]
MAX_MODULE_LINES = 450


def _production_files() -> list[Path]:
    files = [*ROOT.glob("apps/**/*.py"), *ROOT.glob("config/**/*.py")]
    return sorted(path for path in files if not {"tests", "migrations"} & set(path.relative_to(ROOT).parts))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute module names imported anywhere in the file, except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _layer_of(app: str) -> int:
    for index, layer in enumerate(LAYERS):
        if app in layer:
            return index
    raise AssertionError(f"apps/{app} is in no layer: add it to LAYERS in {Path(__file__).name}")


def test_every_app_has_a_layer():
    apps = {path.name for path in (ROOT / "apps").iterdir() if (path / "apps.py").exists()}
    assert apps, "no apps found"
    for app in apps:
        _layer_of(app)


def test_apps_import_only_apps_below_them():
    uphill = []
    for path in _production_files():
        parts = path.relative_to(ROOT).parts
        if parts[0] != "apps" or len(parts) < 3:
            continue
        app = parts[1]
        for name in _imports(path):
            target = name.split(".")
            other = target[1] if target[0] == "apps" and len(target) > 1 else app
            if other != app and _layer_of(other) >= _layer_of(app):
                uphill.append(f"{path.relative_to(ROOT)} imports {name}")
    assert uphill == []


def test_no_app_imports_config_except_management_commands():
    found = []
    for path in _production_files():
        parts = path.relative_to(ROOT).parts
        if parts[0] != "apps" or "management" in parts:
            continue
        found.extend(
            f"{path.relative_to(ROOT)} imports {name}" for name in _imports(path) if name.split(".")[0] == "config"
        )
    assert found == []


def test_core_imports_no_app_and_not_config():
    found = []
    for path in _production_files():
        if path.relative_to(ROOT).parts[:2] != ("apps", "core"):
            continue
        for name in _imports(path):
            target = name.split(".")
            if target[0] == "config" or (target[0] == "apps" and len(target) > 1 and target[1] != "core"):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    assert found == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_no_module_imports_one_that_imports_it_back():
    files = {_module_name(path): path for path in _production_files()}
    graph = {
        module: {name for name in _imports(path) if name in files and name != module} for module, path in files.items()
    }
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_production_module_is_over_the_line_limit():
    long = {
        str(path.relative_to(ROOT)): count
        for path in _production_files()
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long
