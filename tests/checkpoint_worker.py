"""A training process for tests/test_checkpoint.py to kill, interrupt and resume (not a test file).

    python tests/checkpoint_worker.py BACKEND MODE CHECKPOINT_DIR OUT.npz

MODE ``train`` fits a small LeNet for 3 epochs of 10 steps, writing a checkpoint after every step;
``resume`` does the same with ``fit(resume=True)``; ``slow`` trains for 1,000 epochs (for Ctrl-C).
The final parameters go to OUT.npz.
"""

from __future__ import annotations

import sys

import numpy as np

import d2lconv as d2l


class Tiny(d2l.DataModule):
    """640 training and 128 validation images of noise with labels that depend on them."""

    def __init__(self, batch_size: int = 64) -> None:
        super().__init__()
        self.batch_size = batch_size
        rng = np.random.default_rng(1)
        X = rng.random((768, 1, 28, 28), dtype=np.float32)
        y = (X[:, 0, :14].mean(axis=(1, 2)) * 20 % 10).astype(np.int64)
        self.arrays = X, y

    def get_dataloader(self, train: bool):
        return self.get_tensorloader(self.arrays, train, slice(0, 640) if train else slice(640, None))


def main(backend: str, mode: str, directory: str, out: str) -> None:
    d2l.set_backend(backend)
    d2l.seed(0)
    model = d2l.LeNet(lr=0.9)
    model.board.display = False
    epochs = 1000 if mode == "slow" else 3
    trainer = d2l.Trainer(max_epochs=epochs, progress=False, checkpoint_dir=directory,
                          checkpoint_every=None if mode == "slow" else 1)
    if mode == "slow":
        print("training", flush=True)
    trainer.fit(model, Tiny(), resume=mode == "resume")
    np.savez(out, **{name: d2l.numpy(value) for name, value in model.named_parameters().items()})


if __name__ == "__main__":
    main(*sys.argv[1:])
