"""learn_kernel: the book's numbers on every backend, and every backend agreeing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal

import d2lconv as d2l
from d2lconv.backend import use_backend

from .test_conv import edge_image


def _edge_pair():
    X = d2l.tensor(edge_image())
    return X, d2l.corr2d(X, d2l.tensor([[1.0, -1.0]]))


def test_learns_the_edge_kernel(backend):
    X, Y = _edge_pair()
    kernel, losses = d2l.learn_kernel(X, Y, (1, 2))
    assert backend.is_tensor(kernel) and d2l.shape(kernel) == (1, 2)
    assert len(losses) == 10 and all(isinstance(v, float) for v in losses)
    np.testing.assert_allclose(d2l.numpy(kernel), [[1.0, -1.0]], atol=0.12)
    assert losses[-1] * 50 <= losses[0], losses
    assert all(b < a for a, b in zip(losses, losses[1:])), losses


def test_convolution_layer_learns_the_flipped_kernel(backend):
    X, Y = _edge_pair()
    kernel, _ = d2l.learn_kernel(X, Y, (1, 2), epochs=40, mode="convolve")
    np.testing.assert_allclose(d2l.numpy(kernel), [[-1.0, 1.0]], atol=1e-3)
    np.testing.assert_allclose(d2l.numpy(d2l.convolve2d(X, kernel)), d2l.numpy(Y), atol=1e-3)


def test_integer_target_is_accepted(backend):
    X = d2l.tensor(edge_image().astype(np.int64))
    Y = d2l.astype(d2l.corr2d(X, d2l.tensor([[1, -1]])), d2l.int64)
    kernel, _ = d2l.learn_kernel(X, Y, (1, 2))
    np.testing.assert_allclose(d2l.numpy(kernel), [[1.0, -1.0]], atol=0.12)


def numpy_oracle(image, target, kernel, lr=3e-2, epochs=10):
    """Gradient descent in float64 with the gradient written out by hand: an independent oracle."""
    losses = []
    for _ in range(epochs):
        residual = scipy.signal.correlate2d(image, kernel, mode="valid") - target
        losses.append(float(np.sum(residual ** 2)))
        kernel = kernel - lr * 2 * scipy.signal.correlate2d(image, residual, mode="valid")
    return kernel, np.array(losses)


def test_losses_match_a_numpy_oracle(backend):
    X, Y = _edge_pair()
    kernel, losses = d2l.learn_kernel(X, Y, (1, 2), seed=0)
    start = np.random.default_rng(0).random((1, 2), dtype=np.float32).astype(np.float64)
    want_kernel, want_losses = numpy_oracle(edge_image().astype(np.float64), d2l.numpy(Y), start)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-4)
    np.testing.assert_allclose(d2l.numpy(kernel), want_kernel, rtol=1e-4)


def test_backend_agrees_with_numpy(other_backend):
    """Same seed, same numbers: this backend and the numpy one, side by side in one process."""
    results = {}
    for name in ("numpy", other_backend.NAME):
        with use_backend(name):
            X, Y = _edge_pair()
            kernel, losses = d2l.learn_kernel(X, Y, (1, 2), seed=0)
            results[name] = (d2l.numpy(kernel), np.array(losses))
    np.testing.assert_allclose(results[other_backend.NAME][1], results["numpy"][1], rtol=1e-4)
    np.testing.assert_allclose(results[other_backend.NAME][0], results["numpy"][0], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kernel_size, y_shape", [((1, 2), (6, 8)), ((2, 2), (6, 7)), ((7, 2), (0, 7))])
def test_shapes_that_cannot_match(backend, kernel_size, y_shape):
    X = d2l.tensor(edge_image())
    Y = d2l.ones((6, 7)) if 0 in y_shape else d2l.ones(y_shape)
    with pytest.raises(ValueError, match=r"learn_kernel: a \d+x\d+ kernel on X of shape \(6, 8\) gives"):
        d2l.learn_kernel(X, Y, kernel_size)


@pytest.mark.parametrize("lr", [0, -0.1, math.nan, math.inf, "0.1", None])
def test_bad_lr(backend, lr):
    X, Y = _edge_pair()
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        d2l.learn_kernel(X, Y, (1, 2), lr=lr)


@pytest.mark.parametrize("epochs", [0, -3, 2.5, True])
def test_bad_epochs(backend, epochs):
    X, Y = _edge_pair()
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        d2l.learn_kernel(X, Y, (1, 2), epochs=epochs)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # numpy's own, on the way to inf
def test_divergence_is_reported(backend):
    X, Y = _edge_pair()
    with pytest.raises(FloatingPointError, match=r"learn_kernel diverged: .* try a smaller lr"):
        d2l.learn_kernel(X, Y, (1, 2), lr=1e3, epochs=200)
