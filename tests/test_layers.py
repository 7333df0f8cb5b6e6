"""The package's layering: imports (function-level ones included) point down the layers only.

    errors -> config, hyper, jaxsetup -> data, models -> train -> run -> analysis, report
    -> api -> tune -> projects -> cli -> aejax/__init__ (lazy wrappers), __main__

A part may import itself and any part of a lower layer; a cycle between parts, an upward import,
or a ``try/except ImportError`` around one of aejax's own imports fails here.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "aejax"

LAYERS = [
    {"errors"},
    {"config", "hyper", "jaxsetup"},
    {"data", "models"},
    {"train"},
    {"run"},
    {"analysis", "report"},
    {"api"},
    {"tune"},
    {"projects"},
    {"cli"},
    {"__main__", "__init__"},
]
LAYER = {part: i for i, parts in enumerate(LAYERS) for part in parts}


def _part(module: str) -> str | None:
    """``aejax.run.engine`` -> ``run``; ``aejax`` -> ``__init__``; other packages -> None."""
    names = module.split(".")
    if names[0] != "aejax":
        return None
    return names[1] if len(names) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path):
    """(imported module, line, guarded by except ImportError) for every import in the file."""
    tree = ast.parse(path.read_text())
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            names = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
            if any("ImportError" in n or "ModuleNotFoundError" in n for n in names):
                guarded |= {id(n) for n in ast.walk(ast.Module(body=node.body, type_ignores=[]))}
    pkg = _module_name(path).split(".") if path.is_relative_to(PACKAGE) else ["aejax"]
    if path.name != "__init__.py" and path.is_relative_to(PACKAGE):
        pkg = pkg[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in guarded
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            for alias in node.names:  # `from aejax import api` imports aejax.api
                target = f"{base}.{alias.name}" if base == "aejax" else base
                yield target, node.lineno, id(node) in guarded


def _edges():
    for path in sorted(PACKAGE.rglob("*.py")):
        src = _part(_module_name(path)) if path.parent != PACKAGE else path.stem
        for target, line, guarded in _imports(path):
            dst = _part(target)
            if dst is not None:
                yield path.relative_to(PACKAGE.parent), line, src, dst, guarded


def test_every_part_has_a_layer():
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" or (p / "__init__.py").exists())}
    assert parts <= set(LAYER), f"parts without a layer: {sorted(parts - set(LAYER))}"


def test_imports_point_down_the_layers_only():
    upward = [f"{f}:{line}: {src} imports {dst}" for f, line, src, dst, _ in _edges()
              if src != dst and LAYER[dst] >= LAYER[src]]
    assert not upward, "imports that point up or sideways:\n" + "\n".join(upward)


def test_no_cycle_between_parts():
    graph: dict[str, set] = {}
    for _, _, src, dst, _ in _edges():
        if src != dst:
            graph.setdefault(src, set()).add(dst)
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path + [node, nxt]))
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_no_import_error_guard_around_aejax_imports():
    guarded = [f"{f}:{line}" for f, line, _, _, g in _edges() if g]
    assert not guarded, f"aejax imports inside try/except ImportError: {guarded}"


def test_the_checks_see_function_level_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f():\n    try:\n        from aejax import api\n    except ImportError:\n        pass\n")
    found = list(_imports(src))
    assert found == [("aejax.api", 3, True)]
