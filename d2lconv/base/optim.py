"""Optimizers written once, as pure functions of pytrees (as optax does): ``init(params)`` makes the
state, ``update(params, grads, state)`` returns new parameters and state. No tensor is changed in
place, so the same update runs eagerly, under ``jax.jit`` and inside a TensorFlow graph.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..backend._common import tree_map
from ..registry import public


def check_rate(caller: str, name: str, value: Any, allow_zero: bool = False) -> float:
    """A finite number > 0 (or >= 0), else a ``ValueError`` naming it."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        kind = "a finite number >= 0" if allow_zero else "a positive finite number"
        raise ValueError(f"{caller}: {name} must be {kind}, got {value!r}")
    return float(value)


@public
class SGD:
    """Minibatch stochastic gradient descent: ``p <- p - lr * (g + weight_decay * p)``, with heavy-ball
    ``momentum`` if asked (``v <- momentum * v + g``; ``p <- p - lr * v``, PyTorch's convention)."""

    def __init__(self, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        self.lr = check_rate("SGD", "lr", lr)
        self.momentum = check_rate("SGD", "momentum", momentum, allow_zero=True)
        self.weight_decay = check_rate("SGD", "weight_decay", weight_decay, allow_zero=True)

    def init(self, params: Any) -> Any:
        """The optimizer's state for ``params``: the velocities with momentum, else nothing."""
        return tree_map(lambda p: p * 0.0, params) if self.momentum else ()

    def update(self, params: Any, grads: Any, state: Any) -> tuple[Any, Any]:
        """One step: ``(new params, new state)``."""
        lr, decay, momentum = self.lr, self.weight_decay, self.momentum
        if decay:
            grads = tree_map(lambda g, p: g + decay * p, grads, params)
        if momentum:
            state = tree_map(lambda v, g: momentum * v + g, state, grads)
            grads = state
        return tree_map(lambda p, g: p - lr * g, params, grads), state

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v:g}" for k, v in (("momentum", self.momentum),
                                                    ("weight_decay", self.weight_decay)) if v)
        return f"SGD(lr={self.lr:g}{extra})"
