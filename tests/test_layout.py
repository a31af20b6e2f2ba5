"""The folder tree is the data flow: the core is pure, storage knows rows, no import circles."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
IO_LIBRARIES = {"aiohttp", "asyncio", "sqlite3", "asyncpg", "watchfiles", "jinja2", "socket"}
#: the edge modules the core must never reach
EDGES = (
    "bot.store", "bot.service", "bot.webhook", "bot.worker", "bot.decider", "bot.sender",
    "bot.pipeline", "bot.gateway", "bot.config", "bot.cli", "bot.admin", "bot.rulebook",
    "bot.sandbox", "bot.demo", "bot.ops", "bot.inbound", "bot.status", "bot.logs",
)  # fmt: skip
MAX_LINES = 420


def _module_name(path: Path) -> str:
    """bot/core/engine.py -> bot.core.engine; bot/core/__init__.py -> bot.core."""
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


_MODULE_FILES: set[str] = set()


def _imports(path: Path) -> set[str]:
    """Modules `path` imports at run time (imports under `if TYPE_CHECKING:` aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for n in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from bot.store import operations` imports the submodule, not the package's names
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            found.update(submodules)
            if not submodules <= _MODULE_FILES:
                found.add(node.module)
    return found


MODULES = {_module_name(p): p for p in BOT.rglob("*.py")}
_MODULE_FILES.update(MODULES)
GRAPH = {
    name: {i for i in _imports(path) if i in MODULES and i != name}
    for name, path in MODULES.items()
}
LIBRARIES = {name: {i.split(".")[0] for i in _imports(path)} for name, path in MODULES.items()}


def _reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for module in GRAPH[todo.pop()]:
            if module not in seen:
                seen.add(module)
                todo.append(module)
    return seen


def test_the_core_imports_no_io_library_and_no_edge_module() -> None:
    for name in (n for n in MODULES if n.startswith("bot.core")):
        reached = _reachable(name) | {name}
        edges = sorted(m for m in reached if m.startswith(EDGES))
        assert not edges, f"{name} reaches {edges}"
        libraries = set().union(*(LIBRARIES[m] for m in reached)) & IO_LIBRARIES
        assert not libraries, f"{name} (through {sorted(reached)}) imports {sorted(libraries)}"


def test_storage_knows_rows_not_rules() -> None:
    for name in (n for n in MODULES if n.startswith("bot.store")):
        reached = _reachable(name)
        assert not [m for m in reached if m.startswith("bot.core")], name
        assert "bot.store.sqlite" not in GRAPH[name] or name == "bot.store", name


def test_no_two_modules_import_each_other_in_a_circle() -> None:
    for name in MODULES:
        for module in GRAPH[name]:
            # a package importing its own submodules is how packages expose names
            if name in _reachable(module) and not module.startswith(name + "."):
                assert name.startswith(module + "."), f"circle: {name} <-> {module}"


def test_no_module_is_long_enough_to_hold_two_jobs() -> None:
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long
