"""corr2d, corr2d_loop, convolve2d, corr2d_matrix and Conv2D on every backend, against scipy."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import d2lconv as d2l

BOOK_X = [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]
BOOK_K = [[0.0, 1.0], [2.0, 3.0]]
EXAMPLES = settings(max_examples=int(__import__("os").environ.get("D2LCONV_HYPOTHESIS_EXAMPLES", 300)),
                    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def edge_image() -> np.ndarray:
    image = np.ones((6, 8), np.float32)
    image[:, 2:6] = 0
    return image


def test_book_example(backend):
    out = d2l.corr2d(d2l.tensor(BOOK_X), d2l.tensor(BOOK_K))
    assert backend.is_tensor(out)
    np.testing.assert_array_equal(d2l.numpy(out), [[19.0, 25.0], [37.0, 43.0]])


def test_edge_detection(backend):
    Y = d2l.numpy(d2l.corr2d(d2l.tensor(edge_image()), d2l.tensor([[1.0, -1.0]])))
    want = np.zeros((6, 7), np.float32)
    want[:, 1], want[:, 5] = 1, -1
    np.testing.assert_array_equal(Y, want)


def test_transposed_edge_image_gives_zeros(backend):
    Y = d2l.numpy(d2l.corr2d(d2l.transpose(d2l.tensor(edge_image())), d2l.tensor([[1.0, -1.0]])))
    np.testing.assert_array_equal(Y, np.zeros((8, 5), np.float32))


def test_integer_inputs_give_float32(backend):
    out = d2l.corr2d(d2l.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]]), d2l.tensor([[0, 1], [2, 3]]))
    assert d2l.dtype_name(out) == "float32"
    np.testing.assert_array_equal(d2l.numpy(out), [[19, 25], [37, 43]])


def test_float64_inputs_stay_float64(backend):
    X = backend.from_numpy(np.array(BOOK_X, np.float64))
    out = d2l.corr2d(X, d2l.tensor(BOOK_K))
    assert d2l.dtype_name(out) == "float64"


@pytest.mark.parametrize("fn", ["corr2d", "corr2d_loop", "convolve2d"])
def test_nan_and_inf_propagate_like_numpy(backend, fn):
    image = np.arange(20, dtype=np.float32).reshape(4, 5)
    image[1, 2], image[3, 4] = np.nan, np.inf
    kernel = np.array([[1, 2], [3, 4]], np.float32)
    got = d2l.numpy(getattr(d2l, fn)(backend.from_numpy(image), backend.from_numpy(kernel)))
    want = (scipy.signal.convolve2d if fn == "convolve2d" else scipy.signal.correlate2d)(
        image.astype(np.float64), kernel, mode="valid")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5)


matrices = st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.integers(1, 9)).filter(
    lambda s: s[2] <= s[0] and s[3] <= s[1])


def _pair(shapes, seed):
    rng = np.random.default_rng(seed)
    n_h, n_w, k_h, k_w = shapes
    return (rng.uniform(-3, 3, (n_h, n_w)).astype(np.float32),
            rng.uniform(-3, 3, (k_h, k_w)).astype(np.float32))


@EXAMPLES
@given(shapes=matrices, seed=st.integers(0, 2**32 - 1))
def test_corr2d_matches_scipy_and_the_loop(backend, shapes, seed):
    image, kernel = _pair(shapes, seed)
    X, K = backend.from_numpy(image), backend.from_numpy(kernel)
    want = scipy.signal.correlate2d(image.astype(np.float64), kernel, mode="valid")
    got = d2l.numpy(d2l.corr2d(X, K))
    assert got.shape == (shapes[0] - shapes[2] + 1, shapes[1] - shapes[3] + 1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(d2l.numpy(d2l.corr2d_loop(X, K)), got, rtol=1e-4, atol=1e-4)


@EXAMPLES
@given(shapes=matrices, seed=st.integers(0, 2**32 - 1))
def test_convolve2d_matches_scipy(backend, shapes, seed):
    image, kernel = _pair(shapes, seed)
    want = scipy.signal.convolve2d(image.astype(np.float64), kernel, mode="valid")
    got = d2l.numpy(d2l.convolve2d(backend.from_numpy(image), backend.from_numpy(kernel)))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@EXAMPLES
@given(shapes=matrices, seed=st.integers(0, 2**32 - 1))
def test_matrix_form_matches_corr2d(backend, shapes, seed):
    image, kernel = _pair(shapes, seed)
    X, K = backend.from_numpy(image), backend.from_numpy(kernel)
    W = d2l.corr2d_matrix(K, image.shape)
    flat = d2l.matmul(W, d2l.reshape(X, (-1, 1)))
    got = d2l.numpy(d2l.reshape(flat, d2l.shape(d2l.corr2d(X, K))))
    np.testing.assert_allclose(got, d2l.numpy(d2l.corr2d(X, K)), rtol=1e-4, atol=1e-4)


def test_gradients_match_finite_differences(backend):
    """d corr2d / dX and dK through value_and_grad, against central differences in float64."""
    rng = np.random.default_rng(0)
    image = rng.normal(size=(5, 6))
    kernel = rng.normal(size=(2, 3))
    weights = rng.normal(size=(4, 4))

    def objective(x, k):
        return d2l.reduce_sum(d2l.corr2d(x, k) * backend.from_numpy(weights))

    X, K = backend.from_numpy(image), backend.from_numpy(kernel)
    _, (gx, gk) = d2l.value_and_grad(objective, argnums=(0, 1))(X, K)

    def host(x, k):
        return float(np.sum(scipy.signal.correlate2d(x, k, mode="valid") * weights))

    def numeric(arr, which):
        grad = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            step = np.zeros_like(arr)
            step[idx] = 1e-6
            args_hi = (arr + step, kernel) if which == 0 else (image, arr + step)
            args_lo = (arr - step, kernel) if which == 0 else (image, arr - step)
            grad[idx] = (host(*args_hi) - host(*args_lo)) / 2e-6
        return grad

    np.testing.assert_allclose(d2l.numpy(gx), numeric(image, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d2l.numpy(gk), numeric(kernel, 1), rtol=1e-5, atol=1e-6)


def test_conv2d_layer(backend):
    layer = d2l.Conv2D((1, 2), seed=0)
    np.testing.assert_array_equal(d2l.numpy(layer.weight),
                                  np.random.default_rng(0).random((1, 2), dtype=np.float32))
    np.testing.assert_array_equal(d2l.numpy(layer.bias), [0.0])
    layer.bias = d2l.tensor([0.5])
    X = d2l.tensor(edge_image())
    want = d2l.numpy(d2l.corr2d(X, layer.weight)) + 0.5
    np.testing.assert_allclose(d2l.numpy(layer(X)), want, rtol=1e-6)
    assert len(layer.parameters()) == 2 and len(d2l.Conv2D(3, bias=False).parameters()) == 1
    assert "1x2" in repr(layer)


def test_conv2d_convolve_mode(backend):
    layer = d2l.Conv2D((2, 2), bias=False, mode="convolve")
    layer.weight = d2l.flip(d2l.tensor(BOOK_K))
    np.testing.assert_array_equal(d2l.numpy(layer(d2l.tensor(BOOK_X))), [[19, 25], [37, 43]])


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", ["corr2d", "corr2d_loop", "convolve2d"])
def test_kernel_larger_than_image(backend, fn):
    with pytest.raises(ValueError, match=r"kernel K of shape \(3, 2\) is larger than the image X of shape \(2, 5\)"):
        getattr(d2l, fn)(d2l.ones((2, 5)), d2l.ones((3, 2)))


@pytest.mark.parametrize("fn", ["corr2d", "corr2d_loop", "convolve2d"])
@pytest.mark.parametrize("shape", [(4,), (2, 3, 4)])
def test_not_2d(backend, fn, shape):
    with pytest.raises(ValueError, match=rf"must be 2-D \(height, width\), got a {len(shape)}-D tensor of shape"):
        getattr(d2l, fn)(d2l.ones(shape), d2l.ones((1, 1)))


@pytest.mark.parametrize("fn", ["corr2d", "corr2d_loop", "convolve2d"])
def test_empty_dimension(backend, fn):
    with pytest.raises(ValueError, match=r"empty dimension \(shape \(0, 4\)\)"):
        getattr(d2l, fn)(d2l.ones((0, 4)), d2l.ones((1, 1)))


@pytest.mark.parametrize("fn", ["corr2d", "corr2d_loop", "convolve2d"])
def test_python_list_is_a_type_error(backend, fn):
    with pytest.raises(TypeError, match=r"must be a \w+ tensor .* got a Python list; make one with d2l.tensor"):
        getattr(d2l, fn)(BOOK_X, d2l.tensor(BOOK_K))


def test_tensor_of_another_framework_is_a_type_error(backend, other_backend):
    if other_backend.NAME == backend.NAME:
        return  # the same framework: nothing foreign to pass
    foreign = other_backend.from_numpy(np.ones((3, 3), np.float32))
    name = other_backend.NAME
    with pytest.raises(TypeError, match=rf"belongs to another framework \(the '{name}' backend\): convert it with "
                                        rf"d2l.tensor\(...\), or select that backend with D2LCONV_BACKEND={name} "
                                        rf"/ d2l.use_backend\('{name}'\)"):
        d2l.corr2d(foreign, d2l.ones((2, 2)))
    with pytest.raises(TypeError, match=r"the kernel K must be"):
        d2l.corr2d(d2l.ones((3, 3)), other_backend.from_numpy(np.ones((2, 2), np.float32)))


@pytest.mark.parametrize("value, what", [
    ("hello", r"a Python str \('hello'\), not a tensor; pass a tensor of numbers"),
    (b"\x00\x01", r"a Python bytes \(b'\\x00\\x01'\), not a tensor; pass a tensor of numbers"),
    ("x" * 100, r"a Python str \('x{37}\.\.\.'\), not a tensor"),
    (None, r"None, not a tensor; pass a tensor"),
    ({"X": BOOK_X}, r"a Python dict, which is not a tensor; make one with d2l.tensor"),
], ids=["str", "bytes", "long-str", "None", "dict"])
def test_a_value_that_is_not_a_tensor_is_named_for_what_it_is(backend, value, what):
    """Not "another framework's tensor": what it is (a str, None, ...), and how to make a tensor."""
    for call, role in ((lambda: d2l.corr2d(value, d2l.tensor(BOOK_K)), "the image X"),
                       (lambda: d2l.corr2d(d2l.tensor(BOOK_X), value), "the kernel K")):
        with pytest.raises(TypeError) as info:
            call()
        message = str(info.value)
        assert re.search(rf"^corr2d: {role} must be a {backend.NAME} tensor \(the active d2lconv backend is "
                         rf"'{backend.NAME}'\), got {what}", message), message
        assert "another framework" not in message and "d2l.tensor(" in message


def test_a_numpy_array_on_another_backend_is_named_a_host_array(other_backend):
    name = other_backend.NAME
    with d2l.use_backend(name):
        with pytest.raises(TypeError, match=rf"the image X must be a {name} tensor .*, got a numpy ndarray; a host "
                                            r"array \(the 'numpy' backend's\): convert it with d2l.from_numpy\(...\) "
                                            r"or d2l.tensor\(...\), or select that backend with "
                                            r"D2LCONV_BACKEND=numpy / d2l.use_backend\('numpy'\)"):
            d2l.corr2d(np.ones((3, 3), np.float32), d2l.ones((2, 2)))


@pytest.mark.parametrize("bad", [0, -1, (1,), (1, 2, 3), (0, 2), (1.5, 2), "3", True, (2, None)])
def test_bad_kernel_size(backend, bad):
    with pytest.raises(ValueError, match=r"Conv2D: kernel_size must be a positive int or a pair of them"):
        d2l.Conv2D(bad)


def test_bad_mode(backend):
    with pytest.raises(ValueError, match=r"mode must be one of \('correlate', 'convolve'\)"):
        d2l.Conv2D(2, mode="conv")


@pytest.mark.parametrize("size, k", [(128, 3), (300, 7), (257, 2)])
def test_large_images_take_the_compiled_path_and_agree(backend, size, k):
    """Images past COMPILE_MIN_PIXELS go through the backend's compile primitive."""
    from d2lconv.base.compiled import COMPILE_MIN_PIXELS
    assert size * size >= COMPILE_MIN_PIXELS
    image, kernel = _pair((size, size, k, k), size)
    X, K = backend.from_numpy(image), backend.from_numpy(kernel)
    want = scipy.signal.correlate2d(image.astype(np.float64), kernel, mode="valid")
    np.testing.assert_allclose(d2l.numpy(d2l.corr2d(X, K)), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(d2l.numpy(backend.native_corr2d(X, K)), want, rtol=1e-4, atol=1e-4)
    flipped = scipy.signal.convolve2d(image.astype(np.float64), kernel, mode="valid")
    np.testing.assert_allclose(d2l.numpy(d2l.convolve2d(X, K)), flipped, rtol=1e-4, atol=1e-4)
    _, grad = d2l.value_and_grad(lambda w: d2l.reduce_sum(d2l.corr2d(X, w)))(K)
    np.testing.assert_allclose(d2l.numpy(grad), scipy.signal.correlate2d(
        image.astype(np.float64), np.ones((size - k + 1, size - k + 1)), mode="valid"), rtol=1e-3)
