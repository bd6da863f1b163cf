"""Every contract op, property-based against numpy (issue 19): ranks 0 to 4, the four dtypes and the
axis arguments numpy accepts and the contract promises.

``test_backend_contract.py``'s value cases are fixed 2-D and batched operands; they missed TensorFlow's
``matmul`` refusing a 1-D operand. Here every op draws its operands' ranks (0-d and 1-D included), dtypes
and axes, and its result must equal numpy's on the same host arrays: shape, dtype and values (float
within a rounding bound, everything else exactly).
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import d2lconv as d2l

# a third of the other fuzz tests' count: about forty ops on five backends, and JAX compiles per shape
SWEEP = settings(max_examples=max(25, int(os.environ.get("D2LCONV_HYPOTHESIS_EXAMPLES", 300)) // 3),
                 deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

DTYPES = ("float32", "float64", "int32", "int64")
FLOATS = ("float32", "float64")
dtypes = st.sampled_from(DTYPES)
RTOL = {"float32": 1e-5, "float64": 1e-10}


def shapes(min_rank: int = 0, max_rank: int = 4, min_side: int = 1, max_side: int = 4,
           empty: bool = False) -> st.SearchStrategy:
    """A shape whose rank is drawn first, uniformly: 0-d and 1-D are as likely as 4-D. With ``empty``, about
    one shape in 8 (of rank >= 1) has one side 0, as numpy accepts (a failing case shrinks towards it)."""
    base = st.integers(min_rank, max_rank).flatmap(lambda rank: st.tuples(*[st.integers(min_side, max_side)] * rank))
    if not empty:
        return base
    return st.tuples(base, st.integers(0, 7), st.integers(0, 3)).map(
        lambda t: t[0] if t[1] or not t[0] else (*t[0][:t[2] % len(t[0])], 0, *t[0][t[2] % len(t[0]) + 1:]))


def sides(lo: int, hi: int) -> st.SearchStrategy:
    """One side in [lo, hi], or 0 about one time in 8."""
    return st.integers(0, 7).flatmap(lambda z: st.integers(lo, hi) if z else st.just(0))


def broadcastable(num_shapes: int, max_dims: int = 4, max_side: int = 3) -> st.SearchStrategy:
    """Mutually broadcastable shapes (rank 0 up); about one draw in 8 may hold 0 sides."""
    return st.integers(0, 7).flatmap(lambda z: hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=0, max_dims=max_dims, min_side=1 if z else 0, max_side=max_side))


def elements(dtype: str, lo: float = -10, hi: float = 10) -> st.SearchStrategy:
    """Values in [lo, hi]; floats are often whole numbers (ties for argmax and maximum), never subnormal."""
    if np.dtype(dtype).kind == "f":
        width = np.dtype(dtype).itemsize * 8
        return st.one_of(st.integers(math.ceil(lo), math.floor(hi)).map(float),
                         st.floats(lo, hi, width=width, allow_subnormal=False))
    return st.integers(math.ceil(lo), math.floor(hi))


def arrays(dtype: str, shape: tuple[int, ...], lo: float = -10, hi: float = 10) -> st.SearchStrategy:
    return hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype, lo, hi))


def axis_of(ndim: int) -> st.SearchStrategy:
    """One valid axis of an ``ndim``-d array, negative ones included."""
    return st.integers(-ndim, ndim - 1)


def axes_of(ndim: int, min_size: int = 0) -> st.SearchStrategy:
    """A tuple of distinct valid axes (each one positive or negative), possibly empty."""
    if ndim == 0:
        return st.just(())
    return st.lists(st.integers(0, ndim - 1), unique=True, min_size=min_size, max_size=ndim).flatmap(
        lambda axes: st.tuples(*[st.sampled_from([a, a - ndim]) for a in axes]))


def check(out, want, scale=None) -> None:
    """``out`` is a tensor equal to ``want``: shape, dtype, and values (floats within rounding of ``scale``,
    the magnitude the result was computed from - ``|want|`` unless a sum or product can cancel)."""
    assert d2l.is_tensor(out), f"returned a {type(out).__name__}, not a tensor"
    got, want = d2l.numpy(out), np.asarray(want)
    assert isinstance(got, np.ndarray), type(got)
    assert got.shape == want.shape, f"shape {got.shape}, numpy's is {want.shape}"
    assert got.dtype == want.dtype, f"dtype {got.dtype}, numpy's is {want.dtype}"
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    rtol = RTOL[want.dtype.name]
    scale = np.abs(want) if scale is None else np.broadcast_to(np.asarray(scale, np.float64), want.shape)
    bound = rtol * scale + rtol * 1e-1
    with np.errstate(invalid="ignore"):  # inf - inf
        close = (got == want) | (np.abs(got.astype(np.float64) - want) <= bound) | (np.isnan(got) & np.isnan(want))
    wrong = ~close
    assert not wrong.any(), f"values differ at {np.argwhere(wrong)[:3].tolist()}: {got[wrong][:3]} vs {want[wrong][:3]}"


@contextlib.contextmanager
def quiet():
    """numpy's empty reductions warn (the mean of nothing is nan): the references run silently."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def agree(call, reference, scale=None, error=Exception) -> None:
    """numpy's outcome: ``call()`` gives what ``reference()`` does (see :func:`check`), or, where numpy
    raises, raises too (an ``error``; the result is fetched, so an asynchronous framework's error counts)."""
    try:
        with quiet():
            want = reference()
            scale = scale() if callable(scale) else scale
    except (ValueError, IndexError, TypeError):
        with pytest.raises(error):
            d2l.numpy(call())
        return
    check(call(), want, scale)


