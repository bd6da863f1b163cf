"""The numpy backend: plain numpy arrays; gradients by HIPS ``autograd``.

Every op is plain numpy, so it also works on autograd's traced values: inside
``value_and_grad`` the arrays are boxes whose ``__array_function__``/``__array_ufunc__`` hand
numpy's functions to their ``autograd.numpy`` twins (:mod:`._autograd_dispatch`). An op captured
before a gradient is traced (``from d2lconv import reduce_sum``) therefore works inside it.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

import numpy as np

from . import _common

NAME = "numpy"
COMPILE_FUSES = False
# the contract's names this backend takes from _common, unchanged
_common.bind_aliases(globals(), _common, (
    "astype", "block_until_ready", "compile", "dtype_name", "get_key", "get_seed", "is_floating", "is_traced",
    "multiply_add", "seed"
))
Tensor = np.ndarray
_common.bind_aliases(globals(), np, (*_common.UNARY_MATH, *_common.DTYPE_NAMES, "matmul", "reshape",
                                     "transpose", "swapaxes", "expand_dims", "repeat", "meshgrid"))
globals().update(_common.make_creation(np, np.dtype, np.float32), **_common.make_joins(np))
pad_constant = _common.make_pad_constant(np, np.ndim)
def _im2col_values(x: np.ndarray, kernel_size, stride) -> np.ndarray:
    """The columns by one strided view and one copy (no Python loop over kernel positions)."""
    (kh, kw), (sh, sw) = kernel_size, stride
    *lead, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(-2, -1))[..., ::sh, ::sw, :, :]
    order = (*range(len(lead)), len(lead), len(lead) + 3, len(lead) + 4, len(lead) + 1, len(lead) + 2)
    return np.ascontiguousarray(windows.transpose(order)).reshape(*lead, c * kh * kw, oh * ow)


def _im2col_grad(g: np.ndarray, shape, kernel_size, stride) -> np.ndarray:
    """The adjoint of im2col (col2im): each kernel position's block added back where it came from."""
    (kh, kw), (sh, sw) = kernel_size, stride
    *lead, c, h, w = shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    blocks = g.reshape(*lead, c, kh, kw, oh, ow)
    dx = np.zeros(shape, g.dtype)
    for a in range(kh):
        for b in range(kw):
            dx[..., a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw] += blocks[..., a, b, :, :]
    return dx


_IM2COL_PRIMITIVE: Any = None


def im2col(x, kernel_size, /, stride=(1, 1)):
    """One autograd primitive with its own col2im gradient: stacking the k_h * k_w slices under
    autograd cost a trace node per slice and an accumulation per slice going back."""
    kernel_size, stride = tuple(kernel_size), tuple(stride)
    if isinstance(x, np.ndarray):
        return _im2col_values(x, kernel_size, stride)
    global _IM2COL_PRIMITIVE
    if _IM2COL_PRIMITIVE is None:
        from autograd.extend import defvjp, primitive

        traced = primitive(_im2col_values)
        defvjp(traced, lambda ans, x, k, s: lambda g: _im2col_grad(g, np.shape(x), k, s))
        _IM2COL_PRIMITIVE = traced
    return _IM2COL_PRIMITIVE(x, kernel_size, stride)


def reduce_sum(x, /, axis=None, keepdims=False):
    return np.add.reduce(x, axis=axis, keepdims=keepdims)


def reduce_mean(x, /, axis=None, keepdims=False):
    return np.mean(x, axis=axis, keepdims=keepdims)


def reduce_max(x, /, axis=None, keepdims=False):
    """numpy.max; an empty axis raises numpy's ValueError. autograd splits a tie's gradient evenly."""
    return np.maximum.reduce(x, axis=axis, keepdims=keepdims)


def _value(x):
    """x's values: x itself, or inside a gradient trace the array autograd's box holds."""
    if isinstance(x, (np.ndarray, np.generic)):
        return x
    from autograd.tracer import getval
    return getval(x)


def log_softmax(x, /, axis=-1):
    """x - max - log(sum(exp(x - max))). The max is taken on x's values, a constant to autograd: the
    shift cancels in the result, so its gradient would add nothing but work."""
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    if 0 in x.shape:  # nothing to normalise (numpy's log of an empty sum would warn)
        return x - x
    shifted = x - np.max(_value(x), axis=axis, keepdims=True)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))


def relu(x, /):
    """max(x, 0); inside a gradient trace an autograd primitive whose gradient is 0 at x == 0
    (autograd's maximum splits that tie)."""
    if isinstance(x, (np.ndarray, np.generic)):
        return np.maximum(x, x.dtype.type(0))  # 0 in x's dtype: numpy < 2 made a 0-d float32's float64
    return _traced_relu()(x)


