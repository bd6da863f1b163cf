"""Input checks that every shared function makes the same way: pairs of ints, tensors of the
active backend with an allowed rank, float promotion. Errors name the caller, the argument, the
bad value and what would be valid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backend import ENV_VAR, framework_of

Pair = int | tuple[int, int]


def describe(x: Any) -> str:
    """A short description of a value's type for error messages (``torch.Tensor``, ``list``)."""
    kind = type(x)
    module = kind.__module__.split(".")[0]
    if module == "builtins":
        return f"a Python {kind.__name__}"
    return f"a {module} {kind.__name__}"


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def check_pair(value: Any, what: str, caller: str, minimum: int) -> tuple[int, int]:
    """``3`` or ``(1, 2)`` as a pair of ints ``>= minimum``, else a ``ValueError`` naming ``what``."""
    pair = (value, value) if _is_int(value) else value
    try:
        h, w = pair
    except (TypeError, ValueError):
        h = w = None
    if not (_is_int(h) and _is_int(w) and h >= minimum and w >= minimum):
        kind = {0: "a non-negative int", 1: "a positive int"}.get(minimum, f"an int >= {minimum}")
        raise ValueError(f"{caller}: {what} must be {kind} or a pair of them (height, width), "
                         f"got {value!r}")
    return int(h), int(w)


def check_tensor(B: Any, x: Any, what: str, caller: str, ranks: Sequence[int]) -> tuple[int, ...]:
    """Check that ``x`` is a non-empty tensor of the active backend with an allowed rank."""
    if not B.is_tensor(x):
        raise TypeError(f"{caller}: {what} must be a {B.NAME} tensor (the active d2lconv backend "
                        f"is {B.NAME!r}), got {_not_a_tensor(x, B.NAME)}")
    shape = B.shape(x)
    if len(shape) not in ranks:
        layouts = {2: "(height, width)", 3: "(channels, height, width)",
                   4: "(batch, channels, height, width)"}
        allowed = " or ".join(f"{r}-D {layouts.get(r, '')}".strip() for r in ranks)
        raise ValueError(f"{caller}: {what} must be {allowed}, got a {len(shape)}-D tensor of "
                         f"shape {shape}; reshape it, e.g. d2l.reshape(x, ...)")
    if 0 in shape:
        raise ValueError(f"{caller}: {what} has an empty dimension (shape {shape}); every "
                         f"dimension must be at least 1")
    return shape


def _not_a_tensor(x: Any, active: str) -> str:
    """What ``x`` is, and what to do instead, for a value that is not a tensor of backend ``active``."""
    if x is None:
        return "None, not a tensor; pass a tensor, e.g. d2l.tensor([[0.0, 1.0], [2.0, 3.0]])"
    if isinstance(x, (str, bytes)):
        text = repr(x) if len(x) <= 40 else f"{repr(x[:37])[:-1]}...{repr(x)[-1]}"
        return (f"{describe(x)} ({text}), not a tensor; pass a tensor of numbers, "
                f"e.g. d2l.tensor([[0.0, 1.0], [2.0, 3.0]])")
    if isinstance(x, (list, tuple, int, float)):
        return f"{describe(x)}; make one with d2l.tensor(...)"
    owner = framework_of(x)
    if owner is not None and owner != active:
        if isinstance(x, np.ndarray):
            whose, convert = f"a host array (the {owner!r} backend's)", "d2l.from_numpy(...) or d2l.tensor(...)"
        else:
            whose, convert = f"it belongs to another framework (the {owner!r} backend)", "d2l.tensor(...)"
        return (f"{describe(x)}; {whose}: convert it with {convert}, or select that backend with "
                f"{ENV_VAR}={owner} / d2l.use_backend({owner!r})")
    return f"{describe(x)}, which is not a tensor; make one with d2l.tensor(...) from numbers or nested lists"


def as_float(B: Any, x: Any, other: Any = None) -> Any:
    """Integer tensors become float32; float32 meets float64 as float64 (numpy's promotion)."""
    if not B.is_floating(x):
        x = B.astype(x, B.float32)
    if other is not None and B.is_floating(other) and B.dtype_name(other) == "float64" \
            and B.dtype_name(x) != "float64":
        x = B.astype(x, B.float64)
    return x
