"""Wrappers written once, over a framework namespace ``xp``, that the backend modules bind.

No framework is imported here. A backend passes its namespace (``numpy``, ``torch``, ...) and
the few facts that differ (how to turn a numpy dtype into its own); what comes back has the
contract's signature and numpy's meaning (see ``_api.py``).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

#: Math functions every framework names like numpy does; a backend aliases them (then wraps the
#: FLOAT_MATH ones with :func:`bind_float_math` if its integer results are not numpy's).
UNARY_MATH = ("abs", "exp", "log", "sin", "cos", "tanh", "sinh", "cosh", "sqrt")
#: Those of them (and sigmoid) whose result is floating: numpy's is float64 for an integer tensor.
FLOAT_MATH = ("exp", "log", "sin", "cos", "tanh", "sinh", "cosh", "sqrt", "sigmoid")
DTYPE_NAMES = ("float32", "float64", "int32", "int64")

_RNG_LOCK = threading.Lock()
_RAGGED_WARNING = getattr(getattr(np, "exceptions", np), "VisibleDeprecationWarning", Warning)
_RNG = np.random.default_rng(0)


def bind_aliases(target: dict[str, Any], xp: Any, names: Iterable[str] = (),
                 renames: Mapping[str, str] | None = None) -> None:
    """Bind ``xp.<name>`` into a backend module's globals: an alias, not a wrapper (no overhead).

    ``renames`` maps a contract name to the framework's own (``{"concat": "concatenate"}``);
    dotted framework names (``"math.log"``) are followed.
    """
    renames = dict(renames or {})
    for name, source in [*((n, n) for n in names if n not in renames), *renames.items()]:
        value = xp
        for part in source.split("."):
            value = getattr(value, part)
        target[name] = value


def bind_float_math(target: dict[str, Any], is_floating: Callable[[Any], bool],
                    to_float64: Callable[[Any], Any]) -> None:
    """Wrap the backend's :data:`FLOAT_MATH` functions (already in ``target``) so an integer tensor
    gives numpy's float64 result: frameworks raise on it (TensorFlow, JAX's sigmoid), answer in
    float32 (torch, JAX) or in the integer dtype itself (MXNet's ``exp`` of 1 is 2). A floating
    tensor pays one dtype check."""
    def wrap(name: str, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def op(x, /):
            return fn(x) if is_floating(x) else fn(to_float64(x))
        op.__name__ = op.__qualname__ = name
        op.__doc__ = f"numpy.{name}: an integer tensor is computed in float64, as numpy does."
        return op

    for name in FLOAT_MATH:
        target[name] = wrap(name, target[name])


# ---------------------------------------------------------------------------------------------
# random numbers: drawn on the host from one seeded generator, so every backend gets the same


def seed(value: int) -> None:
    """Reseed the generator behind ``rand``, ``randn``, ``normal`` and ``get_seed``."""
    global _RNG
    with _RNG_LOCK:
        _RNG = np.random.default_rng(value)


def host_random(draw: Callable[[np.random.Generator], Any]) -> Any:
    """``draw(generator)`` with d2lconv's seeded numpy generator, under its lock: for host values
    that need one of numpy's distributions (initialisers), the same on every backend."""
    with _RNG_LOCK:
        return draw(_RNG)


def generator_state() -> dict[str, Any]:
    """The state of d2lconv's generator (numpy's ``bit_generator.state``, JSON-ready): what a
    checkpoint stores so that a resumed run draws the numbers the uninterrupted one would."""
    with _RNG_LOCK:
        return _RNG.bit_generator.state


def set_generator_state(state: dict[str, Any]) -> None:
    """Put d2lconv's generator back in ``state`` (from :func:`generator_state`)."""
    global _RNG
    with _RNG_LOCK:
        rng = np.random.default_rng()
        rng.bit_generator.state = state  # numpy checks the bit generator's name and the fields
        _RNG = rng


def get_seed() -> int:
    """A fresh int in [0, 10**6) from d2lconv's generator (d2l's JAX tab calls it for keys)."""
    with _RNG_LOCK:
        return int(_RNG.integers(0, 10**6))


def get_key() -> np.random.Generator:
    """A fresh numpy ``Generator`` seeded from :func:`get_seed` (frameworks without RNG keys)."""
    return np.random.default_rng(get_seed())


def as_shape(shape: Any) -> tuple[int, ...]:
    """Accept ``3`` or ``(2, 3)`` the way numpy does."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        return (int(shape),)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"a shape must be an int or a sequence of ints, got {shape!r}") from None
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in dims):
        raise ValueError(f"a shape must hold non-negative ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def shape_args(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """``rand(2, 3)`` and ``rand((2, 3))`` mean the same, as in torch."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        return as_shape(shape[0])
    return as_shape(shape)


def _is_shape(value: Any) -> bool:
    return isinstance(value, (tuple, list)) or (
        isinstance(value, (int, np.integer)) and not isinstance(value, bool))


def _number(value: Any, what: str) -> float:
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"normal: {what} must be a number, got {value!r}")


