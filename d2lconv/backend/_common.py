"""Helpers every backend module shares (no framework imports here)."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

_RNG_LOCK = threading.Lock()
_RAGGED_WARNING = getattr(getattr(np, "exceptions", np), "VisibleDeprecationWarning", Warning)
_RNG = np.random.default_rng(0)


def seed(value: int) -> None:
    """Reseed the generator behind ``rand`` and ``normal`` (the same numbers on every backend)."""
    global _RNG
    with _RNG_LOCK:
        _RNG = np.random.default_rng(value)


def host_uniform(shape: Sequence[int] | int) -> np.ndarray:
    """Uniform [0, 1) float32 numbers drawn from d2lconv's seeded numpy generator."""
    with _RNG_LOCK:
        return _RNG.random(shape, dtype=np.float32)


def host_normal(shape: Sequence[int] | int, mean: float, std: float) -> np.ndarray:
    """Normal float32 numbers drawn from d2lconv's seeded numpy generator."""
    with _RNG_LOCK:
        return _RNG.normal(mean, std, shape).astype(np.float32)


def host_array(data: Any, dtype: Any = None) -> np.ndarray:
    """``data`` as a numpy array with d2lconv's default dtypes: floats float32, ints int64."""
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", _RAGGED_WARNING)  # numpy < 2 warns, then makes objects
            array = np.asarray(data)
    except ValueError as exc:  # numpy >= 2: "inhomogeneous shape"
        raise TypeError(f"cannot make a tensor from this {type(data).__name__}: it is ragged (rows of "
                        f"different lengths) or mixes types; give a rectangular nested list of numbers "
                        f"({exc})") from None
    if array.dtype.kind == "f" and array.dtype != np.float32 and not isinstance(data, np.ndarray):
        return array.astype(np.float32)
    if array.dtype.kind in "iu" and not isinstance(data, np.ndarray):
        return array.astype(np.int64)
    if array.dtype.kind == "O":
        raise TypeError(f"cannot make a tensor from this {type(data).__name__}: it is ragged (rows of "
                        f"different lengths) or mixes types; give a rectangular nested list of numbers")
    return array


def arange_dtype(start: Any, stop: Any, step: Any) -> Any:
    """numpy's rule with d2lconv's defaults: all-integer arguments give int64, otherwise float32."""
    values = [v for v in (start, stop, step) if v is not None]
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return np.int64
    return np.float32


def normalize_axes(axes: Any, ndim: int) -> tuple[int, ...]:
    """``transpose``'s numpy meaning: no axes reverses them all."""
    if axes is None:
        return tuple(range(ndim - 1, -1, -1))
    return tuple(int(a) % ndim if ndim else int(a) for a in axes)


def swapped_axes(ndim: int, axis1: int, axis2: int) -> list[int]:
    """The permutation that swaps two axes (for frameworks without ``swapaxes``)."""
    perm = list(range(ndim))
    a, b = axis1 % ndim, axis2 % ndim
    perm[a], perm[b] = perm[b], perm[a]
    return perm


def as_shape(shape: Any) -> tuple[int, ...]:
    """Accept ``3`` or ``(2, 3)`` the way numpy does."""
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def shape_args(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """``rand(2, 3)`` and ``rand((2, 3))`` mean the same, as in torch."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        return as_shape(shape[0])
    return as_shape(shape)


def block_until_ready(x: Any) -> Any:
    """For frameworks that compute synchronously on the CPU: nothing to wait for."""
    return x


def multiply_add(y: Any, a: Any, x: Any) -> Any:
    """``y + a * x`` for frameworks without a fused multiply-add."""
    return y + a * x


def make_random(from_numpy: Callable[[np.ndarray], Any]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``rand`` and ``normal`` for a backend: drawn on the host, so every backend gets the same numbers."""

    def rand(*shape: Any) -> Any:
        return from_numpy(host_uniform(shape_args(shape)))

    def normal(shape: Any, mean: float = 0.0, std: float = 1.0) -> Any:
        return from_numpy(host_normal(as_shape(shape), mean, std))

    return rand, normal
