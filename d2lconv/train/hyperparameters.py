"""d2l's ``HyperParameters`` (``save_hyperparameters``) and ``add_to_class``."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from ..registry import public


@public
def add_to_class(Class: type) -> Callable[[Any], Any]:
    """Decorator: register a function as a method of ``Class`` after the class was defined (how the
    book grows a class one cell at a time)."""
    def wrapper(obj: Any) -> Any:
        setattr(Class, obj.__name__, obj)
        return obj
    return wrapper


#: Settings whose meaning is the same in every class that saves them: a bad value is refused when
#: the object is made, not at the first training step.
RATES = ("lr",)
COUNTS = ("batch_size", "max_epochs", "num_classes")


def check_settings(caller: str, values: dict[str, Any]) -> None:
    """A ``ValueError`` naming the setting for a learning rate that is not a positive finite number,
    or a batch size, epoch count or class count that is not a positive int (``None``: not set)."""
    from ..base.optim import check_rate

    for name in RATES:
        if values.get(name) is not None:  # None: not set yet (configure_optimizers asks for one)
            check_rate(caller, name, values[name])
    for name in COUNTS:
        value = values.get(name)
        if value is not None and (not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1):
            raise ValueError(f"{caller}: {name} must be a positive int, got {value!r}")


@public
class HyperParameters:
    """The base of classes whose constructor arguments become attributes (``save_hyperparameters``)."""

    def save_hyperparameters(self, ignore: Sequence[str] = ()) -> None:
        """Store every argument of the calling ``__init__`` as an attribute (except ``ignore``), and
        remember them in ``self.hparams``."""
        frame = inspect.currentframe()
        frame = frame.f_back if frame is not None else None
        while frame is not None and frame.f_locals.get("self") is not self:  # skip wrappers in between
            frame = frame.f_back
        if frame is None:
            raise RuntimeError(f"{type(self).__name__}.save_hyperparameters() must be called from the "
                               f"object's own __init__")
        arguments = inspect.getargvalues(frame)
        values = {name: arguments.locals[name] for name in arguments.args if name != "self"}
        if arguments.keywords:  # **kwargs of the caller
            values.update(arguments.locals[arguments.keywords])
        values = {k: v for k, v in values.items() if k not in set(ignore) and not k.startswith("_")}
        check_settings(type(self).__name__, values)
        hparams = dict(getattr(self, "hparams", {}))
        hparams.update(values)
        self.hparams = hparams
        for name, value in values.items():
            setattr(self, name, value)
