"""The TensorFlow backend: eager ``tf.Tensor``; gradients by ``tf.GradientTape``."""

from __future__ import annotations

from typing import Any, Callable

import numpy as _np
import tensorflow as tf

from . import _common

NAME = "tensorflow"
COMPILE_FUSES = True
# the contract's names this backend takes from _common, unchanged
_common.bind_aliases(globals(), _common, (
    "block_until_ready", "get_key", "get_seed", "multiply_add", "seed"
))
Tensor = tf.Tensor
_common.bind_aliases(globals(), tf, (*_common.UNARY_MATH, *_common.DTYPE_NAMES, "sigmoid", "maximum",
                                     "expand_dims", "repeat", "meshgrid", "equal", "where"),
                     {"log": "math.log", "relu": "nn.relu"})
#: dtypes whose mean and math numpy computes in float64
_NOT_FLOAT = frozenset({tf.bool, tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.uint16, tf.uint32, tf.uint64})
_common.bind_float_math(globals(), lambda x: x.dtype not in _NOT_FLOAT, lambda x: tf.cast(x, tf.float64))


def reduce_sum(x, /, axis=None, keepdims=False):
    """numpy's dtype: an int32 sum is int64 (TensorFlow's stays int32, and overflows)."""
    if x.dtype is tf.int32:
        x = tf.cast(x, tf.int64)
    return tf.reduce_sum(x, axis=axis, keepdims=keepdims)


def reduce_mean(x, /, axis=None, keepdims=False):
    """numpy's: the mean of an integer tensor is float64 (TensorFlow's is an integer, truncated)."""
    if x.dtype in _NOT_FLOAT:
        x = tf.cast(x, tf.float64)
    return tf.reduce_mean(x, axis=axis, keepdims=keepdims)


def reduce_max(x, /, axis=None, keepdims=False):
    """``tf.reduce_max`` (a tie splits the gradient evenly), except that a max over an empty axis raises
    numpy's ValueError: TensorFlow's is the dtype's least value (-inf)."""
    if 0 in x.shape and x.shape.is_fully_defined():  # (a graph may leave a dimension unknown)
        error = _common.max_error(shape(x), axis)
        if error is not None:
            raise error
    return tf.reduce_max(x, axis=axis, keepdims=keepdims)


def log_softmax(x, /, axis=-1):
    """``tf.nn.log_softmax``; an integer tensor in float64, as numpy computes its exp (TensorFlow's raises)."""
    return tf.nn.log_softmax(tf.cast(x, tf.float64) if x.dtype in _NOT_FLOAT else x, axis=axis)


def one_hot(labels, num_classes, /):
    """``tf.one_hot``: a label outside [0, num_classes) is a row of zeros there too."""
    return tf.one_hot(labels, _common.one_hot_classes(labels.dtype.name, num_classes), dtype=tf.float32)


def is_traced(x, /) -> bool:
    """A symbolic tensor of a ``tf.function`` graph, or a variable while one is traced (no ``.numpy()``
    there); eager tensors, watched by a GradientTape or not, are concrete."""
    return tf.is_symbolic_tensor(x) or (isinstance(x, tf.Variable) and not tf.executing_eagerly())


def _tf_dtype(dtype: Any) -> Any:
    if dtype is None or type(dtype) is tf.DType:
        return dtype
    return tf.as_dtype(_np.dtype(dtype))


globals().update(_common.make_creation(tf, _tf_dtype, tf.float32, arange="range", linspace_dtype=False,
                                          makes_float32=True))


def tensor(data: Any, dtype: Any = None) -> tf.Tensor:
    """A new tensor from nested lists/scalars/arrays; floats default to float32, ints to int64."""
    if is_tensor(data):
        return tf.identity(data) if dtype is None else tf.cast(data, _tf_dtype(dtype))
    # a tf dtype as numpy's: the values go straight to it, not through float32 (0.1 as float64)
    array = _common.host_array(data, dtype.as_numpy_dtype if isinstance(dtype, tf.DType) else dtype)
    return tf.convert_to_tensor(array)


