"""Initial weights come from d2lconv's one seeded generator: layers made one after the other
differ, ``d2l.seed`` reproduces them, and every backend starts from the same numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

import d2lconv as d2l
from d2lconv.base import init


def _uniform(g: np.random.Generator, shape, low, high) -> np.ndarray:
    return (low + (high - low) * g.random(shape, dtype=np.float32)).astype(np.float32)


def test_two_layers_start_from_different_weights_the_same_on_every_backend(backend):
    d2l.seed(0)
    first = d2l.Conv2D(3, in_channels=2, out_channels=4)
    second = d2l.Conv2D(3, in_channels=2, out_channels=4)
    w1, w2 = d2l.numpy(first.weight), d2l.numpy(second.weight)
    assert not np.array_equal(w1, w2)
    g, bound = np.random.default_rng(0), 1 / math.sqrt(2 * 3 * 3)  # one stream, drawn in order
    np.testing.assert_array_equal(w1, _uniform(g, (4, 2, 3, 3), -bound, bound))
    np.testing.assert_array_equal(w2, _uniform(g, (4, 2, 3, 3), -bound, bound))
    assert backend.is_tensor(first.weight) and d2l.dtype_name(first.weight) == "float32"


def test_d2l_seed_reaches_the_layers(backend):
    d2l.seed(0)
    a = d2l.numpy(d2l.Conv2D((1, 2)).weight)
    d2l.seed(1)
    b = d2l.numpy(d2l.Conv2D((1, 2)).weight)
    d2l.seed(0)
    again = d2l.numpy(d2l.Conv2D((1, 2)).weight)
    assert not np.array_equal(a, b) and np.array_equal(a, again)
    np.testing.assert_array_equal(a, np.random.default_rng(0).random((1, 2), dtype=np.float32))


def test_an_explicit_seed_is_a_private_generator(backend):
    """``Conv2D(..., seed=s)`` gives what ``d2l.seed(s)`` would, and leaves the shared stream alone."""
    d2l.seed(0)
    shared = d2l.numpy(d2l.Conv2D(2, in_channels=3, out_channels=2).weight)
    d2l.seed(7)
    private = d2l.numpy(d2l.Conv2D(2, in_channels=3, out_channels=2, seed=0).weight)
    after = d2l.numpy(d2l.rand(3))
    np.testing.assert_array_equal(private, shared)
    np.testing.assert_array_equal(after, np.random.default_rng(7).random(3, dtype=np.float32))


def test_a_bad_seed_is_named(backend):
    with pytest.raises(ValueError, match=r"seed must be an int or None .* got 1.5"):
        d2l.Conv2D(2, seed=1.5)


@pytest.mark.parametrize("shape, fans", [((5,), (5, 5)), ((3, 4), (4, 3)), ((8, 2, 3, 3), (18, 72)), ((), (1, 1))])
def test_fans(shape, fans):
    assert init.fans(shape) == fans


def test_initialisers_match_numpy(backend):
    d2l.seed(3)
    got = {"xavier_uniform": init.xavier_uniform((6, 4)), "xavier_normal": init.xavier_normal((6, 4), gain=2.0),
           "fan_in_uniform": init.fan_in_uniform((2, 3, 5, 5)), "normal": init.normal((4,), 1.0, 0.5),
           "uniform": init.uniform((2, 2), -1.0, 3.0)}
    g = np.random.default_rng(3)
    want = {"xavier_uniform": _uniform(g, (6, 4), -math.sqrt(6 / 10), math.sqrt(6 / 10)),
            "xavier_normal": g.normal(0.0, 2.0 * math.sqrt(2 / 10), (6, 4)).astype(np.float32),
            "fan_in_uniform": _uniform(g, (2, 3, 5, 5), -1 / math.sqrt(75), 1 / math.sqrt(75)),
            "normal": g.normal(1.0, 0.5, (4,)).astype(np.float32),
            "uniform": _uniform(g, (2, 2), -1.0, 3.0)}
    for name, tensor in got.items():
        assert backend.is_tensor(tensor) and d2l.dtype_name(tensor) == "float32", name
        np.testing.assert_array_equal(d2l.numpy(tensor), want[name], err_msg=name)
    d2l.seed(3)  # the same stream, and the same numbers, as the contract's own draws
    drawn = d2l.numpy(init.uniform((2, 3), -1.0, 1.0))
    d2l.seed(3)
    np.testing.assert_array_equal(drawn, d2l.numpy(d2l.rand(2, 3, minval=-1.0, maxval=1.0)))