def normal_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[int, ...], float, float]:
    """``(shape, mean, std)`` from any call the book makes.

    The PyTorch and MXNet tabs call ``normal(mean, std, shape)`` (also ``loc``/``scale``/``size``);
    the TensorFlow tab ``normal(shape, mean, std)`` (also ``stddev``). The first argument decides:
    a tuple or list is a shape; a number followed by a shape is a mean. Anything that fits neither
    order raises with both spelled out.
    """
    names = {"mean": "mean", "loc": "mean", "std": "std", "stddev": "std", "scale": "std",
             "shape": "shape", "size": "shape"}
    given: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(f"normal() got an unexpected keyword {key!r}; valid: {sorted(names)}")
        given[names[key]] = value
    if len(args) > 3:
        raise TypeError(f"normal() takes at most 3 positional arguments, got {len(args)}")
    orders = {"shape-first": ("shape", "mean", "std"), "mean-first": ("mean", "std", "shape")}
    if len(args) <= 1 or isinstance(args[0], (tuple, list)):  # normal((2, 3), ...), normal(5)
        order = orders["shape-first"]
    elif len(args) == 3 or "shape" in given:  # normal(0, 1, (2, 3)), normal(0, 1, size=(2, 3))
        order = orders["mean-first"]
    else:
        raise TypeError(f"normal{args}: ambiguous; call normal(mean, std, shape) as the PyTorch/MXNet "
                        f"tabs do, or normal(shape, mean, std) as the TensorFlow tab does, with the "
                        f"shape a tuple, e.g. normal(0, 1, (3, 2)) or normal((3, 2), 0, 1)")
    for key, value in zip(order, args):
        if key in given:
            raise TypeError(f"normal() got two values for {key!r}")
        given[key] = value
    if "shape" not in given:
        raise TypeError("normal() needs a shape, e.g. normal((2, 3)) or normal(0, 1, (2, 3))")
    if not _is_shape(given["shape"]):
        raise TypeError(f"normal: the shape must be an int or a tuple of ints, got {given['shape']!r}")
    return (as_shape(given["shape"]), _number(given.get("mean", 0.0), "mean"),
            _number(given.get("std", 1.0), "std"))


def make_random(from_numpy: Callable[[np.ndarray], Any]) -> dict[str, Callable[..., Any]]:
    """``rand``, ``randn``, ``normal`` for a backend: host-drawn, the same numbers on every backend."""

    def rand(*shape: Any, minval: float = 0.0, maxval: float = 1.0) -> Any:
        with _RNG_LOCK:
            values = _RNG.random(shape_args(shape), dtype=np.float32)
        if (minval, maxval) != (0.0, 1.0):
            values = (minval + (maxval - minval) * values).astype(np.float32)
        return from_numpy(values)

    def randn(*shape: Any) -> Any:
        with _RNG_LOCK:
            return from_numpy(_RNG.standard_normal(shape_args(shape), dtype=np.float32))

    def normal(*args: Any, **kwargs: Any) -> Any:
        shape, mean, std = normal_args(args, kwargs)
        with _RNG_LOCK:
            return from_numpy(_RNG.normal(mean, std, shape).astype(np.float32))

    return {"rand": rand, "randn": randn, "normal": normal}


