"""Hand-designed kernels: edge detectors, finite-difference derivatives, Laplacian, integral.

Each function returns a float32 tensor of the active backend, ready for ``corr2d``.
"""

from __future__ import annotations

from math import comb

import numpy as np

from ..backend import ops
from ..registry import public_module

public_module(__name__)


def _tensor(values: np.ndarray):
    return ops().from_numpy(np.asarray(values, dtype=np.float32))


def vertical_edge():
    """``[[1, -1]]``: the book's detector of vertical edges (left minus right neighbour)."""
    return _tensor([[1.0, -1.0]])


def horizontal_edge():
    """``[[1], [-1]]``: the vertical-edge kernel transposed, it sees horizontal edges."""
    return _tensor([[1.0], [-1.0]])


def difference_coefficients(order: int) -> np.ndarray:
    """Forward-difference weights of ``order``: ``sum_k w_k f(x + k) = Δ^order f(x)``.

    ``(-1)^(order - k) * C(order, k)`` for ``k = 0..order``: ``[-1, 1]``, ``[1, -2, 1]``, ...
    """
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise ValueError(f"the order of a derivative must be a positive int, got {order!r}")
    return np.array([(-1) ** (order - k) * comb(order, k) for k in range(order + 1)], np.float32)


def min_derivative_kernel_size(order: int) -> int:
    """The smallest kernel that gives a derivative of ``order``: ``order + 1`` taps.

    A kernel with ``n`` taps that is exact on polynomials of degree ``order`` must annihilate all
    lower degrees; a Vandermonde argument leaves only zero when ``n <= order``.
    """
    return len(difference_coefficients(order))


def derivative(order: int = 1, axis: int = 1):
    """The ``order``-th finite-difference kernel along ``axis`` (1: across columns, 0: rows)."""
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 (rows) or 1 (columns), got {axis!r}")
    row = difference_coefficients(order)[None, :]
    return _tensor(row if axis == 1 else row.T)


def second_derivative(axis: int = 1):
    """``[[1, -2, 1]]``: the second difference, f(x) - 2 f(x+1) + f(x+2)."""
    return derivative(2, axis)


def laplacian():
    """The 5-point Laplacian: the sum of the second differences along both axes."""
    return _tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def integral(height: int, width: int):
    """A box of ones: cross-correlating with it sums the image over each window (a discrete
    integral of the image over that area)."""
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (height, width)):
        raise ValueError(f"integral: height and width must be positive ints, got {(height, width)!r}")
    return _tensor(np.ones((height, width)))


def diagonal_edge_image(size: int = 8):
    """An image with a diagonal edge: ones on and below the main diagonal, zeros above."""
    if not isinstance(size, int) or size < 2:
        raise ValueError(f"diagonal_edge_image: size must be an int >= 2, got {size!r}")
    return _tensor(np.tril(np.ones((size, size))))
