"""``assert_backends_agree``: run one function on every selected backend and compare with numpy."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from ..agreement import ATOL, RTOL, mismatch, worst
from ..backend import REFERENCE_BACKEND, BackendNotInstalledError, load, use_backend
from . import selection


class BackendsDisagree(AssertionError):
    """Some backend's result departs from the numpy backend's; the message says where and by how much."""


class BackendsSkipped(UserWarning):
    """Selected backends that are not installed, so were left out of a comparison."""


def _to_backend(value: Any, ops: Any) -> Any:
    """numpy arrays become the backend's tensors (same dtype); containers are converted inside."""
    if isinstance(value, np.ndarray):
        return ops.from_numpy(value)
    if isinstance(value, (list, tuple)) and any(isinstance(v, (np.ndarray, list, tuple, dict)) for v in value):
        return type(value)(_to_backend(v, ops) for v in value)
    if isinstance(value, dict):
        return {k: _to_backend(v, ops) for k, v in value.items()}
    return value


def _leaves(value: Any, ops: Any, path: str = "result") -> list[tuple[str, np.ndarray]]:
    """(path, numpy array) for every tensor, array or number in a (nested) result."""
    if isinstance(value, dict):
        return [leaf for k in sorted(value) for leaf in _leaves(value[k], ops, f"{path}[{k!r}]")]
    if isinstance(value, (list, tuple)):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, ops, f"{path}[{i}]")]
    if ops.is_tensor(value):
        return [(path, np.asarray(ops.numpy(value)))]
    return [(path, np.asarray(value))]


def _describe(args: tuple[Any, ...]) -> str:
    parts = []
    for a in args:
        parts.append(f"array{tuple(a.shape)} {a.dtype}" if isinstance(a, np.ndarray) else repr(a)[:40])
    return ", ".join(parts)


def _differences(ref: list[tuple[str, np.ndarray]], got: list[tuple[str, np.ndarray]],
                 rtol: float, atol: float) -> list[str]:
    if [p for p, _ in ref] != [p for p, _ in got]:
        return [f"returned {[p for p, _ in got]} where numpy returned {[p for p, _ in ref]}"]
    problems = []
    for (path, x), (_, y) in zip(ref, got):
        if x.shape != y.shape:
            problems.append(f"{path}: shape {y.shape} where numpy gives {x.shape}")
            continue
        bad = mismatch(x, y, rtol, atol)
        if bad.any():
            where = worst(x, y, bad)
            x64, y64 = x.astype(np.float64)[where], y.astype(np.float64)[where]
            problems.append(f"{path}: shape {x.shape}, {int(bad.sum())} of {bad.size} values differ; "
                            f"largest difference {abs(float(y64) - float(x64)):.3g} at index {where}: "
                            f"{float(y64):.7g} vs {REFERENCE_BACKEND}'s {float(x64):.7g}")
    return problems


def assert_backends_agree(fn: Callable[..., Any], *args: Any, backends: list[str] | None = None,
                          rtol: float = RTOL, atol: float = ATOL, **kwargs: Any) -> dict[str, Any]:
    """Run ``fn(*args, **kwargs)`` on every selected backend and compare each result with numpy's.

    numpy arrays among the arguments become each backend's tensors (same dtype); results may be
    tensors, numbers or (nested) tuples, lists and dicts of them. Values must agree within
    ``rtol`` and ``atol`` times the largest magnitude of numpy's result (float32 defaults).
    Raises :class:`BackendsDisagree` naming each disagreeing backend, the input and output
    shapes and the largest difference. A selected backend that is not installed fails when it
    is required (``--require-backends``) and is otherwise left out with a
    :class:`BackendsSkipped` warning. Returns ``{backend: result as numpy arrays}``.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's
    chosen = selection.current()
    names = list(dict.fromkeys([REFERENCE_BACKEND, *(backends if backends is not None else chosen.backends)]))
    name_of = getattr(fn, "__qualname__", repr(fn))
    results: dict[str, list[tuple[str, np.ndarray]]] = {}
    missing, problems = [], []
    for name in selection.parse_backends(",".join(names)):
        try:
            load(name)
        except BackendNotInstalledError as exc:
            if name in chosen.required:
                raise BackendsDisagree(f"backend {name!r} is required (--require-backends) but: {exc}") from None
            missing.append(f"{name} ({exc})")
            continue
        with use_backend(name) as ops:
            try:
                out = fn(*_to_backend(args, ops), **_to_backend(kwargs, ops))
            except Exception as exc:
                raise BackendsDisagree(f"{name_of}({_describe(args)}) raised on backend {name!r}: "
                                       f"{type(exc).__name__}: {exc}") from exc
            results[name] = _leaves(out, ops)
    for name, leaves in results.items():
        if name != REFERENCE_BACKEND:
            problems += [f"  backend {name!r}: {p}"
                         for p in _differences(results[REFERENCE_BACKEND], leaves, rtol, atol)]
    if problems:
        raise BackendsDisagree(f"{name_of}({_describe(args)}) disagrees with the numpy backend "
                               f"(rtol={rtol:g}, atol={atol:g} x max|numpy result|):\n" + "\n".join(problems))
    if missing:
        warnings.warn(f"not compared, not installed: {'; '.join(missing)}", BackendsSkipped, stacklevel=2)
    elif len(results) < 2:
        warnings.warn(f"only the {REFERENCE_BACKEND} backend ran: nothing was compared (select more with "
                      f"--backends, or install a framework)", BackendsSkipped, stacklevel=2)
    return {name: leaves[0][1] if len(leaves) == 1 and leaves[0][0] == "result" else dict(leaves)
            for name, leaves in results.items()}
