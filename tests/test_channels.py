"""Multiple input and output channels (corr2d_multi_in, corr2d_multi_in_out, the 1x1 form,
Conv2D with channels) on every backend, against plain numpy and each framework's own conv."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import d2lconv as d2l

from . import reference as ref
from .test_padding_stride import SECTION_EXAMPLES

BOOK_X = [[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
          [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]
BOOK_K = [[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]]


def test_book_two_channel_example(backend):
    X, K = d2l.tensor(BOOK_X), d2l.tensor(BOOK_K)
    np.testing.assert_array_equal(d2l.numpy(d2l.corr2d_multi_in(X, K)), [[56, 72], [104, 120]])
    K3 = d2l.stack((K, K + 1, K + 2), 0)
    assert d2l.shape(K3) == (3, 2, 2, 2)
    np.testing.assert_array_equal(d2l.numpy(d2l.corr2d_multi_in_out(X, K3)),
                                  [[[56, 72], [104, 120]], [[76, 100], [148, 172]], [[96, 128], [192, 224]]])


def test_book_1x1_equals_its_matrix_product_form(backend):
    d2l.seed(0)
    X, K = d2l.normal(0, 1, (3, 3, 3)), d2l.normal(0, 1, (2, 3, 1, 1))
    Y1, Y2 = d2l.corr2d_multi_in_out_1x1(X, K), d2l.corr2d_multi_in_out(X, K)
    assert d2l.shape(Y1) == d2l.shape(Y2) == (2, 3, 3)
    assert float(d2l.numpy(d2l.reduce_sum(d2l.abs(Y1 - Y2)))) < 1e-6
    batch = d2l.stack([X, X * 2], 0)
    np.testing.assert_allclose(d2l.numpy(d2l.corr2d_multi_in_out_1x1(batch, K))[1], 2 * d2l.numpy(Y1), rtol=1e-5)


def test_multi_in_is_the_sum_of_per_channel_corr2d(backend):
    d2l.seed(1)
    X, K = d2l.rand(3, 6, 5), d2l.rand(3, 2, 3)
    want = sum(d2l.numpy(d2l.corr2d(X[c], K[c], 1, 2)) for c in range(3))
    np.testing.assert_allclose(d2l.numpy(d2l.corr2d_multi_in(X, K, 1, 2)), want, rtol=1e-5)


geometry = st.tuples(
    st.integers(0, 3), st.integers(1, 4), st.integers(1, 4),  # batch (0: none), c_i, c_o
    st.integers(1, 8), st.integers(1, 8), st.integers(1, 3), st.integers(1, 3),  # h, w, k_h, k_w
    st.integers(0, 1), st.integers(1, 2)).filter(  # padding, stride
    lambda g: g[5] <= g[3] + 2 * g[7] and g[6] <= g[4] + 2 * g[7])


@SECTION_EXAMPLES
@given(g=geometry, seed=st.integers(0, 2**32 - 1))
def test_multi_in_out_matches_numpy(backend, g, seed):
    n, c_i, c_o, h, w, k_h, k_w, p, s = g
    rng = np.random.default_rng(seed)
    image = rng.uniform(-2, 2, ((n,) if n else ()) + (c_i, h, w)).astype(np.float32)
    kernel = rng.uniform(-2, 2, (c_o, c_i, k_h, k_w)).astype(np.float32)
    got = d2l.numpy(d2l.corr2d_multi_in_out(backend.from_numpy(image), backend.from_numpy(kernel), p, s))
    np.testing.assert_allclose(got, ref.corr(image, kernel, (p, p), (s, s)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("padding, stride", [(0, 1), (1, 2), ((2, 0), (1, 3))])
def test_values_and_gradients_match_the_frameworks_own(backend, padding, stride):
    rng = np.random.default_rng(7)
    image = rng.normal(size=(2, 3, 9, 8)).astype(np.float32)
    kernel = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)
    pp = (padding, padding) if isinstance(padding, int) else padding
    ss = (stride, stride) if isinstance(stride, int) else stride
    out_shape = (2, 4, *d2l.conv_output_shape((9, 8), (3, 2), pp, ss))
    weights = backend.from_numpy(rng.normal(size=out_shape).astype(np.float32))
    X, K = backend.from_numpy(image), backend.from_numpy(kernel)

    def ours(x, k):
        return d2l.reduce_sum(d2l.corr2d_multi_in_out(x, k, padding, stride) * weights)

    def native(x, k):
        return d2l.reduce_sum(backend.native_conv2d(x, k, pp, ss) * weights)

    v1, (gx1, gk1) = d2l.value_and_grad(ours, argnums=(0, 1))(X, K)
    v2, (gx2, gk2) = d2l.value_and_grad(native, argnums=(0, 1))(X, K)
    np.testing.assert_allclose(d2l.numpy(v1), d2l.numpy(v2), rtol=1e-4)
    np.testing.assert_allclose(d2l.numpy(gx1), d2l.numpy(gx2), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(d2l.numpy(gk1), d2l.numpy(gk2), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("images_per_chunk", [1, 2])
def test_a_batch_split_into_chunks_agrees(backend, monkeypatch, images_per_chunk):
    """Batches whose columns pass COLUMN_CHUNK_BYTES go through im2col a few images at a time
    (here 5 images in chunks of 1 or 2, the last one short): same values and gradients."""
    from d2lconv.cnn import channels

    rng = np.random.default_rng(11)
    image = rng.normal(size=(5, 2, 7, 6 + images_per_chunk)).astype(np.float32)
    kernel = rng.normal(size=(3, 2, 2, 3)).astype(np.float32)
    out_h, out_w = d2l.conv_output_shape(image.shape[-2:], (2, 3), (1, 1), (2, 1))
    column_bytes = 2 * 2 * 3 * out_h * out_w * 4
    monkeypatch.setattr(channels, "COLUMN_CHUNK_BYTES", images_per_chunk * column_bytes + 3)
    weights = rng.normal(size=(5, 3, out_h, out_w)).astype(np.float32)
    X, K = backend.from_numpy(image), backend.from_numpy(kernel)

    def loss(x, k):
        return d2l.reduce_sum(d2l.corr2d_multi_in_out(x, k, 1, (2, 1)) * backend.from_numpy(weights))

    got = d2l.numpy(d2l.corr2d_multi_in_out(X, K, 1, (2, 1)))
    np.testing.assert_allclose(got, ref.corr(image, kernel, (1, 1), (2, 1)), rtol=1e-4, atol=1e-4)
    _, (gx, gk) = d2l.value_and_grad(loss, argnums=(0, 1))(X, K)
    _, (wx, wk) = d2l.value_and_grad(
        lambda x, k: d2l.reduce_sum(backend.native_conv2d(x, k, (1, 1), (2, 1)) * backend.from_numpy(weights)),
        argnums=(0, 1))(X, K)
    np.testing.assert_allclose(d2l.numpy(gx), d2l.numpy(wx), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(d2l.numpy(gk), d2l.numpy(wk), rtol=1e-4, atol=1e-4)


def test_large_input_takes_the_compiled_path_and_agrees(backend):
    rng = np.random.default_rng(2)
    image = rng.normal(size=(3, 130, 140)).astype(np.float32)
    kernel = rng.normal(size=(5, 3, 3, 3)).astype(np.float32)
    got = d2l.numpy(d2l.corr2d_multi_in_out(backend.from_numpy(image), backend.from_numpy(kernel), 1, 2))
    np.testing.assert_allclose(got, ref.corr(image, kernel, (1, 1), (2, 2)), rtol=1e-4, atol=1e-4)


def test_conv2d_with_channels(backend):
    layer = d2l.Conv2D(3, in_channels=2, out_channels=4, padding=1, stride=2, seed=5)
    assert d2l.shape(layer.weight) == (4, 2, 3, 3) and d2l.shape(layer.bias) == (4,)
    weight = d2l.numpy(layer.weight)
    bound = 1 / np.sqrt(2 * 3 * 3)
    assert weight.min() >= -bound and weight.max() <= bound and weight.std() > bound / 4
    np.testing.assert_array_equal(weight, d2l.numpy(d2l.Conv2D(3, in_channels=2, out_channels=4, seed=5).weight))
    layer.bias = d2l.tensor([0.0, 1.0, 2.0, 3.0])
    X = d2l.rand(5, 2, 7, 6)
    Y = layer(X)
    assert d2l.shape(Y) == (5, 4, 4, 3)
    want = ref.corr(d2l.numpy(X), weight, (1, 1), (2, 2)) + np.arange(4.0)[:, None, None]
    np.testing.assert_allclose(d2l.numpy(Y), want, rtol=1e-5, atol=1e-5)
    assert d2l.shape(layer(X[0])) == (4, 4, 3)
    assert repr(layer).startswith("Conv2D(2->4, 3x3")
    strict = d2l.Conv2D(3, in_channels=2, out_channels=4, seed=5, mode="convolve", bias=False)
    want = ref.corr(d2l.numpy(X), weight[:, :, ::-1, ::-1])
    np.testing.assert_allclose(d2l.numpy(strict(X)), want, rtol=1e-5, atol=1e-5)


# --- bad input ------------------------------------------------------------------------------

def test_channel_count_mismatch(backend):
    with pytest.raises(ValueError, match=r"corr2d_multi_in_out: the input X has 3 channels \(shape \(3, 5, 5\), "
                                         r"channels at axis -3\) but the kernel K has 2 input channels"):
        d2l.corr2d_multi_in_out(d2l.ones((3, 5, 5)), d2l.ones((4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"corr2d_multi_in: the input X has 3 channels .* kernel K has 2 input"):
        d2l.corr2d_multi_in(d2l.ones((1, 3, 5, 5)), d2l.ones((2, 3, 3)))
    with pytest.raises(ValueError, match=r"the input X has 2 channels .* kernel K has 3 input"):
        d2l.corr2d_multi_in_out_1x1(d2l.ones((2, 5, 5)), d2l.ones((4, 3, 1, 1)))
    with pytest.raises(ValueError, match=r"Conv2D\(3->4, 3x3|the input X has 2 channels"):
        d2l.Conv2D(3, in_channels=3, out_channels=4)(d2l.ones((2, 5, 5)))


@pytest.mark.parametrize("fn, x, k, match", [
    ("corr2d_multi_in", (5, 5), (1, 2, 2), r"the input X must be 3-D \(channels, height, width\) or 4-D"),
    ("corr2d_multi_in", (1, 5, 5), (1, 1, 2, 2), r"the kernel K \(in_channels, k_h, k_w\) must be 3-D"),
    ("corr2d_multi_in_out", (1, 5, 5), (1, 2, 2), r"the kernel K \(out_channels, in_channels, k_h, k_w\) must be 4-D"),
    ("corr2d_multi_in_out", (1, 2, 2), (1, 1, 3, 3), r"the kernel K's window of shape \(3, 3\) is larger"),
    ("corr2d_multi_in_out_1x1", (1, 5, 5), (1, 1, 3, 3), r"the kernel K must be 1x1 in height and width"),
])
def test_bad_shapes(backend, fn, x, k, match):
    with pytest.raises(ValueError, match=match):
        getattr(d2l, fn)(d2l.ones(x), d2l.ones(k))


@pytest.mark.parametrize("kwargs", [{"in_channels": 3}, {"in_channels": 0, "out_channels": 2},
                                    {"in_channels": 2.0, "out_channels": 2}, {"out_channels": -1}])
def test_conv2d_bad_channels(backend, kwargs):
    with pytest.raises(ValueError, match=r"Conv2D: (in|out)_channels must be a positive int \(give out_channels"):
        d2l.Conv2D(3, **kwargs)


def test_conv2d_with_only_out_channels_reads_its_input_channels_off_the_first_input(backend):
    d2l.seed(0)
    layer = d2l.Conv2D(3, padding=1, out_channels=4)
    assert layer.weight is None and "?->4" in repr(layer)
    X = d2l.rand(2, 5, 6, 7)
    Y = layer(X)
    assert d2l.shape(layer.weight) == (4, 5, 3, 3) and d2l.shape(Y) == (2, 4, 6, 7)
    want = d2l.corr2d_multi_in_out(X, layer.weight, 1) + d2l.reshape(layer.bias, (-1, 1, 1))
    np.testing.assert_allclose(d2l.numpy(Y), d2l.numpy(want), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("padding, stride", [((0, 0), (1, 1)), ((2, 1), (2, 3))])
def test_the_layers_conv2d_primitive_matches_the_chapters_function_and_its_gradients(backend, padding, stride):
    """``conv2d`` (the framework's convolution, which Conv2D uses) against ``corr2d_multi_in_out``
    (what the chapter teaches): values, and gradients in the input, the kernel and the bias."""
    g = np.random.default_rng(5)
    X, K = g.normal(size=(3, 2, 9, 8)).astype(np.float32), g.normal(size=(4, 2, 3, 5)).astype(np.float32)
    b = g.normal(size=(4,)).astype(np.float32)
    weights = d2l.conv_output_shape((9, 8), (3, 5), padding, stride)
    W = backend.from_numpy(g.normal(size=(3, 4, *weights)).astype(np.float32))
    x, k, bias = (backend.from_numpy(a) for a in (X, K, b))

    def ours(x, k, bias):
        return d2l.reduce_sum(d2l.conv2d(x, k, padding, stride, bias) * W)

    def chapter(x, k, bias):
        return d2l.reduce_sum((d2l.corr2d_multi_in_out(x, k, padding, stride) + d2l.reshape(bias, (-1, 1, 1))) * W)

    value, grads = d2l.value_and_grad(ours, argnums=(0, 1, 2))(x, k, bias)
    want, want_grads = d2l.value_and_grad(chapter, argnums=(0, 1, 2))(x, k, bias)
    np.testing.assert_allclose(float(d2l.numpy(value)), float(d2l.numpy(want)), rtol=1e-4)
    for got, expected in zip(grads, want_grads):
        np.testing.assert_allclose(d2l.numpy(got), d2l.numpy(expected), rtol=1e-4, atol=1e-4)
