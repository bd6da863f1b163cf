"""Layers built on the shared functions: ``Conv2D``, ``MaxPool2D``, ``AvgPool2D``.

They start from the same numbers on every backend (weights drawn on the host from d2lconv's
seeded generator, ``d2l.seed``), so a chapter's results can be compared across frameworks.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ..backend import ops
from ..base import init
from ..base.checks import Pair, as_float, check_pair, check_tensor
from ..base.module import Layer
from ..registry import public
from .channels import _check_channels as _check_channels_match
from .conv import convolve2d, corr2d
from .geometry import PAD_MODES, PadMode, check_kernel_size, output_size, pad
from .pooling import check_pool_args, pool2d

Mode = Literal["correlate", "convolve"]
MODES: tuple[str, ...] = ("correlate", "convolve")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"Conv2D: mode must be one of {MODES}, got {mode!r}")
    return mode


def _check_channels(in_channels: Any, out_channels: Any) -> tuple[int | None, int] | None:
    """``(c_i, c_o)``, ``(None, c_o)`` for a lazy layer (input channels read off the first input), or
    None for the single-channel layer of the first section."""
    if in_channels is None and out_channels is None:
        return None
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        if value is None and name == "in_channels":
            continue
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"Conv2D: {name} must be a positive int (give out_channels, with or "
                             f"without in_channels, or neither for a single-channel layer), got {value!r}")
    return (None if in_channels is None else int(in_channels)), int(out_channels)


def _conv2d(X: Any, K: Any, padding: tuple[int, int], stride: tuple[int, int], bias: Any) -> Any:
    """``corr2d_multi_in_out``'s checks and result, computed by the backend's ``conv2d`` primitive
    (the framework's own convolution: 3-4x faster for LeNet's layers than im2col on torch)."""
    caller = "Conv2D"
    B = ops()
    x_shape = check_tensor(B, X, "the input X", caller, (3, 4))
    layout = "(out_channels, in_channels, k_h, k_w)"
    _check_channels_match(caller, x_shape, B.shape(K), 1, layout)
    output_size(caller, x_shape[-2:], B.shape(K)[-2:], padding, stride, what="the kernel's window")
    X = as_float(B, X, K)
    if len(x_shape) == 3:
        return B.conv2d(B.expand_dims(X, 0), K, padding, stride, bias)[0]
    return B.conv2d(X, K, padding, stride, bias)


@public
class Conv2D(Layer):
    """A 2-D convolutional layer: cross-correlation with ``weight`` plus ``bias``.

    Without channels (the section "Convolutions for Images"): input ``(h, w)``, weight
    ``(k_h, k_w)`` uniform in [0, 1), a one-element bias. With ``in_channels`` and
    ``out_channels``: input ``(c_i, h, w)`` or ``(batch, c_i, h, w)``, weight
    ``(c_o, c_i, k_h, k_w)`` uniform in +-1/sqrt(c_i k_h k_w) (PyTorch's default range), bias
    ``(c_o,)``. ``padding`` and ``stride`` as in ``corr2d``; ``padding_mode`` as in ``pad``;
    ``mode="convolve"`` flips the kernel (strict convolution). The weight comes from d2lconv's
    seeded generator (``d2l.seed``), or from a private one when ``seed`` is given.
    """

    def __init__(self, kernel_size: Pair, bias: bool = True, seed: int | None = None,
                 mode: Mode = "correlate", padding: Pair = 0, stride: Pair = 1,
                 in_channels: int | None = None, out_channels: int | None = None,
                 padding_mode: PadMode = "zeros") -> None:
        self.kernel_size = check_kernel_size(kernel_size)
        self.mode = check_mode(mode)
        self.padding = check_pair(padding, "padding", "Conv2D", 0)
        self.stride = check_pair(stride, "stride", "Conv2D", 1)
        if padding_mode not in PAD_MODES:
            raise ValueError(f"Conv2D: padding_mode must be one of {PAD_MODES}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        self.channels = _check_channels(in_channels, out_channels)
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)):
            raise ValueError(f"Conv2D: seed must be an int or None (d2lconv's generator), got {seed!r}")
        B = ops()
        if self.channels is None:
            self.weight = init.uniform(self.kernel_size, seed=seed)
            self.bias = B.zeros((1,)) if bias else None
        else:
            c_i, c_o = self.channels
            self._seed = seed
            self.weight = None if c_i is None else init.fan_in_uniform((c_o, c_i, *self.kernel_size), seed=seed)
            self.bias = B.zeros((c_o,)) if bias else None

    def forward(self, X: Any, weight: Any = None, bias: Any = None) -> Any:
        """The layer's output; ``weight``/``bias`` override the stored ones (for gradients)."""
        B = ops()
        weight = self.weight if weight is None else weight
        bias = self.bias if bias is None else bias
        padding = self.padding
        if self.padding_mode != "zeros" and any(padding):
            X, padding = pad(X, padding, self.padding_mode), (0, 0)
        if weight is None:  # a lazy layer meets its first input: the input channels are known now
            weight = self.weight = self._materialize(X)
        if self.channels is None:
            out = (convolve2d if self.mode == "convolve" else corr2d)(X, weight, padding, self.stride)
        else:
            if self.mode == "convolve":
                weight = B.flip(weight, axis=(-2, -1))
            return _conv2d(X, weight, padding, self.stride, bias)  # the bias inside the framework's conv
        return out if bias is None else out + bias

    def _materialize(self, X: Any) -> Any:
        shape = ops().shape(X)
        if len(shape) not in (3, 4):
            raise ValueError(f"Conv2D({self.channels[1]} output channels): the input must be (channels, "
                             f"height, width) or (batch, channels, height, width), got shape {shape}")
        self.channels = (shape[-3], self.channels[1])
        return init.fan_in_uniform((self.channels[1], shape[-3], *self.kernel_size), seed=self._seed)

    def __repr__(self) -> str:
        h, w = self.kernel_size
        channels = "" if self.channels is None else f"{self.channels[0] or '?'}->{self.channels[1]}, "
        extra = "".join(f", {name}={value}" for name, value, default in (
            ("padding", self.padding, (0, 0)), ("stride", self.stride, (1, 1)),
            ("padding_mode", repr(self.padding_mode), "'zeros'")) if value != default)
        return f"Conv2D({channels}{h}x{w}, bias={self.bias is not None}, mode={self.mode!r}{extra})"


class _Pool2D(Layer):
    """A pooling layer: ``pool2d`` with the window as the default stride (no parameters)."""

    mode = "max"

    def __init__(self, pool_size: Pair | None = None, stride: Pair | None = None, padding: Pair = 0, *,
                 kernel_size: Pair | None = None) -> None:
        caller = type(self).__name__
        if (pool_size is None) == (kernel_size is None):
            raise TypeError(f"{caller}: give the window once, as pool_size (MXNet's name) or kernel_size "
                            f"(PyTorch's), got pool_size={pool_size!r}, kernel_size={kernel_size!r}")
        pool_size = kernel_size if pool_size is None else pool_size
        stride = pool_size if stride is None else stride
        self.pool_size, self.padding, self.stride = check_pool_args(caller, pool_size, padding,
                                                                    stride, self.mode)

    def forward(self, X: Any) -> Any:
        """Average pooling of a floating batch goes through the framework's own (``native_pool2d``: 1.4-1.9x
        faster LeNet steps on MXNet, torch and JAX, no slower elsewhere). Max pooling stays on ``pool2d``,
        whose gradient splits tied maxima the same way on every backend: the frameworks' own differ (torch
        gives it all to one element), and ties are common - a flat background under a convolution and a
        ReLU gives windows of equal values (a ReLU LeNet's accuracy then differed by 0.7 points on torch)."""
        B = ops()
        if self.mode == "avg" and B.is_tensor(X) and B.is_floating(X) and len(B.shape(X)) == 4:
            output_size(type(self).__name__, B.shape(X)[-2:], self.pool_size, self.padding, self.stride,
                        what="the pooling window")
            return B.native_pool2d(X, self.pool_size, self.mode, self.padding, self.stride)
        return pool2d(X, self.pool_size, self.mode, self.padding, self.stride)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(pool_size={self.pool_size}, stride={self.stride}, "
                f"padding={self.padding})")


@public
class MaxPool2D(_Pool2D):
    """Max pooling layer: the largest value of each window; stride defaults to the window."""

    mode = "max"


@public
class AvgPool2D(_Pool2D):
    """Average pooling layer: each window's mean (padding counts as zeros); stride defaults to the window."""

    mode = "avg"
