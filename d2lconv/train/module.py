"""d2l 1.0's ``Module`` (a layer that knows its loss, steps and optimizer) and ``Classifier``.

The steps are pure: ``training_step`` returns the loss and ``validation_step`` a dict of metrics,
with no plotting or updating inside, so the trainer can differentiate them and compile them
(``jax.jit``, XLA on TensorFlow). The trainer plots what they return.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..backend import ops
from ..base import losses
from ..base.module import Layer
from ..base.optim import SGD
from ..registry import public
from .checkpoint import input_spec
from .hyperparameters import HyperParameters
from .progress import ProgressBoard


@public
class Module(Layer, HyperParameters):
    """The base of trainable models: ``forward`` (default: ``self.net``), ``loss``, the steps,
    ``configure_optimizers`` (SGD with ``self.lr``) and ``plot`` onto ``self.board``."""

    def __init__(self, plot_train_per_epoch: int = 2, plot_valid_per_epoch: int = 1) -> None:
        self.save_hyperparameters()
        self.board = ProgressBoard()

    def loss(self, Y_hat: Any, Y: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define loss(Y_hat, Y)")

    def forward(self, X: Any) -> Any:
        net = getattr(self, "net", None)
        if net is None:
            raise NotImplementedError(f"{type(self).__name__} must define forward(...) or a self.net")
        return net(X)

    def training_step(self, batch: Sequence[Any]) -> Any:
        """The loss of one batch ``(inputs..., labels)``."""
        return self.loss(self(*batch[:-1]), batch[-1])

    def validation_step(self, batch: Sequence[Any]) -> dict[str, Any]:
        """The metrics of one validation batch, each a mean over the batch."""
        return {"loss": self.loss(self(*batch[:-1]), batch[-1])}

    def check_batch(self, batch: Sequence[Any]) -> None:
        """Checks of a batch on the host before the (possibly compiled) step sees it; none by default."""

    def configure_optimizers(self) -> Any:
        lr = getattr(self, "lr", None)
        if lr is None:
            raise AttributeError(f"{type(self).__name__} has no lr: give it one (self.lr, e.g. through "
                                 f"save_hyperparameters) or define configure_optimizers()")
        return SGD(lr)

    def apply_init(self, inputs: Sequence[Any], init: Callable[[Layer], Any] | None = None) -> None:
        """Run ``inputs`` through the model once, so lazy layers learn their input sizes, then apply
        ``init`` to every layer (d2l's ``apply_init``)."""
        self.forward(*inputs)
        self._input_spec = input_spec(inputs)  # a checkpoint records it: loading can build a fresh model
        if init is not None:
            self.apply(init)

    def plot(self, key: str, value: float, train: bool) -> None:
        """Add a point of ``key`` to the board: x in epochs (fractions of one while training)."""
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            raise RuntimeError("plot() needs a trainer: it is called while Trainer.fit runs")
        board = self.__dict__.setdefault("board", ProgressBoard())
        board.xlabel = "epoch"
        board.xlim = [0, trainer.max_epochs]
        if train:
            x = trainer.train_batch_idx / trainer.num_train_batches
            every_n = max(1, trainer.num_train_batches // self.hparams.get("plot_train_per_epoch", 2))
        else:
            x, every_n = trainer.epoch + 1, 1  # the trainer passes the epoch's weighted mean: one point
        board.draw(x, value, ("train_" if train else "val_") + key, every_n)


@public
class Classifier(Module):
    """A model whose outputs are class logits: cross-entropy loss, and accuracy when validating."""

    def validation_step(self, batch: Sequence[Any]) -> dict[str, Any]:
        Y_hat = self(*batch[:-1])
        return {"loss": self.loss(Y_hat, batch[-1]), "acc": self.accuracy(Y_hat, batch[-1])}

    def loss(self, Y_hat: Any, Y: Any, averaged: bool = True) -> Any:
        return losses.cross_entropy(Y_hat, Y, averaged)

    def accuracy(self, Y_hat: Any, Y: Any, averaged: bool = True) -> Any:
        return losses.accuracy(Y_hat, Y, averaged)

    def check_batch(self, batch: Sequence[Any]) -> None:
        """The labels are class indices in ``[0, num_classes)`` (when the model knows ``num_classes``)."""
        num_classes = getattr(self, "num_classes", None)
        if num_classes is not None:
            losses.check_labels(ops(), batch[-1], num_classes, type(self).__name__)

    def layer_summary(self, X_shape: Sequence[int]) -> list[tuple[str, tuple[int, ...]]]:
        """Print each layer of ``self.net`` with its output shape for an input of ``X_shape`` (zeros);
        return the pairs. Lazy layers get their sizes on the way."""
        B = ops()
        X = B.zeros(tuple(X_shape))
        rows = []
        for layer in self.net:
            X = layer(X)
            rows.append((type(layer).__name__, B.shape(X)))
            print(f"{type(layer).__name__:<10} output shape:\t{B.shape(X)}")
        return rows
