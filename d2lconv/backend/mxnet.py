"""The MXNet backend: ``mxnet.np`` arrays (the numpy interface, ``npx.set_np()``); gradients by
``mxnet.autograd.record``; ``compile`` traces shared code into cached graphs (``_mxnet_graph``), so
every call into MXNet below goes through modules that also take traced tensors."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import mxnet as _mx
import numpy as _np
from mxnet import autograd
from mxnet.base import MXNetError

from . import _common, _mxnet_graph

_mx.npx.set_np()
mnp = _mxnet_graph.Dispatching(_mx.np, _mx.sym.np, "mxnet.np")
npx = _mxnet_graph.Dispatching(_mx.npx, _mx.sym.npx, "mxnet.npx")
nd = _mxnet_graph.Dispatching(_mx.nd, _mx.sym, "mxnet.nd")

NAME = "mxnet"
COMPILE_FUSES = False
# the contract's names this backend takes from _common, unchanged
_common.bind_aliases(globals(), _common, (
    "astype", "dtype_name", "get_key", "get_seed", "is_floating", "seed", "shape", "size"
))
Tensor = mnp.ndarray
_common.bind_aliases(globals(), mnp, (*_common.UNARY_MATH, "maximum", "expand_dims", "swapaxes", "meshgrid",
                                      "equal"))
_common.bind_aliases(globals(), _np, _common.DTYPE_NAMES)  # mxnet.np uses numpy's dtypes
relu = npx.relu


def sigmoid(x, /):
    """``npx.activation``: the values of ``npx.sigmoid``, whose backward pass is slower (2.4 ms of a 13 ms
    LeNet step at batch 128, measured in a cached graph). An empty tensor keeps ``npx.sigmoid``: the
    activation's kernel fails on it later, asynchronously (at exit, 'Check failed: delay_alloc')."""
    if 0 in x.shape:
        return npx.sigmoid(x)
    return npx.activation(x, act_type="sigmoid")


_common.bind_float_math(globals(), _common.is_floating, lambda x: x.astype(_np.float64))


def _empty_reduction(reduce: Callable[..., Any], x, axis, keepdims):
    """An empty ``x`` reduced as numpy does (a sum of nothing 0, a mean nan), on the host: MXNet's kernels
    fail later, asynchronously, when the result is empty too ('Shape size mismatch'), and its mean of
    nothing is 0."""
    with _np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = _np.asarray(reduce(_np.zeros(x.shape, x.dtype), axis=axis, keepdims=keepdims))
    return mnp.array(out, dtype=out.dtype)


def reduce_sum(x, /, axis=None, keepdims=False):
    """numpy's dtype: an int32 sum is int64 (MXNet's stays int32)."""
    if x.dtype == _np.int32:
        x = x.astype(_np.int64)
    if 0 in x.shape:
        return _empty_reduction(_np.sum, x, axis, keepdims)
    return mnp.sum(x, axis=axis, keepdims=keepdims)


def reduce_mean(x, /, axis=None, keepdims=False):
    """numpy's: the mean of an integer tensor is float64 (MXNet's is float32)."""
    if x.dtype.kind != "f":
        x = x.astype(_np.float64)
    if 0 in x.shape:
        return _empty_reduction(_np.mean, x, axis, keepdims)
    return mnp.mean(x, axis=axis, keepdims=keepdims)


def reduce_max(x, /, axis=None, keepdims=False):
    """mxnet.np.max. An empty tensor is reduced on the host, which raises numpy's ValueError for an empty
    axis (MXNet's kernel fails later, asynchronously). MXNet gives every tied maximum the whole gradient."""
    if 0 in x.shape:
        return _empty_reduction(_np.max, x, axis, keepdims)
    return mnp.max(x, axis=axis, keepdims=keepdims)


def log_softmax(x, /, axis=-1):
    """``npx.log_softmax`` with ``temperature=1.0``: without one, MXNet's kernel for the last axis is off
    by ~1.4e-6 near 0 (log_softmax([5.0]) is 1.43e-6) and its gradient by ~1e-5; an integer tensor in
    float64, as numpy computes its exp (MXNet's raises)."""
    return npx.log_softmax(x if x.dtype.kind == "f" else x.astype(_np.float64), axis=axis, temperature=1.0)


def where(condition, a, b, /):
    """mxnet.np.where, a Python number made a 0-d array of the other side's dtype: with a number on
    either side, MXNet sends the tensor's gradient to the elements it was not chosen for. An empty
    operand gives the empty result here: MXNet's kernel crashes the process on most of those (or
    returns the wrong shape)."""
    if isinstance(b, (int, float)):
        b = mnp.array(b, dtype=a.dtype)
    elif isinstance(a, (int, float)):
        a = mnp.array(a, dtype=b.dtype)
    if 0 in condition.shape or 0 in a.shape or 0 in b.shape:
        dims = _np.broadcast_shapes(condition.shape, a.shape, b.shape)
        return mnp.zeros(dims, dtype=_np.result_type(a.dtype, b.dtype))
    return mnp.where(condition, a, b)