def from_numpy(array: _np.ndarray, /) -> tf.Tensor:
    return tf.convert_to_tensor(array)


def reshape(x, shape, /):
    """``tf.reshape``, except that a -1 beside a 0 raises, as in numpy (it is ambiguous: TensorFlow makes
    a size-0 tensor's (-1, 0) a (1, 0))."""
    if type(shape) in (tuple, list) and -1 in shape and 0 in shape:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} into {tuple(shape)}: "
                         f"a -1 beside a 0 is ambiguous (numpy raises too)")
    return tf.reshape(x, shape)


def matmul(a, b, /):
    """numpy.matmul: ``tf.linalg.matmul`` wants ranks >= 2, so a 1-D operand is made a row (a) or a
    column (b), and that axis dropped from the product, as numpy does."""
    rank_a, rank_b = a.shape.rank, b.shape.rank
    if rank_a >= 2 and rank_b >= 2:
        return tf.linalg.matmul(a, b)
    if rank_a == 1 and rank_b == 1:
        return tf.tensordot(a, b, 1)
    if rank_a == 1:
        return tf.squeeze(tf.linalg.matmul(a[None, :], b), -2)
    return tf.squeeze(tf.linalg.matmul(a, b[:, None]), -1)


def transpose(x, /, axes=None):
    return tf.transpose(x) if axes is None else tf.transpose(x, perm=_common.normalize_axes(axes, x.shape.rank))


def stack(xs, /, axis=0):
    return tf.stack(list(xs), axis=axis)


def concat(xs, /, axis=0):
    return tf.concat(list(xs), axis=axis)


im2col = _common.make_im2col(stack, tf.reshape)  # measured faster than tf.image.extract_patches


def pad_constant(x, padding, /, value=0.0):
    return tf.pad(x, _common.pad_widths(x.shape.rank, padding), constant_values=value)


def swapaxes(x, axis1, axis2, /):
    return tf.transpose(x, perm=_common.swapped_axes(x.shape.rank, axis1, axis2))


def flip(x, /, axis=None):
    return tf.reverse(x, _common.flip_axes(axis, x.shape.rank))


def argmax(x, /, axis=None):
    try:
        if axis is None:
            return tf.argmax(tf.reshape(x, (-1,)), output_type=tf.int64)
        return tf.argmax(x, axis=axis, output_type=tf.int64)
    except tf.errors.InvalidArgumentError:
        error = _common.argmax_error(shape(x), axis)
        if error is None:
            raise
    raise error


def astype(x, dtype, /):
    return tf.cast(x, _tf_dtype(dtype))


def size(x, /) -> int:
    return int(_np.prod(x.shape))


def shape(x, /) -> tuple[int, ...]:
    return tuple(int(d) for d in x.shape)


def numpy(x, /) -> _np.ndarray:
    """The values as a host numpy array; inside ``compile`` (a graph being traced) there are none yet, and
    that is a TypeError, as JAX's is, rather than a graph tensor's AttributeError."""
    if is_traced(x):
        raise TypeError(f"d2l.numpy: {x!r} is traced by compile (tf.function), so it has no value yet; read "
                        f"values outside the compiled function, or return them from it")
    return _np.asarray(x.numpy())


def is_tensor(x: Any, /) -> bool:
    return isinstance(x, (tf.Tensor, tf.Variable))


def is_floating(x, /) -> bool:
    return x.dtype.is_floating


def dtype_name(x, /) -> str:
    return x.dtype.name


def compile(fn: Callable[..., Any], /) -> Callable[..., Any]:
    """XLA-compile ``fn`` (fuses shift-and-add into one pass); retraced once per input shape. Without
    autograph: shared code branches on shapes, never on tensor values, and autograph took 90% of the
    time to trace LeNet's training step (5.7 s against 0.46 s, the same graph)."""
    return tf.function(fn, jit_compile=True, reduce_retracing=False, autograph=False)


globals().update(_common.make_random(from_numpy))
to = _common.make_to(astype, lambda t: isinstance(t, tf.DType) or isinstance(t, (type, _np.dtype)))
batch_matmul = _common.make_batch_matmul(tf.linalg.matmul, shape)