def dtype(name: str):
    """The active backend's dtype object for a numpy name."""
    return getattr(d2l, name)


# ---------------------------------------------------------------------------------------------
# the strategies reach the ranks they are meant to (a sweep that never draws the failing case is useless)


def test_the_strategies_reach_0d_1d_and_4d():
    for rank in (0, 1, 4):
        assert len(find(shapes(), lambda s, r=rank: len(s) == r)) == rank
    assert len(find(shapes(empty=True), lambda s: 0 in s and len(s) == 4)) == 4
    for a_rank, b_rank in [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (1, 3), (4, 3)]:
        found = find(matmul_operands(), lambda ab, r=(a_rank, b_rank): (len(ab[0]), len(ab[1])) == r)
        assert (len(found[0]), len(found[1])) == (a_rank, b_rank)


# ---------------------------------------------------------------------------------------------
# making tensors


@SWEEP
@given(data=st.data())
def test_tensor(backend, data):
    kind = data.draw(dtypes)
    arr = data.draw(arrays(kind, data.draw(shapes(empty=True))))
    given_dtype = data.draw(st.sampled_from([None, *DTYPES]))
    source = data.draw(st.sampled_from(["list", "array"]))
    payload = arr.tolist() if source == "list" else arr  # an empty one: [[], []] is (2, 0) and floating
    if given_dtype is None:
        listed = np.array(payload)
        want = arr if source == "array" else listed.astype(np.float32 if listed.dtype.kind == "f" else np.int64)
        check(d2l.tensor(payload), want)
    else:
        check(d2l.tensor(payload, dtype=dtype(given_dtype)), np.array(payload, dtype=given_dtype))


@SWEEP
@given(shape=shapes(max_side=3, empty=True), dtype_name=st.sampled_from([None, *DTYPES]), as_int=st.booleans(),
       which=st.sampled_from(["zeros", "ones"]))
def test_zeros_ones(backend, shape, dtype_name, as_int, which):
    arg = shape[0] if as_int and len(shape) == 1 else shape
    out = getattr(d2l, which)(arg) if dtype_name is None else getattr(d2l, which)(arg, dtype=dtype(dtype_name))
    check(out, getattr(np, which)(shape, dtype=dtype_name or np.float32))


@SWEEP
@given(data=st.data(), which=st.sampled_from(["zeros_like", "ones_like"]))
def test_zeros_ones_like(backend, data, which):
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(empty=True))))
    dtype_name = data.draw(st.sampled_from([None, *DTYPES]))
    x = backend.from_numpy(arr)
    out = getattr(d2l, which)(x) if dtype_name is None else getattr(d2l, which)(x, dtype=dtype(dtype_name))
    check(out, getattr(np, which)(arr, dtype=dtype_name))


@SWEEP
@given(start=st.integers(-6, 6), stop=st.integers(-6, 6), step=st.sampled_from([1, 2, 3, -1, -2]),
       form=st.sampled_from(["stop", "start-stop", "all"]), dtype_name=st.sampled_from([None, *DTYPES]))
def test_arange_ints(backend, start, stop, step, form, dtype_name):
    args = {"stop": (stop,), "start-stop": (start, stop), "all": (start, stop, step)}[form]
    kwargs = {} if dtype_name is None else {"dtype": dtype(dtype_name)}
    check(d2l.arange(*args, **kwargs), np.arange(*args, dtype=dtype_name or np.int64))


@SWEEP
@given(start=st.integers(-8, 8), stop=st.integers(-8, 8), step=st.sampled_from([0.25, 0.5, 1.0, -0.5, -1.0]),
       dtype_name=st.sampled_from([None, *FLOATS]))
