"""d2l 1.0's ``Trainer``, written once: ``Trainer(max_epochs).fit(model, data)``.

The training step is one pure function ``(params, state, *batch) -> (params, state, loss)``:
the gradient of ``model.training_step`` with respect to the parameter dict, then the optimizer's
update. It goes through the backend's ``compile`` (``jax.jit``; XLA on TensorFlow; cached graphs on
MXNet; the function itself on numpy and torch) unless ``compile=False``. Every step's loss is read on the host,
so a loss that stops being finite stops training at that step.

With ``checkpoint_dir`` the trainer writes a checkpoint (``d2lconv.train.checkpoint``) after every
epoch, and every ``checkpoint_every`` steps if asked; ``fit(..., resume=True)`` continues from the
last one exactly: the same parameters, optimizer state, batches and generator draws
(``resume=PATH``: from that file).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any

from ..backend import generator_state, ops, set_generator_state
from ..backend._common import tree_map
from ..base.optim import check_rate
from ..registry import public
from . import checkpoint as ckpt
from .checkpoint_dir import CheckpointDir
from .hyperparameters import HyperParameters
from .interrupt import DeferredInterrupt
from .progress import TerminalProgress


def _check_epochs(value: Any, name: str = "max_epochs", optional: bool = False) -> int | None:
    if optional and value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"Trainer: {name} must be a positive int{' or None' if optional else ''}, got {value!r}")
    return value


@public
class Trainer(HyperParameters):
    """Fit a ``d2l.Module`` to a ``d2l.DataModule``: ``max_epochs`` passes over the training data,
    each followed by a pass over the validation data.

    ``gradient_clip_val`` > 0 rescales the gradients to at most that global norm. ``compile``
    False runs the step eagerly. ``progress`` None shows a bar on a terminal (tqdm), True or False
    forces it. ``num_gpus`` is accepted for the book's code; d2lconv trains on the CPU.
    After ``fit``, ``history`` holds each step's training loss and each epoch's validation metrics.

    ``checkpoint_dir``: write ``last.safetensors`` there after every epoch (and every
    ``checkpoint_every`` steps; ``None``: at epoch ends only), atomically, and on Ctrl-C (taken once
    the step in progress is done, a second one at once; the ``KeyboardInterrupt`` goes on, its
    ``checkpoint`` attribute the file); ``keep_best`` also keeps
    ``best.safetensors``, the epoch with the best validation accuracy (or loss, for models without
    one). A lock keeps a second process out of the directory. ``fit(model, data, resume=True)``
    continues from ``last.safetensors`` (from the start if there is none; a finished run trains
    nothing more unless ``max_epochs`` grows); the data and batch size must be the checkpoint's.
    """

    def __init__(self, max_epochs: int, num_gpus: int = 0, gradient_clip_val: float = 0.0,
                 compile: bool = True, progress: bool | None = None, checkpoint_dir: Any = None,
                 checkpoint_every: int | None = None, keep_best: bool = False) -> None:
        _check_epochs(max_epochs)
        check_rate("Trainer", "gradient_clip_val", gradient_clip_val, allow_zero=True)
        _check_epochs(checkpoint_every, "checkpoint_every", optional=True)
        if checkpoint_dir is not None and not isinstance(checkpoint_dir, (str, os.PathLike)):
            raise TypeError(f"Trainer: checkpoint_dir must be a directory (a str or a path) or None, "
                            f"got {checkpoint_dir!r}")
        if checkpoint_dir is None and (checkpoint_every is not None or keep_best):
            raise ValueError("Trainer: checkpoint_every and keep_best need a checkpoint_dir to write into")
        if not isinstance(keep_best, bool):
            raise ValueError(f"Trainer: keep_best must be True or False, got {keep_best!r}")
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

    def fit(self, model: Any, data: Any, resume: bool | str | os.PathLike[str] | None = False) -> Trainer:
        """Train ``model`` on ``data`` for ``max_epochs`` epochs; returns the trainer. ``resume=True``
        continues from the last checkpoint in ``checkpoint_dir`` (from the start if it has none);
        ``resume=PATH`` from that checkpoint file (``best.safetensors``, or ``d2l.save`` of a model a
        trainer fitted), with or without a ``checkpoint_dir`` to write new ones to."""
        if resume is None or isinstance(resume, bool):
            if resume and self.checkpoint_dir is None:
                raise ValueError("Trainer.fit(resume=True) needs a Trainer(checkpoint_dir=...) to resume from, or "
                                 "the checkpoint's path: fit(model, data, resume='runs/lenet/best.safetensors')")
        elif not isinstance(resume, (str, os.PathLike)) or not str(resume):
            raise TypeError(f"Trainer.fit: resume must be True, False or a checkpoint's path, got {resume!r}")
        directory = CheckpointDir(self.checkpoint_dir) if self.checkpoint_dir is not None else None
        with directory if directory is not None else contextlib.nullcontext():
            self._directory = directory
            self.prepare_data(data)
            self.prepare_model(model)
            model.named_parameters()  # a model built on another backend is refused now, not by a framework's error
            self.optim = model.configure_optimizers()
            self.history: dict[str, list[float]] = {"train_loss": [], "epoch_seconds": []}
            self.epoch = self.train_batch_idx = self.val_batch_idx = 0
            self._params: Any = None
            self._snapshot: Any = None  # (params, state, steps, epoch, epoch step, rng at epoch start, rng now)
            self._last_good: Any = None  # the latest parameters whose loss was finite, and that loss
            self._last_finite: float | None = None
            self._best: float | None = None
            self._skip = 0  # batches of the current epoch done before a resume
            self._train_step = make_train_step(model, self.optim, self.gradient_clip_val, self.compile)
            self._eval_step = make_eval_step(model, self.compile)
            if resume is True:
                self._resume(directory)
            elif resume is not None and resume is not False:
                self._restore(ckpt.read(os.path.expanduser(resume)))
            self._progress = TerminalProgress(self.max_epochs * self.num_train_batches, self.progress,
                                              initial=self.train_batch_idx)
            self._interrupt = DeferredInterrupt()  # Ctrl-C stops between steps, never inside a framework's call
            try:
                with self._interrupt:
                    for epoch in range(self.epoch, self.max_epochs):
                        self.epoch = epoch
                        self.fit_epoch()
                        self._skip = 0
            except KeyboardInterrupt:
                raise self._interrupted() from None
            finally:
                self._progress.close()
        return self

    def fit_epoch(self) -> None:
        """One pass over the training data, then one over the validation data."""
        B, model, started = ops(), self.model, time.perf_counter()
        batches, skip = self._epoch_batches()
        for epoch_step, batch in enumerate(batches, start=skip + 1):
            batch = self.prepare_batch(batch)
            model.check_batch(batch)
            if self._params is None:  # the first batch: lazy layers learn their sizes, eagerly
                model(*batch[:-1])
                model._input_spec = ckpt.input_spec(batch[:-1])
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
                    f"{epoch_step} of {self.num_train_batches} "
                    f"(lr={getattr(self.optim, 'lr', '?')}); the last finite loss was {self._last_finite}. "
                    f"Try a smaller learning rate (the model keeps the parameters that gave that loss"
                    f"{'; the last checkpoint is left as it was' if self._directory else ''}).")
            self._last_good, self._last_finite = self._params, value
            self._params, self._state = params, state
            model._assign(params)
            self.history["train_loss"].append(value)
            self.train_batch_idx += 1
            self._snapshot = (params, state, self.train_batch_idx, self.epoch, epoch_step, self._epoch_rng,
                              generator_state())
            if self.checkpoint_every and self.train_batch_idx % self.checkpoint_every == 0:
                self._checkpoint()
            model.plot("loss", value, train=True)
            model.board.flush(force=False)
            self._progress.step(value)
            self._stop_if_asked()
        metrics = self.evaluate() if self.val_dataloader is not None else {}
        for key, value in metrics.items():
            self.history.setdefault(f"val_{key}", []).append(value)
            model.plot(key, value, train=False)
        self.history["epoch_seconds"].append(time.perf_counter() - started)
        if self._snapshot is not None:  # the epoch is done: a resume starts the next one
            now = generator_state()
            self._snapshot = (*self._snapshot[:3], self.epoch + 1, 0, now, now)
            if self._directory is not None:
                self._checkpoint(best=self._improved(metrics))
        model.board.flush()
        self._progress.epoch(self.epoch + 1, self.max_epochs, metrics)

    def _epoch_batches(self) -> tuple[Any, int]:
        """This epoch's batches, and how many of them a resumed run has done already (skipped here:
        the loader draws the epoch's order from the generator as it was when the epoch began)."""
        skip = self._skip
        if skip:
            set_generator_state(self._epoch_rng)
        else:
            self._epoch_rng = generator_state()
        batches = iter(self.train_dataloader)
        if skip:
            for _ in itertools.islice(batches, skip):
                pass
            set_generator_state(self._resume_rng)
        return batches, skip

    # -- checkpoints ---------------------------------------------------------------------------

    def _improved(self, metrics: dict[str, float]) -> bool:
        """Whether this epoch's validation result is the best so far (accuracy, else loss)."""
        if not self.keep_best or not metrics:
            return False
        score = metrics["acc"] if "acc" in metrics else -metrics.get("loss", math.inf)
        if self._best is None or score > self._best:
            self._best = score
            return True
        return False

    def _training_state(self) -> dict[str, Any] | None:
        """What a checkpoint holds besides the parameters, as of the last finished step."""
        if self._snapshot is None:
            return None
        params, state, steps, epoch, epoch_step, epoch_rng, rng = self._snapshot
        epochs_done = len(self.history.get("epoch_seconds", []))
        history = {key: values[:steps] if key == "train_loss" else values[:epochs_done]
                   for key, values in self.history.items()}
        return {"params": params, "optim_state": state, "epoch": epoch, "epoch_step": epoch_step, "step": steps,
                "num_train_batches": self.num_train_batches, "rng_epoch_start": epoch_rng, "rng": rng,
                "history": history, "optimizer": repr(self.optim), "best": self._best,
                "max_epochs": self.max_epochs}

    def _checkpoint(self, best: bool = False) -> Any:
        state = self._training_state()
        if self._directory is None or state is None:
            return None
        data = ckpt.checkpoint_bytes(self.model, state.pop("optim_state"), state, params=state.pop("params"))
        return self._directory.write(data, best=best)

    def _interrupted(self) -> KeyboardInterrupt:
        """Ctrl-C: write a checkpoint of the last finished step (if there is a directory) and say where.
        The ``KeyboardInterrupt`` stays one (a script exits as interrupted, a notebook cell stops);
        its ``checkpoint`` attribute is the file, or ``None``."""
        # where the checkpoint stands (the last finished step), not where the loop was cut
        epoch, done, steps = (self._snapshot[3], self._snapshot[4], self._snapshot[2]) if self._snapshot else (
            self.epoch, 0, self.train_batch_idx)
        where = (f"epoch {epoch + 1} of {self.max_epochs}, after step {done} of {self.num_train_batches} "
                 f"({steps} in all)")
        path = self._checkpoint()
        if path is None:
            why = "no step had finished" if self._directory is not None else "give the Trainer a checkpoint_dir"
            message = f"training interrupted at {where}; nothing was saved ({why})"
        else:
            message = (f"training interrupted at {where}: the checkpoint of its last finished step is {path}; "
                       f"continue with fit(model, data, resume=True)")
        interrupt = KeyboardInterrupt(message)  # its traceback shows the message (once)
        interrupt.checkpoint = path
        return interrupt

    def _resume(self, directory: CheckpointDir) -> None:
        """Continue from ``directory``'s last checkpoint: parameters, optimizer state, position, history."""
        found = directory.read_last()
        if found is None:
            print(f"Trainer: no checkpoint in {directory.path} yet; training from the start", file=sys.stderr)
            return
        self._restore(found)

    def _restore(self, found: ckpt.Checkpoint) -> None:
        """Continue from checkpoint ``found``: parameters, optimizer state, position, history."""
        record = found.record
        if "epoch" not in record:
            raise ckpt.CheckpointError(f"{found.path} holds parameters only (d2l.save of a model that no trainer "
                                       f"fitted); it cannot resume a run: load it with d2l.load(model, path)",
                                       found.path)
        if record.get("num_train_batches") != self.num_train_batches:
            raise ckpt.CheckpointError(
                f"{found.path} was written by a run with {record.get('num_train_batches')} batches per epoch; this "
                f"one has {self.num_train_batches}: resume with the data and batch size it was written with",
                found.path)
        ckpt.load(self.model, found)
        self._params = self.model.named_parameters()
        self._state = ckpt.optim_state_from(found, self.optim.init(self._params), self.optim)
        self.epoch, self._skip = int(record["epoch"]), int(record["epoch_step"])
        self.train_batch_idx = int(record["step"])
        self._epoch_rng, self._resume_rng = record["rng_epoch_start"], record["rng"]
        self.history = {key: list(values) for key, values in record["history"].items()}
        self._best = record.get("best")
        losses = self.history.get("train_loss") or [None]
        self._last_good, self._last_finite = self._params, losses[-1]
        self._snapshot = (self._params, self._state, self.train_batch_idx, self.epoch, self._skip,
                          self._epoch_rng, self._resume_rng)
        if not self._skip:
            set_generator_state(self._resume_rng)
        self._replay_board()
        if self.epoch >= self.max_epochs:
            print(f"Trainer: {found.path} has all {self.epoch} epochs done already; nothing to train (raise "
                  f"max_epochs to train on)", file=sys.stderr)
        else:
            print(f"Trainer: resuming from {found.path} (epoch {self.epoch + 1}, step {self.train_batch_idx})",
                  file=sys.stderr)

    def _replay_board(self) -> None:
        """Draw the resumed run's history on the board, so its curves continue."""
        position = self.train_batch_idx, self.epoch
        for i, value in enumerate(self.history.get("train_loss", [])):
            self.train_batch_idx = i + 1
            self.model.plot("loss", value, train=True)
        for key, values in self.history.items():
            if key.startswith("val_"):
                for epoch, value in enumerate(values):
                    self.epoch = epoch
                    self.model.plot(key.removeprefix("val_"), value, train=False)
        self.train_batch_idx, self.epoch = position

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
            self._stop_if_asked()
        return {key: total / count for key, total in totals.items()} if count else {}

    def _stop_if_asked(self) -> None:
        """Raise the ``KeyboardInterrupt`` of a Ctrl-C pressed during the step that just finished."""
        interrupt = getattr(self, "_interrupt", None)
        if interrupt is not None:
            interrupt.check()


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
