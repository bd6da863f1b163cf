"""Receptive fields against hand-worked cases and against the gradient's support."""

from __future__ import annotations

import numpy as np
import pytest

import d2lconv as d2l


def test_the_books_example():
    # 3x3 input, 2x2 then 2x2: the single output sees all nine inputs
    assert d2l.receptive_field([2, 2]) == (range(0, 3), range(0, 3))
    # after one 2x2 layer, the output (0, 0) (value 19) sees the top-left 2x2 block
    assert d2l.receptive_field([2]) == (range(0, 2), range(0, 2))


@pytest.mark.parametrize("kernels, strides, index, rows, cols", [
    ([3, 3, 3], None, (0, 0), range(0, 7), range(0, 7)),
    ([(1, 2)], None, (4, 5), range(4, 5), range(5, 7)),
    ([3, 3], [2, 1], (1, 2), range(2, 9), range(4, 11)),
    ([2, 2], [2, 2], (1, 0), range(4, 8), range(0, 4)),
])
def test_hand_worked(kernels, strides, index, rows, cols):
    assert d2l.receptive_field(kernels, strides, index) == (rows, cols)


@pytest.mark.parametrize("sizes", [[(2, 2), (2, 2)], [(3, 1), (2, 3)], [(1, 2), (3, 3), (2, 2)]])
def test_matches_the_support_of_the_gradient(backend, sizes):
    """The inputs with a non-zero gradient of output (1, 1) are exactly its receptive field."""
    rng = np.random.default_rng(0)
    layers = [backend.from_numpy(rng.uniform(0.5, 1.5, s).astype(np.float32)) for s in sizes]

    def stack(x):
        for K in layers:
            x = d2l.corr2d(x, K)
        return x[1, 1]

    _, grad = d2l.value_and_grad(stack)(backend.from_numpy(rng.random((9, 9)).astype(np.float32)))
    support = np.argwhere(d2l.numpy(grad) != 0)
    rows, cols = d2l.receptive_field(sizes, index=(1, 1))
    assert (support[:, 0].min(), support[:, 0].max() + 1) == (rows.start, rows.stop)
    assert (support[:, 1].min(), support[:, 1].max() + 1) == (cols.start, cols.stop)
    assert len(support) == len(rows) * len(cols)


@pytest.mark.parametrize("args", [([],), ([0],), ([2], [1, 1]), ([2], None, (-1, 0)), ([(2, 2, 2)],)])
def test_bad_arguments(args):
    with pytest.raises(ValueError, match="receptive_field"):
        d2l.receptive_field(*args)
