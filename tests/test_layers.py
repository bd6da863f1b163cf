"""The package's parts import only downward: the backend knows no content, the neutral base no
chapter, a chapter only the base and the backend, and no two packages import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import d2lconv

PACKAGE = Path(d2lconv.__file__).parent


def part_of(module: str) -> str | None:
    """``d2lconv.cnn.conv`` -> ``cnn``; ``d2lconv.results`` -> ``results``; outside d2lconv: None."""
    parts = module.split(".")
    if parts[0] != "d2lconv":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path) -> set[str]:
    """The d2lconv modules ``path`` imports, at any depth of the file (function-level imports too)."""
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    package = list(relative.parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                found.add(target)
                if not node.module:  # from . import x: x may be a module, or a name of the package
                    found.update(f"{target}.{alias.name}" for alias in node.names
                                 if _is_module(f"{target}.{alias.name}"))
            elif node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names
                             if node.module.split(".")[0] == "d2lconv" and _is_module(f"{node.module}.{alias.name}"))
    return {m for m in found if m.split(".")[0] == "d2lconv"}


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def root_imports() -> set[str]:
    """Importing the package root (``import d2lconv``, ``from .. import corr2d``) runs its
    ``__init__``: the parts it imports, and every content package it imports by name."""
    parts = {part_of(m) for m in imports_of(PACKAGE / "__init__.py")} | set(d2lconv._CONTENT)
    return {p for p in parts if p not in (None, "__init__")}


def part_graph() -> dict[str, set[str]]:
    """part -> the other parts it imports; an import of the package root counts as importing
    everything the root imports (its ``__init__``, the public face, is not a part itself)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        part = part_of(module.removesuffix(".__init__") if module != "d2lconv.__init__" else "d2lconv")
        if part in (None, "__init__"):
            continue
        targets = {part_of(m) for m in imports_of(path)}
        if "__init__" in targets:
            targets |= root_imports()
        graph.setdefault(part, set()).update(t for t in targets if t not in (None, "__init__", part))
    return graph


def test_a_root_import_counts_as_importing_what_the_root_imports():
    assert {"backend", "base", "cnn", "registry"} <= root_imports()


def test_imports_resolve_relative_names():
    found = imports_of(PACKAGE / "cnn" / "conv.py")
    assert "d2lconv.backend" in found and "d2lconv.base.checks" in found and "d2lconv.cnn.geometry" in found


def test_a_chapter_imports_only_the_neutral_base_training_and_the_backend():
    graph = part_graph()
    assert graph["cnn"] <= {"backend", "base", "train", "registry"}, graph["cnn"]
    assert graph["train"] <= {"backend", "base", "registry", "atomic", "_version"}, graph["train"]
    assert graph["data"] <= {"backend", "base", "atomic", "registry"}, graph["data"]
    assert graph["base"] <= {"backend", "registry"}, graph["base"]
    assert graph["backend"] <= {"install", "registry"}, graph["backend"]
    assert graph["registry"] == set()


def test_no_two_parts_import_each_other():
    graph = part_graph()
    order: list[str] = []
    remaining = {part: set(deps) for part, deps in graph.items()}
    while remaining:
        ready = sorted(part for part, deps in remaining.items() if deps <= set(order))
        assert ready, f"an import cycle among {sorted(remaining)}: {remaining}"
        order.extend(ready)
        for part in ready:
            del remaining[part]
