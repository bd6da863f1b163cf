"""Checkpoints: a model's parameters by name, and what a run needs to continue exactly, in one
safetensors file that numpy reads without any framework, so a checkpoint written on one backend
loads on every other.

The file holds the parameters (``param/<dotted name>``) and the optimizer's state
(``optim/<i>``, the leaves of its pytree in optree's order) as host arrays; its metadata holds a
JSON record: the format, the backend and model that wrote it, the epoch and step, the states of
d2lconv's generator, the training history, the shapes of an example input (so a model whose lazy
layers have not seen one yet can be built) and a SHA-256 of every tensor, which catches a damaged
file that safetensors' own header checks would read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..atomic import write_bytes_atomic
from ..backend import generator_state, get_backend, ops, set_generator_state
from ..registry import public

FORMAT = "d2lconv-checkpoint/1"
SUFFIX = ".safetensors"


@public
class CheckpointError(ValueError):
    """A checkpoint that cannot be read (damaged, truncated, not a checkpoint) or that does not fit
    the model or optimizer it is loaded into; ``path`` is the file."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


@dataclass
class Checkpoint:
    """A checkpoint read from disk: host arrays and the record saved beside them."""

    path: Path
    params: dict[str, np.ndarray]
    optim_state: list[np.ndarray]
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def epoch(self) -> int:
        """Epochs finished when it was written."""
        return int(self.record.get("epoch", 0))

    @property
    def step(self) -> int:
        """Training steps taken when it was written, over all epochs."""
        return int(self.record.get("step", 0))


def _digest(tensors: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _host(value: Any) -> np.ndarray:
    B = ops()
    return np.ascontiguousarray(B.numpy(value) if B.is_tensor(value) else np.asarray(value))


def _leaves(tree: Any) -> list[Any]:
    from ..backend._common import _tree
    return _tree().tree_leaves(tree, none_is_leaf=False)


def input_spec(inputs: Sequence[Any]) -> list[dict[str, Any]]:
    """The shape and dtype of each input of a forward pass, as a checkpoint stores them."""
    B = ops()
    return [{"shape": list(B.shape(x)), "dtype": B.dtype_name(x)} for x in inputs]


def _model_name(model: Any) -> str:
    return f"{type(model).__module__}.{type(model).__qualname__}"


def checkpoint_bytes(model: Any, optim_state: Any = None, record: Mapping[str, Any] | None = None,
                     params: Mapping[str, Any] | None = None) -> bytes:
    """The bytes of a checkpoint of ``model`` (``params``, by default its current parameters), the
    optimizer state ``optim_state`` (a pytree of tensors) and the extra fields of ``record``."""
    from safetensors.numpy import save as save_tensors

    params = model.named_parameters() if params is None else params
    tensors = {f"param/{name}": _host(value) for name, value in params.items()}
    for i, leaf in enumerate(_leaves(optim_state) if optim_state is not None else []):
        tensors[f"optim/{i:04d}"] = _host(leaf)
    full = {"format": FORMAT, "d2lconv": __version__, "backend": get_backend(),
            "model": _model_name(model), "names": list(params),
            "inputs": getattr(model, "_input_spec", None),
            **(record or {}), "sha256": _digest(tensors)}
    return save_tensors(tensors, metadata={"d2lconv": json.dumps(full)})


@public
def save(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``model``'s parameters, by name, to ``path`` (a safetensors file, written atomically);
    a model that a ``Trainer`` is fitting or has fitted also gets the trainer's state (optimizer,
    epoch and step, generator), so ``fit(..., resume=path)`` can continue from it. Returns the path."""
    path = Path(path)
    trainer = getattr(model, "trainer", None)
    state = trainer._training_state() if hasattr(trainer, "_training_state") else None
    if state is None:
        data = checkpoint_bytes(model)
    else:
        data = checkpoint_bytes(model, state.pop("optim_state"), state, params=state.pop("params"))
    write_bytes_atomic(path, data, durable=True)
    return path


def read(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and verify a checkpoint: a ``CheckpointError`` naming the file if it is missing,
    truncated, damaged or not a d2lconv checkpoint."""
    from safetensors import SafetensorError
    from safetensors.numpy import load as load_tensors

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}", path) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint {path}: {exc}", path) from exc
    damaged = (f"the checkpoint {path} is damaged or truncated ({{}}); it cannot be loaded: delete it "
               f"and use an earlier checkpoint, or train again")
    try:
        tensors = load_tensors(data)
        header_length = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8:8 + header_length]).get("__metadata__") or {}
    except (SafetensorError, ValueError) as exc:
        raise CheckpointError(damaged.format(f"{len(data)} bytes; safetensors: {exc}"), path) from exc
    try:
        record = json.loads(metadata["d2lconv"])
    except (KeyError, ValueError):
        raise CheckpointError(f"{path} is a safetensors file but not a d2lconv checkpoint (its metadata has no "
                              f"d2lconv record); save one with d2l.save(model, path)", path) from None
    if record.get("format") != FORMAT:
        raise CheckpointError(f"{path} is in the format {record.get('format')!r}; this d2lconv "
                              f"({__version__}) reads {FORMAT!r}", path)
    if _digest(tensors) != record.get("sha256"):
        raise CheckpointError(damaged.format("its tensors do not match the SHA-256 recorded when it was written"),
                              path)
    params = {name.removeprefix("param/"): a for name, a in tensors.items() if name.startswith("param/")}
    optim = [tensors[name] for name in sorted(tensors) if name.startswith("optim/")]
    order = record.get("names")
    if order:  # the model's definition order (safetensors keeps tensors sorted)
        params = {name: params[name] for name in order if name in params} | params
    return Checkpoint(path, params, optim, record)


