"""d2lconv: d2l's "Convolutions for Images", written once, run on numpy, torch, tensorflow, mxnet.

``import d2lconv as d2l`` gives the book's op names (``d2l.zeros``, ``d2l.reduce_sum``, ...),
resolved on every access against the backend in force (``D2LCONV_BACKEND``, ``set_backend``,
``use_backend``), and the section's code: ``corr2d``, ``Conv2D``, ``learn_kernel``, ...
"""

from __future__ import annotations

from typing import Any

from . import kernels, plot
from .backend import (
    available_backends,
    bind_default,
    contexts_open,
    get_backend,
    ops,
    register_binder,
    set_backend,
    use_backend,
)
from .conv import Conv2D, convolve2d, corr2d, corr2d_loop, corr2d_matrix
from .receptive import receptive_field
from .results import record
from .train import learn_kernel

__version__ = "0.1.0"

#: Names that ``d2lconv.<name>`` resolves against the active backend on every access.
OP_NAMES: frozenset[str] = frozenset({
    # d2l's op names
    "tensor", "zeros", "ones", "zeros_like", "ones_like", "arange", "linspace", "eye", "reshape",
    "transpose", "reduce_sum", "reduce_mean", "stack", "concat", "matmul", "abs", "exp", "log",
    "sin", "cos", "tanh", "sigmoid", "sqrt", "maximum", "expand_dims", "swapaxes", "repeat",
    "argmax", "astype", "size", "numpy", "rand", "normal", "flip",
    # dtypes
    "float32", "float64", "int32", "int64",
    # primitives
    "from_numpy", "is_tensor", "shape", "is_floating", "dtype_name", "value_and_grad", "compile",
    "seed", "Tensor", "native_corr2d", "block_until_ready", "multiply_add",
})


def _bind(namespace: Any) -> None:
    """Bind (or with ``None`` remove) the backend's ops as attributes of this module."""
    module_globals = globals()
    if namespace is None:
        for name in OP_NAMES:
            module_globals.pop(name, None)
    else:
        module_globals.update({name: getattr(namespace, name) for name in OP_NAMES})


register_binder(_bind)


def __getattr__(name: str) -> Any:
    # Reached only while the ops are not bound: before first use, or while a use_backend block
    # is open somewhere. Then resolve per access, against this context's backend.
    if name in OP_NAMES:
        if contexts_open() == 0:
            return getattr(bind_default(), name)
        return getattr(ops(), name)
    raise AttributeError(f"module 'd2lconv' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | OP_NAMES)


__all__ = [
    "Conv2D", "available_backends", "convolve2d", "corr2d", "corr2d_loop", "corr2d_matrix",
    "get_backend", "kernels", "learn_kernel", "plot", "receptive_field", "record", "set_backend",
    "use_backend",
]
