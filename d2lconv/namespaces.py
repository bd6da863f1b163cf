"""d2l's import idiom: ``from d2lconv import torch as d2l`` gives a namespace pinned to one backend.

A pinned namespace holds the backend's ops as plain attributes (no dispatch at all) and
d2lconv's shared code (``corr2d``, ``Conv2D``, ``kernels``, ...) wrapped so that every call
runs on that backend, whatever ``D2LCONV_BACKEND`` or ``set_backend`` say. ``import d2lconv as
d2l`` keeps following the selection.

A pinned class pins its methods (a generator they return runs each step on the backend too),
static and class methods, properties and cached properties, inherited ones and those of classes
derived from it. Not pinned: an iterator that is not a generator (``map``, a hand-written
iterator class), async generators, and property subclasses; shared code returns generators.

``d2lconv.numpy`` is both: the namespace pinned to the numpy backend (``from d2lconv import
numpy as d2l``) and, called, the ``numpy(x)`` op of the backend in force (``d2l.numpy(x)``), so
neither spelling hands back the wrong object.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Generator
from types import GeneratorType, ModuleType
from typing import Any, Callable

from .backend import PUBLIC_NAMES, load, ops, pinned


def _run_pinned(gen: Generator[Any, Any, Any], namespace: Any) -> Generator[Any, Any, Any]:
    """Drive generator ``gen`` so that each step of its body runs on ``namespace``: a generator's
    body runs at every ``next``, long after the call that made it has returned."""
    method, arg = gen.send, None
    while True:
        with pinned(namespace):
            try:
                item = method(arg)
            except StopIteration as stop:
                return stop.value
        try:
            arg = yield item
        except GeneratorExit:
            with pinned(namespace):
                gen.close()
            raise
        except BaseException as exc:  # thrown in by the consumer: the generator's body sees it
            method, arg = gen.throw, exc
        else:
            method = gen.send


def _pin_function(fn: Callable[..., Any], namespace: Any) -> Callable[..., Any]:
    """``fn`` running on ``namespace``; a generator it returns runs there too, step by step."""

    @functools.wraps(fn)
    def on_backend(*args: Any, **kwargs: Any) -> Any:
        with pinned(namespace):
            result = fn(*args, **kwargs)
        return _run_pinned(result, namespace) if isinstance(result, GeneratorType) else result

    on_backend.__d2lconv_pinned__ = True  # type: ignore[attr-defined]
    return on_backend


#: Members a pinned class leaves alone: object creation and attribute machinery (called by
#: Python itself, often and early) and pickling.
_UNPINNED = frozenset({"__new__", "__init_subclass__", "__class_getitem__", "__subclasshook__",
                       "__getattribute__", "__getattr__", "__setattr__", "__delattr__", "__del__",
                       "__set_name__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__",
                       "__copy__", "__deepcopy__"})


def _pin_member(name: str, member: Any, namespace: Any) -> Any:
    """A class member that runs on ``namespace``: methods (generators too), static and class
    methods, properties and cached properties; anything else unchanged."""
    if name in _UNPINNED:
        return member
    if inspect.isfunction(member):
        return member if getattr(member, "__d2lconv_pinned__", False) else _pin_function(member, namespace)
    if isinstance(member, staticmethod):
        return staticmethod(_pin_function(member.__func__, namespace))
    if isinstance(member, classmethod):
        return classmethod(_pin_function(member.__func__, namespace))
    if type(member) is property:  # a property subclass may carry more than fget/fset/fdel: left as it is
        return property(*(None if f is None else _pin_function(f, namespace)
                          for f in (member.fget, member.fset, member.fdel)), member.__doc__)
    if isinstance(member, functools.cached_property):
        pinned_property = functools.cached_property(_pin_function(member.func, namespace))
        pinned_property.attrname = member.attrname
        return pinned_property
    return member


_PINNED_CLASSES: dict[tuple[type, int], type] = {}


def _pin_class(cls: type, namespace: Any) -> type:
    """A subclass of ``cls`` whose every member (methods, generator methods, ``__iter__`` and the
    other special methods, properties) runs on ``namespace``.

    Its bases' pinned versions are among its bases too, so ``isinstance(layer, d2l.nn_Module)``
    holds for a layer made from the same pinned namespace, and inherited members are pinned.
    A class a user derives from it (``class Net(d2l.Module)``) is pinned the same way.
    """
    key = (cls, id(namespace))
    if key in _PINNED_CLASSES:
        return _PINNED_CLASSES[key]
    members = {name: _pin_member(name, member, namespace) for name, member in vars(cls).items()
               if name not in ("__dict__", "__weakref__")}
    members = {name: member for name, member in members.items() if member is not vars(cls)[name]}
    members.update(__module__=cls.__module__, __qualname__=cls.__qualname__, __doc__=cls.__doc__,
                   __d2lconv_pinned__=True)
    bases = (cls, *(_pin_class(b, namespace) for b in cls.__bases__ if b is not object))
    pinned_cls = type(cls.__name__, bases, members)
    pinned_cls.__init_subclass__ = classmethod(_pin_subclass(pinned_cls, namespace))  # type: ignore[assignment]
    return _PINNED_CLASSES.setdefault(key, pinned_cls)


def _pin_subclass(anchor: type, namespace: Any) -> Callable[..., None]:
    """``__init_subclass__`` for a pinned class: pins the members of a class derived from it."""

    def __init_subclass__(subclass: type, **kwargs: Any) -> None:
        super(anchor, subclass).__init_subclass__(**kwargs)  # type: ignore[misc]
        if vars(subclass).get("__d2lconv_pinned__"):
            return  # pinned already (by the hook of another pinned base)
        for name, member in list(vars(subclass).items()):
            pinned_member = _pin_member(name, member, namespace)
            if pinned_member is not member:
                setattr(subclass, name, pinned_member)
        subclass.__d2lconv_pinned__ = True  # type: ignore[attr-defined]

    return __init_subclass__


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
