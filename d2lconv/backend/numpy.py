"""The numpy backend: plain numpy arrays; gradients by HIPS ``autograd``.

Every op is plain numpy, so it also works on autograd's traced values: inside
``value_and_grad`` the arrays are boxes whose ``__array_function__``/``__array_ufunc__`` hand
numpy's functions to their ``autograd.numpy`` twins (:mod:`._autograd_dispatch`). An op captured
before a gradient is traced (``from d2lconv import reduce_sum``) therefore works inside it.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from . import _common

NAME = "numpy"
# the contract's names this backend takes from _common, unchanged
_common.bind_aliases(globals(), _common, (
    "astype", "block_until_ready", "compile", "dtype_name", "get_key", "get_seed", "is_floating",
    "multiply_add", "seed"
))
Tensor = np.ndarray
_common.bind_aliases(globals(), np, (*_common.UNARY_MATH, *_common.DTYPE_NAMES, "matmul", "reshape",
                                     "transpose", "swapaxes", "expand_dims", "repeat", "meshgrid"))
globals().update(_common.make_creation(np, np.dtype, np.float32), **_common.make_joins(np))
pad_constant = _common.make_pad_constant(np, np.ndim)
im2col = _common.make_im2col(np.stack, np.reshape)


def reduce_sum(x, /, axis=None, keepdims=False):
    return np.add.reduce(x, axis=axis, keepdims=keepdims)


def reduce_mean(x, /, axis=None, keepdims=False):
    return np.mean(x, axis=axis, keepdims=keepdims)


def flip(x, /, axis=None):
    """By slicing, which autograd differentiates (it has no rule for ``np.flip``)."""
    ndim = np.ndim(x)
    axes = {a % ndim for a in _common.flip_axes(axis, ndim)}
    return x[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(ndim))]


def sigmoid(x, /):
    """With the constants in x's dtype: numpy < 2 made a 0-d float32 times 0.5 a float64."""
    half = x.dtype.type(0.5) if x.dtype.kind == "f" else 0.5
    return half * np.tanh(half * x) + half


def maximum(a, b, /):
    """numpy.maximum, a Python number taking the other side's dtype as in numpy 2 (numpy < 2 made a
    0-d float32 and 0.5 a float64, a 0-d int32 and 1 an int64)."""
    if isinstance(b, (int, float)):
        b = _common.weak_number(b, a)
    elif isinstance(a, (int, float)):
        a = _common.weak_number(a, b)
    return np.maximum(a, b)


def argmax(x, /, axis=None):
    return np.argmax(x, axis=axis).astype(np.int64)


def size(x, /) -> int:
    return int(np.size(x))


def shape(x, /) -> tuple[int, ...]:
    return tuple(np.shape(x))


def tensor(data: Any, dtype: Any = None) -> np.ndarray:
    """A new array from nested lists/scalars/arrays; floats default to float32, ints to int64."""
    return np.array(_common.host_array(data, dtype), copy=True)


def from_numpy(array: np.ndarray, /) -> np.ndarray:
    """A backend tensor holding ``array``'s values, keeping its dtype."""
    return np.asarray(array)


def numpy(x, /) -> np.ndarray:
    """The values as a host numpy array (a traced value gives its current value)."""
    from autograd.tracer import getval
    return np.asarray(getval(x))


def is_tensor(x: Any, /) -> bool:
    """Whether ``x`` is an array of this backend (an autograd box counts inside a trace)."""
    if isinstance(x, (np.ndarray, np.generic)):  # numpy reductions return numpy scalars
        return True
    box = _autograd_box_type()
    return box is not None and isinstance(x, box)


def _autograd_box_type() -> Any:
    import sys
    boxes = sys.modules.get("autograd.numpy.numpy_boxes")  # loaded only once gradients are used
    return None if boxes is None else boxes.ArrayBox


globals().update(_common.make_random(from_numpy))
to = _common.make_to(_common.astype, _common.is_numpy_dtype)
batch_matmul = _common.make_batch_matmul(np.matmul, shape)


def _differentiate(fn: Callable[..., Any], args: list[Any], nums: tuple[int, ...]):
    import autograd

    from ._autograd_dispatch import install
    install()

    from autograd.tracer import getval

    aux = []

    def packed(selected):
        full = list(args)
        for i, value in zip(nums, selected):
            full[i] = value
        value, extra = fn(*full)
        aux.append(extra)  # autograd differentiates one output: the aux leaves the trace by the side
        return value

    with warnings.catch_warnings():  # the contract: an output independent of the inputs has zero gradients
        warnings.filterwarnings("ignore", "Output seems independent of input", UserWarning)
        value, grads = autograd.value_and_grad(packed)(tuple(args[i] for i in nums))
    grads = [np.asarray(g, dtype=np.asarray(args[i]).dtype) for g, i in zip(grads, nums)]
    return value, _common.tree_map(getval, aux[-1]), grads


value_and_grad = _common.make_value_and_grad(_differentiate, shape, np.reshape, is_tensor, _common.is_floating,
                                             NAME)


def native_corr2d(X, K, /):
    """The framework's own 2-D cross-correlation: for benchmarks and as an oracle.

    ``scipy.signal.correlate2d``; inside a gradient trace, autograd's differentiable
    ``autograd.scipy.signal.convolve`` with the kernel flipped (scipy's C code has no gradient).
    """
    if isinstance(X, np.ndarray) and isinstance(K, np.ndarray):
        from scipy.signal import correlate2d
        return correlate2d(X, K, mode="valid")
    from autograd.scipy.signal import convolve
    return convolve(X, K[::-1, ::-1], mode="valid")


def native_conv2d(X, K, /, padding=(0, 0), stride=(1, 1)):
    """Multi-channel cross-correlation by autograd's ``scipy.signal.convolve`` (differentiable):
    the flipped kernel convolved over the spatial axes and contracted over the channel axis."""
    import autograd.numpy as anp
    from autograd.scipy.signal import convolve

    (ph, pw), (sh, sw) = padding, stride
    X = anp.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)), "constant")
    Y = convolve(X, K[:, :, ::-1, ::-1], axes=([2, 3], [2, 3]), dot_axes=([1], [1]), mode="valid")
    return Y[:, :, ::sh, ::sw]


def native_pool2d(X, pool_size, /, mode="max", padding=(0, 0), stride=(1, 1)):
    """Pooling with numpy's ``sliding_window_view`` (forward only: numpy has no gradient for it)."""
    if not isinstance(X, np.ndarray):
        raise TypeError("native_pool2d: numpy's sliding_window_view cannot be differentiated")
    (ph, pw), (sh, sw) = padding, stride
    fill = -np.inf if mode == "max" else 0
    X = np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    windows = np.lib.stride_tricks.sliding_window_view(X, pool_size, axis=(2, 3))[:, :, ::sh, ::sw]
    return windows.max(axis=(-2, -1)) if mode == "max" else windows.mean(axis=(-2, -1))


#: Direct framework calls equivalent to d2lconv ops, for measuring dispatch overhead.
NATIVE_OPS = {
    "zeros": lambda shape: np.zeros(shape, np.float32),
    "reduce_sum": np.sum,
    "reshape": np.reshape,
    "transpose": np.transpose,
}
