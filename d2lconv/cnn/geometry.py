"""Shapes, padding and strides (section "Padding and Stride"), written once for every backend.

Images are channels-first everywhere: ``(height, width)``, ``(channels, height, width)`` or
``(batch, channels, height, width)``; padding and windows act on the last two axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from ..backend import ops
from ..base.checks import Pair, check_pair, check_tensor
from ..registry import public

PadMode = Literal["zeros", "reflect", "replicate", "circular"]
PAD_MODES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular")


def check_kernel_size(kernel_size: Any, caller: str = "Conv2D") -> tuple[int, int]:
    """A kernel or window size: a positive int or a pair of positive ints."""
    return check_pair(kernel_size, "kernel_size", caller, 1)


def output_size(caller: str, image: Sequence[int], kernel: Sequence[int], padding: tuple[int, int],
                stride: tuple[int, int], what: str = "the kernel K",
                of: str = "the input X of height and width") -> tuple[int, int]:
    """``floor((n + 2p - k) / s) + 1`` per axis; a clear error if the window does not fit."""
    padded = tuple(n + 2 * p for n, p in zip(image, padding))
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        with_pad = f" (padded by {padding}: {padded})" if any(padding) else ""
        raise ValueError(f"{caller}: {what} of shape {tuple(kernel)} is larger than {of} "
                         f"{tuple(image)}{with_pad}; it must fit inside the (padded) input in both "
                         f"height and width")
    return tuple((n - k) // s + 1 for n, k, s in zip(padded, kernel, stride))  # type: ignore[return-value]


@public
def conv_output_shape(input_shape: Sequence[int], kernel_size: Pair, padding: Pair = 0,
                      stride: Pair = 1) -> tuple[int, int]:
    """The (height, width) a convolution or pooling window produces on ``input_shape``.

    ``floor((n_h - k_h + 2 p_h) / s_h) + 1`` by ``floor((n_w - k_w + 2 p_w) / s_w) + 1``.
    """
    caller = "conv_output_shape"
    try:
        image = tuple(int(v) for v in input_shape)
    except (TypeError, ValueError):
        image = ()
    if len(image) != 2 or min(image) < 1:
        raise ValueError(f"{caller}: input_shape must be a pair of positive ints (height, width), "
                         f"got {input_shape!r}")
    kernel = check_kernel_size(kernel_size, caller)
    return output_size(caller, image, kernel, check_pair(padding, "padding", caller, 0),
                       check_pair(stride, "stride", caller, 1), "the kernel", "the input")


def strided_window(X: Any, a: int, b: int, out: Sequence[int], stride: Sequence[int]) -> Any:
    """``X[..., a + s_h * i, b + s_w * j]`` for every output position ``(i, j)``: one basic slice."""
    (oh, ow), (sh, sw) = out, stride
    return X[..., a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw]


def pad_constant(B: Any, X: Any, padding: tuple[int, int], value: float = 0.0) -> Any:
    """``X`` with ``padding`` rows/columns of ``value`` on each side of its last two axes."""
    return B.pad_constant(X, padding, value) if any(padding) else X


def _edges(B: Any, X: Any, p: int, axis: int, mode: str) -> tuple[Any, Any]:
    """The ``p`` slices that go before and after ``X`` along ``axis`` (-2 or -1) in ``mode``."""
    n = X.shape[axis]

    def take(start: int, stop: int) -> Any:
        return X[..., start:stop, :] if axis == -2 else X[..., start:stop]

    if mode == "reflect":  # mirror without repeating the edge: 2 1 | 0 1 2 3 | 2 1
        return B.flip(take(1, p + 1), axis=axis), B.flip(take(n - p - 1, n - 1), axis=axis)
    if mode == "replicate":  # 0 0 | 0 1 2 3 | 3 3
        return B.concat([take(0, 1)] * p, axis=axis), B.concat([take(n - 1, n)] * p, axis=axis)
    return take(n - p, n), take(0, p)  # circular: 2 3 | 0 1 2 3 | 0 1


@public
def pad(X: Any, padding: Pair, mode: PadMode = "zeros") -> Any:
    """``X`` padded on both sides of its last two axes (height, width); differentiable.

    ``mode``: ``"zeros"``; ``"reflect"`` (mirror padding, the edge itself not repeated, as
    numpy's and PyTorch's 'reflect'); ``"replicate"`` (repeat the edge); ``"circular"`` (wrap).
    """
    caller = "pad"
    B = ops()
    shape = check_tensor(B, X, "the input X", caller, (2, 3, 4))
    ph, pw = check_pair(padding, "padding", caller, 0)
    if mode not in PAD_MODES:
        raise ValueError(f"{caller}: mode must be one of {PAD_MODES}, got {mode!r}")
    if mode == "zeros":
        return pad_constant(B, X, (ph, pw))
    h, w = shape[-2:]
    limit = (h - 1, w - 1) if mode == "reflect" else (h, w)
    if ph > limit[0] or pw > limit[1]:
        rule = "smaller than" if mode == "reflect" else "at most"
        raise ValueError(f"{caller}: {mode!r} padding of {(ph, pw)} needs each side's padding "
                         f"{rule} the input's size {(h, w)} along that axis")
    for p, axis in ((ph, -2), (pw, -1)):
        if p:
            before, after = _edges(B, X, p, axis, mode)
            X = B.concat([before, X, after], axis=axis)
    return X
