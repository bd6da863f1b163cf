"""d2lconv: d2l's chapter on convolutions, written once, run on numpy, torch, tensorflow, mxnet, jax.

``import d2lconv as d2l`` gives the book's op names (``d2l.zeros``, ``d2l.reduce_sum``, ...),
resolved against the backend in force (``D2LCONV_BACKEND``, ``set_backend``, ``use_backend``),
and the section's code: ``corr2d``, ``Conv2D``, ``learn_kernel``, ...
``from d2lconv import torch as d2l`` (or ``tensorflow``, ``mxnet``, ``jax``, ``numpy``) gives
the same names pinned to one backend, as d2l's own ``from d2l import torch as d2l`` does.
"""

from __future__ import annotations

from typing import Any

from . import plot
from .backend import (
    BACKENDS,
    PUBLIC_NAMES,
    available_backends,
    bind_default,
    contexts_open,
    env_backend_name,
    get_backend,
    ops,
    register_binder,
    set_backend,
    use_backend,
)
from .cnn import kernels
from .cnn.channels import corr2d_multi_in, corr2d_multi_in_out, corr2d_multi_in_out_1x1
from .cnn.conv import convolve2d, corr2d, corr2d_loop, corr2d_matrix
from .cnn.geometry import conv_output_shape, pad
from .cnn.layers import AvgPool2D, Conv2D, MaxPool2D
from .cnn.module import Module
from .cnn.pooling import pool2d
from .cnn.receptive import receptive_field
from .cnn.train import learn_kernel
from .results import record, rounded

__version__ = "0.1.0"

env_backend_name()  # fail at import on a bad D2LCONV_BACKEND (checks the name, imports nothing)

#: d2l's alias for a layer's base class; ours is framework-free (``forward``, ``parameters``).
nn_Module = Module

#: Names that ``d2lconv.<name>`` resolves against the active backend on every access. A name
#: that is both an op and a backend (``numpy``) is not among them: ``d2lconv.numpy`` is the
#: pinned namespace, which called as ``d2l.numpy(x)`` runs the op (see ``namespaces.py``).
OP_NAMES: frozenset[str] = PUBLIC_NAMES - set(BACKENDS)

#: Shared, backend-free names; a pinned namespace wraps each to run on its backend.
_SHARED = {
    "AvgPool2D": AvgPool2D, "Conv2D": Conv2D, "MaxPool2D": MaxPool2D, "Module": Module,
    "nn_Module": Module, "conv_output_shape": conv_output_shape, "convolve2d": convolve2d,
    "corr2d": corr2d, "corr2d_loop": corr2d_loop, "corr2d_matrix": corr2d_matrix,
    "corr2d_multi_in": corr2d_multi_in, "corr2d_multi_in_out": corr2d_multi_in_out,
    "corr2d_multi_in_out_1x1": corr2d_multi_in_out_1x1, "learn_kernel": learn_kernel, "pad": pad,
    "pool2d": pool2d, "receptive_field": receptive_field, "record": record, "rounded": rounded, "kernels": kernels,
    "plot": plot, "available_backends": available_backends, "set_backend": set_backend,
    "use_backend": use_backend,
}
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


__all__ = [
    "AvgPool2D", "Conv2D", "MaxPool2D", "Module", "available_backends", "conv_output_shape",
    "convolve2d", "corr2d", "corr2d_loop", "corr2d_matrix", "corr2d_multi_in",
    "corr2d_multi_in_out", "corr2d_multi_in_out_1x1", "get_backend", "kernels", "learn_kernel",
    "nn_Module", "pad", "plot", "pool2d", "receptive_field", "record", "rounded", "set_backend", "use_backend",
]