@functools.cache
def _traced_relu() -> Callable[[Any], Any]:
    from autograd.extend import defvjp, primitive

    @primitive
    def relu_(x):
        return np.maximum(x, x.dtype.type(0))

    defvjp(relu_, lambda ans, x: lambda g: g * (ans > 0))  # torch's rule: the gradient flows where the output is > 0
    return relu_


def _numbers_as_tensors(a, b):
    """A Python number beside a tensor takes its dtype, as numpy 2 does (see maximum)."""
    if isinstance(b, (int, float)):
        return a, _common.weak_number(b, a)
    if isinstance(a, (int, float)):
        return _common.weak_number(a, b), b
    return a, b


def equal(a, b, /):
    """numpy.equal, a Python number taking the other side's dtype (numpy < 2 compared a 0-d float32
    with 0.1 in float64)."""
    a, b = _numbers_as_tensors(a, b)
    return np.equal(a, b)


def where(condition, a, b, /):
    """numpy.where, a Python number taking the other side's dtype. Inside a gradient trace a and b are
    broadcast to the result first: autograd's rule for where hands each the result's gradient unsummed
    over broadcast axes (the wrong shape), broadcast_to's sums them."""
    a, b = _numbers_as_tensors(a, b)
    if isinstance(a, (np.ndarray, np.generic)) and isinstance(b, (np.ndarray, np.generic)):
        return np.where(condition, a, b)
    dims = np.broadcast_shapes(np.shape(condition), np.shape(a), np.shape(b))
    return np.where(condition, _broadcast_to(a, dims), _broadcast_to(b, dims))


def _broadcast_to(x, dims):
    """x broadcast to dims; autograd's broadcast_to gradient wants the ranks equal, so x is reshaped first."""
    if np.shape(x) == dims:
        return x
    if np.ndim(x) < len(dims):
        x = np.reshape(x, (1,) * (len(dims) - np.ndim(x)) + np.shape(x))
    return np.broadcast_to(x, dims)


def one_hot(labels, num_classes, /):
    """By comparison with arange: a label outside [0, num_classes) matches nothing (``eye[labels]`` would
    wrap a negative one around)."""
    n = _common.one_hot_classes(labels.dtype.name, num_classes)
    return (np.expand_dims(labels, -1) == np.arange(n)).astype(np.float32)


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
    """Pooling with numpy's ``sliding_window_view`` on arrays. Inside a gradient trace (autograd's boxes,
    which that view cannot hold) the max or mean over a stack of the padded input's strided slices, one
    per window offset, which autograd differentiates (a tie in a max window splits the gradient evenly)."""
    (ph, pw), (sh, sw), (kh, kw) = padding, stride, pool_size
    fill = -np.inf if mode == "max" else 0
    X = np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)), "constant", constant_values=fill)  # mode positional: autograd
    if isinstance(X, np.ndarray):
        windows = np.lib.stride_tricks.sliding_window_view(X, pool_size, axis=(2, 3))[:, :, ::sh, ::sw]
        return windows.max(axis=(-2, -1)) if mode == "max" else windows.mean(axis=(-2, -1))
    h, w = np.shape(X)[2:]
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    stacked = np.stack([X[:, :, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw]
                        for a in range(kh) for b in range(kw)])
    return np.max(stacked, axis=0) if mode == "max" else np.mean(stacked, axis=0)


#: Direct framework calls equivalent to d2lconv ops, for measuring dispatch overhead.
NATIVE_OPS = {
    "zeros": lambda shape: np.zeros(shape, np.float32),
    "reduce_sum": np.sum,
    "reshape": np.reshape,
    "transpose": np.transpose,
}


def linear(X, W, /, bias=None):
    """``X @ W.T + bias`` (differentiable under autograd)."""
    Y = np.matmul(X, np.transpose(W))
    return Y if bias is None else Y + bias


def conv2d(X, K, /, padding=(0, 0), stride=(1, 1), bias=None):
    """im2col and one matrix product (differentiable under autograd): for LeNet's layers 6x faster
    forward and backward than autograd's ``scipy.signal.convolve`` (native_conv2d)."""
    co, ci, kh, kw = np.shape(K)
    if any(padding):
        X = pad_constant(X, padding)
    n, _, h, w = np.shape(X)
    oh, ow = (h - kh) // stride[0] + 1, (w - kw) // stride[1] + 1
    Y = np.matmul(np.reshape(K, (co, ci * kh * kw)), im2col(X, (kh, kw), stride))
    if bias is not None:
        Y = Y + np.reshape(bias, (co, 1))
    return np.reshape(Y, (n, co, oh, ow))
