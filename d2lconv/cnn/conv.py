"""Single-channel 2-D cross-correlation and convolution, written once for every backend.

Nothing here knows which framework runs it: tensors are made and inspected only through the
active backend's op namespace (``d2lconv.backend.ops()``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backend import ops
from ..base.checks import Pair, as_float, check_pair, check_tensor
from ..base.compiled import run_compiled
from ..registry import public
from .geometry import output_size, pad_constant, strided_window


def check_matrix(B: Any, x: Any, what: str, caller: str) -> tuple[int, int]:
    """Check that ``x`` is a non-empty 2-D tensor of the active backend; return its shape."""
    return check_tensor(B, x, what, caller, (2,))  # type: ignore[return-value]


def prepare(X: Any, K: Any, caller: str) -> tuple[Any, Any, Any]:
    """Validate a 2-D image/kernel pair and bring both to one float dtype; return (B, X, K)."""
    B = ops()
    check_matrix(B, X, "the image X", caller)
    check_matrix(B, K, "the kernel K", caller)
    X = as_float(B, X, K)
    K = as_float(B, K, X)
    return B, X, K


def shift_and_add(X: Any, K: Any, stride: tuple[int, int] = (1, 1)) -> Any:
    """Sum ``K[a, b] * X[a::s_h, b::s_w]`` (cut to the output's size) over the kernel's positions.

    A loop over the kernel, not over the image: vectorised over every output pixel, free of
    item assignment, so every backend's autodiff goes through it. A stride only changes which
    pixels each slice takes.
    """
    multiply_add = ops().multiply_add
    h, w = K.shape
    out = ((X.shape[0] - h) // stride[0] + 1, (X.shape[1] - w) // stride[1] + 1)
    Y = K[0, 0] * strided_window(X, 0, 0, out, stride)
    for a in range(h):
        for b in range(w):
            if a or b:
                Y = multiply_add(Y, K[a, b], strided_window(X, a, b, out, stride))
    return Y


def _correlate(caller: str, X: Any, K: Any, padding: Pair, stride: Pair, flip: bool) -> Any:
    B, X, K = prepare(X, K, caller)
    padding = check_pair(padding, "padding", caller, 0)
    stride = check_pair(stride, "stride", caller, 1)
    output_size(caller, B.shape(X), B.shape(K), padding, stride, of="the image X of shape")
    X = pad_constant(B, X, padding)
    n_h, n_w = B.shape(X)
    return run_compiled(B, shift_and_add, n_h * n_w, (X, B.flip(K) if flip else K), stride=stride)


@public
def corr2d(X: Any, K: Any, padding: Pair = 0, stride: Pair = 1) -> Any:
    """2-D cross-correlation of image ``X`` with kernel ``K``; differentiable in both.

    ``padding`` zero rows/columns go on each side first; the kernel then moves ``stride``
    pixels at a time. Output shape: ``conv_output_shape(X.shape, K.shape, padding, stride)``,
    ``(n_h - k_h + 1, n_w - k_w + 1)`` with the defaults.
    """
    return _correlate("corr2d", X, K, padding, stride, flip=False)


@public
def convolve2d(X: Any, K: Any, padding: Pair = 0, stride: Pair = 1) -> Any:
    """Strict 2-D convolution: cross-correlation with the kernel flipped in both directions."""
    return _correlate("convolve2d", X, K, padding, stride, flip=True)


@public
def corr2d_loop(X: Any, K: Any) -> Any:
    """The textbook double loop over output pixels: slow, readable, the reference for ``corr2d``.

    Rows are built with ``stack`` rather than item assignment, so it runs (and differentiates)
    on every backend.
    """
    B, X, K = prepare(X, K, "corr2d_loop")
    h, w = B.shape(K)
    n_h, n_w = output_size("corr2d_loop", B.shape(X), (h, w), (0, 0), (1, 1),
                           of="the image X of shape")
    rows = [B.stack([B.reduce_sum(X[i:i + h, j:j + w] * K) for j in range(n_w)])
            for i in range(n_h)]
    return B.stack(rows)


#: Refuse a ``corr2d_matrix`` larger than this many entries (float32: 400 MB).
MATRIX_MAX_ENTRIES = 10**8


@public
def corr2d_matrix(K: Any, image_shape: Sequence[int]) -> Any:
    """The matrix ``W`` with ``W @ vec(X) == vec(corr2d(X, K))`` for images of ``image_shape``.

    Cross-correlation is linear in ``X``; row ``i * W' + j`` holds the kernel placed at (i, j).
    ``W`` is built as ``sum K[a, b] * E_ab`` over constant 0/1 placement matrices, so it is
    differentiable in ``K`` on every backend.
    """
    B = ops()
    kh, kw = check_matrix(B, K, "the kernel K", "corr2d_matrix")
    try:
        n_h, n_w = (int(s) for s in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"corr2d_matrix: image_shape must be a pair (height, width), got {image_shape!r}") from None
    if kh > n_h or kw > n_w:
        raise ValueError(f"corr2d_matrix: the kernel K of shape {(kh, kw)} is larger than the "
                         f"image shape {(n_h, n_w)}")
    oh, ow = n_h - kh + 1, n_w - kw + 1
    if oh * ow * n_h * n_w > MATRIX_MAX_ENTRIES:
        raise ValueError(f"corr2d_matrix: for an image of shape {(n_h, n_w)} the matrix would be "
                         f"{oh * ow} x {n_h * n_w} = {oh * ow * n_h * n_w:,} entries (limit "
                         f"{MATRIX_MAX_ENTRIES:,}); use corr2d for images this large")
    K = as_float(B, K)
    dtype = np.dtype(B.dtype_name(K))
    rows = np.arange(oh * ow)
    i, j = np.divmod(rows, ow)
    W = None
    for a in range(kh):
        for b in range(kw):
            placement = np.zeros((oh * ow, n_h * n_w), dtype)
            placement[rows, (i + a) * n_w + (j + b)] = 1
            E = B.from_numpy(placement)
            W = K[a, b] * E if W is None else B.multiply_add(W, K[a, b], E)
    return W


