"""Chapter-neutral layers: ``Linear``, ``Flatten``, ``Sequential`` and the activations, written once.

Images are NCHW everywhere. Weights are drawn on the host from d2lconv's seeded generator, so a
network built after ``d2l.seed(n)`` starts from the same numbers on every backend. A ``Linear``
given only its output size is lazy, as PyTorch's ``LazyLinear`` and the book's layers are: its
input size is read off the first input (``Module.apply_init`` or the trainer's first batch).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..backend import ops
from ..registry import public
from . import init
from .checks import as_float
from .module import Layer


def _positive_int(caller: str, name: str, value: Any, optional: bool = False) -> int | None:
    if optional and value is None:
        return None
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{caller}: {name} must be a positive int, got {value!r}")
    return int(value)


@public
class Linear(Layer):
    """``Y = X W^T + b`` over the last axis: ``weight`` (out_features, in_features), ``bias`` (out_features,).

    The weight starts uniform in +-1/sqrt(in_features) (PyTorch's default range), the bias at zero.
    """

    def __init__(self, out_features: int, in_features: int | None = None, bias: bool = True,
                 seed: int | None = None) -> None:
        self.out_features = _positive_int("Linear", "out_features", out_features)
        self.in_features = _positive_int("Linear", "in_features", in_features, optional=True)
        self._seed = seed
        self.weight = None if self.in_features is None else self._draw(self.in_features)
        self.bias = ops().zeros((self.out_features,)) if bias else None

    def _draw(self, in_features: int) -> Any:
        return init.fan_in_uniform((self.out_features, in_features), seed=self._seed)

    def forward(self, X: Any) -> Any:
        B = ops()
        shape = B.shape(X)
        if not shape:
            raise ValueError(f"{self!r}: the input must have a feature axis, got a 0-d tensor")
        if self.weight is None:
            self.in_features = shape[-1]
            self.weight = self._draw(shape[-1])
        elif shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: the input has {shape[-1]} features (shape {shape}) but the layer "
                             f"expects {self.in_features}; flatten images first (d2l.Flatten()) or make the "
                             f"layer with in_features={shape[-1]}")
        return B.linear(as_float(B, X, self.weight), self.weight, self.bias)

    def __repr__(self) -> str:
        return f"Linear({self.in_features or '?'}->{self.out_features}, bias={self.bias is not None})"


@public
class Flatten(Layer):
    """``(batch, ...)`` to ``(batch, features)``: every axis after the first joined into one."""

    def forward(self, X: Any) -> Any:
        B = ops()
        shape = B.shape(X)
        return B.reshape(X, (shape[0], math.prod(shape[1:]))) if shape else X

    def __repr__(self) -> str:
        return "Flatten()"


@public
class Sequential(Layer):
    """Layers applied one after the other; ``net[i]`` is the i-th, parameters are named ``i.weight``."""

    def __init__(self, *layers: Layer) -> None:
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: item {i} is {type(layer).__name__} {layer!r}, not a layer; "
                                f"pass layers such as d2l.Linear(10) or d2l.ReLU()")
        self.layers = list(layers)

    def children(self) -> Iterator[tuple[str, Layer]]:
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def forward(self, X: Any) -> Any:
        for layer in self.layers:
            X = layer(X)
        return X

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"


@public
class Sigmoid(Layer):
    """The logistic function, elementwise: LeNet's activation."""

    def forward(self, X: Any) -> Any:
        return ops().sigmoid(X)

    def __repr__(self) -> str:
        return "Sigmoid()"


@public
class ReLU(Layer):
    """``max(x, 0)`` elementwise, with gradient 0 at 0 (the backend's ``relu``)."""

    def forward(self, X: Any) -> Any:
        return ops().relu(X)

    def __repr__(self) -> str:
        return "ReLU()"