def test_arange_floats(backend, start, stop, step, dtype_name):
    args = (start / 4, stop / 2, step)  # exactly representable: the length cannot depend on rounding
    kwargs = {} if dtype_name is None else {"dtype": dtype(dtype_name)}
    check(d2l.arange(*args, **kwargs), np.arange(*args, dtype=dtype_name or np.float32))


@SWEEP
@given(start=st.integers(-5, 5), stop=st.integers(-5, 5), num=st.integers(0, 9),
       dtype_name=st.sampled_from([None, *FLOATS]), floats=st.booleans())
def test_linspace(backend, start, stop, num, dtype_name, floats):
    start, stop = (start / 2, stop / 4) if floats else (start, stop)
    out = d2l.linspace(start, stop, num) if dtype_name is None else d2l.linspace(start, stop, num, dtype(dtype_name))
    check(out, np.linspace(start, stop, num, dtype=dtype_name or np.float32), scale=max(abs(start), abs(stop)))


@SWEEP
@given(n=st.integers(0, 5), m=st.one_of(st.none(), st.integers(0, 5)), dtype_name=st.sampled_from([None, *DTYPES]))
def test_eye(backend, n, m, dtype_name):
    out = d2l.eye(n, m) if dtype_name is None else d2l.eye(n, m, dtype=dtype(dtype_name))
    check(out, np.eye(n, m, dtype=dtype_name or np.float32))


@SWEEP
@given(data=st.data(), indexing=st.sampled_from([None, "xy", "ij"]))
def test_meshgrid(backend, data, indexing):
    """The contract: 1-D tensors of one dtype (torch and TensorFlow refuse mixed ones)."""
    kind, count = data.draw(dtypes), data.draw(st.integers(1, 3))
    arrs = [data.draw(arrays(kind, data.draw(shapes(1, 1)))) for _ in range(count)]
    kwargs = {} if indexing is None else {"indexing": indexing}
    outs = d2l.meshgrid(*[backend.from_numpy(a) for a in arrs], **kwargs)
    wants = np.meshgrid(*arrs, **kwargs)
    assert len(outs) == len(wants)
    for out, want in zip(outs, wants):
        check(out, want)


# ---------------------------------------------------------------------------------------------
# shapes and axes


def _factor(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@st.composite
def same_size_shape(draw, size: int):
    """Any shape of ``size`` elements, rank 0 to 4; sometimes one dimension -1; a 1-D one sometimes an int.
    Size 0: 0 in some dimension, any sides elsewhere (a -1 beside a 0 is ambiguous: numpy raises)."""
    rank = draw(st.integers(0 if size == 1 else 1, 4))
    dims = [1] * rank
    if size == 0:
        dims = [draw(st.integers(0, 3)) for _ in range(rank)]
        dims[draw(st.integers(0, rank - 1))] = 0
    for f in _factor(size):
        dims[draw(st.integers(0, rank - 1))] *= f
    if rank and draw(st.booleans()):
        dims[draw(st.integers(0, rank - 1))] = -1
    if rank == 1 and draw(st.booleans()):
        return dims[0]
    return tuple(dims)


@SWEEP
@given(data=st.data())
def test_reshape(backend, data):
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(empty=True))))
    target = data.draw(same_size_shape(arr.size))
    agree(lambda: d2l.reshape(backend.from_numpy(arr), target), lambda: np.reshape(arr, target))


@SWEEP
@given(data=st.data())
def test_transpose(backend, data):
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(empty=True))))
    perm = data.draw(st.one_of(st.none(), st.permutations(range(arr.ndim)).flatmap(
        lambda p: st.tuples(*[st.sampled_from([a, a - arr.ndim]) for a in p]))))
    x = backend.from_numpy(arr)
    out = d2l.transpose(x) if perm is None and data.draw(st.booleans()) else d2l.transpose(x, axes=perm)
    check(out, np.transpose(arr, perm))


@SWEEP
@given(data=st.data())
def test_swapaxes(backend, data):
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(min_rank=1, empty=True))))
    a, b = data.draw(axis_of(arr.ndim)), data.draw(axis_of(arr.ndim))
    check(d2l.swapaxes(backend.from_numpy(arr), a, b), np.swapaxes(arr, a, b))


@SWEEP
@given(data=st.data())
def test_expand_dims(backend, data):
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(empty=True))))
    axis = data.draw(st.integers(-arr.ndim - 1, arr.ndim))
    check(d2l.expand_dims(backend.from_numpy(arr), axis), np.expand_dims(arr, axis))