# ---------------------------------------------------------------------------------------------
# making tensors


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


def make_creation(xp: Any, to_dtype: Callable[[Any], Any], float32: Any, *, arange: str = "arange",
                  linspace_dtype: bool = True, makes_float32: bool = False) -> dict[str, Callable[..., Any]]:
    """``zeros``, ``ones``, ``*_like``, ``arange``, ``linspace``, ``eye`` over ``xp``.

    ``to_dtype`` turns a numpy or d2l dtype into the framework's; ``arange`` names the
    framework's range function; ``linspace_dtype=False`` for a linspace without a dtype argument
    (cast afterwards); ``makes_float32`` says ``xp.zeros(shape)`` is already float32, so the
    default call passes no dtype (a keyword costs 0.2 us on torch, 7 us on MXNet).
    """
    xp_range = getattr(xp, arange)

    if makes_float32:
        def zeros(shape, dtype=None):
            return xp.zeros(shape) if dtype is None else xp.zeros(shape, dtype=to_dtype(dtype))

        def ones(shape, dtype=None):
            return xp.ones(shape) if dtype is None else xp.ones(shape, dtype=to_dtype(dtype))
    else:
        def zeros(shape, dtype=None):
            return xp.zeros(shape, dtype=float32 if dtype is None else to_dtype(dtype))

        def ones(shape, dtype=None):
            return xp.ones(shape, dtype=float32 if dtype is None else to_dtype(dtype))

    def zeros_like(x, /, dtype=None):
        return xp.zeros_like(x, dtype=None if dtype is None else to_dtype(dtype))

    def ones_like(x, /, dtype=None):
        return xp.ones_like(x, dtype=None if dtype is None else to_dtype(dtype))

    def arange_(start, stop=None, step=1, dtype=None):
        if stop is None:
            start, stop = 0, start
        if (stop - start) * step < 0:  # numpy: an empty range; torch and TensorFlow raise
            stop = start
        return xp_range(start, stop, step, dtype=to_dtype(dtype or arange_dtype(start, stop, step)))

    def linspace(start, stop, num=50, dtype=None):
        dtype = float32 if dtype is None else to_dtype(dtype)
        if linspace_dtype:
            return xp.linspace(start, stop, num, dtype=dtype)
        # computed in dtype: a float32 linspace cast to float64 is off in the 8th digit
        return xp.linspace(xp.constant(float(start), dtype), xp.constant(float(stop), dtype), num)

    def eye(n, m=None, dtype=None):
        return xp.eye(n, n if m is None else m, dtype=float32 if dtype is None else to_dtype(dtype))

    return {"zeros": zeros, "ones": ones, "zeros_like": zeros_like, "ones_like": ones_like,
            "arange": arange_, "linspace": linspace, "eye": eye}


def argmax_error(dims: tuple[int, ...], axis: Any) -> ValueError | None:
    """numpy's ``ValueError`` if an argmax of a tensor of shape ``dims`` over ``axis`` (None: all of it)
    looks at nothing, else None. Backends whose framework raises its own error there at once (torch's
    ``IndexError``, TensorFlow's ``InvalidArgumentError``) ask once it has failed, so a non-empty argmax
    pays nothing."""
    if (0 in dims) if axis is None else (bool(dims) and dims[int(axis) % len(dims)] == 0):
        return ValueError(f"argmax: attempt to get argmax of an empty sequence (a tensor of shape {dims}, "
                          f"axis {axis}), as in numpy")
    return None


def max_error(dims: tuple[int, ...], axis: Any) -> ValueError | None:
    """numpy's ``ValueError`` if a max of a tensor of shape ``dims`` over ``axis`` (None: all of it) has
    an empty axis to reduce, else None. numpy decides, on an empty array (no memory): its rule is any
    reduced axis of length 0, even when the result is empty too. Backends ask only for an empty tensor,
    so a non-empty max pays nothing."""
    try:
        np.maximum.reduce(np.empty(dims, np.bool_), axis=axis)
    except ValueError as exc:
        return ValueError(f"reduce_max: {exc} (a max over an empty axis of a tensor of shape {dims}, "
                          f"axis {axis}), as in numpy")
    return None