def _differentiate(fn: Callable[..., Any], args: list[Any], nums: tuple[int, ...]):
    args = [tf.convert_to_tensor(a) if isinstance(a, tf.Variable) else a for a in args]
    seen: set[int] = set()
    for i in nums:  # a tensor given twice (tied weights in a pytree) is watched once and would get
        if id(args[i]) in seen:  # the sum of both gradients twice: each later use gets its own copy
            args[i] = tf.identity(args[i])
        seen.add(id(args[i]))
    inputs = [args[i] for i in nums]
    with tf.GradientTape() as tape:
        for x in inputs:
            tape.watch(x)
        value, aux = fn(*args)
    grads = tape.gradient(value, inputs, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return value, aux, list(grads)


value_and_grad = _common.make_value_and_grad(_differentiate, shape, tf.reshape, is_tensor, is_floating, NAME)


def native_corr2d(X, K, /):
    """The framework's own 2-D cross-correlation: for benchmarks and as an oracle."""
    out = tf.nn.conv2d(X[None, :, :, None], K[:, :, None, None], strides=1, padding="VALID")
    return out[0, :, :, 0]


def _nhwc_padded(X, padding, value=0.0):
    (ph, pw) = padding
    X = tf.transpose(X, (0, 2, 3, 1))
    return tf.pad(X, [[0, 0], [ph, ph], [pw, pw], [0, 0]], constant_values=value) if ph or pw else X


def native_conv2d(X, K, /, padding=(0, 0), stride=(1, 1)):
    """``tf.nn.conv2d`` with explicit padding (TensorFlow's CPU kernels want channels last)."""
    (ph, pw) = padding
    X = tf.transpose(X, (0, 2, 3, 1))
    Y = tf.nn.conv2d(X, tf.transpose(K, (2, 3, 1, 0)), strides=list(stride),
                     padding=[[0, 0], [ph, ph], [pw, pw], [0, 0]])
    return tf.transpose(Y, (0, 3, 1, 2))


def native_pool2d(X, pool_size, /, mode="max", padding=(0, 0), stride=(1, 1)):
    """``tf.nn.max_pool2d`` / ``avg_pool2d`` on the input padded with ``tf.pad`` (-inf or 0):
    TensorFlow's own pooling has only 'VALID' and 'SAME', and 'SAME' averages exclude padding."""
    X = _nhwc_padded(X, padding, float("-inf") if mode == "max" else 0.0)
    pool = tf.nn.max_pool2d if mode == "max" else tf.nn.avg_pool2d
    return tf.transpose(pool(X, list(pool_size), list(stride), "VALID"), (0, 3, 1, 2))


#: Direct framework calls equivalent to d2lconv ops, for measuring dispatch overhead.
NATIVE_OPS = {
    "zeros": lambda shape: tf.zeros(shape),
    "reduce_sum": tf.reduce_sum,
    "reshape": tf.reshape,
    "transpose": tf.transpose,
}

def linear(X, W, /, bias=None):
    """``tf.linalg.matmul`` with ``transpose_b`` (a ``tensordot`` over the last axis for other ranks) and
    ``tf.nn.bias_add``."""
    if X.shape.rank == 2:
        Y = tf.linalg.matmul(X, W, transpose_b=True)
    else:
        Y = tf.tensordot(X, W, [[X.shape.rank - 1], [1]])
    return Y if bias is None else tf.nn.bias_add(Y, bias) if Y.shape.rank >= 2 else Y + bias


def conv2d(X, K, /, padding=(0, 0), stride=(1, 1), bias=None):
    """``tf.nn.conv2d`` with the bias added channels-last (``tf.nn.bias_add``) before the transpose back."""
    (ph, pw) = padding
    Y = tf.nn.conv2d(tf.transpose(X, (0, 2, 3, 1)), tf.transpose(K, (2, 3, 1, 0)), strides=list(stride),
                     padding=[[0, 0], [ph, ph], [pw, pw], [0, 0]])
    if bias is not None:
        Y = tf.nn.bias_add(Y, bias)
    return tf.transpose(Y, (0, 3, 1, 2))
