"""d2lconv: d2l's chapter on convolutions, written once, run on numpy, torch, tensorflow, mxnet, jax.

``import d2lconv as d2l`` gives the book's op names (``d2l.zeros``, ``d2l.reduce_sum``, ...),
resolved against the backend in force (``D2LCONV_BACKEND``, ``set_backend``, ``use_backend``),
and the section's code: ``corr2d``, ``Conv2D``, ``learn_kernel``, ...
``from d2lconv import torch as d2l`` (or ``tensorflow``, ``mxnet``, ``jax``, ``numpy``) gives
the same names pinned to one backend, as d2l's own ``from d2l import torch as d2l`` does.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from ._version import __version__ as __version__  # re-exported
from .backend import (
    BACKENDS,
    PUBLIC_NAMES,
    bind_default,
    contexts_open,
    ops,
    register_binder,
)
from .registry import PUBLIC

#: Where shared content lives: every module of these packages (and these modules) is imported,
#: and registers its public names where it defines them (``registry.public``). Everything below
#: is derived from that registry, so a new shared name needs no line here.
_CONTENT = ("base", "train", "data", "cnn", "plot", "results")
for _part in _CONTENT:
    _package = importlib.import_module(f"{__name__}.{_part}")
    for _info in pkgutil.iter_modules(getattr(_package, "__path__", ())):
        importlib.import_module(f"{_package.__name__}.{_info.name}")
_clash = sorted(set(PUBLIC) & (PUBLIC_NAMES | set(BACKENDS)))
if _clash:
    raise RuntimeError(f"d2lconv: shared names {_clash} are also backend ops or backend names")
globals().update(PUBLIC)

#: Names that ``d2lconv.<name>`` resolves against the active backend on every access. A name
#: that is both an op and a backend (``numpy``) is not among them: ``d2lconv.numpy`` is the
#: pinned namespace, which called as ``d2l.numpy(x)`` runs the op (see ``namespaces.py``).
OP_NAMES: frozenset[str] = PUBLIC_NAMES - set(BACKENDS)

#: Shared, backend-free names; a pinned namespace wraps each to run on its backend.
_SHARED: dict[str, Any] = dict(PUBLIC)
_NAMESPACES: dict[str, Any] = {}


def _bind(namespace: Any) -> None:
    """Bind (or with ``None`` remove) the backend's ops as attributes of this module."""
    module_globals = globals()
    if namespace is None:
        for name in OP_NAMES:
            module_globals.pop(name, None)
    else:
        module_globals.update({name: getattr(namespace, name) for name in OP_NAMES})


register_binder(_bind)


def _pinned_namespace(backend: str) -> Any:
    from .namespaces import BackendNamespace, CallableNamespace

    namespace = _NAMESPACES.get(backend)
    if namespace is None:
        kind = CallableNamespace if backend in PUBLIC_NAMES else BackendNamespace
        namespace = _NAMESPACES.setdefault(backend, kind(backend, _SHARED))
    return namespace


def __getattr__(name: str) -> Any:
    # Ops: reached only while they are not bound (before first use, or while a use_backend
    # block is open somewhere); then resolve per access, against this context's backend.
    if name in OP_NAMES:
        if contexts_open() == 0:
            return getattr(bind_default(), name)
        return getattr(ops(), name)
    if name in BACKENDS:  # from d2lconv import torch as d2l
        return _pinned_namespace(name)
    raise AttributeError(f"module 'd2lconv' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | OP_NAMES | set(BACKENDS))


__all__ = sorted(PUBLIC)
