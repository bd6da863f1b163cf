"""The one list of d2lconv's shared public names, filled where each name is defined.

A shared function, class or submodule becomes ``d2l.<name>`` by being registered once, next to
its definition: ``@public`` on a function or class, ``public(obj, "alias")`` for a second name,
``public_module(__name__)`` inside a submodule. ``d2lconv/__init__.py`` derives its attributes,
``__all__`` and the pinned namespaces (``from d2lconv import torch as d2l``) from this list;
the backend's op names come from the contract (``backend/_api.py``) instead.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")

#: name -> object, in the order the names were registered.
PUBLIC: dict[str, Any] = {}


def public(obj: T, name: str | None = None) -> T:
    """Register ``obj`` as ``d2l.<name>`` (default: its ``__name__``); returns it, so it decorates."""
    key = name or obj.__name__  # type: ignore[attr-defined]
    if not key.isidentifier() or key.startswith("_"):
        raise ValueError(f"registry: {key!r} is not a public Python name")
    known = PUBLIC.get(key)
    if known is not None and known is not obj:
        raise ValueError(f"registry: d2l.{key} is already {known!r}; cannot also register {obj!r}")
    PUBLIC[key] = obj
    return obj


def public_module(module_name: str) -> ModuleType:
    """Register the submodule ``module_name`` (call it with ``__name__``) under its last component:
    ``d2lconv.cnn.kernels`` becomes ``d2l.kernels``."""
    module = sys.modules[module_name]
    return public(module, module_name.rsplit(".", 1)[-1])