@SWEEP
@given(data=st.data())
def test_stack(backend, data):
    kind, shape = data.draw(dtypes), data.draw(shapes(max_rank=3, empty=True))
    arrs = [data.draw(arrays(kind, shape)) for _ in range(data.draw(st.integers(1, 3)))]
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape) - 1, len(shape))))
    xs = data.draw(st.sampled_from([list, tuple]))(backend.from_numpy(a) for a in arrs)
    check(d2l.stack(xs) if axis is None else d2l.stack(xs, axis=axis), np.stack(arrs, axis=axis or 0))


@SWEEP
@given(data=st.data())
def test_concat(backend, data):
    kind, shape = data.draw(dtypes), list(data.draw(shapes(min_rank=1, empty=True)))
    axis = data.draw(st.one_of(st.none(), axis_of(len(shape))))
    arrs = []
    for _ in range(data.draw(st.integers(1, 3))):
        shape[axis or 0] = data.draw(sides(1, 3))
        arrs.append(data.draw(arrays(kind, tuple(shape))))
    xs = data.draw(st.sampled_from([list, tuple]))(backend.from_numpy(a) for a in arrs)
    check(d2l.concat(xs) if axis is None else d2l.concat(xs, axis=axis), np.concatenate(arrs, axis=axis or 0))


@SWEEP
@given(data=st.data())
def test_flip(backend, data):
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(empty=True))))
    axis = data.draw(st.one_of(st.none(), axes_of(arr.ndim)) if arr.ndim == 0 else
                     st.one_of(st.none(), axis_of(arr.ndim), axes_of(arr.ndim)))
    x = backend.from_numpy(arr)
    out = d2l.flip(x) if axis is None and data.draw(st.booleans()) else d2l.flip(x, axis=axis)
    check(out, np.flip(arr, axis))


@SWEEP
@given(data=st.data())
def test_repeat(backend, data):
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(max_rank=3, empty=True))))
    repeats = data.draw(st.integers(0, 3))
    axis = data.draw(st.none() if arr.ndim == 0 else st.one_of(st.none(), axis_of(arr.ndim)))
    x = backend.from_numpy(arr)
    out = d2l.repeat(x, repeats) if axis is None and data.draw(st.booleans()) else d2l.repeat(x, repeats, axis=axis)
    check(out, np.repeat(arr, repeats, axis=axis))


# ---------------------------------------------------------------------------------------------
# reductions


def reduction_axis(ndim: int) -> st.SearchStrategy:
    return st.one_of(st.none(), axes_of(ndim)) if ndim == 0 else st.one_of(st.none(), axis_of(ndim), axes_of(ndim))


@SWEEP
@given(data=st.data(), which=st.sampled_from(["reduce_sum", "reduce_mean"]))
def test_reductions(backend, data, which):
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(empty=True))))
    axis, keepdims = data.draw(reduction_axis(arr.ndim)), data.draw(st.sampled_from([None, False, True]))
    x = backend.from_numpy(arr)
    kwargs = {} if keepdims is None else {"keepdims": keepdims}
    with quiet():  # the numpy backend warns of a mean of nothing, as numpy does
        out = getattr(d2l, which)(x, axis=axis, **kwargs) if axis is not None or data.draw(st.booleans()) else \
            getattr(d2l, which)(x, **kwargs)
    reference = np.sum if which == "reduce_sum" else np.mean  # the contract: the mean of nothing is nan
    with quiet():
        scale = reference(np.abs(arr.astype(np.float64)), axis=axis, keepdims=bool(keepdims))
        want = reference(arr, axis=axis, keepdims=bool(keepdims))
    check(out, want, scale=scale)


@SWEEP
@given(data=st.data())
def test_argmax(backend, data):
    """An empty axis (or an empty tensor, without one) has no argmax: a ValueError, as in numpy."""
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(empty=True)), lo=-3, hi=3))  # many ties
    axis = data.draw(st.none() if arr.ndim == 0 else st.one_of(st.none(), axis_of(arr.ndim)))
    x = backend.from_numpy(arr)
    bare = axis is None and data.draw(st.booleans())
    agree(lambda: d2l.argmax(x) if bare else d2l.argmax(x, axis=axis),
          lambda: np.asarray(np.argmax(arr, axis=axis)).astype(np.int64), error=ValueError)


@SWEEP
@given(data=st.data())
def test_reduce_max(backend, data):
    """numpy.max in x's dtype; a reduced axis of length 0 is a ValueError, as in numpy (even when the
    result is empty too)."""
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(empty=True)), lo=-3, hi=3))  # many ties
    axis, keepdims = data.draw(reduction_axis(arr.ndim)), data.draw(st.sampled_from([None, False, True]))
    x = backend.from_numpy(arr)
    kwargs = {} if keepdims is None else {"keepdims": keepdims}
    bare = axis is None and data.draw(st.booleans())
    agree(lambda: d2l.reduce_max(x, **kwargs) if bare else d2l.reduce_max(x, axis=axis, **kwargs),
          lambda: np.asarray(np.max(arr, axis=axis, keepdims=bool(keepdims))), error=ValueError)