def one_hot_classes(labels_dtype: str, num_classes: Any) -> int:
    """``num_classes`` as an int, once ``one_hot``'s arguments are checked: labels of an integer dtype
    (``labels_dtype`` as numpy names it) and a class count that is an int >= 0. Every backend checks
    here, so a wrong call fails the same way everywhere."""
    if not labels_dtype.startswith(("int", "uint")):
        raise TypeError(f"one_hot: labels must be an integer tensor of class indices, got a {labels_dtype} "
                        f"tensor; convert it with d2l.astype(labels, d2l.int64)")
    if not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool):
        raise TypeError(f"one_hot: num_classes must be an int, got {type(num_classes).__name__} {num_classes!r}")
    if num_classes < 0:
        raise ValueError(f"one_hot: num_classes must be >= 0, got {num_classes}")
    return int(num_classes)


def make_to(astype: Callable[[Any, Any], Any], is_dtype: Callable[[Any], bool]) -> Callable[[Any, Any], Any]:
    """d2l's ``to(x, target)``: a dtype converts; the CPU (the only device d2lconv uses) is x itself."""

    def to(x, target, /):
        if is_dtype(target):
            return astype(x, target)
        if target is None or str(target).split(":")[0].lower() == "cpu":
            return x
        raise ValueError(f"to: d2lconv tensors live on the CPU; valid targets are a dtype "
                         f"(d2l.float32, ...) or 'cpu', got {target!r}")

    return to


def make_batch_matmul(matmul: Callable[[Any, Any], Any], shape: Callable[[Any], tuple[int, ...]]):
    """``batch_matmul``: ``matmul`` restricted to two 3-D tensors with the same batch size."""

    def batch_matmul(a, b, /):
        sa, sb = shape(a), shape(b)
        if len(sa) != 3 or len(sb) != 3 or sa[0] != sb[0]:
            raise ValueError(f"batch_matmul needs two 3-D tensors (n, i, j) and (n, j, k) with the "
                             f"same n, got shapes {sa} and {sb}")
        return matmul(a, b)

    return batch_matmul


# ---------------------------------------------------------------------------------------------
# ops for frameworks whose arrays already behave like numpy's (numpy, mxnet.np, jax.numpy)


def astype(x, dtype, /):
    """``x.astype(dtype)``: the array method numpy-like frameworks share."""
    return x.astype(dtype)


def size(x, /) -> int:
    return int(x.size)


def shape(x, /) -> tuple[int, ...]:
    return tuple(x.shape)


def is_floating(x, /) -> bool:
    return np.issubdtype(x.dtype, np.floating)


def dtype_name(x, /) -> str:
    return np.dtype(x.dtype).name


def weak_number(number: int | float, like: Any) -> Any:
    """A Python number beside tensor ``like``, as numpy 2 promotes it: an int, or a float beside a
    floating tensor, becomes a 0-d array of ``like``'s dtype (numpy < 2 promoted a 0-d ``like`` and the
    number to float64 / int64); a float beside an integer tensor stays a float."""
    if isinstance(number, float) and like.dtype.kind != "f":
        return number
    return np.asarray(number, like.dtype)


def is_numpy_dtype(target: Any) -> bool:
    """Whether ``target`` names a numpy dtype (``np.float32``, ``np.dtype('int64')``)."""
    return isinstance(target, (type, np.dtype)) and target is not None


class CompileWarning(UserWarning):
    """A function given to ``compile`` runs eagerly (on MXNet, whose compiler cannot hold everything a
    Python function does), and why; its results are the eager ones."""


def compile(fn: Callable[..., Any], /) -> Callable[..., Any]:
    """For frameworks with nothing to compile (or where compiling does not pay): ``fn`` itself."""
    return fn


def is_traced(x: Any, /) -> bool:
    """For frameworks whose ``compile`` is ``fn`` itself: no compiler ever traces a value."""
    return False


def make_joins(xp: Any) -> dict[str, Callable[..., Any]]:
    """``stack`` and ``concat`` over a numpy-like ``xp`` (any sequence of tensors, even a generator)."""

    def stack(xs, /, axis=0):
        return xp.stack(list(xs), axis=axis)

    def concat(xs, /, axis=0):
        return xp.concatenate(list(xs), axis=axis)

    return {"stack": stack, "concat": concat}