def one_hot(labels, num_classes, /):
    """``npx.one_hot``: a label outside [0, num_classes) is a row of zeros there too."""
    return npx.one_hot(labels, _common.one_hot_classes(_common.dtype_name(labels), num_classes), dtype=_np.float32)


def repeat(x, repeats, /, axis=None):
    """mxnet.np.repeat, except that zero repeats along an axis keep the other axes (MXNet's are flat)."""
    if repeats == 0 and axis is not None:
        return x[(slice(None),) * (axis % x.ndim) + (slice(0, 0),)]
    return mnp.repeat(x, repeats, axis=axis)


def matmul(a, b, /):
    """mxnet.np.matmul; its CPU kernel takes floats only, so integers are multiplied and summed exactly
    by broadcasting, 1-D operands as a row (a) or a column (b) whose axis is dropped, as numpy does."""
    if a.dtype.kind == "f":
        return mnp.matmul(a, b)
    if 0 in a.shape or 0 in b.shape:  # all zeros or empty; MXNet's sum over an empty axis fails (later)
        return mnp.array(_np.matmul(a.asnumpy(), b.asnumpy()))
    rows, cols = (a.reshape(1, -1) if a.ndim == 1 else a), (b.reshape(-1, 1) if b.ndim == 1 else b)
    out = (mnp.expand_dims(rows, -1) * mnp.expand_dims(cols, -3)).sum(axis=-2)
    if a.ndim == 1 and b.ndim == 1:
        return out.reshape(())
    return mnp.squeeze(out, axis=-2) if a.ndim == 1 else mnp.squeeze(out, axis=-1) if b.ndim == 1 else out
globals().update(_common.make_creation(mnp, _np.dtype, _np.float32, makes_float32=True), **_common.make_joins(mnp))


def tensor(data: Any, dtype: Any = None) -> mnp.ndarray:
    """A new array from nested lists/scalars/arrays; floats default to float32, ints to int64."""
    if isinstance(data, mnp.ndarray):
        return data.astype(dtype or data.dtype, copy=True)
    array = _common.host_array(data, dtype)
    return mnp.array(array, dtype=array.dtype)


def from_numpy(array: _np.ndarray, /) -> mnp.ndarray:
    array = _np.asarray(array)
    return mnp.array(array, dtype=array.dtype)


def reshape(x, shape, /):
    return mnp.reshape(x, shape)


def transpose(x, /, axes=None):
    return mnp.transpose(x) if axes is None else mnp.transpose(x, _common.normalize_axes(axes, x.ndim))


def flip(x, /, axis=None):
    return mnp.flip(x, tuple(_common.flip_axes(axis, x.ndim)))