@SWEEP
@given(data=st.data())
def test_log_softmax(backend, data):
    """Ranks 1 to 4, any axis, logits up to +-100 (exp(100) overflows float32 unless shifted); an integer
    tensor gives float64. The rounding bound is the size of what it is computed from, |x - max| + log(sum)."""
    kind = data.draw(dtypes)
    arr = data.draw(arrays(kind, data.draw(shapes(min_rank=1, empty=True)), lo=-100, hi=100))
    axis = data.draw(st.one_of(st.none(), axis_of(arr.ndim)))
    x = backend.from_numpy(arr)
    out = d2l.log_softmax(x) if axis is None else d2l.log_softmax(x, axis=axis)
    axis = -1 if axis is None else axis
    with quiet():
        wide = arr.astype(np.float64)
        shifted = wide - (np.max(wide, axis=axis, keepdims=True) if wide.size else 0)
        total = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    want = (shifted - total).astype(arr.dtype if kind in FLOATS else np.float64)
    check(out, want, scale=np.abs(shifted) + np.abs(total) if want.size else None)


@SWEEP
@given(data=st.data())
def test_relu(backend, data):
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(empty=True)), lo=-3, hi=3))  # zeros often
    check(d2l.relu(backend.from_numpy(arr)), np.maximum(arr, arr.dtype.type(0)))


# ---------------------------------------------------------------------------------------------
# comparisons, selection, labels


@SWEEP
@given(data=st.data(), number=st.sampled_from([None, "first", "second"]))
def test_equal(backend, data, number):
    """Two tensors of one dtype, broadcasting, or a tensor and a Python number in its dtype (numpy 2's rule:
    numpy < 2 compared a 0-d float32 with 0.5 in float64)."""
    kind = data.draw(dtypes)
    sa, sb = data.draw(broadcastable(2)).input_shapes
    a, b = data.draw(arrays(kind, sa, -2, 2)), data.draw(arrays(kind, sb, -2, 2))  # many equal pairs
    if number is None:
        check(d2l.equal(backend.from_numpy(a), backend.from_numpy(b)), np.equal(a, b))
        return
    value = data.draw(st.integers(-2, 2) if kind.startswith("int") else st.sampled_from([-1, 0.5, 1.0, -0.5]))
    x = backend.from_numpy(a)
    out = d2l.equal(value, x) if number == "first" else d2l.equal(x, value)
    check(out, np.equal(a, np.asarray(value, kind)))


@SWEEP
@given(data=st.data(), number=st.sampled_from([None, "a", "b"]))
def test_where(backend, data, number):
    """A boolean condition, a and b of one dtype (or one a Python number in the other's dtype), all three
    broadcasting."""
    kind = data.draw(dtypes)
    sc, sa, sb = data.draw(broadcastable(3)).input_shapes
    cond = data.draw(hnp.arrays(np.bool_, sc))
    a, b = data.draw(arrays(kind, sa)), data.draw(arrays(kind, sb))
    c = backend.from_numpy(cond)
    if number is None:
        check(d2l.where(c, backend.from_numpy(a), backend.from_numpy(b)), np.where(cond, a, b))
        return
    value = data.draw(st.integers(-3, 3) if kind.startswith("int") else st.sampled_from([-1, 0.5, 2.0]))
    if number == "a":
        check(d2l.where(c, value, backend.from_numpy(b)), np.where(cond, np.asarray(value, kind), b))
    else:
        check(d2l.where(c, backend.from_numpy(a), value), np.where(cond, a, np.asarray(value, kind)))


@SWEEP
@given(data=st.data(), kind=st.sampled_from(["int32", "int64"]), num_classes=st.integers(0, 5))
def test_one_hot(backend, data, kind, num_classes):
    """Labels of any shape (results of rank 1 to 5); a label outside [0, num_classes), negative ones too,
    is a row of zeros."""
    labels = data.draw(hnp.arrays(np.dtype(kind), data.draw(shapes(empty=True)), elements=st.integers(-2, 6)))
    want = (labels[..., None] == np.arange(num_classes)).astype(np.float32)
    check(d2l.one_hot(backend.from_numpy(labels), num_classes), want)


# ---------------------------------------------------------------------------------------------
# products


