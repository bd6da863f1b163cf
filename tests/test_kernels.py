"""Designed kernels (the section's exercises) against known derivatives and sums."""

from __future__ import annotations

from math import factorial

import numpy as np
import pytest

import d2lconv as d2l
from d2lconv import kernels


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_derivative_kernels_are_exact_on_polynomials(backend, order):
    x = np.arange(12, dtype=np.float64)
    # the order-th forward difference of x^order is order! (step 1); of lower degrees, zero
    K = kernels.derivative(order)
    assert d2l.shape(K) == (1, order + 1) == (1, kernels.min_derivative_kernel_size(order))
    for degree in range(order + 1):
        row = backend.from_numpy((x ** degree)[None, :].astype(np.float32))
        out = d2l.numpy(d2l.corr2d(row, K))
        np.testing.assert_allclose(out, factorial(order) if degree == order else 0.0, atol=1e-2)


def test_no_smaller_kernel_gives_a_derivative():
    """With n <= d taps, requiring exactness on 1, x, ..., x^(d-1) forces the kernel to zero."""
    for d in range(1, 6):
        n = kernels.min_derivative_kernel_size(d) - 1
        vander = np.vander(np.arange(n, dtype=float), d, increasing=True).T  # rows: degrees 0..d-1
        assert np.linalg.matrix_rank(vander) == n  # only the zero kernel annihilates them all


def test_second_derivative_and_laplacian(backend):
    np.testing.assert_array_equal(d2l.numpy(kernels.second_derivative()), [[1, -2, 1]])
    np.testing.assert_array_equal(d2l.numpy(kernels.second_derivative(axis=0)), [[1], [-2], [1]])
    ii, jj = np.meshgrid(np.arange(7.0), np.arange(9.0), indexing="ij")
    image = backend.from_numpy((3 * ii**2 + 2 * jj**2 + ii * jj).astype(np.float32))
    # the Laplacian of 3 i^2 + 2 j^2 + i j is 6 + 4 = 10 everywhere
    np.testing.assert_allclose(d2l.numpy(d2l.corr2d(image, kernels.laplacian())), 10.0, atol=1e-3)


def test_integral_kernel_sums_windows(backend):
    rng = np.random.default_rng(1)
    image = rng.random((6, 7)).astype(np.float32)
    out = d2l.numpy(d2l.corr2d(backend.from_numpy(image), kernels.integral(3, 2)))
    want = np.array([[image[i:i + 3, j:j + 2].sum() for j in range(6)] for i in range(4)])
    np.testing.assert_allclose(out, want, rtol=1e-5)
    whole = d2l.numpy(d2l.corr2d(backend.from_numpy(image), kernels.integral(6, 7)))
    np.testing.assert_allclose(whole, [[image.sum()]], rtol=1e-5)


def test_edge_kernels_on_the_diagonal_image(backend):
    X = kernels.diagonal_edge_image(6)
    vertical = d2l.numpy(d2l.corr2d(X, kernels.vertical_edge()))
    horizontal = d2l.numpy(d2l.corr2d(X, kernels.horizontal_edge()))
    np.testing.assert_array_equal(vertical, np.eye(6, 5))  # 1 where the edge crosses each row
    np.testing.assert_array_equal(horizontal, -np.eye(5, 6, 1))


@pytest.mark.parametrize("call", [lambda: kernels.derivative(0), lambda: kernels.derivative(1.5),
                                  lambda: kernels.derivative(1, axis=2), lambda: kernels.integral(0, 2),
                                  lambda: kernels.diagonal_edge_image(1)])
def test_bad_arguments(call):
    with pytest.raises(ValueError):
        call()
