"""The JAX backend: ``jax.Array`` on the CPU; gradients by ``jax.value_and_grad``; ``jax.jit`` compiles.

JAX keeps 64-bit types off by default (int64 silently becomes int32). The contract promises
int64 integers and float64 on request as on every other backend, so loading this backend turns
``jax_enable_x64`` on; d2lconv's own ops still make float32 unless told otherwise.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as _np

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

from . import _common  # noqa: E402

NAME = "jax"
COMPILE_FUSES = True
# the contract's names this backend takes from _common, unchanged
_common.bind_aliases(globals(), _common, (
    "astype", "dtype_name", "get_seed", "is_floating", "seed", "shape", "size"
))
Tensor = jax.Array
_common.bind_aliases(globals(), jnp, (*_common.UNARY_MATH, *_common.DTYPE_NAMES, "matmul", "maximum", "reshape",
                                      "transpose", "swapaxes", "expand_dims", "repeat", "meshgrid", "flip", "equal",
                                      "where"),
                     {"reduce_sum": "sum", "reduce_max": "max"})  # an empty max raises numpy's ValueError
sigmoid = jax.nn.sigmoid
relu = jax.nn.relu
_common.bind_float_math(globals(), _common.is_floating, lambda x: x.astype(jnp.float64))


def reduce_mean(x, /, axis=None, keepdims=False):
    """numpy's: the mean of an integer tensor is float64 (JAX's is float32, even with 64-bit types on)."""
    if not _common.is_floating(x):
        x = x.astype(jnp.float64)
    return jnp.mean(x, axis=axis, keepdims=keepdims)
globals().update(_common.make_creation(jnp, jnp.dtype, jnp.float32), **_common.make_joins(jnp))
pad_constant = _common.make_pad_constant(jnp, jnp.ndim)
im2col = _common.make_im2col(jnp.stack, jnp.reshape)


def tensor(data: Any, dtype: Any = None) -> jax.Array:
    """A new array from nested lists/scalars/arrays; floats default to float32, ints to int64."""
    if isinstance(data, jax.Array):
        return jnp.array(data, dtype=dtype, copy=True)
    return jnp.asarray(_common.host_array(data, dtype))


def from_numpy(array: _np.ndarray, /) -> jax.Array:
    return jnp.asarray(array)


def log_softmax(x, /, axis=-1):
    """``jax.nn.log_softmax``; an integer tensor in float64, as numpy computes its exp."""
    return jax.nn.log_softmax(x if _common.is_floating(x) else x.astype(jnp.float64), axis=axis)


def one_hot(labels, num_classes, /):
    """``jax.nn.one_hot`` in float32 (its default is JAX's float, float64 here): a label outside
    [0, num_classes) is a row of zeros there too."""
    return jax.nn.one_hot(labels, _common.one_hot_classes(labels.dtype.name, num_classes), dtype=jnp.float32)


def argmax(x, /, axis=None):
    return jnp.argmax(x, axis=axis).astype(jnp.int64)


def numpy(x, /) -> _np.ndarray:
    """The values as a host numpy array. Inside value_and_grad the argument is a gradient tracer
    (``JVPTracer``, ``LinearizeTracer``) holding its value as ``.primal``: that value, detached as
    on every backend. Under ``jit`` no value exists yet, and JAX's own error says so."""
    while isinstance(x, jax.Array) and hasattr(x, "primal"):
        x = x.primal
    return _np.asarray(x)


def is_tensor(x: Any, /) -> bool:
    return isinstance(x, jax.Array)  # tracers inside jit/grad are jax.Array too


def is_traced(x, /) -> bool:
    """A tracer of ``jax.jit`` (or of vmap, ...). A gradient tracer outside jit holds a concrete value as
    ``.primal`` (what d2l.numpy reads), so it is looked through, as is one whose primal jit traces."""
    while hasattr(x, "primal") and isinstance(x, jax.Array):
        x = x.primal
    return isinstance(x, jax.core.Tracer)


def compile(fn: Callable[..., Any], /) -> Callable[..., Any]:
    """``jax.jit``: XLA fuses shift-and-add into one pass; retraced once per input shape."""
    return jax.jit(fn)


def multiply_add(y, a, x, /):
    return y + a * x  # XLA fuses it under jit; eagerly it is two ops as elsewhere


def get_key() -> jax.Array:
    """A fresh ``jax.random.PRNGKey`` from d2lconv's seeded generator (d2l's JAX ``get_key``)."""
    return jax.random.PRNGKey(_common.get_seed())


globals().update(_common.make_random(from_numpy))
to = _common.make_to(_common.astype, _common.is_numpy_dtype)
batch_matmul = _common.make_batch_matmul(jnp.matmul, _common.shape)


def _differentiate(fn: Callable[..., Any], args: list[Any], nums: tuple[int, ...]):
    (value, aux), grads = jax.value_and_grad(fn, argnums=nums, has_aux=True)(*args)
    return value, aux, list(grads)


value_and_grad = _common.make_value_and_grad(_differentiate, _common.shape, jnp.reshape, is_tensor,
                                             _common.is_floating, NAME)


def native_corr2d(X, K, /):
    """The framework's own 2-D cross-correlation (``jax.lax.conv``): for benchmarks and as an oracle."""
    return jax.lax.conv(X[None, None], K[None, None], (1, 1), "VALID")[0, 0]


def native_conv2d(X, K, /, padding=(0, 0), stride=(1, 1)):
    """``jax.lax.conv_general_dilated`` (NCHW / OIHW, as ours)."""
    (ph, pw) = padding
    return jax.lax.conv_general_dilated(X, K, tuple(stride), ((ph, ph), (pw, pw)))


def native_pool2d(X, pool_size, /, mode="max", padding=(0, 0), stride=(1, 1)):
    """``jax.lax.reduce_window``: max from -inf, or the window's sum divided by its size."""
    (ph, pw) = padding
    window, strides = (1, 1, *pool_size), (1, 1, *stride)
    pads = ((0, 0), (0, 0), (ph, ph), (pw, pw))
    if mode == "max":
        return jax.lax.reduce_window(X, -jnp.inf, jax.lax.max, window, strides, pads)
    total = jax.lax.reduce_window(X, 0.0, jax.lax.add, window, strides, pads)
    return total / (pool_size[0] * pool_size[1])


def block_until_ready(x, /):
    """JAX dispatches asynchronously: wait until ``x`` is computed (for timing)."""
    return x.block_until_ready()


#: Direct framework calls equivalent to d2lconv ops, for measuring dispatch overhead.
NATIVE_OPS = {
    "zeros": lambda shape: jnp.zeros(shape, jnp.float32),
    "reduce_sum": jnp.sum,
    "reshape": jnp.reshape,
    "transpose": jnp.transpose,
}

def linear(X, W, /, bias=None):
    """``X @ W.T + bias``; XLA fuses the two under jit."""
    Y = jnp.matmul(X, W.T)
    return Y if bias is None else Y + bias


def conv2d(X, K, /, padding=(0, 0), stride=(1, 1), bias=None):
    """``jax.lax.conv_general_dilated``; XLA fuses the bias into it under jit."""
    Y = native_conv2d(X, K, padding, stride)
    return Y if bias is None else Y + bias[None, :, None, None]
