"""Losses and metrics of classification, written once: a stable softmax cross-entropy and accuracy.

The cross-entropy goes through the backend's ``log_softmax`` (log-sum-exp with the maximum taken
out), so logits of 1000 neither overflow nor give ``nan``. Labels are integer class indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import ops
from ..registry import public


def check_labels(B: Any, Y: Any, num_classes: int, caller: str) -> None:
    """Class indices: an integer tensor with values in ``[0, num_classes)`` (read on the host, so only
    where values can be read: a compiler's traced placeholder is checked by whoever feeds it)."""
    if B.is_floating(Y):
        raise TypeError(f"{caller}: the labels must be integer class indices, got a {B.dtype_name(Y)} tensor; "
                        f"convert them with d2l.astype(y, d2l.int64)")
    if B.is_traced(Y):
        return
    values = B.numpy(Y)
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        bad = np.unique(values[(values < 0) | (values >= num_classes)])[:5].tolist()
        raise ValueError(f"{caller}: labels must lie in [0, {num_classes}) for {num_classes} outputs, got "
                         f"{bad}; the model's last layer needs as many outputs as there are classes")


def check_logits_and_labels(B: Any, Y_hat: Any, Y: Any, caller: str) -> tuple[int, ...]:
    """Logits ``(batch, classes)`` and class-index labels ``(batch,)``; returns the logits' shape."""
    shape = B.shape(Y_hat)
    if len(shape) != 2 or B.shape(Y) != shape[:1]:
        raise ValueError(f"{caller}: logits must be (batch, classes) and labels (batch,), got shapes "
                         f"{shape} and {B.shape(Y)}")
    check_labels(B, Y, shape[1], caller)
    return shape


@public
def cross_entropy(Y_hat: Any, Y: Any, averaged: bool = True) -> Any:
    """``-log softmax(Y_hat)[y]`` per example (logits ``(batch, classes)``, integer labels ``(batch,)``);
    the mean over the batch, or the per-example values with ``averaged=False``."""
    B = ops()
    shape = check_logits_and_labels(B, Y_hat, Y, "cross_entropy")
    picked = B.reduce_sum(B.log_softmax(Y_hat, axis=1) * B.one_hot(Y, shape[1]), axis=1)
    return -B.reduce_mean(picked) if averaged else -picked


@public
def accuracy(Y_hat: Any, Y: Any, averaged: bool = True) -> Any:
    """The share of examples whose largest logit is the label's (or 1.0 / 0.0 per example)."""
    B = ops()
    check_logits_and_labels(B, Y_hat, Y, "accuracy")
    hits = B.astype(B.equal(B.argmax(Y_hat, axis=1), B.astype(Y, B.int64)), B.float32)
    return B.reduce_mean(hits) if averaged else hits