@st.composite
def matmul_operands(draw):
    """Shapes (a, b) numpy.matmul accepts: 1-D or at least 2-D on either side, batch dims broadcasting."""
    i, k, m = draw(sides(1, 4)), draw(sides(1, 4)), draw(sides(1, 4))  # empty inner or outer ones too
    batch_a, batch_b = draw(broadcastable(2, max_dims=2)).input_shapes
    a = (k,) if draw(st.booleans()) else (*batch_a, i, k)
    b = (k,) if draw(st.booleans()) else (*batch_b, k, m)
    return a, b


@SWEEP
@given(data=st.data(), operands=matmul_operands())
def test_matmul(backend, data, operands):
    kind = data.draw(dtypes)
    a, b = (data.draw(arrays(kind, s)) for s in operands)
    scale = np.matmul(np.abs(a.astype(np.float64)), np.abs(b.astype(np.float64)))
    check(d2l.matmul(backend.from_numpy(a), backend.from_numpy(b)), np.matmul(a, b), scale=scale)  # empty: zeros


def test_matmul_of_a_matrix_and_a_vector(backend):
    """Issue 19: ``d2l.matmul(W, v)`` with a (2, 3) ``W`` and a 1-D ``v`` raised on TensorFlow."""
    W = np.arange(6, dtype=np.float32).reshape(2, 3)
    v = np.array([1.0, -2.0, 0.5], np.float32)
    check(d2l.matmul(backend.from_numpy(W), backend.from_numpy(v)), W @ v)  # (2,)
    check(d2l.matmul(backend.from_numpy(v), backend.from_numpy(v)), v @ v)  # 0-d
    check(d2l.matmul(backend.from_numpy(v[:2]), backend.from_numpy(W)), v[:2] @ W)  # (3,)


@SWEEP
@given(data=st.data(), n=st.integers(1, 3), i=st.integers(1, 4), j=st.integers(1, 4), k=st.integers(1, 4))
def test_batch_matmul(backend, data, n, i, j, k):
    kind = data.draw(dtypes)
    a, b = data.draw(arrays(kind, (n, i, j))), data.draw(arrays(kind, (n, j, k)))
    scale = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    check(d2l.batch_matmul(backend.from_numpy(a), backend.from_numpy(b)), a @ b, scale=scale)


@SWEEP
@given(data=st.data())
def test_multiply_add(backend, data):
    kind = data.draw(dtypes)
    ys, as_, xs = data.draw(broadcastable(3)).input_shapes
    y, a, x = (data.draw(arrays(kind, s)) for s in (ys, as_, xs))
    scale = np.abs(y.astype(np.float64)) + np.abs(a.astype(np.float64)) * np.abs(x.astype(np.float64))
    check(d2l.multiply_add(*map(backend.from_numpy, (y, a, x))), y + a * x, scale=scale)


# ---------------------------------------------------------------------------------------------
# elementwise math

#: (name, numpy reference, the domain it is drawn from)
UNARY = [
    ("abs", np.abs, (-10, 10)), ("exp", np.exp, (-10, 10)), ("log", np.log, (0.125, 50)),
    ("sin", np.sin, (-10, 10)), ("cos", np.cos, (-10, 10)), ("tanh", np.tanh, (-10, 10)),
    ("sinh", np.sinh, (-10, 10)), ("cosh", np.cosh, (-10, 10)), ("sqrt", np.sqrt, (0, 50)),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), (-10, 10)),
]


@pytest.mark.parametrize("name, reference, domain", UNARY, ids=[u[0] for u in UNARY])
@SWEEP
@given(data=st.data())
def test_unary_math(backend, name, reference, domain, data):
    """numpy's result dtype too: an integer tensor gives float64 (abs keeps it)."""
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(empty=True)), *domain))
    want = reference(arr.astype(np.float64) if arr.dtype.kind == "f" else arr)
    want = want.astype(arr.dtype) if arr.dtype.kind == "f" else np.asarray(np.abs(arr) if name == "abs" else want)
    check(getattr(d2l, name)(backend.from_numpy(arr)), want)


@SWEEP
@given(data=st.data())
def test_maximum_of_tensors(backend, data):
    kind = data.draw(dtypes)
    sa, sb = data.draw(broadcastable(2)).input_shapes
    a, b = data.draw(arrays(kind, sa, -3, 3)), data.draw(arrays(kind, sb, -3, 3))
    check(d2l.maximum(backend.from_numpy(a), backend.from_numpy(b)), np.maximum(a, b))


