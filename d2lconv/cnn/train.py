"""Learning a kernel from input/output pairs by gradient descent, written once for every backend."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend import ops
from ..base.checks import as_float
from ..registry import public
from .conv import check_matrix
from .geometry import check_kernel_size
from .layers import Conv2D, Mode


def _check_positive(name: str, value: Any, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        kind = "a positive int" if integer else "a positive finite number"
        raise ValueError(f"learn_kernel: {name} must be {kind}, got {value!r}")


@public
def learn_kernel(X: Any, Y: Any, kernel_size: int | tuple[int, int], lr: float = 3e-2,
                 epochs: int = 10, seed: int | None = 0, mode: Mode = "correlate") -> tuple[Any, list[float]]:
    """Learn the kernel of a bias-free ``Conv2D`` that maps ``X`` to ``Y``.

    Plain gradient descent on the summed squared error, as the book does. Returns the learned
    kernel (a backend tensor) and the loss before each epoch's update, as floats. The kernel
    starts from ``seed``'s private generator (the same start every time), or from d2lconv's
    seeded generator with ``seed=None``.
    Raises ``FloatingPointError`` if the loss stops being finite (``lr`` too large).
    """
    B = ops()
    kh, kw = check_kernel_size(kernel_size, "learn_kernel")
    _check_positive("lr", lr)
    _check_positive("epochs", epochs, integer=True)
    xshape = check_matrix(B, X, "the input X", "learn_kernel")
    yshape = check_matrix(B, Y, "the target Y", "learn_kernel")
    expected = (xshape[0] - kh + 1, xshape[1] - kw + 1)
    if expected[0] < 1 or expected[1] < 1 or yshape != expected:
        raise ValueError(f"learn_kernel: a {kh}x{kw} kernel on X of shape {xshape} gives an output "
                         f"of shape {expected}, but Y has shape {yshape}; Y must be "
                         f"(n_h - k_h + 1, n_w - k_w + 1)")
    X, Y = as_float(B, X), as_float(B, Y)
    layer = Conv2D((kh, kw), bias=False, seed=seed, mode=mode)

    def loss(weight: Any) -> Any:
        return B.reduce_sum((layer.forward(X, weight) - Y) ** 2)

    step = B.value_and_grad(loss)
    losses: list[float] = []
    for epoch in range(epochs):
        value, grad = step(layer.weight)
        losses.append(float(B.numpy(value)))
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(
                f"learn_kernel diverged: the loss is {losses[-1]} at epoch {epoch + 1} with "
                f"lr={lr} (losses so far: {[round(v, 4) for v in losses]}); try a smaller lr, "
                f"e.g. lr={lr / 10:g}")
        layer.weight = layer.weight - lr * grad
    if not np.isfinite(B.numpy(layer.weight)).all():
        raise FloatingPointError(f"learn_kernel diverged: the kernel is not finite after the last "
                                 f"update with lr={lr}; try a smaller lr, e.g. lr={lr / 10:g}")
    return layer.weight, losses
