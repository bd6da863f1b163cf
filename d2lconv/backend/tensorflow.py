"""The TensorFlow backend: eager ``tf.Tensor``; gradients by ``tf.GradientTape``."""

from __future__ import annotations

import os
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ start-up chatter out of notebooks

import numpy as _np  # noqa: E402
import tensorflow as tf  # noqa: E402

from . import _common  # noqa: E402
from ._common import block_until_ready, multiply_add, seed  # noqa: E402, F401  (re-exported backend names)

NAME = "tensorflow"
float32 = tf.float32
float64 = tf.float64
int32 = tf.int32
int64 = tf.int64
Tensor = tf.Tensor


def _tf_dtype(dtype: Any) -> Any:
    if dtype is None or isinstance(dtype, tf.DType):
        return dtype
    return tf.as_dtype(_np.dtype(dtype))


def tensor(data: Any, dtype: Any = None) -> tf.Tensor:
    """A new tensor from nested lists/scalars/arrays; floats default to float32, ints to int64."""
    if is_tensor(data):
        return tf.identity(data) if dtype is None else tf.cast(data, _tf_dtype(dtype))
    array = _common.host_array(data, None if isinstance(dtype, tf.DType) or dtype is None else dtype)
    out = tf.convert_to_tensor(array)
    return out if dtype is None else tf.cast(out, _tf_dtype(dtype))


def from_numpy(array: _np.ndarray) -> tf.Tensor:
    return tf.convert_to_tensor(array)


abs = tf.abs
exp = tf.exp
log = tf.math.log
sin = tf.sin
cos = tf.cos
tanh = tf.tanh
sqrt = tf.sqrt
sigmoid = tf.sigmoid
maximum = tf.maximum
reshape = tf.reshape
expand_dims = tf.expand_dims


def matmul(a, b):
    return tf.linalg.matmul(a, b)


def zeros(shape, dtype=float32):
    return tf.zeros(shape, dtype if type(dtype) is tf.DType else _tf_dtype(dtype))


def ones(shape, dtype=float32):
    return tf.ones(shape, dtype if type(dtype) is tf.DType else _tf_dtype(dtype))


def zeros_like(x, dtype=None):
    return tf.zeros_like(x, dtype=_tf_dtype(dtype))


def ones_like(x, dtype=None):
    return tf.ones_like(x, dtype=_tf_dtype(dtype))


def arange(start, stop=None, step=1, dtype=None):
    if stop is None:
        start, stop = 0, start
    return tf.range(start, stop, step, dtype=_tf_dtype(dtype or _common.arange_dtype(start, stop, step)))


def linspace(start, stop, num=50, dtype=float32):
    return tf.cast(tf.linspace(float(start), float(stop), num), _tf_dtype(dtype))


def eye(n, m=None, dtype=float32):
    return tf.eye(n, m, dtype=_tf_dtype(dtype))


def transpose(x, axes=None):
    return tf.transpose(x) if axes is None else tf.transpose(x, perm=_common.normalize_axes(axes, x.shape.rank))


# tf's (input, axis=None, keepdims=False) already has numpy's meaning: aliases, not wrappers.
reduce_sum = tf.reduce_sum
reduce_mean = tf.reduce_mean


def stack(xs, axis=0):
    return tf.stack(list(xs), axis=axis)


def concat(xs, axis=0):
    return tf.concat(list(xs), axis=axis)


def swapaxes(x, axis1, axis2):
    return tf.transpose(x, perm=_common.swapped_axes(x.shape.rank, axis1, axis2))


def repeat(x, repeats, axis=None):
    """numpy's meaning: repeat each element (``tf.repeat`` already does)."""
    return tf.repeat(x, repeats, axis=axis)


def flip(x, axis=None):
    axes = list(range(x.shape.rank)) if axis is None else [axis] if isinstance(axis, int) else list(axis)
    return tf.reverse(x, axes)


def argmax(x, axis=None):
    if axis is None:
        return tf.argmax(tf.reshape(x, (-1,)), output_type=tf.int64)
    return tf.argmax(x, axis=axis, output_type=tf.int64)


def astype(x, dtype):
    return tf.cast(x, _tf_dtype(dtype))


def size(x) -> int:
    return int(_np.prod(x.shape))


def numpy(x) -> _np.ndarray:
    return _np.asarray(x.numpy())


rand, normal = _common.make_random(from_numpy)



def is_tensor(x: Any) -> bool:
    return isinstance(x, (tf.Tensor, tf.Variable))


def shape(x) -> tuple[int, ...]:
    return tuple(int(d) for d in x.shape)


def is_floating(x) -> bool:
    return x.dtype.is_floating


def dtype_name(x) -> str:
    return x.dtype.name


def compile(fn: Callable[..., Any]) -> Callable[..., Any]:
    """XLA-compile ``fn`` (fuses shift-and-add into one pass); retraced once per input shape."""
    return tf.function(fn, jit_compile=True, reduce_retracing=False)


def value_and_grad(fn: Callable[..., Any], argnums: int | tuple[int, ...] = 0):
    """``fn``'s value and its gradient with respect to the positional args ``argnums``."""
    many = isinstance(argnums, tuple)
    nums = argnums if many else (argnums,)

    def run(*args):
        full = [tf.convert_to_tensor(a) if isinstance(a, tf.Variable) else a for a in args]
        inputs = [full[i] for i in nums]
        with tf.GradientTape() as tape:
            for x in inputs:
                tape.watch(x)
            value = fn(*full)
        grads = tape.gradient(value, inputs, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return value, (tuple(grads) if many else grads[0])

    return run


def native_corr2d(X, K):
    """The framework's own 2-D cross-correlation: for benchmarks and as an oracle."""
    out = tf.nn.conv2d(X[None, :, :, None], K[:, :, None, None], strides=1, padding="VALID")
    return out[0, :, :, 0]


#: Direct framework calls equivalent to d2lconv ops, for measuring dispatch overhead.
NATIVE_OPS = {
    "zeros": lambda shape: tf.zeros(shape),
    "reduce_sum": tf.reduce_sum,
    "reshape": tf.reshape,
    "transpose": tf.transpose,
}