@SWEEP
@given(data=st.data(), first=st.booleans())
def test_maximum_with_a_python_number(backend, data, first):
    """A Python number takes the tensor's dtype (numpy 2's rule): an int with any tensor, a float with a
    floating one."""
    kind = data.draw(dtypes)
    arr = data.draw(arrays(kind, data.draw(shapes(empty=True)), -3, 3))
    number = data.draw(st.integers(-3, 3) if kind.startswith("int") else st.one_of(st.integers(-3, 3),
                                                                                    st.sampled_from([-0.5, 1.5])))
    x = backend.from_numpy(arr)
    out = d2l.maximum(number, x) if first else d2l.maximum(x, number)
    check(out, np.maximum(arr, np.asarray(number, kind)))


# ---------------------------------------------------------------------------------------------
# dtypes, sizes, padding


@SWEEP
@given(data=st.data(), spelling=st.sampled_from(["d2l", "numpy type", "numpy dtype"]),
       which=st.sampled_from(["astype", "to"]))
def test_astype_and_to(backend, data, spelling, which):
    src, dst = data.draw(dtypes), data.draw(dtypes)
    arr = data.draw(arrays(src, data.draw(shapes(empty=True)), -1000, 1000))
    target = {"d2l": dtype(dst), "numpy type": getattr(np, dst), "numpy dtype": np.dtype(dst)}[spelling]
    check(getattr(d2l, which)(backend.from_numpy(arr), target), arr.astype(dst))


@SWEEP
@given(data=st.data(), target=st.sampled_from(["cpu", "CPU", "cpu:0", None]))
def test_to_the_cpu_is_x_itself(backend, data, target):
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes())))
    x = backend.from_numpy(arr)
    assert d2l.to(x, target) is x
    check(x, arr)


@SWEEP
@given(data=st.data())
def test_size_and_shape(backend, data):
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(min_side=0))))
    x = backend.from_numpy(arr)
    size, shape = d2l.size(x), d2l.shape(x)
    assert size == arr.size and type(size) is int
    assert shape == arr.shape and type(shape) is tuple and all(type(d) is int for d in shape)


@SWEEP
@given(data=st.data(), ph=st.integers(0, 2), pw=st.integers(0, 2),
       value=st.sampled_from([None, 0.0, -1.5, 2, float("-inf")]))
def test_pad_constant(backend, data, ph, pw, value):
    """The contract: a floating x of rank >= 2."""
    arr = data.draw(arrays(data.draw(st.sampled_from(FLOATS)), data.draw(shapes(min_rank=2, empty=True))))
    x = backend.from_numpy(arr)
    out = d2l.pad_constant(x, (ph, pw)) if value is None else d2l.pad_constant(x, (ph, pw), value=value)
    widths = [(0, 0)] * (arr.ndim - 2) + [(ph, ph), (pw, pw)]
    check(out, np.pad(arr, widths, constant_values=0.0 if value is None else value))


# ---------------------------------------------------------------------------------------------
# the primitives: host round trips, dtype queries, im2col, the seeded random numbers

#: numpy dtypes every backend's tensors hold besides the contract's four
EXTRA_DTYPES = ("bool", "uint8")


@st.composite
def host_arrays(draw, kinds=(*DTYPES, *EXTRA_DTYPES)):
    """An array of any rank and dtype, as numpy code hands it over: contiguous, transposed, strided, or
    with a negative stride (a flipped axis); sometimes empty."""
    kind = draw(st.sampled_from(kinds))
    shape = draw(shapes(empty=True))
    layout = draw(st.sampled_from(["contiguous", "transposed", "strided", "flipped"]))
    if layout == "strided" and shape:
        shape = (*shape[:-1], shape[-1] * 2)
    values = st.booleans() if kind == "bool" else st.integers(0, 255) if kind == "uint8" else elements(kind)
    arr = draw(hnp.arrays(np.dtype(kind), shape, elements=values))
    if layout == "transposed":
        arr = arr.T
    elif layout == "strided" and arr.ndim:
        arr = arr[..., ::2]
    elif layout == "flipped" and arr.ndim:
        arr = np.flip(arr, draw(axis_of(arr.ndim)))
    return arr


@SWEEP
@given(arr=host_arrays())
def test_from_numpy_and_numpy_round_trip(backend, arr):
    """``from_numpy`` keeps the values, shape and dtype of any numpy layout; ``numpy`` gives them back, and
    ``is_tensor``, ``is_floating``, ``dtype_name``, ``size`` and ``shape`` describe the tensor as numpy would."""
    x = backend.from_numpy(arr)
    assert d2l.is_tensor(x) and isinstance(x, d2l.Tensor)
    back = d2l.numpy(x)
    assert isinstance(back, np.ndarray)
    assert back.shape == arr.shape and back.dtype == arr.dtype, (back.shape, back.dtype)
    np.testing.assert_array_equal(back, arr)
    assert d2l.is_floating(x) == (arr.dtype.kind == "f") and type(d2l.is_floating(x)) is bool
    assert d2l.dtype_name(x) == arr.dtype.name
    size, shape = d2l.size(x), d2l.shape(x)
    assert size == arr.size and type(size) is int
    assert shape == arr.shape and type(shape) is tuple and all(type(d) is int for d in shape)


