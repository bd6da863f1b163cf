"""Let plain numpy functions differentiate under HIPS autograd (the numpy backend's autodiff).

autograd traces a function by passing ``ArrayBox`` objects through ``autograd.numpy``; plain
``numpy`` refuses them (``__array_ufunc__ = None``). Here autograd's box for numpy arrays gains
numpy's two dispatch protocols (NEP 13 and NEP 18), each handing the call to the
``autograd.numpy`` function of the same name. The numpy backend's ops can then be plain numpy
functions: no wrapper outside a gradient, and an op captured before a trace still works in it.
A numpy function autograd has no rule for raises ``TypeError`` naming it.
"""

from __future__ import annotations

import threading
from typing import Any

_INSTALLED = False
_LOCK = threading.Lock()

#: ``ufunc.reduce`` calls shared code makes, and the autograd.numpy reduction that equals each.
_REDUCTIONS = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min"}


def _twin(func: Any) -> Any:
    """The ``autograd.numpy`` function standing for numpy function ``func``, or None."""
    import autograd.numpy as anp

    target: Any = anp
    module = getattr(func, "__module__", "") or ""
    for part in module.split(".")[1:]:
        if part.startswith("_") or part in ("core", "lib"):
            continue  # numpy.core.fromnumeric.sum is numpy.sum
        target = getattr(target, part, None)
        if target is None:
            return None
    twin = getattr(target, func.__name__, None)
    return None if twin is func else twin


def _not_differentiable(name: str) -> TypeError:
    return TypeError(f"numpy.{name} was called on a value being differentiated, and autograd (the numpy "
                     f"backend's autodiff) has no gradient rule for it; use a d2l op instead")


def install() -> None:
    """Register the dispatching box for numpy arrays and scalars (once per process)."""
    global _INSTALLED
    if _INSTALLED:
        return
    with _LOCK:
        if _INSTALLED:
            return
        import autograd.numpy as anp
        from autograd.extend import Box
        from autograd.numpy.numpy_boxes import ArrayBox

        class DispatchingArrayBox(ArrayBox):
            """An ``ArrayBox`` that plain numpy functions accept."""

            __slots__ = []

            def __array_function__(self, func, types, args, kwargs):
                twin = _twin(func)
                if twin is None:
                    raise _not_differentiable(func.__name__)
                return twin(*args, **kwargs)

            def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
                if kwargs.get("out") is not None:
                    raise TypeError(f"numpy.{ufunc.__name__}(..., out=...) cannot write into an array "
                                    f"while it is differentiated; drop out=")
                if method == "__call__":
                    twin = getattr(anp, ufunc.__name__, None)
                elif method == "reduce" and ufunc.__name__ in _REDUCTIONS:
                    twin = getattr(anp, _REDUCTIONS[ufunc.__name__])
                    kwargs.setdefault("axis", 0)  # ufunc.reduce's default, unlike numpy.sum's
                else:
                    twin = None
                if twin is None:
                    raise _not_differentiable(f"{ufunc.__name__}.{method}")
                return twin(*inputs, **kwargs)

        _register_fast_slice_gradient(ArrayBox)
        for value_type, box_type in list(Box.type_mappings.items()):
            if box_type is ArrayBox and value_type is not ArrayBox:
                DispatchingArrayBox.register(value_type)
        _INSTALLED = True


def _is_basic_index(idx: Any) -> bool:
    import numpy as np

    parts = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(p, (slice, int, np.integer)) or p is Ellipsis or p is None for p in parts)


def _register_fast_slice_gradient(ArrayBox: Any) -> None:
    """Give autograd's ``x[a:b, c:d]`` a fast gradient.

    autograd scatters the gradient of any indexing with ``np.add.at``, which is exact for fancy
    indices but ~50x slower than ``A[idx] += g`` on the basic slices shift-and-add uses (basic
    indices never repeat an element, so both give the same sums). Registered through autograd's
    own ``primitive``/``defvjp`` API; fancy indexing keeps autograd's rule.
    """
    from autograd.extend import SparseObject, defvjp, primitive, vspace
    from autograd.numpy.numpy_vjps import untake
    from autograd.util import func

    @primitive
    def untake_basic(x, idx, vs):
        def add_into(A):
            A[idx] += x
            return A
        return SparseObject(vs, add_into)

    defvjp(untake_basic, lambda ans, x, idx, _: lambda g: g[idx])
    defvjp(func(ArrayBox.__getitem__), lambda ans, A, idx: (
        (lambda g: untake_basic(g, idx, vspace(A))) if _is_basic_index(idx)
        else (lambda g: untake(g, idx, vspace(A)))))
