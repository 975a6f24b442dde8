"""The rooms of the repository and which may import which (README, "Architecture"): every
import statement, at module level or inside a function, parsed with `ast`."""

from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROOMS = ("models", "components", "pipeline", "serving", "mobile", "benchmarks")
# Room -> the other rooms it may import. tests/ may import anything; nothing imports tests/.
ALLOWED = {
    "models": set(),
    "components": {"models"},
    "serving": {"models"},
    "mobile": {"models"},
    "pipeline": {"models", "components", "serving"},
    "benchmarks": {"models", "components", "pipeline", "serving"},
}


def _modules(room: str) -> dict[str, str]:
    """Dotted module name -> file, for every .py file under `room`."""
    found = {}
    for directory, dirs, files in os.walk(os.path.join(ROOT, room)):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                dotted = os.path.relpath(path, ROOT)[: -len(".py")].replace(os.sep, ".")
                found[dotted.removesuffix(".__init__")] = path
    return found


def _imports(module: str, path: str) -> list[tuple[int, str]]:
    """(line, imported module) for each import in the file; relative imports made absolute."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.append((node.lineno, base))
            # `from pipeline import synthesize` imports the module pipeline.synthesize
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def _room_imports() -> list[tuple[str, str, int, str]]:
    """(importing room, file, line, imported room) for imports that leave their room."""
    crossings: list[tuple[str, str, int, str]] = []
    for room in ROOMS:
        for module, path in _modules(room).items():
            for line, imported in _imports(module, path):
                target = imported.split(".")[0]
                crossing = (room, os.path.relpath(path, ROOT), line, target)
                if target in (*ROOMS, "tests") and target != room and crossing not in crossings:
                    crossings.append(crossing)
    return crossings


def test_no_room_imports_across_a_boundary_the_wrong_way() -> None:
    wrong = [
        f"{path}:{line} imports {target} (a {room} module may import {sorted(ALLOWED[room])})"
        for room, path, line, target in _room_imports()
        if target not in ALLOWED[room]
    ]
    assert wrong == [], "\n".join(wrong)


def test_the_checker_sees_lazy_and_relative_imports(tmp_path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "def f():\n    from pipeline.synthesize import write_wav\n"
        "from . import sibling\nimport serving.client\n"
    )
    found = {name for _, name in _imports("models.sub.mod", str(source))}
    assert {"pipeline.synthesize", "models.sub.sibling", "serving.client"} <= found


def _module_graph() -> dict[str, set[str]]:
    modules: dict[str, str] = {}
    for room in ROOMS:
        modules.update(_modules(room))
    graph = {}
    for module, path in modules.items():
        graph[module] = {name for _, name in _imports(module, path) if name in modules} - {module}
    return graph


def test_no_two_modules_import_each_other() -> None:
    """A cycle (even through a lazy import) means the two files are one unit split in two."""
    graph = _module_graph()
    mutual = sorted(
        f"{a} <-> {b}"
        for a, targets in graph.items()
        for b in targets
        if a < b and a in graph.get(b, set()) and not b.startswith(a + ".")
    )
    assert mutual == [], "\n".join(mutual)