@SWEEP
@given(data=st.data())
def test_is_tensor_is_not_fooled(backend, data):
    """Tensors of the contract's dtypes are tensors; Python numbers, lists and None are not."""
    arr = data.draw(arrays(data.draw(dtypes), data.draw(shapes(empty=True))))
    assert d2l.is_tensor(d2l.tensor(arr)) and d2l.is_tensor(backend.from_numpy(arr))
    for value in (arr.tolist(), 1.5, 3, None, "x"):
        assert not d2l.is_tensor(value), repr(value)


def _im2col_reference(x, kernel_size, stride):
    """numpy's sliding_window_view, laid out as the contract says (as in test_backend_contract.py)."""
    (kh, kw), (sh, sw) = kernel_size, stride
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(-2, -1))[..., ::sh, ::sw, :, :]
    *lead, c, oh, ow = view.shape[:-2]
    moved = np.moveaxis(view, (-2, -1), (-4, -3))  # (..., c, kh, kw, oh, ow)
    return moved.reshape(*lead, c * kh * kw, oh * ow)


@SWEEP
@given(data=st.data(), batched=st.booleans(), c=sides(1, 3), h=st.integers(1, 6), w=st.integers(1, 6))
def test_im2col(backend, data, batched, c, h, w):
    """(c, h, w) and (n, c, h, w), any kernel that fits and any stride; no channels or no images too."""
    kernel = (data.draw(st.integers(1, h)), data.draw(st.integers(1, w)))
    stride = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    shape = (data.draw(sides(1, 3)), c, h, w) if batched else (c, h, w)
    arr = data.draw(arrays(data.draw(st.sampled_from(FLOATS)), shape))
    x = backend.from_numpy(arr)
    bare = stride == (1, 1) and data.draw(st.booleans())
    out = d2l.im2col(x, kernel) if bare else d2l.im2col(x, kernel, stride=stride)
    check(out, _im2col_reference(arr, kernel, stride))


@st.composite
def random_call(draw):
    """A call of rand, randn or normal in one of the spellings the contract allows, with the numpy draw it
    must equal: ``(name, args, kwargs, draw(generator) -> float32 array)``."""
    shape = draw(shapes(empty=True))
    which = draw(st.sampled_from(["rand", "randn", "normal"]))
    if which in ("rand", "randn"):
        spelled = draw(st.sampled_from(["args", "tuple"]))
        args = shape if spelled == "args" and shape else (shape,) if spelled == "tuple" else ()
        if which == "randn":
            return which, args, {}, lambda g: g.standard_normal(shape, dtype=np.float32)
        bounds = draw(st.sampled_from([None, (-2.0, 3.0), (1.0, 1.5)]))
        if bounds is None:
            return which, args, {}, lambda g: g.random(shape, dtype=np.float32)
        lo, hi = bounds
        return which, args, {"minval": lo, "maxval": hi}, \
            lambda g: (lo + (hi - lo) * g.random(shape, dtype=np.float32)).astype(np.float32)
    mean, std = draw(st.sampled_from([(0.0, 1.0), (1.0, 0.5), (-3, 2)]))
    args, kwargs = draw(st.sampled_from([
        ((mean, std, shape), {}), ((shape, mean, std), {}), ((shape,), {"mean": mean, "std": std}),
        ((), {"loc": mean, "scale": std, "size": shape}), ((), {"shape": shape, "mean": mean, "stddev": std}),
    ]))
    return which, args, kwargs, lambda g: g.normal(mean, std, shape).astype(np.float32)


@SWEEP
@given(call=random_call(), seed=st.integers(0, 2**32 - 1))
def test_random_numbers_are_numpys_seeded_draws(backend, call, seed):
    """After ``d2l.seed(s)``, rand/randn/normal of any shape (``()`` and empty ones too) give exactly what
    ``numpy.random.default_rng(s)`` draws the same way, as float32, on every backend."""
    which, args, kwargs, reference = call
    d2l.seed(seed)
    out = getattr(d2l, which)(*args, **kwargs)
    want = reference(np.random.default_rng(seed))
    assert want.dtype == np.float32
    got = d2l.numpy(out)
    assert d2l.is_tensor(out) and got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype)
    np.testing.assert_array_equal(got, want)
