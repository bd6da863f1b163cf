"""Running shared code through the backend's compiler when that pays, with one cache.

``compile`` is a contract primitive (XLA on TensorFlow, ``jax.jit`` on JAX, cached graphs on MXNet,
the function itself elsewhere). What runs here (shift-and-add: many slices, products and sums) pays
only where the compiler fuses them into one pass (``COMPILE_FUSES``); compiling costs time per new
input shape, so small inputs run eagerly.
"""

from __future__ import annotations

import functools
from typing import Any

#: Images with at least this many pixels go through the backend's ``compile`` (XLA on
#: TensorFlow: one fused pass instead of 3 per kernel element). Smaller ones run eagerly, since
#: compiling costs ~40-150 ms per new shape (measured with tools/benchmark.py).
COMPILE_MIN_PIXELS = 128 * 128
_COMPILED: dict[tuple[Any, ...], Any] = {}


def run_compiled(B: Any, fn: Any, pixels: int, args: tuple[Any, ...], **static: Any) -> Any:
    """``fn(*args, **static)``, through the backend's compiler when ``pixels`` is large.

    ``static`` holds Python values (strides, modes) baked into the compiled function, one
    compiled function per backend, function and static values.
    """
    if not B.COMPILE_FUSES or pixels < COMPILE_MIN_PIXELS or any(B.is_tensor(a) and B.is_traced(a) for a in args):
        # already inside a compiled function (a training step): compiling again nests a tf.function, whose
        # XLA cluster then takes the outer step's inputs as constants and recompiles on every call
        return fn(*args, **static)
    key = (id(B), fn, tuple(sorted(static.items())))
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED.setdefault(key, B.compile(functools.partial(fn, **static)))
    return compiled(*args)
