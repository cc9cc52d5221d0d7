"""The house rules that keep the code walkable, checked on the source (no Django needed).

- Apps import one way, down the layers below: core at the bottom imports no app; an app imports
  only apps in lower layers (apps in one layer do not import each other).
- No app imports `config` (settings, env readers, the Celery app), except management commands,
  which are entry points like config itself.
- An app reads and changes another app's data through that app's selectors and services: outside
  its own `models.py` (where a foreign key may name another app's model), no module imports
  another app's `models` or `admin`. Two exceptions: the user model (`User`, what
  get_user_model() / settings.AUTH_USER_MODEL name), and imports under `if TYPE_CHECKING:`, which
  only name a model in an annotation (as a foreign key names it) and cannot query it.
- No module imports another that imports it back, directly or around a longer circle. Every import
  counts: inside functions (a circle postponed to the first call) and under TYPE_CHECKING (a circle
  in the types: neither module can be read, moved or tested without the other). What does not
  count: the implicit import of a parent package that Python makes before a submodule, because a
  package `__init__` that re-exports its submodules would then be in a circle with each of them.
- No production module is over MAX_MODULE_LINES lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

# Reads the source only: the same in both modes.
pytestmark = pytest.mark.pure

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
    # A door over the pipeline (like REST and MCP), kept in its own app for its own models.
    {"chat"},
    # Pages are a door, like the REST views and the MCP transport: they call every app's services (chat's too).
    {"web"},
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


def _imports(path: Path, *, type_checking: bool = False) -> set[str]:
    """Absolute module names imported anywhere in the file; under `if TYPE_CHECKING:` only if asked."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if not type_checking and isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
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


def _reaches_into_another_app(path: Path) -> list[str]:
    """The imports of `path` that name another app's `models` or `admin` (see the module docstring)."""
    relative = path.relative_to(ROOT)
    return [f"{relative} imports {name}" for name in _foreign_models_or_admin(relative.parts, _imports(path))]


def _foreign_models_or_admin(parts: tuple[str, ...], names: set[str]) -> list[str]:
    if parts[0] != "apps" or len(parts) < 3 or parts[-1] == "models.py":
        return []
    found = []
    for name in sorted(names):
        target = name.split(".")
        if len(target) < 3 or target[0] != "apps" or target[1] == parts[1] or target[2] not in {"models", "admin"}:
            continue
        if target[2:] == ["models", "User"]:
            continue
        if len(target) == 3 and any(other.startswith(f"{name}.") for other in names):
            continue  # `from apps.x.models import A, B`: judged by A and B
        found.append(name)
    return found


def test_the_rule_finds_another_apps_models_and_admin_but_not_the_user_model():
    web = ("apps", "web", "dashboard.py")
    assert _foreign_models_or_admin(web, {"apps.keys.models", "apps.keys.models.ProviderKey"}) == [
        "apps.keys.models.ProviderKey"
    ]
    assert _foreign_models_or_admin(web, {"apps.quotas", "apps.quotas.admin"}) == ["apps.quotas.admin"]
    assert _foreign_models_or_admin(web, {"apps.accounts.models", "apps.accounts.models.User"}) == []
    assert _foreign_models_or_admin(web, {"apps.web.models", "apps.web.models.SetupStep"}) == []
    assert _foreign_models_or_admin(("apps", "web", "models.py"), {"apps.keys.models"}) == []


def test_imports_under_type_checking_count_for_circles_only(tmp_path):
    module = tmp_path / "module.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from apps.keys.models import ProviderKey\n"
        "def later():\n"
        "    from apps.todos import services\n"
    )
    assert "apps.keys.models.ProviderKey" not in _imports(module)
    assert "apps.keys.models.ProviderKey" in _imports(module, type_checking=True)
    assert "apps.todos.services" in _imports(module)


def test_apps_use_each_others_selectors_and_services_not_models_or_admin():
    assert [line for path in _production_files() for line in _reaches_into_another_app(path)] == []


def _import_graph() -> dict[str, set[str]]:
    files = {_module_name(path): path for path in _production_files()}
    return {
        module: {name for name in _imports(path, type_checking=True) if name in files and name != module}
        for module, path in files.items()
    }


def test_no_module_imports_one_that_imports_it_back():
    assert _cycles(_import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_production_module_is_over_the_line_limit():
    long = {
        str(path.relative_to(ROOT)): count
        for path in _production_files()
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long


def test_one_rate_limit_engine_the_limits_library_only_parses_rates():
    """Every limit runs on apps.core.limiter (one Lua round trip, one Redis-down policy, one set of
    headers); `limits` is kept for its rate notation ("5/hour"), not for its storages or strategies."""
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _production_files()
        for name in _imports(path)
        if name.split(".")[0] == "limits" and name not in {"limits", "limits.parse"}
    ]
    assert found == []
