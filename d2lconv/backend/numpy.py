"""The numpy backend: plain numpy arrays; gradients by HIPS ``autograd``.

Math ops are built twice from one definition: over ``numpy`` (used normally, no overhead) and
over ``autograd.numpy`` (used only inside ``value_and_grad``, where arrays are autograd boxes).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

from . import _common
from ._common import block_until_ready, multiply_add, seed  # noqa: F401  (re-exported backend names)

NAME = "numpy"
float32 = np.float32
float64 = np.float64
int32 = np.int32
int64 = np.int64
Tensor = np.ndarray


def _math_ops(xp: Any) -> dict[str, Callable[..., Any]]:
    """Ops that gradients flow through, written once over a numpy-like namespace ``xp``."""

    def reshape(x, shape):
        return xp.reshape(x, shape)

    def transpose(x, axes=None):
        return xp.transpose(x, axes)

    def reduce_sum(x, axis=None, keepdims=False):
        return xp.sum(x, axis=axis, keepdims=keepdims)

    def reduce_mean(x, axis=None, keepdims=False):
        return xp.mean(x, axis=axis, keepdims=keepdims)

    def stack(xs, axis=0):
        return xp.stack(list(xs), axis=axis)

    def concat(xs, axis=0):
        return xp.concatenate(list(xs), axis=axis)

    def expand_dims(x, axis):
        return xp.expand_dims(x, axis)

    def swapaxes(x, axis1, axis2):
        return xp.swapaxes(x, axis1, axis2)

    def repeat(x, repeats, axis=None):
        return xp.repeat(x, repeats, axis=axis)

    def flip(x, axis=None):  # by slicing: autograd has no gradient rule for np.flip
        ndim = xp.ndim(x)
        axes = range(ndim) if axis is None else [axis] if isinstance(axis, int) else axis
        axes = {a % ndim for a in axes}
        return x[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(ndim))]

    def sigmoid(x):
        return 0.5 * (xp.tanh(0.5 * x) + 1)

    def zeros_like(x, dtype=None):
        return xp.zeros_like(x, dtype=dtype)

    def ones_like(x, dtype=None):
        return xp.ones_like(x, dtype=dtype)

    def astype(x, dtype):
        return x.astype(dtype)

    ops = {name: fn for name, fn in locals().items() if callable(fn) and name != "xp"}
    ops.update(matmul=xp.matmul, abs=xp.abs, exp=xp.exp, log=xp.log, sin=xp.sin, cos=xp.cos,
               tanh=xp.tanh, sqrt=xp.sqrt, maximum=xp.maximum)
    return ops


globals().update(_math_ops(np))
# Outside a gradient trace, plain numpy functions with numpy's meaning are aliases, not wrappers.
reshape = np.reshape
transpose = np.transpose
expand_dims = np.expand_dims
swapaxes = np.swapaxes
repeat = np.repeat


def reduce_sum(x, axis=None, keepdims=False):
    return np.add.reduce(x, axis=axis, keepdims=keepdims)


def tensor(data: Any, dtype: Any = None) -> np.ndarray:
    """A new array from nested lists/scalars/arrays; floats default to float32, ints to int64."""
    return np.array(_common.host_array(data, dtype), copy=True)


def from_numpy(array: np.ndarray) -> np.ndarray:
    """A backend tensor holding ``array``'s values, keeping its dtype."""
    return np.asarray(array)


def zeros(shape, dtype=float32):
    return np.zeros(shape, dtype)


def ones(shape, dtype=float32):
    return np.ones(shape, dtype)


def arange(start, stop=None, step=1, dtype=None):
    return np.arange(start, stop, step, dtype=dtype or _common.arange_dtype(start, stop, step))


def linspace(start, stop, num=50, dtype=float32):
    return np.linspace(start, stop, num, dtype=dtype)


def eye(n, m=None, dtype=float32):
    return np.eye(n, m, dtype=dtype)


def argmax(x, axis=None):
    return np.argmax(x, axis=axis).astype(np.int64)


def size(x) -> int:
    return int(np.size(x))


def numpy(x) -> np.ndarray:
    """The values as a host numpy array (outside a gradient trace)."""
    from autograd.tracer import getval
    return np.asarray(getval(x))


