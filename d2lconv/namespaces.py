"""d2l's import idiom: ``from d2lconv import torch as d2l`` gives a namespace pinned to one backend.

A pinned namespace holds the backend's ops as plain attributes (no dispatch at all) and
d2lconv's shared code (``corr2d``, ``Conv2D``, ``kernels``, ...) wrapped so that every call
runs on that backend, whatever ``D2LCONV_BACKEND`` or ``set_backend`` say. ``import d2lconv as
d2l`` keeps following the selection.

``d2lconv.numpy`` is both: the namespace pinned to the numpy backend (``from d2lconv import
numpy as d2l``) and, called, the ``numpy(x)`` op of the backend in force (``d2l.numpy(x)``), so
neither spelling hands back the wrong object.
"""

from __future__ import annotations

import functools
import inspect
from types import ModuleType
from typing import Any, Callable

from .backend import PUBLIC_NAMES, load, ops, pinned


def _pin_function(fn: Callable[..., Any], namespace: Any) -> Callable[..., Any]:
    @functools.wraps(fn)
    def on_backend(*args: Any, **kwargs: Any) -> Any:
        with pinned(namespace):
            return fn(*args, **kwargs)

    return on_backend


_PINNED_CLASSES: dict[tuple[type, int], type] = {}


def _pin_class(cls: type, namespace: Any) -> type:
    """A subclass of ``cls`` whose own methods (``__init__``, ``__call__``, ...) run on ``namespace``.

    Its bases' pinned versions are among its bases too, so ``isinstance(layer, d2l.nn_Module)``
    holds for a layer made from the same pinned namespace.
    """
    key = (cls, id(namespace))
    if key in _PINNED_CLASSES:
        return _PINNED_CLASSES[key]
    methods = {name: _pin_function(member, namespace) for name, member in vars(cls).items()
               if inspect.isfunction(member) and (not name.startswith("__") or name in ("__init__", "__call__"))}
    methods.update(__module__=cls.__module__, __qualname__=cls.__qualname__, __doc__=cls.__doc__)
    bases = (cls, *(_pin_class(b, namespace) for b in cls.__bases__ if b is not object))
    pinned_cls = type(cls.__name__, bases, methods)
    return _PINNED_CLASSES.setdefault(key, pinned_cls)


class _PinnedModule(ModuleType):
    """A shared submodule (``kernels``, ``plot``) whose functions run on one backend."""

    def __init__(self, module: ModuleType, namespace: Any) -> None:
        super().__init__(module.__name__, module.__doc__)
        self._module, self._namespace = module, namespace

    def __getattr__(self, name: str) -> Any:
        value = _pin(getattr(self._module, name), self._namespace)
        setattr(self, name, value)
        return value

    def __dir__(self) -> list[str]:
        return dir(self._module)


def _pin(value: Any, namespace: Any) -> Any:
    if isinstance(value, type):
        return _pin_class(value, namespace)
    if isinstance(value, ModuleType):
        return _PinnedModule(value, namespace)
    if inspect.isfunction(value):
        return _pin_function(value, namespace)
    return value


class BackendNamespace(ModuleType):
    """Everything ``import d2lconv as d2l`` offers, pinned to one backend."""

    def __init__(self, backend: str, shared: dict[str, Any]) -> None:
        namespace = load(backend)
        super().__init__(f"d2lconv.{backend}", f"d2lconv pinned to the {backend!r} backend: "
                                               f"`from d2lconv import {backend} as d2l`.")
        self.__dict__.update({name: _pin(value, namespace) for name, value in shared.items()})
        self.__dict__.update({name: getattr(namespace, name) for name in PUBLIC_NAMES})
        self.__dict__["get_backend"] = lambda: backend

    def __repr__(self) -> str:
        return f"<d2lconv namespace pinned to the {self.get_backend()!r} backend>"


class CallableNamespace(BackendNamespace):
    """A pinned namespace whose backend shares its name with an op (``numpy``): calling it runs
    that op of the backend in force, so ``d2l.numpy(x)`` still converts a tensor to numpy."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(ops(), self.get_backend())(*args, **kwargs)
