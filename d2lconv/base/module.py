"""A framework-free base class for layers (d2l's ``nn_Module`` alias): ``forward`` and ``parameters``."""

from __future__ import annotations

from typing import Any

from ..registry import public


@public
class Module:
    """A layer: calling it runs ``forward``; ``parameters()`` lists its tensors.

    d2l aliases ``nn_Module`` to each framework's own base class; d2lconv's layers are written
    once, so theirs is this one, which works the same on every backend.
    """

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward(...)")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def parameters(self) -> list[Any]:
        """The layer's tensors that training updates (none by default)."""
        return []

public(Module, "nn_Module")  # d2l's alias for a layer's base class
