"""Pooling (pool2d, MaxPool2D, AvgPool2D) on every backend, against plain numpy and each
framework's own pooling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import d2lconv as d2l

from . import reference as ref
from .test_padding_stride import SECTION_EXAMPLES

BOOK_X = [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]


def test_book_pool2d_example(backend):
    X = d2l.tensor(BOOK_X)
    np.testing.assert_array_equal(d2l.numpy(d2l.pool2d(X, (2, 2))), [[4, 5], [7, 8]])
    np.testing.assert_array_equal(d2l.numpy(d2l.pool2d(X, (2, 2), "avg")), [[2, 3], [5, 6]])


def test_book_layer_examples(backend):
    X = d2l.reshape(d2l.arange(16, dtype=d2l.float32), (1, 1, 4, 4))
    np.testing.assert_array_equal(d2l.numpy(d2l.MaxPool2D(3)(X)), [[[[10]]]])
    np.testing.assert_array_equal(d2l.numpy(d2l.MaxPool2D(3, padding=1, stride=2)(X)), [[[[5, 7], [13, 15]]]])
    np.testing.assert_array_equal(d2l.numpy(d2l.MaxPool2D((2, 3), stride=(2, 3), padding=(0, 1))(X)),
                                  [[[[5, 7], [13, 15]]]])
    both = d2l.concat((X, X + 1), 1)
    np.testing.assert_array_equal(d2l.numpy(d2l.MaxPool2D(3, padding=1, stride=2)(both)),
                                  [[[[5, 7], [13, 15]], [[6, 8], [14, 16]]]])


def test_average_pooling_counts_padding_as_zeros(backend):
    X = d2l.ones((1, 1, 2, 2))
    # each 3x3 window with padding 1 holds the four ones and five padded zeros
    np.testing.assert_allclose(d2l.numpy(d2l.AvgPool2D(3, padding=1, stride=1)(X)), np.full((1, 1, 2, 2), 4 / 9),
                               rtol=1e-6)


def test_integer_input_is_pooled_as_float32(backend):
    out = d2l.pool2d(d2l.tensor([[1, 2], [3, 4]]), 2, "avg")
    assert d2l.dtype_name(out) == "float32"
    np.testing.assert_array_equal(d2l.numpy(out), [[2.5]])


geometry = st.tuples(
    st.integers(0, 2), st.integers(0, 3),  # batch (0: none), channels (0: none)
    st.integers(1, 8), st.integers(1, 8), st.integers(1, 3), st.integers(1, 3),  # h, w, p_h, p_w
    st.integers(0, 1), st.integers(1, 3), st.sampled_from(["max", "avg"])).filter(  # pad, stride, mode
    lambda g: g[4] <= g[2] + 2 * g[6] and g[5] <= g[3] + 2 * g[6] and 2 * g[6] <= min(g[4], g[5])
    and (g[0] == 0 or g[1] > 0))


@SECTION_EXAMPLES
@given(g=geometry, seed=st.integers(0, 2**32 - 1))
def test_pool2d_matches_numpy(backend, g, seed):
    n, c, h, w, p_h, p_w, pad, stride, mode = g
    shape = ((n,) if n else ()) + ((c,) if c else ()) + (h, w)
    image = np.random.default_rng(seed).uniform(-5, 5, shape).astype(np.float32)
    got = d2l.numpy(d2l.pool2d(backend.from_numpy(image), (p_h, p_w), mode, pad, stride))
    want = ref.pool(image, (p_h, p_w), mode, (pad, pad), (stride, stride))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("size, padding, stride", [((2, 2), (0, 0), (2, 2)), ((3, 3), (1, 1), (2, 2)),
                                                   ((2, 3), (0, 1), (2, 3)), ((3, 2), (1, 0), (1, 1))])
def test_values_and_gradients_match_numpy_and_the_frameworks_own(backend, mode, size, padding, stride):
    rng = np.random.default_rng(11)
    image = rng.permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8).astype(np.float64) / 10  # no ties
    want = ref.pool(image, size, mode, padding, stride)
    weights = rng.normal(size=want.shape)
    X, W = backend.from_numpy(image), backend.from_numpy(weights)
    value, grad = d2l.value_and_grad(lambda x: d2l.reduce_sum(d2l.pool2d(x, size, mode, padding, stride) * W))(X)
    np.testing.assert_allclose(float(d2l.numpy(value)), float(np.sum(want * weights)), rtol=1e-6)
    np.testing.assert_allclose(d2l.numpy(grad), ref.pool_grad(image, weights, size, mode, padding, stride),
                               rtol=1e-6, atol=1e-9)
    native = d2l.numpy(backend.native_pool2d(backend.from_numpy(image.astype(np.float32)), size, mode, padding,
                                             stride))
    np.testing.assert_allclose(native, want, rtol=1e-5, atol=1e-5)


def test_layers_default_stride_is_the_window(backend):
    assert d2l.MaxPool2D(3).stride == (3, 3) and d2l.AvgPool2D((2, 3)).stride == (2, 3)
    assert d2l.MaxPool2D(3, stride=1).stride == (1, 1)
    assert repr(d2l.AvgPool2D(2)) == "AvgPool2D(pool_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert d2l.MaxPool2D(2).parameters() == []


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("args, match", [
    (((4, 4), 3, "max", 2), r"pool2d: padding \(2, 2\) is more than half the window \(3, 3\)"),
    (((4, 4), 2, "max", -1), r"pool2d: padding must be a non-negative int or a pair of them .* got -1"),
    (((4, 4), 2, "max", 0, 0), r"pool2d: stride must be a positive int or a pair of them .* got 0"),
    (((4, 4), 2, "min"), r"pool2d: mode must be one of \('max', 'avg'\), got 'min'"),
    (((4, 4), 0), r"pool2d: kernel_size must be a positive int"),
    (((2, 5), 3, "max", 1), None),  # fits once padded: (4, 7)
    (((2, 5), 5, "avg", 1), r"pool2d: the pooling window of shape \(5, 5\) is larger than the input X of height "
                            r"and width \(2, 5\) \(padded by \(1, 1\): \(4, 7\)\)"),
    (((2, 3, 4, 5, 6), 2), r"pool2d: the input X must be 2-D .* got a 5-D tensor"),
])
def test_pool2d_errors(backend, args, match):
    shape, *rest = args
    if match is None:
        assert d2l.shape(d2l.pool2d(d2l.ones(shape), *rest)) == (2, 5)
        return
    with pytest.raises(ValueError, match=match):
        d2l.pool2d(d2l.ones(shape), *rest)


def test_pool_layer_errors(backend):
    with pytest.raises(ValueError, match=r"MaxPool2D: padding \(2, 2\) is more than half the window \(2, 2\)"):
        d2l.MaxPool2D(2, padding=2)
    with pytest.raises(ValueError, match=r"AvgPool2D: stride must be a positive int"):
        d2l.AvgPool2D(2, stride=0)
    with pytest.raises(TypeError, match=r"pool2d: the input X must be a \w+ tensor .* got a Python list"):
        d2l.MaxPool2D(2)([[1.0, 2.0], [3.0, 4.0]])