def make_im2col(stack: Callable[..., Any], reshape: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """``im2col`` by stacking the ``k_h * k_w`` strided windows of ``x`` (basic slices)."""

    def im2col(x, kernel_size, /, stride=(1, 1)):
        (kh, kw), (sh, sw) = kernel_size, stride
        *lead, c, h, w = (int(d) for d in x.shape)
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        windows = [x[..., a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw]
                   for a in range(kh) for b in range(kw)]
        return reshape(stack(windows, axis=-3), (*lead, c * kh * kw, oh * ow))
    return im2col


# ---------------------------------------------------------------------------------------------
# shape helpers for frameworks whose own ops differ from numpy's


def normalize_axes(axes: Any, ndim: int) -> tuple[int, ...]:
    """``transpose``'s numpy meaning: no axes reverses them all."""
    if axes is None:
        return tuple(range(ndim - 1, -1, -1))
    return tuple(int(a) % ndim if ndim else int(a) for a in axes)


def flip_axes(axis: Any, ndim: int) -> list[int]:
    """``flip``'s axis argument (None, an int or a tuple) as a list of non-negative axes (MXNet's
    flip accepts negative axes but fails when it computes)."""
    if axis is None:
        return list(range(ndim))
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    return [int(a) % ndim for a in axes]


def swapped_axes(ndim: int, axis1: int, axis2: int) -> list[int]:
    """The permutation that swaps two axes (for frameworks without ``swapaxes``)."""
    perm = list(range(ndim))
    a, b = axis1 % ndim, axis2 % ndim
    perm[a], perm[b] = perm[b], perm[a]
    return perm


def block_until_ready(x: Any) -> Any:
    """For frameworks that compute synchronously on the CPU: nothing to wait for."""
    return x


def pad_widths(ndim: int, padding: Sequence[int]) -> list[tuple[int, int]]:
    """numpy.pad's widths for ``padding=(p_h, p_w)`` on both sides of the last two of ``ndim`` axes."""
    ph, pw = padding
    return [(0, 0)] * (ndim - 2) + [(ph, ph), (pw, pw)]


def make_pad_constant(xp: Any, ndim: Callable[[Any], int]) -> Callable[..., Any]:
    """``pad_constant`` by a numpy-compatible ``xp.pad`` (numpy under autograd, jax.numpy); the
    mode goes positionally, as autograd's gradient rule for ``pad`` needs."""

    def pad_constant(x, padding, /, value=0.0):
        return xp.pad(x, pad_widths(ndim(x), padding), "constant", constant_values=value)
    return pad_constant


def multiply_add(y: Any, a: Any, x: Any, /) -> Any:
    """``y + a * x`` for frameworks without a fused multiply-add."""
    return y + a * x


# ---------------------------------------------------------------------------------------------
# gradients: one contract, every backend


def require_scalar(value: Any, shape: Callable[[Any], tuple[int, ...]], reshape: Callable[[Any, Any], Any],
                   is_tensor: Callable[[Any], bool]) -> Any:
    """``value`` as a 0-d tensor, or the same ``ValueError`` on every backend if it is not one number."""
    if not is_tensor(value):
        kind = type(value).__name__
        raise ValueError(f"value_and_grad: the function must return a scalar tensor computed from its "
                         f"inputs (e.g. d2l.reduce_sum(...)), got a {kind}: {value!r}"[:300])
    dims = shape(value)
    if int(np.prod(dims)) != 1:
        raise ValueError(f"value_and_grad: the function must return a scalar (one number), got a "
                         f"tensor of shape {dims}; reduce it first, e.g. d2l.reduce_sum(...)")
    return value if dims == () else reshape(value, ())


def _tree() -> Any:
    """optree (pytrees: nested lists, tuples, dicts, namedtuples), imported on first use."""
    import optree
    return optree


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """``tree`` with ``fn`` applied to every leaf, or to the matching leaves of ``tree`` and ``rest``
    (trees of one structure); ``None`` is an empty subtree, as in JAX."""
    return _tree().tree_map(fn, tree, *rest)


def _path_text(path: tuple[Any, ...]) -> str:
    return "".join(f"[{key!r}]" for key in path)


def _kind(x: Any) -> str:
    kind = type(x)
    module = kind.__module__.split(".")[0]
    return f"a Python {kind.__name__}" if module == "builtins" else f"a {module} {kind.__name__}"


def make_value_and_grad(differentiate: Callable[[Callable[..., Any], list[Any], tuple[int, ...]], Any],
                        shape: Callable[[Any], tuple[int, ...]], reshape: Callable[[Any, Any], Any],
                        is_tensor: Callable[[Any], bool], is_floating: Callable[[Any], bool],
                        name: str) -> Callable[..., Any]:
    """The contract's ``value_and_grad`` around a backend's ``differentiate(f, leaves, nums)``.

    The arguments named by ``argnums`` may be tensors or pytrees of them (nested lists, tuples,
    dicts); they are flattened here, once, so ``differentiate`` always sees a flat list of
    tensors and a function ``f(*leaves) -> (0-d value, aux)``. It returns ``(value, aux,
    [gradient per leaf])`` with ``aux`` detached from the trace. Argument checks, the scalar
    rule, ``has_aux`` and the gradients' tree structure live here, the same for every backend.
    """

    def value_and_grad(fn: Callable[..., Any], argnums: int | Sequence[int] = 0,
                       has_aux: bool = False) -> Callable[..., Any]:
        many = not isinstance(argnums, (int, np.integer))
        nums = tuple(int(i) for i in argnums) if many else (int(argnums),)
        if not nums:
            raise ValueError("value_and_grad: argnums must name at least one argument")

        def run(*args: Any) -> tuple[Any, Any]:
            for i in nums:
                if not -len(args) <= i < len(args):
                    raise ValueError(f"value_and_grad: argnums {argnums!r} names argument {i}, but the "
                                     f"function was called with {len(args)} positional arguments")
            positions = tuple(i % len(args) for i in nums)
            if len(set(positions)) != len(positions):
                raise ValueError(f"value_and_grad: argnums {argnums!r} names one argument twice")
            tree = _tree()
            leaves: list[Any] = []
            specs = []
            for pos in positions:
                paths, found, spec = tree.tree_flatten_with_path(args[pos])
                for path, leaf in zip(paths, found):
                    if not is_tensor(leaf) or not is_floating(leaf):
                        what = "an integer tensor" if is_tensor(leaf) else _kind(leaf)
                        raise TypeError(f"value_and_grad: argument {pos}{_path_text(path)} is {what}; only "
                                        f"floating {name} tensors can be differentiated (make one with "
                                        f"d2l.tensor(...), or pass it outside argnums)")
                leaves.extend(found)
                specs.append((pos, spec, len(found)))

            def rebuild(flat: Sequence[Any]) -> list[Any]:
                full, start = list(args), 0
                for pos, spec, count in specs:
                    full[pos] = tree.tree_unflatten(spec, list(flat[start:start + count]))
                    start += count
                return full

            def flat_fn(*flat: Any) -> tuple[Any, Any]:
                out = fn(*rebuild(flat))
                if has_aux:
                    if not (isinstance(out, tuple) and len(out) == 2):
                        raise ValueError(f"value_and_grad(..., has_aux=True): the function must return a pair "
                                         f"(scalar, aux), got {_kind(out)}")
                    out, aux = out
                else:
                    aux = None
                return require_scalar(out, shape, reshape, is_tensor), aux

            if leaves:
                value, aux, grads = differentiate(flat_fn, leaves, tuple(range(len(leaves))))
            else:  # nothing to differentiate (an empty dict, say): the value and empty gradients
                value, aux = flat_fn()
                grads = []
            grad_trees = [rebuild(grads)[pos] for pos in positions]
            grad = tuple(grad_trees) if many else grad_trees[0]
            return ((value, aux), grad) if has_aux else (value, grad)

        run.__name__ = f"value_and_grad({getattr(fn, '__name__', 'fn')})"
        return run

    return value_and_grad
