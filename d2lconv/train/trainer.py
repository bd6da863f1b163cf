"""d2l 1.0's ``Trainer``, written once: ``Trainer(max_epochs).fit(model, data)``.

The training step is one pure function ``(params, state, *batch) -> (params, state, loss)``:
the gradient of ``model.training_step`` with respect to the parameter dict, then the optimizer's
update. It goes through the backend's ``compile`` (``jax.jit``; XLA on TensorFlow; the function
itself on numpy, torch and MXNet) unless ``compile=False``. Every step's loss is read on the host,
so a loss that stops being finite stops training at that step.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from typing import Any

from ..backend import ops
from ..backend._common import tree_map
from ..base.optim import check_rate
from ..registry import public
from .hyperparameters import HyperParameters
from .progress import TerminalProgress


def _check_epochs(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"Trainer: max_epochs must be a positive int, got {value!r}")
    return value


@public
class Trainer(HyperParameters):
    """Fit a ``d2l.Module`` to a ``d2l.DataModule``: ``max_epochs`` passes over the training data,
    each followed by a pass over the validation data.

    ``gradient_clip_val`` > 0 rescales the gradients to at most that global norm. ``compile``
    False runs the step eagerly. ``progress`` None shows a bar on a terminal (tqdm), True or False
    forces it. ``num_gpus`` is accepted for the book's code; d2lconv trains on the CPU.
    After ``fit``, ``history`` holds each step's training loss and each epoch's validation metrics.
    """

    def __init__(self, max_epochs: int, num_gpus: int = 0, gradient_clip_val: float = 0.0,
                 compile: bool = True, progress: bool | None = None) -> None:
        _check_epochs(max_epochs)
        check_rate("Trainer", "gradient_clip_val", gradient_clip_val, allow_zero=True)
        if num_gpus:
            warnings.warn(f"Trainer(num_gpus={num_gpus}): d2lconv trains on the CPU; the setting is ignored",
                          UserWarning, stacklevel=2)
        self.save_hyperparameters()

    # -- d2l's hooks ---------------------------------------------------------------------------

    def prepare_data(self, data: Any) -> None:
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.num_train_batches = len(self.train_dataloader)
        self.num_val_batches = len(self.val_dataloader) if self.val_dataloader is not None else 0

    def prepare_model(self, model: Any) -> None:
        model.trainer = self
        self.model = model

    def prepare_batch(self, batch: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(batch)

    # -- fitting -------------------------------------------------------------------------------

    def fit(self, model: Any, data: Any) -> Trainer:
        """Train ``model`` on ``data`` for ``max_epochs`` epochs; returns the trainer."""
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = model.configure_optimizers()
        self.history: dict[str, list[float]] = {"train_loss": [], "epoch_seconds": []}
        self.epoch = self.train_batch_idx = self.val_batch_idx = 0
        self._params: Any = None
        self._last_good: Any = None  # the latest parameters whose loss was finite, and that loss
        self._last_finite: float | None = None
        self._train_step = make_train_step(model, self.optim, self.gradient_clip_val, self.compile)
        self._eval_step = make_eval_step(model, self.compile)
        self._progress = TerminalProgress(self.max_epochs * self.num_train_batches, self.progress)
        try:
            for epoch in range(self.max_epochs):
                self.epoch = epoch
                self.fit_epoch()
        finally:
            self._progress.close()
        return self

    def fit_epoch(self) -> None:
        """One pass over the training data, then one over the validation data."""
        B, model, started = ops(), self.model, time.perf_counter()
        for batch in self.train_dataloader:
            batch = self.prepare_batch(batch)
            model.check_batch(batch)
            if self._params is None:  # the first batch: lazy layers learn their sizes, eagerly
                model(*batch[:-1])
                self._params = model.named_parameters()
                self._state = self.optim.init(self._params)
            params, state, loss = self._train_step(self._params, self._state, *batch)
            value = float(B.numpy(loss))
            if not math.isfinite(value):  # back to the last parameters whose loss was finite
                if self._last_good is not None:
                    self._params = self._last_good
                    model._assign(self._params)
                raise FloatingPointError(
                    f"training diverged: the loss is {value} at epoch {self.epoch + 1}, step "
                    f"{self.train_batch_idx % self.num_train_batches + 1} of {self.num_train_batches} "
                    f"(lr={getattr(self.optim, 'lr', '?')}); the last finite loss was {self._last_finite}. "
                    f"Try a smaller learning rate (the model keeps the parameters that gave that loss).")
            self._last_good, self._last_finite = self._params, value
            self._params, self._state = params, state
            model._assign(params)
            self.history["train_loss"].append(value)
            self.train_batch_idx += 1
            model.plot("loss", value, train=True)
            model.board.flush(force=False)
            self._progress.step(value)
        metrics = self.evaluate() if self.val_dataloader is not None else {}
        for key, value in metrics.items():
            self.history.setdefault(f"val_{key}", []).append(value)
            model.plot(key, value, train=False)
        self.history["epoch_seconds"].append(time.perf_counter() - started)
        model.board.flush()
        self._progress.epoch(self.epoch + 1, self.max_epochs, metrics)

    def evaluate(self) -> dict[str, float]:
        """Each validation metric averaged over the validation data, batches weighted by their size."""
        B, totals, count = ops(), {}, 0
        for batch in self.val_dataloader:
            batch = self.prepare_batch(batch)
            self.model.check_batch(batch)
            if self._params is None:
                self.model(*batch[:-1])
                self._params = self.model.named_parameters()
            n = B.shape(batch[-1])[0]
            for key, value in self._eval_step(self._params, *batch).items():
                totals[key] = totals.get(key, 0.0) + float(B.numpy(value)) * n
            count += n
            self.val_batch_idx += 1
        return {key: total / count for key, total in totals.items()} if count else {}


@public
def make_train_step(model: Any, optim: Any, gradient_clip_val: float = 0.0, compile: bool = True) -> Any:
    """The training step of ``model`` as one pure function ``(params, state, *batch) -> (params, state,
    loss)``: the gradient of ``model.training_step`` with respect to the parameter dict
    (``model.named_parameters()``), clipped if asked, then ``optim.update``. Compiled by the backend's
    ``compile`` unless ``compile=False``."""
    B = ops()

    def objective(params: Any, batch: tuple[Any, ...]) -> Any:
        with model.using(params):
            return model.training_step(batch)

    gradient = B.value_and_grad(objective)

    def train_step(params: Any, state: Any, *batch: Any) -> tuple[Any, Any, Any]:
        loss, grads = gradient(params, batch)
        if gradient_clip_val:
            grads = clip_gradients(grads, gradient_clip_val)
        params, state = optim.update(params, grads, state)
        return params, state, loss

    return B.compile(train_step) if compile else train_step


@public
def make_eval_step(model: Any, compile: bool = True) -> Any:
    """``(params, *batch) -> model.validation_step(batch)`` (a dict of metrics), as one pure function."""
    def eval_step(params: Any, *batch: Any) -> dict[str, Any]:
        with model.using(params):
            return model.validation_step(batch)

    return ops().compile(eval_step) if compile else eval_step


@public
def clip_gradients(grads: Any, max_norm: float) -> Any:
    """``grads`` scaled so that their global L2 norm is at most ``max_norm`` (d2l's ``clip_gradients``)."""
    B = ops()
    leaves = []
    tree_map(leaves.append, grads)
    norm = B.sqrt(sum(B.reduce_sum(g * g) for g in leaves))
    scale = max_norm / B.maximum(norm, max_norm)
    return tree_map(lambda g: g * scale, grads)