rand, normal = _common.make_random(from_numpy)



def is_tensor(x: Any) -> bool:
    """Whether ``x`` is an array of this backend (an autograd box counts inside a trace)."""
    if isinstance(x, (np.ndarray, np.generic)):  # numpy reductions return numpy scalars
        return True
    from autograd.numpy.numpy_boxes import ArrayBox
    return isinstance(x, ArrayBox)


def shape(x) -> tuple[int, ...]:
    return tuple(np.shape(x))


def is_floating(x) -> bool:
    return np.issubdtype(x.dtype, np.floating)


def dtype_name(x) -> str:
    return np.dtype(x.dtype).name


def compile(fn: Callable[..., Any]) -> Callable[..., Any]:
    """numpy has nothing to compile: the function itself."""
    return fn


_TRACED: SimpleNamespace | None = None


def _is_basic_index(idx: Any) -> bool:
    parts = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(p, (slice, int, np.integer)) for p in parts)


def _register_fast_slice_gradient() -> None:
    """Give autograd's ``x[a:b, c:d]`` a fast gradient.

    autograd scatters the gradient of any indexing with ``np.add.at``, which is exact for fancy
    indices but ~50x slower than ``A[idx] += g`` on the basic slices shift-and-add uses (basic
    indices never repeat an element, so both give the same sums). Registered through autograd's
    own ``primitive``/``defvjp`` API; fancy indexing keeps autograd's rule.
    """
    from autograd.extend import SparseObject, defvjp, primitive, vspace
    from autograd.numpy.numpy_boxes import ArrayBox
    from autograd.numpy.numpy_vjps import untake
    from autograd.util import func

    @primitive
    def untake_basic(x, idx, vs):
        def add_into(A):
            A[idx] += x
            return A
        return SparseObject(vs, add_into)

    defvjp(untake_basic, lambda ans, x, idx, _: lambda g: g[idx])
    defvjp(func(ArrayBox.__getitem__), lambda ans, A, idx: (
        (lambda g: untake_basic(g, idx, vspace(A))) if _is_basic_index(idx)
        else (lambda g: untake(g, idx, vspace(A)))))


def _traced_namespace() -> SimpleNamespace:
    """This module's names with the math ops rebuilt over ``autograd.numpy``."""
    global _TRACED
    if _TRACED is None:
        import sys

        import autograd.numpy as anp
        _register_fast_slice_gradient()
        public = {k: v for k, v in vars(sys.modules[__name__]).items() if not k.startswith("__")}
        _TRACED = SimpleNamespace(**{**public, **_math_ops(anp)})
    return _TRACED


def value_and_grad(fn: Callable[..., Any], argnums: int | tuple[int, ...] = 0):
    """``fn``'s value and its gradient with respect to the positional args ``argnums``."""
    import autograd

    from . import tracing

    many = isinstance(argnums, tuple)
    nums = argnums if many else (argnums,)

    def run(*args):
        def packed(selected):
            full = list(args)
            for i, value in zip(nums, selected):
                full[i] = value
            return fn(*full)

        with tracing(_traced_namespace()):
            value, grads = autograd.value_and_grad(packed)(tuple(args[i] for i in nums))
        grads = tuple(np.asarray(g, dtype=np.asarray(args[i]).dtype) for g, i in zip(grads, nums))
        return value, (grads if many else grads[0])

    return run


def native_corr2d(X, K):
    """The framework's own 2-D cross-correlation: for benchmarks and as an oracle.

    ``scipy.signal.correlate2d``; inside a gradient trace, autograd's differentiable
    ``autograd.scipy.signal.convolve`` with the kernel flipped (scipy's C code has no gradient).
    """
    if isinstance(X, np.ndarray) and isinstance(K, np.ndarray):
        from scipy.signal import correlate2d
        return correlate2d(X, K, mode="valid")
    from autograd.scipy.signal import convolve
    return convolve(X, K[::-1, ::-1], mode="valid")


#: Direct framework calls equivalent to d2lconv ops, for measuring dispatch overhead.
NATIVE_OPS = {
    "zeros": lambda shape: np.zeros(shape, np.float32),
    "reduce_sum": np.sum,
    "reshape": np.reshape,
    "transpose": np.transpose,
}