def pad_constant(x, padding, /, value=0.0):
    """The legacy ``nd.pad`` (6x faster than concatenating zero blocks here, and than
    ``mxnet.np.pad``); it takes 4-D input, so the leading axes are folded into one."""
    ph, pw = padding
    dims = x.shape
    *lead, h, w = dims
    if 0 in dims:  # nothing to fold: the result is all value, or empty
        return mnp.full((*lead, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    folded = x.reshape(1, -1, h, w).as_nd_ndarray()
    padded = nd.pad(folded, mode="constant", pad_width=(0, 0, 0, 0, ph, ph, pw, pw), constant_value=value)
    return padded.as_np_ndarray().reshape(*lead, h + 2 * ph, w + 2 * pw)


_im2col_by_slices = _common.make_im2col(mnp.stack, mnp.reshape)


def im2col(x, kernel_size, /, stride=(1, 1)):
    """The legacy ``nd.im2col`` (about 2x faster than stacking the windows); 4-D input only, not empty."""
    dims = x.shape
    if 0 in dims:
        return _im2col_by_slices(x, kernel_size, stride=stride)
    *lead, c, h, w = dims
    cols = nd.im2col(x.reshape(-1, c, h, w).as_nd_ndarray(), kernel=tuple(kernel_size),
                     stride=tuple(stride)).as_np_ndarray()
    return cols.reshape(*lead, *cols.shape[1:])


def argmax(x, /, axis=None):
    """Checked first: MXNet's own error for an empty axis comes later, asynchronously, from whatever
    reads the result."""
    dims = x.shape
    error = _common.argmax_error(dims, axis) if 0 in dims else None
    if error is not None:
        raise error
    return mnp.argmax(x, axis=axis).astype(_np.int64)


def numpy(x, /) -> _np.ndarray:
    return x.asnumpy()


def is_tensor(x: Any, /) -> bool:
    return isinstance(x, (mnp.ndarray, _mxnet_graph.Traced))


def is_traced(x: Any, /) -> bool:
    """A tensor while ``compile`` traces a function into a graph (its value cannot be read there)."""
    return isinstance(x, _mxnet_graph.Traced)


def compile(fn: Callable[..., Any], /) -> Callable[..., Any]:
    """``fn`` traced once per input signature into MXNet's cached graphs (gluon's ``hybridize``, for
    shared code): a LeNet training step is two graph calls instead of ~60 op calls."""
    return _mxnet_graph.Compiled(fn)


globals().update(_common.make_random(from_numpy))
to = _common.make_to(_common.astype, _common.is_numpy_dtype)
batch_matmul = _common.make_batch_matmul(matmul, _common.shape)


def _differentiate(fn: Callable[..., Any], args: list[Any], nums: tuple[int, ...]):
    if _mxnet_graph.tracing():  # inside compile: a stage of the traced graph
        return _mxnet_graph.differentiate(fn, args, nums)
    inputs = []
    for i in nums:
        args[i] = args[i].copy()
        args[i].attach_grad()
        inputs.append(args[i])
    with autograd.record():
        value, aux = fn(*args)
    aux = _common.tree_map(lambda x: x.detach() if isinstance(x, mnp.ndarray) else x, aux)
    try:
        value.backward()
    except MXNetError as exc:
        if "not in a computational graph" not in str(exc):
            raise
        return value, aux, [mnp.zeros_like(x) for x in inputs]  # the value does not depend on the inputs
    return value.detach(), aux, [x.grad for x in inputs]


value_and_grad = _common.make_value_and_grad(_differentiate, _common.shape, mnp.reshape, is_tensor,
                                             _common.is_floating, NAME)


def multiply_add(y, a, x, /):
    """``y + a * x``. With a 0-d ``a`` (a kernel entry in shift-and-add) the product is an outer
    ``tensordot``: its gradient in ``a`` is one BLAS dot, where ``a * x`` broadcasts and MXNet's
    reduction back to 0-d is slow (corr2d's gradient at 1024x1024, 3x3: 1.6x faster; its forward
    pass is as fast at 256x256 and faster from 512x512 up; see docs/benchmark.md)."""
    if (isinstance(a, mnp.ndarray) and isinstance(x, mnp.ndarray) and a.ndim == 0 and a.dtype == x.dtype
            and a.dtype.kind == "f"):  # MXNet's tensordot takes floats only
        return y + mnp.tensordot(x, a, axes=0)
    return _common.multiply_add(y, a, x)


def native_corr2d(X, K, /):
    """The framework's own 2-D cross-correlation: for benchmarks and as an oracle."""
    h, w = K.shape
    out = npx.convolution(X.reshape(1, 1, *X.shape), K.reshape(1, 1, h, w), kernel=(h, w),
                          num_filter=1, no_bias=True)
    return out[0, 0]


def block_until_ready(x, /):
    """MXNet runs asynchronously: wait until ``x`` is computed (for timing)."""
    x.wait_to_read()
    return x


def native_conv2d(X, K, /, padding=(0, 0), stride=(1, 1)):
    """``npx.convolution``."""
    return npx.convolution(X, K, kernel=tuple(K.shape[2:]), stride=tuple(stride), pad=tuple(padding),
                           num_filter=K.shape[0], no_bias=True)


def native_pool2d(X, pool_size, /, mode="max", padding=(0, 0), stride=(1, 1)):
    """``npx.pooling`` (average with ``count_include_pad=True``)."""
    return npx.pooling(X, kernel=tuple(pool_size), stride=tuple(stride), pad=tuple(padding),
                       pool_type=mode, count_include_pad=True)


#: Direct framework calls equivalent to d2lconv ops, for measuring dispatch overhead.
NATIVE_OPS = {
    "zeros": lambda shape: mnp.zeros(shape),
    "reduce_sum": mnp.sum,
    "reshape": mnp.reshape,
    "transpose": mnp.transpose,
}

def linear(X, W, /, bias=None):
    """``npx.fully_connected`` over the last axis, the bias inside it: 15% off MXNet's LeNet step against
    matmul, transpose and a broadcast add (whose backward pass is a slow reduction here)."""
    if X.ndim == 1:
        return linear(X.reshape(1, -1), W, bias).reshape(-1)
    if 0 in X.shape:  # an empty batch: MXNet's kernel fails on it, asynchronously
        return mnp.zeros((*X.shape[:-1], W.shape[0]), dtype=X.dtype)
    args = (X, W) if bias is None else (X, W, bias)
    return npx.fully_connected(*args, num_hidden=W.shape[0], no_bias=bias is None, flatten=False)


def conv2d(X, K, /, padding=(0, 0), stride=(1, 1), bias=None):
    """``npx.convolution`` with the bias inside it: a separate broadcast add's backward pass took half
    of MXNet's LeNet step (53 against 18 ms for the first layer, forward and backward)."""
    if bias is None:
        return native_conv2d(X, K, padding, stride)
    return npx.convolution(X, K, bias, kernel=tuple(K.shape[2:]), stride=tuple(stride), pad=tuple(padding),
                           num_filter=K.shape[0], no_bias=False)
