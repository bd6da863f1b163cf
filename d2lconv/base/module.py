"""A framework-free base class for layers (d2l's ``nn_Module`` alias): ``forward``, and parameters
found by name so that a whole network can be differentiated and updated as one pytree.

A layer's parameters are its attributes that hold floating tensors, and those of its sub-layers
(attributes holding layers, or lists and tuples of them), named by dotted paths such as
``net.0.weight``. Training code reads them with ``named_parameters()``, differentiates a function
of that dict, and puts new values back with ``set_parameters`` - or, while a compiler traces the
step, swaps them in for one call with ``using``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..backend import framework_of, ops
from ..registry import public

#: Attribute types that are never a tensor: skipped before asking which framework a value is from.
_PLAIN = (int, float, str, bool, type(None), list, tuple, dict)


class ForeignTensorError(TypeError):
    """A layer holds a tensor of another backend than the active one (the model was built there)."""

    def __init__(self, model: str, path: str, owner: str, active: str) -> None:
        self.path, self.owner, self.active = path, owner, active
        what = "a numpy array (the numpy backend's tensor)" if owner == "numpy" else f"a {owner} tensor"
        host = (" A host array that is no parameter: convert it with d2l.tensor(...), or keep it out of the "
                "parameters (a name starting with _, or listed in the layer's frozen)." if owner == "numpy" else "")
        super().__init__(f"{model}'s {path} is {what}, but the active backend is {active!r}: the model was built "
                         f"on {owner!r}. Use it there (d2l.use_backend({owner!r})), or move it: d2l.save(model, "
                         f"path) there, then d2l.load(a model built here, path).{host}")


@public
class Layer:
    """A layer: calling it runs ``forward``; its floating-tensor attributes are its parameters.

    d2l aliases ``nn_Module`` to each framework's own base class; d2lconv's layers are written
    once, so theirs is this one, which works the same on every backend. Attributes listed in a
    class's ``frozen`` tuple are tensors that training leaves alone.
    """

    frozen: tuple[str, ...] = ()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward(...)")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def children(self) -> Iterator[tuple[str, Layer]]:
        """``(name, layer)`` for each direct sub-layer: attributes holding layers, and the items of
        attributes holding lists or tuples of layers (named ``attr.i``)."""
        for name, value in vars(self).items():
            if isinstance(value, Layer):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Layer):
                        yield f"{name}.{i}", item

    def modules(self) -> Iterator[Layer]:
        """This layer and every layer below it, parents first."""
        yield self
        for _, child in self.children():
            yield from child.modules()

    def apply(self, fn: Callable[[Layer], Any]) -> Layer:
        """Call ``fn`` on every layer below this one and then on this one (torch's ``apply``)."""
        for _, child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def named_parameters(self) -> dict[str, Any]:
        """Every parameter of this layer and its sub-layers, by dotted name, in definition order."""
        B = ops()
        found: dict[str, Any] = {}
        settings = vars(self).get("hparams", {})  # save_hyperparameters' values (a numpy lr is a 0-d array)
        for name, value in vars(self).items():
            if name in self.frozen or name.startswith("_") or name in settings:
                continue
            if B.is_tensor(value):
                if B.is_floating(value):
                    found[name] = value
            elif not isinstance(value, (_PLAIN, Layer)):
                self._refuse_foreign(B, name, value)
        for prefix, child in self.children():
            try:
                for name, value in child.named_parameters().items():
                    found[f"{prefix}.{name}"] = value
            except ForeignTensorError as exc:
                raise ForeignTensorError(type(self).__name__, f"{prefix}.{exc.path}", exc.owner, exc.active) from None
        return found

    def _refuse_foreign(self, B: Any, name: str, value: Any) -> None:
        """A tensor of another backend's framework is a model built there and used here: say so (it would
        otherwise be no parameter at all, and training would silently change nothing)."""
        owner = framework_of(value)
        if owner is None or owner == B.NAME or not (hasattr(value, "shape") and hasattr(value, "dtype")):
            return  # not a tensor (a torch.dtype, a Keras object, ...), or the active backend's
        if isinstance(value, np.generic):
            return  # a numpy number (a temperature, a scale) is a setting, not a numpy-backend tensor
        raise ForeignTensorError(type(self).__name__, name, owner, B.NAME)

    def parameters(self) -> list[Any]:
        """The tensors that training updates, in the order of ``named_parameters``."""
        return list(self.named_parameters().values())

    def set_parameters(self, values: Mapping[str, Any]) -> None:
        """Put ``values`` (a dict like ``named_parameters()``'s) into the layers, by name.

        Raises ``KeyError`` listing missing or unknown names, ``ValueError`` for a shape that differs.
        """
        B = ops()
        current = self.named_parameters()
        missing, extra = sorted(set(current) - set(values)), sorted(set(values) - set(current))
        if missing or extra:
            raise KeyError(f"{type(self).__name__}.set_parameters: the names differ from the model's: "
                           f"missing {missing}, unknown {extra}")
        wrong = [f"{name}: {B.shape(values[name])} instead of {B.shape(value)}"
                 for name, value in current.items() if B.shape(values[name]) != B.shape(value)]
        if wrong:
            raise ValueError(f"{type(self).__name__}.set_parameters: shapes differ from the model's: "
                             + "; ".join(wrong))
        self._assign(values)

    def _assign(self, values: Mapping[str, Any]) -> None:
        """Set parameters by dotted name without checks (the hot path of a training step)."""
        layers = {"": self}
        for layer_path, layer in self._layer_paths():
            layers[layer_path] = layer
        for name, value in values.items():
            path, _, attr = name.rpartition(".")
            setattr(layers[path], attr, value)

    def _layer_paths(self, prefix: str = "") -> Iterator[tuple[str, Layer]]:
        for name, child in self.children():
            path = f"{prefix}{name}"
            yield path, child
            yield from child._layer_paths(f"{path}.")

    @contextlib.contextmanager
    def using(self, values: Mapping[str, Any]) -> Iterator[Layer]:
        """Run a block with ``values`` in place of the parameters, restoring them afterwards: how a
        step traced by a compiler (``jax.jit``, ``tf.function``, MXNet's ``compile``) sees its inputs as the
        model's."""
        saved = self.named_parameters()
        unknown = sorted(set(values) - set(saved))
        if unknown:
            raise KeyError(f"{type(self).__name__}.using: {unknown} are not parameters of the model; its "
                           f"parameters are {sorted(saved)}")
        try:
            self._assign(values)
            yield self
        finally:
            self._assign(saved)


public(Layer, "nn_Module")  # d2l's alias for a layer's base class
