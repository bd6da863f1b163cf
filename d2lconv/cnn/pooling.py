"""Maximum and average pooling (section "Pooling"), written once for every backend.

Pooling acts on the last two axes, so each channel (and each image of a batch) is pooled on
its own. Max pooling pads with minus infinity, so padding never wins a maximum; average
pooling counts padded cells as zeros and always divides by the window's size, as PyTorch's
``AvgPool2d`` does by default (``count_include_pad=True``).
"""

from __future__ import annotations

from typing import Any, Literal

from ..backend import ops
from ..base.checks import Pair, as_float, check_pair, check_tensor
from ..base.compiled import run_compiled
from ..registry import public
from .geometry import check_kernel_size, output_size, pad_constant, strided_window

PoolMode = Literal["max", "avg"]
POOL_MODES: tuple[str, ...] = ("max", "avg")


def shift_and_pool(X: Any, pool_size: tuple[int, int], stride: tuple[int, int], mode: str) -> Any:
    """Combine the shifted windows of ``X`` elementwise: maximum, or sum divided by the window size.

    The window is separable - a max (or sum) over a ``p_h x p_w`` block is one over ``p_h`` rows
    of one over ``p_w`` columns - so the rows are combined first, at the vertical stride, then the
    columns: ``(p_h - 1) + (p_w - 1)`` elementwise passes instead of ``p_h p_w - 1``.
    """
    B = ops()
    ph, pw = pool_size
    (n_h, n_w), (sh, sw) = X.shape[-2:], stride
    out = ((n_h - ph) // sh + 1, (n_w - pw) // sw + 1)
    combine = B.maximum if mode == "max" else (lambda a, b: a + b)
    rows = strided_window(X, 0, 0, (out[0], n_w), (sh, 1))
    for a in range(1, ph):
        rows = combine(rows, strided_window(X, a, 0, (out[0], n_w), (sh, 1)))
    Y = strided_window(rows, 0, 0, out, (1, sw))
    for b in range(1, pw):
        Y = combine(Y, strided_window(rows, 0, b, out, (1, sw)))
    return Y if mode == "max" else Y / (ph * pw)


def check_pool_args(caller: str, pool_size: Any, padding: Any, stride: Any,
                    mode: str) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Validated (window, padding, stride) pairs; padding is at most half the window."""
    window = check_kernel_size(pool_size, caller)
    padding = check_pair(padding, "padding", caller, 0)
    stride = check_pair(stride, "stride", caller, 1)
    if mode not in POOL_MODES:
        raise ValueError(f"{caller}: mode must be one of {POOL_MODES}, got {mode!r}")
    if padding[0] > window[0] // 2 or padding[1] > window[1] // 2:
        raise ValueError(f"{caller}: padding {padding} is more than half the window {window}; "
                         f"a window could then lie entirely in the padding (PyTorch and MXNet "
                         f"refuse it too); use padding <= {(window[0] // 2, window[1] // 2)}")
    return window, padding, stride


@public
def pool2d(X: Any, pool_size: Pair, mode: PoolMode = "max", padding: Pair = 0,
           stride: Pair = 1) -> Any:
    """Max or average over every ``pool_size`` window of the last two axes of ``X``.

    ``X``: ``(h, w)``, ``(c, h, w)`` or ``(batch, c, h, w)``; channels are pooled separately.
    The stride is 1 unless given (the book's function); the layers ``MaxPool2D`` and
    ``AvgPool2D`` default it to the window instead, as the frameworks' layers do.
    """
    caller = "pool2d"
    B = ops()
    shape = check_tensor(B, X, "the input X", caller, (2, 3, 4))
    window, padding, stride = check_pool_args(caller, pool_size, padding, stride, mode)
    output_size(caller, shape[-2:], window, padding, stride, what="the pooling window")
    X = pad_constant(B, as_float(B, X), padding, float("-inf") if mode == "max" else 0.0)
    return run_compiled(B, shift_and_pool, B.size(X), (X,), pool_size=window, stride=stride,
                        mode=mode)
