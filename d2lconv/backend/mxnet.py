"""The MXNet backend: ``mxnet.np`` arrays (the numpy interface, ``npx.set_np()``); gradients by
``mxnet.autograd.record``."""

from __future__ import annotations

from typing import Any, Callable

import numpy as _np
from mxnet import autograd, npx
from mxnet import np as mnp

from . import _common
from ._common import multiply_add, seed  # noqa: F401  (re-exported backend names)

npx.set_np()

NAME = "mxnet"
float32 = _np.float32
float64 = _np.float64
int32 = _np.int32
int64 = _np.int64
Tensor = mnp.ndarray


def tensor(data: Any, dtype: Any = None) -> mnp.ndarray:
    """A new array from nested lists/scalars/arrays; floats default to float32, ints to int64."""
    if isinstance(data, mnp.ndarray):
        return data.astype(dtype or data.dtype, copy=True)
    array = _common.host_array(data, dtype)
    return mnp.array(array, dtype=array.dtype)


def from_numpy(array: _np.ndarray) -> mnp.ndarray:
    array = _np.asarray(array)
    return mnp.array(array, dtype=array.dtype)


abs = mnp.abs
exp = mnp.exp
log = mnp.log
sin = mnp.sin
cos = mnp.cos
tanh = mnp.tanh
sqrt = mnp.sqrt
maximum = mnp.maximum
sigmoid = npx.sigmoid
matmul = mnp.matmul
expand_dims = mnp.expand_dims
swapaxes = mnp.swapaxes


def reshape(x, shape):
    return mnp.reshape(x, shape)


def zeros(shape, dtype=float32):
    return mnp.zeros(shape) if dtype is float32 else mnp.zeros(shape, dtype=dtype)


def ones(shape, dtype=float32):
    return mnp.ones(shape) if dtype is float32 else mnp.ones(shape, dtype=dtype)


def zeros_like(x, dtype=None):
    return mnp.zeros(x.shape, dtype=dtype or x.dtype)


def ones_like(x, dtype=None):
    return mnp.ones(x.shape, dtype=dtype or x.dtype)


def arange(start, stop=None, step=1, dtype=None):
    if stop is None:
        start, stop = 0, start
    return mnp.arange(start, stop, step, dtype=dtype or _common.arange_dtype(start, stop, step))


def linspace(start, stop, num=50, dtype=float32):
    return mnp.linspace(start, stop, num, dtype=dtype)


def eye(n, m=None, dtype=float32):
    return mnp.eye(n, m, dtype=dtype)


def transpose(x, axes=None):
    return mnp.transpose(x) if axes is None else mnp.transpose(x, _common.normalize_axes(axes, x.ndim))


def reduce_sum(x, axis=None, keepdims=False):
    return mnp.sum(x) if axis is None and not keepdims else mnp.sum(x, axis=axis, keepdims=keepdims)


def reduce_mean(x, axis=None, keepdims=False):
    return mnp.mean(x, axis=axis, keepdims=keepdims)


def stack(xs, axis=0):
    return mnp.stack(list(xs), axis=axis)


def concat(xs, axis=0):
    return mnp.concatenate(list(xs), axis=axis)


def repeat(x, repeats, axis=None):
    return mnp.repeat(x, repeats, axis=axis)


def flip(x, axis=None):
    axes = tuple(range(x.ndim)) if axis is None else axis
    return mnp.flip(x, axes)


def argmax(x, axis=None):
    return mnp.argmax(x, axis=axis).astype(_np.int64)


def astype(x, dtype):
    return x.astype(dtype)


def size(x) -> int:
    return int(x.size)


def numpy(x) -> _np.ndarray:
    return x.asnumpy()


rand, normal = _common.make_random(from_numpy)



def is_tensor(x: Any) -> bool:
    return isinstance(x, mnp.ndarray)


def shape(x) -> tuple[int, ...]:
    return tuple(x.shape)


def is_floating(x) -> bool:
    return _np.issubdtype(x.dtype, _np.floating)


def dtype_name(x) -> str:
    return _np.dtype(x.dtype).name


def compile(fn: Callable[..., Any]) -> Callable[..., Any]:
    """MXNet's imperative ops run as they are; hybridizing needs a Block, not a function."""
    return fn


def value_and_grad(fn: Callable[..., Any], argnums: int | tuple[int, ...] = 0):
    """``fn``'s value and its gradient with respect to the positional args ``argnums``."""
    many = isinstance(argnums, tuple)
    nums = argnums if many else (argnums,)

    def run(*args):
        full = list(args)
        inputs = []
        for i in nums:
            leaf = args[i].copy()
            leaf.attach_grad()
            full[i] = leaf
            inputs.append(leaf)
        with autograd.record():
            value = fn(*full)
        value.backward()
        grads = tuple(x.grad for x in inputs)
        return value.detach(), (grads if many else grads[0])

    return run


def native_corr2d(X, K):
    """The framework's own 2-D cross-correlation: for benchmarks and as an oracle."""
    h, w = K.shape
    out = npx.convolution(X.reshape(1, 1, *X.shape), K.reshape(1, 1, h, w), kernel=(h, w),
                          num_filter=1, no_bias=True)
    return out[0, 0]


#: Direct framework calls equivalent to d2lconv ops, for measuring dispatch overhead.
NATIVE_OPS = {
    "zeros": lambda shape: mnp.zeros(shape),
    "reduce_sum": mnp.sum,
    "reshape": mnp.reshape,
    "transpose": mnp.transpose,
}


def block_until_ready(x):
    """MXNet runs asynchronously: wait until ``x`` is computed (for timing)."""
    x.wait_to_read()
    return x
