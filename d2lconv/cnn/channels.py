"""Convolutions over several input and output channels (section "Multiple Input and Multiple
Output Channels"), written once for every backend.

Layout: an input is ``(channels, height, width)`` or ``(batch, channels, height, width)``; a
kernel is ``(out_channels, in_channels, k_h, k_w)``. Every multi-channel function goes through
one computation: the backend's ``im2col`` lays the input's windows out as columns (the
columns of "cross-correlation as a matrix product", the chapter's exercise) and one matrix
product with the kernel, reshaped to ``(out_channels, in_channels * k_h * k_w)``, sums over
input channels and kernel positions at once (a large batch goes a few images at a time).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import ops
from ..base.checks import Pair, as_float, check_pair, check_tensor
from ..base.compiled import run_compiled
from ..registry import public
from .geometry import output_size, pad_constant

#: The batch goes through ``im2col`` and the matrix product in chunks of whole images whose
#: columns take at most this many bytes. Larger blocks come fresh from the operating system on
#: every call (glibc's mmap threshold is at most 32 MiB) and miss the 32 MiB cache. For
#: 4x3x224x224 -> 16 channels with 5x5 kernels, 8 MiB chunks took 1.3-2.6x less time forward
#: and backward on torch and JAX (docs/benchmark.md).
COLUMN_CHUNK_BYTES = 8 * 2**20


def windows_times_kernel(X: Any, K: Any, stride: tuple[int, int] = (1, 1)) -> Any:
    """``Y[..., o, i, j] = sum_{c, a, b} K[o, c, a, b] X[..., c, s_h i + a, s_w j + b]``.

    ``X`` is already padded: ``(c_i, h, w)`` or ``(batch, c_i, h, w)``.
    """
    B = ops()
    co, ci, kh, kw = K.shape
    lead, (n_h, n_w) = tuple(X.shape[:-3]), tuple(X.shape[-2:])
    out = ((n_h - kh) // stride[0] + 1, (n_w - kw) // stride[1] + 1)
    K2 = B.reshape(K, (co, ci * kh * kw))

    def correlate(images: Any) -> Any:
        return B.matmul(K2, B.im2col(images, (kh, kw), stride))  # (..., co, oh * ow)

    image_bytes = ci * kh * kw * out[0] * out[1] * np.dtype(B.dtype_name(X)).itemsize
    step = max(1, COLUMN_CHUNK_BYTES // image_bytes)
    if not lead or step >= lead[0] or B.is_traced(X):  # a compiler plans its own memory
        Y = correlate(X)
    else:
        Y = B.concat([correlate(X[i:i + step]) for i in range(0, lead[0], step)], axis=0)
    return B.reshape(Y, (*lead, co, *out))


def _check_channels(caller: str, x_shape: tuple[int, ...], k_shape: tuple[int, ...], k_axis: int,
                    k_layout: str) -> None:
    if x_shape[-3] != k_shape[k_axis]:
        raise ValueError(f"{caller}: the input X has {x_shape[-3]} channels (shape {x_shape}, "
                         f"channels at axis -3) but the kernel K has {k_shape[k_axis]} input "
                         f"channels (shape {k_shape}, layout {k_layout}); they must match")


def _multi(caller: str, X: Any, K: Any, padding: Pair, stride: Pair, k_rank: int) -> Any:
    """Validate, pad and correlate; ``k_rank`` 3 means one output channel (dropped after)."""
    B = ops()
    x_shape = check_tensor(B, X, "the input X", caller, (3, 4))
    layout = "(in_channels, k_h, k_w)" if k_rank == 3 else "(out_channels, in_channels, k_h, k_w)"
    k_shape = check_tensor(B, K, f"the kernel K {layout}", caller, (k_rank,))
    _check_channels(caller, x_shape, k_shape, -3, layout)
    padding = check_pair(padding, "padding", caller, 0)
    stride = check_pair(stride, "stride", caller, 1)
    output_size(caller, x_shape[-2:], k_shape[-2:], padding, stride, what="the kernel K's window")
    X = as_float(B, X, K)
    K = as_float(B, K, X)
    if k_rank == 3:
        K = B.expand_dims(K, 0)
    X = pad_constant(B, X, padding)
    Y = run_compiled(B, windows_times_kernel, B.size(X), (X, K), stride=stride)
    if k_rank == 3:
        Y = B.reshape(Y, (*x_shape[:-3], *B.shape(Y)[-2:]))
    return Y


@public
def corr2d_multi_in(X: Any, K: Any, padding: Pair = 0, stride: Pair = 1) -> Any:
    """Cross-correlate each input channel with its own kernel slice and add the results.

    ``X``: ``(c_i, h, w)`` or ``(batch, c_i, h, w)``; ``K``: ``(c_i, k_h, k_w)``. Result:
    ``(h', w')`` or ``(batch, h', w')``, the sum over channels of ``corr2d(X[c], K[c])``.
    """
    return _multi("corr2d_multi_in", X, K, padding, stride, k_rank=3)


@public
def corr2d_multi_in_out(X: Any, K: Any, padding: Pair = 0, stride: Pair = 1) -> Any:
    """One ``corr2d_multi_in`` per output channel, stacked along the channel axis.

    ``X``: ``(c_i, h, w)`` or ``(batch, c_i, h, w)``; ``K``: ``(c_o, c_i, k_h, k_w)``. Result:
    ``(c_o, h', w')`` or ``(batch, c_o, h', w')``.
    """
    return _multi("corr2d_multi_in_out", X, K, padding, stride, k_rank=4)


@public
def corr2d_multi_in_out_1x1(X: Any, K: Any) -> Any:
    """A 1x1 convolution written as what it is: a matrix product over the channel axis.

    ``X``: ``(c_i, h, w)`` or ``(batch, c_i, h, w)``; ``K``: ``(c_o, c_i, 1, 1)``. Every pixel's
    channel vector is multiplied by the ``(c_o, c_i)`` matrix.
    """
    caller = "corr2d_multi_in_out_1x1"
    B = ops()
    x_shape = check_tensor(B, X, "the input X", caller, (3, 4))
    layout = "(out_channels, in_channels, 1, 1)"
    k_shape = check_tensor(B, K, f"the kernel K {layout}", caller, (4,))
    if k_shape[-2:] != (1, 1):
        raise ValueError(f"{caller}: the kernel K must be 1x1 in height and width, got shape "
                         f"{k_shape}; use corr2d_multi_in_out for larger kernels")
    _check_channels(caller, x_shape, k_shape, 1, layout)
    X = as_float(B, X, K)
    K = as_float(B, K, X)
    *lead, c_i, h, w = x_shape
    Y = B.matmul(B.reshape(K, (k_shape[0], c_i)), B.reshape(X, (*lead, c_i, h * w)))
    return B.reshape(Y, (*lead, k_shape[0], h, w))