def _differences(model: Any, params: Mapping[str, np.ndarray]) -> list[str]:
    B = ops()
    current = {name: tuple(B.shape(value)) for name, value in model.named_parameters().items()}
    lines = [f"missing from the checkpoint: {name} {shape}" for name, shape in current.items() if name not in params]
    lines += [f"not in the model: {name} {tuple(a.shape)}" for name, a in params.items() if name not in current]
    lines += [f"{name}: {tuple(params[name].shape)} in the checkpoint, {shape} in the model"
              for name, shape in current.items() if name in params and tuple(params[name].shape) != shape]
    return lines


def _build(model: Any, checkpoint: Checkpoint) -> None:
    """Run a model whose lazy layers have not seen an input yet on zeros of the checkpoint's example
    input, so that they get their sizes; d2lconv's generator is left as it was."""
    spec = checkpoint.record.get("inputs")
    if not spec:
        return
    B, state = ops(), generator_state()
    try:
        model(*(B.zeros(tuple(x["shape"]), dtype=x["dtype"]) for x in spec))
    finally:
        set_generator_state(state)


@public
def load(model: Any, path: str | os.PathLike[str] | Checkpoint) -> Checkpoint:
    """Put the parameters saved in ``path`` into ``model``, as tensors of the active backend
    (whichever backend wrote them). The names and shapes must be the model's: otherwise a
    ``CheckpointError`` lists every difference. Returns the checkpoint read."""
    checkpoint = path if isinstance(path, Checkpoint) else read(path)
    if set(checkpoint.params) != set(model.named_parameters()):
        _build(model, checkpoint)  # lazy layers: build them from the example input first
    differences = _differences(model, checkpoint.params)
    if differences:
        raise CheckpointError(
            f"{checkpoint.path} does not fit {type(model).__name__}: it was written from "
            f"{checkpoint.record.get('model')} on {checkpoint.record.get('backend')}, and "
            f"{len(differences)} parameter(s) differ:\n  " + "\n  ".join(differences), checkpoint.path)
    B = ops()
    model.set_parameters({name: B.from_numpy(a) for name, a in checkpoint.params.items()})
    return checkpoint


def optim_state_from(checkpoint: Checkpoint, template: Any, optim: Any) -> Any:
    """The optimizer state of ``checkpoint`` as tensors, in the structure of ``template`` (the
    state ``optim.init`` makes for the model); a ``CheckpointError`` if they do not fit."""
    from ..backend._common import _tree

    B, tree = ops(), _tree()
    leaves, spec = tree.tree_flatten(template, none_is_leaf=False)
    saved = checkpoint.optim_state
    shapes_differ = any(tuple(B.shape(a)) != tuple(b.shape) for a, b in zip(leaves, saved))
    if len(saved) != len(leaves) or shapes_differ:
        raise CheckpointError(
            f"{checkpoint.path} holds the state of {checkpoint.record.get('optimizer')} ({len(saved)} tensors), "
            f"which does not fit this run's {optim!r} ({len(leaves)} tensors); resume with the optimizer "
            f"settings it was written with, or start a new run in another checkpoint_dir", checkpoint.path)
    return tree.tree_unflatten(spec, [B.from_numpy(a) for a in saved])
