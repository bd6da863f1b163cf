"""Key numeric results a chapter records, so runs on different backends can be compared.

Inside a chapter: ``d2l.record("learned kernel", kernel)``. The runner sets
``D2LCONV_RESULTS_FILE`` for the kernel; outside a run, ``record`` only remembers the values.
``d2l.rounded(x, 4)`` gives values for people to read: ``0.8506``, not ``0.850600004196167``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import write_json_atomic
from .backend import ops
from .registry import public

RESULTS_ENV = "D2LCONV_RESULTS_FILE"
_RECORDED: dict[str, Any] = {}


def to_host(value: Any) -> np.ndarray:
    """A tensor of the active backend, a list of floats, or a number, as a float64 numpy array."""
    B = ops()
    return np.asarray(B.numpy(value) if B.is_tensor(value) else value, dtype=np.float64)


@public
def record(name: str, value: Any, rtol: float | None = None, atol: float | None = None) -> None:
    """Remember ``value`` under ``name`` for the cross-backend agreement check.

    ``rtol``/``atol`` widen the float32 tolerance for this result alone - for numbers that pass
    through many rounding steps, such as a training curve - and the chapter should say why.
    Returns nothing, so a cell that ends with ``d2l.record(...)`` shows no stray output.
    """
    host = to_host(value)
    entry: dict[str, Any] = {"shape": list(host.shape), "values": host.ravel().tolist()}
    for key, tol in (("rtol", rtol), ("atol", atol)):
        if tol is not None:
            if not isinstance(tol, (int, float)) or isinstance(tol, bool) or not 0 <= tol < 1:
                raise ValueError(f"record: {key} must be a number in [0, 1), got {tol!r}")
            entry[key] = float(tol)
    _RECORDED[name] = entry
    target = os.environ.get(RESULTS_ENV)
    if target:
        write_json_atomic(Path(target), _RECORDED)


@public
def rounded(value: Any, digits: int = 4) -> Any:
    """A tensor, array or number as (nested lists of) Python floats rounded to ``digits`` decimals.

    Rounds in float64, so float32 values print as people write them (``0.8506``), not as the
    nearest double of the float32 (``0.850600004196167``); ``-0.0`` prints as ``0.0``.
    """
    return (np.round(to_host(value), digits) + 0.0).tolist()
