"""d2l 1.0's ``DataModule`` and the loader behind it, written once over host numpy arrays.

A loader keeps its data on the host and makes each batch a tuple of tensors of the backend that
is active while it is iterated (``B.from_numpy``). Training loaders shuffle with a permutation
drawn from d2lconv's seeded generator at the start of every pass, so after ``d2l.seed(n)`` every
backend sees the same batches in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..backend import _CONTEXT, host_random, ops
from ..registry import public

#: A function from the host arrays of one batch to the host arrays the batch hands out.
Transform = Callable[..., Sequence[np.ndarray]]


def check_batch_size(batch_size: Any, num_examples: int | None = None, caller: str = "DataModule",
                     what: str = "the data set") -> int:
    """``batch_size`` as an int in ``[1, num_examples]``, else a ``ValueError`` naming both numbers."""
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"{caller}: batch_size must be a positive int, got {batch_size!r}")
    if num_examples is not None and batch_size > num_examples:
        raise ValueError(f"{caller}: batch_size {int(batch_size)} is larger than {what} ({num_examples} "
                         f"examples); use a batch_size of at most {num_examples}")
    return int(batch_size)


def made_in() -> Any:
    """The backend a ``use_backend`` block or a pinned namespace (``from d2lconv import torch as d2l``)
    put in force here, or ``None`` where the default backend is in force."""
    return _CONTEXT.get()


def backend_for(made: Any) -> Any:
    """The backend an object made under ``made`` (see :func:`made_in`) hands out tensors of now:
    the one of a ``use_backend`` block or pinned call open now, else ``made``, else the default."""
    here = _CONTEXT.get()
    return here if here is not None else made if made is not None else ops()


def host_array(value: Any) -> np.ndarray:
    """A tensor of the active backend, or anything numpy reads, as a host numpy array."""
    B = ops()
    return np.asarray(B.numpy(value) if B.is_tensor(value) else value)


class TensorLoader:
    """Batches over host arrays that share their first dimension: re-iterable, ``len`` = number of batches.

    Each pass hands out ``ceil(n / batch_size)`` tuples of backend tensors, one per array, made
    when the batch is: on the backend of the ``use_backend`` block open then, else on the one in
    force where the loader was made (so a loader from ``from d2lconv import torch as d2l`` gives
    torch tensors in a plain ``for`` loop), else on the default backend. The last batch holds the remainder: it is
    smaller when ``batch_size`` does not divide ``n``, and it is never dropped, so one pass sees
    every example exactly once. With ``shuffle`` each pass (each ``iter``) draws a new permutation
    from d2lconv's seeded generator (``d2l.seed``) when it starts; without, the order is the
    arrays' own. ``transform``, if given, maps the host arrays of a batch to the ones handed out
    (Fashion-MNIST turns uint8 images into float32 there, one batch at a time).
    """

    def __init__(self, arrays: Sequence[np.ndarray], batch_size: int, shuffle: bool = False,
                 transform: Transform | None = None, caller: str = "TensorLoader"):
        arrays = tuple(np.asarray(a) for a in arrays)
        if not arrays:
            raise ValueError(f"{caller}: needs at least one array to make batches of, got none")
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"{caller}: array {i} is a scalar ({a!r}); every array needs a first "
                                 f"dimension of examples")
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) > 1:
            raise ValueError(f"{caller}: the arrays must hold the same number of examples (first "
                             f"dimension), got {lengths}")
        if lengths[0] == 0:
            raise ValueError(f"{caller}: the arrays hold no examples (shapes {[a.shape for a in arrays]})")
        self.arrays = arrays
        self.num_examples = lengths[0]
        self.batch_size = check_batch_size(batch_size, self.num_examples, caller)
        self.shuffle = bool(shuffle)
        self.transform = transform
        self._made_in = made_in()

    def __len__(self) -> int:
        return math.ceil(self.num_examples / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        # drawn here, not in the generator, so the permutation is taken when the pass starts
        order = host_random(lambda g: g.permutation(self.num_examples)) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order: np.ndarray | None) -> Iterator[tuple[Any, ...]]:
        for start in range(0, self.num_examples, self.batch_size):
            stop = min(start + self.batch_size, self.num_examples)
            pick = slice(start, stop) if order is None else order[start:stop]
            # copies (fancy indexing copies; a slice is copied), so no tensor aliases the data
            host = tuple(a[pick].copy() if order is None else a[pick] for a in self.arrays)
            if self.transform is not None:
                host = tuple(self.transform(*host))
            B = backend_for(self._made_in)
            yield tuple(B.from_numpy(a) for a in host)

    def __repr__(self) -> str:
        return (f"TensorLoader({self.num_examples} examples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, {len(self)} batches)")


@public
class DataModule:
    """d2l's base class for data: ``train_dataloader()`` and ``val_dataloader()`` call
    ``get_dataloader(train)``, which a subclass defines; ``get_tensorloader`` batches arrays.

    ``root`` is where a subclass looks for its files (``None``: its own search places);
    ``num_workers`` is kept for d2l's signature: d2lconv's loaders make each batch in the loop that
    iterates them, with no worker processes. A subclass sets ``self.batch_size``.
    """

    def __init__(self, root: Any = None, num_workers: int = 0):
        if not isinstance(num_workers, (int, np.integer)) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError(f"{type(self).__name__}: num_workers must be a non-negative int, got {num_workers!r}")
        self.root = root
        self.num_workers = int(num_workers)

    def get_dataloader(self, train: bool) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define get_dataloader(self, train)")

    def train_dataloader(self) -> Any:
        return self.get_dataloader(train=True)

    def val_dataloader(self) -> Any:
        return self.get_dataloader(train=False)

    def get_tensorloader(self, tensors: Sequence[Any], train: bool, indices: Any = slice(0, None)) -> TensorLoader:
        """A loader over ``tensor[indices]`` for each of ``tensors`` (backend tensors, brought to
        the host now, or host arrays, used as they are), ``self.batch_size`` at a time; shuffled if ``train``."""
        caller = f"{type(self).__name__}.get_tensorloader"
        batch_size = getattr(self, "batch_size", None)
        if batch_size is None:
            raise AttributeError(f"{caller}: set self.batch_size (e.g. in __init__) before asking for a loader")
        if isinstance(tensors, np.ndarray) or ops().is_tensor(tensors):
            raise TypeError(f"{caller}: tensors must be a tuple of tensors, e.g. (X, y), got a single "
                            f"tensor; pass (X,) for one")
        arrays = tuple(host_array(t)[indices] for t in tensors)
        return TensorLoader(arrays, batch_size, shuffle=train, caller=caller)
