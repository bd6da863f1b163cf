"""2-D cross-correlation, convolution and the ``Conv2D`` layer, written once for every backend.

Nothing here knows which framework runs it: tensors are made and inspected only through the
active backend's op namespace (``d2lconv.backend.ops()``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from .backend import ops
from .module import Module

Mode = Literal["correlate", "convolve"]
MODES: tuple[str, ...] = ("correlate", "convolve")


def describe(x: Any) -> str:
    """A short description of a value's type for error messages (``torch.Tensor``, ``list``)."""
    kind = type(x)
    module = kind.__module__.split(".")[0]
    if module == "builtins":
        return f"a Python {kind.__name__}"
    return f"a {module} {kind.__name__}"


def check_matrix(B: Any, x: Any, what: str, caller: str) -> tuple[int, int]:
    """Check that ``x`` is a non-empty 2-D tensor of the active backend; return its shape."""
    if not B.is_tensor(x):
        hint = ("make one with d2l.tensor(...)" if isinstance(x, (list, tuple, int, float))
                else "it belongs to another framework: convert it with d2l.tensor(...), or select "
                     "that framework's backend with D2LCONV_BACKEND / d2l.use_backend(...)")
        raise TypeError(f"{caller}: {what} must be a {B.NAME} tensor (the active d2lconv backend "
                        f"is {B.NAME!r}), got {describe(x)}; {hint}")
    shape = B.shape(x)
    if len(shape) != 2:
        raise ValueError(f"{caller}: {what} must be 2-D (height, width), got a {len(shape)}-D "
                         f"tensor of shape {shape}; reshape it, e.g. d2l.reshape(x, (h, w))")
    if 0 in shape:
        raise ValueError(f"{caller}: {what} has an empty dimension (shape {shape}); "
                         f"both height and width must be at least 1")
    return shape


def as_float(B: Any, x: Any, other: Any = None) -> Any:
    """Integer tensors become float32; float32 meets float64 as float64 (numpy's promotion)."""
    if not B.is_floating(x):
        x = B.astype(x, B.float32)
    if other is not None and B.is_floating(other) and B.dtype_name(other) == "float64" \
            and B.dtype_name(x) != "float64":
        x = B.astype(x, B.float64)
    return x


def prepare(X: Any, K: Any, caller: str) -> tuple[Any, Any, Any]:
    """Validate an image/kernel pair and bring both to one float dtype; return (B, X, K)."""
    B = ops()
    xshape = check_matrix(B, X, "the image X", caller)
    kshape = check_matrix(B, K, "the kernel K", caller)
    if kshape[0] > xshape[0] or kshape[1] > xshape[1]:
        raise ValueError(f"{caller}: the kernel K of shape {kshape} is larger than the image X of "
                         f"shape {xshape}; a 'valid' cross-correlation needs K to fit inside X in "
                         f"both height and width")
    X = as_float(B, X, K)
    K = as_float(B, K, X)
    return B, X, K


def shift_and_add(X: Any, K: Any) -> Any:
    """Sum ``K[a, b] * X[a:a+H', b:b+W']`` over the kernel's positions.

    A loop over the kernel, not over the image: vectorised over every output pixel, free of
    item assignment, so every backend's autodiff goes through it.
    """
    multiply_add = ops().multiply_add
    h, w = K.shape
    oh, ow = X.shape[0] - h + 1, X.shape[1] - w + 1
    Y = K[0, 0] * X[0:oh, 0:ow]
    for a in range(h):
        for b in range(w):
            if a or b:
                Y = multiply_add(Y, K[a, b], X[a:a + oh, b:b + ow])
    return Y


#: Images with at least this many pixels go through the backend's ``compile`` (XLA on
#: TensorFlow: one fused pass instead of 3 per kernel element). Smaller ones run eagerly, since
#: compiling costs ~40-150 ms per new shape (measured with tools/benchmark.py).
COMPILE_MIN_PIXELS = 128 * 128
_COMPILED: dict[int, Any] = {}


