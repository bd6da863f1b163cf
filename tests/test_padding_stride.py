"""Padding and stride (pad, conv_output_shape, corr2d/Conv2D with padding and stride) on every
backend, against plain numpy and against each framework's own convolution."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import d2lconv as d2l

from . import reference as ref

#: A third of the corr2d property tests' count: these run on five backends too.
SECTION_EXAMPLES = settings(
    max_examples=max(1, int(os.environ.get("D2LCONV_HYPOTHESIS_EXAMPLES", 300)) // 3),
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: The book's four shape examples on an 8x8 input: (kernel, padding, stride) -> output shape.
BOOK_SHAPES = [(3, 1, 1, (8, 8)), ((5, 3), (2, 1), 1, (8, 8)), (3, 1, 2, (4, 4)),
               ((3, 5), (0, 1), (3, 4), (2, 2))]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@pytest.mark.parametrize("kernel, padding, stride, want", BOOK_SHAPES)
def test_book_shapes_match_the_frameworks_own_convolution(backend, kernel, padding, stride, want):
    layer = d2l.Conv2D(kernel, padding=padding, stride=stride, bias=False, seed=1)
    X = d2l.rand(8, 8)
    Y = layer(X)
    assert d2l.shape(Y) == want == d2l.conv_output_shape((8, 8), kernel, padding, stride)
    native = backend.native_conv2d(d2l.reshape(X, (1, 1, 8, 8)), d2l.reshape(layer.weight, (1, 1, *_pair(kernel))),
                                   _pair(padding), _pair(stride))
    np.testing.assert_allclose(d2l.numpy(Y), d2l.numpy(native)[0, 0], rtol=1e-5, atol=1e-6)
    want_values = ref.corr2d(d2l.numpy(X), d2l.numpy(layer.weight), _pair(padding), _pair(stride))
    np.testing.assert_allclose(d2l.numpy(Y), want_values, rtol=1e-5, atol=1e-6)


def test_conv_output_shape_formula():
    assert d2l.conv_output_shape((8, 8), (3, 5), (0, 1), (3, 4)) == (2, 2)  # floor(5/3)+1, floor(5/4)+1
    assert d2l.conv_output_shape((224, 224), 7, 3, 2) == (112, 112)
    assert d2l.conv_output_shape((5, 7), 5) == (1, 3)


@pytest.mark.parametrize("args, match", [
    (((8,), 3), r"input_shape must be a pair of positive ints"),
    (((8, 8), 0), r"kernel_size must be a positive int"),
    (((8, 8), 3, -1), r"padding must be a non-negative int or a pair of them .* got -1"),
    (((8, 8), 3, 0, 0), r"stride must be a positive int or a pair of them .* got 0"),
    (((2, 8), 5, 1), r"the kernel of shape \(5, 5\) is larger than the input \(2, 8\) "
                       r"\(padded by \(1, 1\): \(4, 10\)\)"),
])
def test_conv_output_shape_errors(args, match):
    with pytest.raises(ValueError, match=match):
        d2l.conv_output_shape(*args)


shapes = st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(1, 4), st.integers(1, 4),
                   st.integers(0, 2), st.integers(0, 2), st.integers(1, 3), st.integers(1, 3)).filter(
    lambda s: s[2] <= s[0] + 2 * s[4] and s[3] <= s[1] + 2 * s[5])


@SECTION_EXAMPLES
@given(geometry=shapes, seed=st.integers(0, 2**32 - 1))
def test_corr2d_with_padding_and_stride_matches_numpy(backend, geometry, seed):
    n_h, n_w, k_h, k_w, p_h, p_w, s_h, s_w = geometry
    rng = np.random.default_rng(seed)
    image = rng.uniform(-3, 3, (n_h, n_w)).astype(np.float32)
    kernel = rng.uniform(-3, 3, (k_h, k_w)).astype(np.float32)
    got = d2l.numpy(d2l.corr2d(backend.from_numpy(image), backend.from_numpy(kernel), (p_h, p_w), (s_h, s_w)))
    want = ref.corr2d(image, kernel, (p_h, p_w), (s_h, s_w))
    assert got.shape == d2l.conv_output_shape((n_h, n_w), (k_h, k_w), (p_h, p_w), (s_h, s_w))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    flipped = d2l.numpy(d2l.convolve2d(backend.from_numpy(image), backend.from_numpy(kernel), (p_h, p_w), (s_h, s_w)))
    np.testing.assert_allclose(flipped, ref.corr2d(image, kernel[::-1, ::-1], (p_h, p_w), (s_h, s_w)),
                               rtol=1e-4, atol=1e-4)


def test_padded_strided_gradients_match_the_frameworks_own(backend):
    rng = np.random.default_rng(3)
    image, kernel = rng.normal(size=(7, 9)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    out_shape = d2l.conv_output_shape(image.shape, kernel.shape, (1, 2), (2, 3))
    weights = backend.from_numpy(rng.normal(size=out_shape).astype(np.float32))
    X, K = backend.from_numpy(image), backend.from_numpy(kernel)

    def ours(x, k):
        return d2l.reduce_sum(d2l.corr2d(x, k, (1, 2), (2, 3)) * weights)

    def native(x, k):
        y = backend.native_conv2d(d2l.reshape(x, (1, 1, 7, 9)), d2l.reshape(k, (1, 1, 3, 4)), (1, 2), (2, 3))
        return d2l.reduce_sum(d2l.reshape(y, out_shape) * weights)

    v1, (gx1, gk1) = d2l.value_and_grad(ours, argnums=(0, 1))(X, K)
    v2, (gx2, gk2) = d2l.value_and_grad(native, argnums=(0, 1))(X, K)
    np.testing.assert_allclose(d2l.numpy(v1), d2l.numpy(v2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d2l.numpy(gx1), d2l.numpy(gx2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d2l.numpy(gk1), d2l.numpy(gk2), rtol=1e-5, atol=1e-5)


# --- pad ------------------------------------------------------------------------------------

NUMPY_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@pytest.mark.parametrize("mode", list(NUMPY_MODES))
@pytest.mark.parametrize("shape, padding", [((4, 5), 1), ((2, 4, 5), (2, 3)), ((2, 3, 4, 5), (3, 0))])
def test_pad_matches_numpy(backend, mode, shape, padding):
    image = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    ph, pw = _pair(padding)
    got = d2l.numpy(d2l.pad(backend.from_numpy(image), padding, mode))
    want = np.pad(image, [(0, 0)] * (len(shape) - 2) + [(ph, ph), (pw, pw)], mode=NUMPY_MODES[mode])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode", list(NUMPY_MODES))
def test_pad_is_differentiable(backend, mode):
    """d sum(pad(X) * W) / dX adds up W over every padded cell that copies X[i, j]."""
    image = np.arange(12, dtype=np.float64).reshape(3, 4)
    weights = np.random.default_rng(0).normal(size=(3 + 4, 4 + 2))
    _, grad = d2l.value_and_grad(lambda x: d2l.reduce_sum(d2l.pad(x, (2, 1), mode) * backend.from_numpy(weights)))(
        backend.from_numpy(image))
    extra = {"constant_values": -1} if mode == "zeros" else {}
    source = np.pad(np.arange(12).reshape(3, 4), ((2, 2), (1, 1)), mode=NUMPY_MODES[mode], **extra)
    want = np.zeros(12)
    np.add.at(want, source[source >= 0], weights[source >= 0])
    np.testing.assert_allclose(d2l.numpy(grad), want.reshape(3, 4), rtol=1e-6)


@pytest.mark.parametrize("args, error, match", [
    (((3, 4), -1), ValueError, r"pad: padding must be a non-negative int or a pair of them .* got -1"),
    (((3, 4), 1, "mirror"), ValueError, r"pad: mode must be one of \('zeros', 'reflect', "
                                      r"'replicate', 'circular'\), got 'mirror'"),
    (((3, 4), 3, "reflect"), ValueError, r"'reflect' padding of \(3, 3\) needs each side's "
                                           r"padding smaller than the input's size \(3, 4\)"),
    (((3, 4), (1, 5), "circular"), ValueError, r"'circular' padding of \(1, 5\) needs each side's padding at most"),
    (((4,), 1), ValueError, r"pad: the input X must be 2-D \(height, width\) or 3-D .* got a 1-D tensor"),
])
def test_pad_errors(backend, args, error, match):
    shape, *rest = args
    with pytest.raises(error, match=match):
        d2l.pad(d2l.ones(shape), *rest)


# --- bad padding / stride everywhere they are taken ------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"padding": -1}, r"corr2d: padding must be a non-negative int or a pair of them \(height, width\), got -1"),
    ({"padding": (1, -2)}, r"corr2d: padding must be a non-negative int .* got \(1, -2\)"),
    ({"stride": 0}, r"corr2d: stride must be a positive int or a pair of them \(height, width\), got 0"),
    ({"stride": (1, 1.5)}, r"corr2d: stride must be a positive int .* got \(1, 1.5\)"),
])
def test_corr2d_bad_padding_or_stride(backend, kwargs, match):
    with pytest.raises(ValueError, match=match):
        d2l.corr2d(d2l.ones((4, 4)), d2l.ones((2, 2)), **kwargs)


def test_kernel_larger_than_padded_image(backend):
    with pytest.raises(ValueError, match=r"corr2d: the kernel K of shape \(5, 5\) is larger than the image X of "
                                         r"shape \(2, 6\) \(padded by \(1, 0\): \(4, 6\)\)"):
        d2l.corr2d(d2l.ones((2, 6)), d2l.ones((5, 5)), padding=(1, 0))
    assert d2l.shape(d2l.corr2d(d2l.ones((2, 6)), d2l.ones((4, 5)), padding=(1, 0))) == (1, 2)


@pytest.mark.parametrize("kwargs, match", [
    ({"padding": -1}, r"Conv2D: padding must be a non-negative int"),
    ({"stride": 0}, r"Conv2D: stride must be a positive int"),
    ({"padding_mode": "mirror"}, r"Conv2D: padding_mode must be one of"),
])
def test_conv2d_bad_arguments(backend, kwargs, match):
    with pytest.raises(ValueError, match=match):
        d2l.Conv2D(3, **kwargs)


def test_conv2d_padding_mode_pads_before_correlating(backend):
    layer = d2l.Conv2D(3, padding=1, padding_mode="reflect", bias=False)
    X = d2l.rand(5, 6)
    want = d2l.corr2d(d2l.pad(X, 1, "reflect"), layer.weight)
    np.testing.assert_allclose(d2l.numpy(layer(X)), d2l.numpy(want), rtol=1e-6)
    assert "padding_mode='reflect'" in repr(layer) and "padding=(1, 1)" in repr(layer)
