"""Initial parameter values, drawn on the host so that every backend starts from the same numbers.

Without ``seed`` a draw comes from d2lconv's one seeded generator (the one behind ``d2l.rand``
and ``d2l.normal``), so layers made one after the other differ and ``d2l.seed(n)`` reproduces
them all: ``d2l.seed(0); uniform(s, a, b)`` equals ``d2l.seed(0); d2l.rand(s, minval=a,
maxval=b)``. With ``seed`` a private generator gives the same values as ``d2l.seed(seed)``
would, without moving the shared one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from ..backend import host_random, ops

Shape = Sequence[int]


def _draw(draw: Callable[[np.random.Generator], np.ndarray], seed: int | None) -> Any:
    values = draw(np.random.default_rng(seed)) if seed is not None else host_random(draw)
    return ops().from_numpy(np.asarray(values, dtype=np.float32))


def fans(shape: Shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight: ``(out, in)`` for a linear layer, ``(c_o, c_i, k_h, k_w)``
    for a convolution (each kernel position counts), ``(n,)`` for a vector."""
    dims = tuple(int(d) for d in shape)
    if len(dims) == 0:
        return 1, 1
    if len(dims) == 1:
        return dims[0], dims[0]
    receptive = math.prod(dims[2:])
    return dims[1] * receptive, dims[0] * receptive


def uniform(shape: Shape, low: float = 0.0, high: float = 1.0, seed: int | None = None) -> Any:
    """float32 values uniform in ``[low, high)``."""
    shape = tuple(int(d) for d in shape)

    def draw(g: np.random.Generator) -> np.ndarray:
        values = g.random(shape, dtype=np.float32)
        return values if (low, high) == (0.0, 1.0) else (low + (high - low) * values).astype(np.float32)

    return _draw(draw, seed)


def normal(shape: Shape, mean: float = 0.0, std: float = 1.0, seed: int | None = None) -> Any:
    """float32 values from a normal distribution."""
    shape = tuple(int(d) for d in shape)
    return _draw(lambda g: g.normal(mean, std, shape), seed)


def fan_in_uniform(shape: Shape, seed: int | None = None) -> Any:
    """Uniform in +-1/sqrt(fan_in): PyTorch's default for the weights of its convolution and linear
    layers (its biases use the weight's fan_in, so pass the weight's shape's bound for those)."""
    bound = 1.0 / math.sqrt(fans(shape)[0])
    return uniform(shape, -bound, bound, seed)


def xavier_uniform(shape: Shape, gain: float = 1.0, seed: int | None = None) -> Any:
    """Glorot and Bengio's uniform initialisation: +-gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, -bound, bound, seed)


def xavier_normal(shape: Shape, gain: float = 1.0, seed: int | None = None) -> Any:
    """Glorot and Bengio's normal initialisation: std gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    return normal(shape, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), seed)