def fast_shift_and_add(B: Any, X: Any, K: Any) -> Any:
    """``shift_and_add`` through the backend's compiler for large images, eagerly otherwise."""
    n_h, n_w = B.shape(X)
    if n_h * n_w < COMPILE_MIN_PIXELS:
        return shift_and_add(X, K)
    compiled = _COMPILED.get(id(B))
    if compiled is None:
        compiled = _COMPILED.setdefault(id(B), B.compile(shift_and_add))
    return compiled(X, K)


def corr2d(X: Any, K: Any) -> Any:
    """2-D cross-correlation of image ``X`` with kernel ``K`` ('valid': the kernel stays inside X).

    Output shape ``(n_h - k_h + 1, n_w - k_w + 1)``; differentiable in both arguments.
    """
    B, X, K = prepare(X, K, "corr2d")
    return fast_shift_and_add(B, X, K)


def corr2d_loop(X: Any, K: Any) -> Any:
    """The textbook double loop over output pixels: slow, readable, the reference for ``corr2d``.

    Rows are built with ``stack`` rather than item assignment, so it runs (and differentiates)
    on every backend.
    """
    B, X, K = prepare(X, K, "corr2d_loop")
    h, w = B.shape(K)
    n_h, n_w = B.shape(X)
    rows = [B.stack([B.reduce_sum(X[i:i + h, j:j + w] * K) for j in range(n_w - w + 1)])
            for i in range(n_h - h + 1)]
    return B.stack(rows)


def convolve2d(X: Any, K: Any) -> Any:
    """Strict 2-D convolution: cross-correlation with the kernel flipped in both directions."""
    B, X, K = prepare(X, K, "convolve2d")
    return fast_shift_and_add(B, X, B.flip(K))


#: Refuse a ``corr2d_matrix`` larger than this many entries (float32: 400 MB).
MATRIX_MAX_ENTRIES = 10**8


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


def check_kernel_size(kernel_size: Any) -> tuple[int, int]:
    """``3`` or ``(1, 2)`` as a pair of positive ints, else a ``ValueError`` that says why."""
    pair = (kernel_size, kernel_size) if isinstance(kernel_size, (int, np.integer)) else kernel_size
    try:
        h, w = pair
    except (TypeError, ValueError):
        h = w = None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
               for v in (h, w)):
        raise ValueError(f"kernel_size must be a positive int or a pair of positive ints "
                         f"(height, width), got {kernel_size!r}")
    return int(h), int(w)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


class Conv2D(Module):
    """A 2-D convolutional layer: ``corr2d(X, weight) + bias`` (``mode="convolve"``: strict).

    ``weight`` starts uniform in [0, 1) from ``numpy.random.default_rng(seed)``, so every backend
    starts from the same numbers; ``bias`` starts at zero (or is ``None`` with ``bias=False``).
    """

    def __init__(self, kernel_size: int | tuple[int, int], bias: bool = True, seed: int = 0,
                 mode: Mode = "correlate") -> None:
        self.kernel_size = check_kernel_size(kernel_size)
        self.mode = check_mode(mode)
        B = ops()
        init = np.random.default_rng(seed).random(self.kernel_size, dtype=np.float32)
        self.weight = B.from_numpy(init)
        self.bias = B.zeros((1,)) if bias else None

    def forward(self, X: Any, weight: Any = None, bias: Any = None) -> Any:
        """The layer's output; ``weight``/``bias`` override the stored ones (for gradients)."""
        weight = self.weight if weight is None else weight
        bias = self.bias if bias is None else bias
        out = (convolve2d if self.mode == "convolve" else corr2d)(X, weight)
        return out if bias is None else out + bias

    def parameters(self) -> list[Any]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def __repr__(self) -> str:
        h, w = self.kernel_size
        return f"Conv2D({h}x{w}, bias={self.bias is not None}, mode={self.mode!r})"
