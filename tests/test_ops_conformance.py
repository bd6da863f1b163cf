"""Every dispatch op, on every backend, against numpy on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest

import d2lconv as d2l

RNG = np.random.default_rng(7)
A = RNG.normal(size=(2, 3, 4)).astype(np.float32)
M = RNG.normal(size=(3, 4)).astype(np.float32)
N = RNG.normal(size=(4, 5)).astype(np.float32)
P = (RNG.random((3, 4)).astype(np.float32) + 0.5)
IDX = np.array([[3, 1, 2], [0, 5, 4]], dtype=np.int64)

# (id, call on the d2lconv namespace with backend tensors, numpy reference on host arrays)
CASES = [
    ("tensor-float", lambda d, t: d.tensor([[1.0, 2.0], [3.0, 4.0]]), lambda: np.array([[1, 2], [3, 4]], np.float32)),
    ("tensor-int", lambda d, t: d.tensor([[1, 2], [3, 4]]), lambda: np.array([[1, 2], [3, 4]], np.int64)),
    ("tensor-scalar", lambda d, t: d.tensor(2.5), lambda: np.array(2.5, np.float32)),
    ("tensor-dtype", lambda d, t: d.tensor([1, 2], dtype=d.float32), lambda: np.array([1, 2], np.float32)),
    ("zeros", lambda d, t: d.zeros((2, 3)), lambda: np.zeros((2, 3), np.float32)),
    ("zeros-int", lambda d, t: d.zeros(4, dtype=d.int32), lambda: np.zeros(4, np.int32)),
    ("ones", lambda d, t: d.ones((3, 2)), lambda: np.ones((3, 2), np.float32)),
    ("zeros_like", lambda d, t: d.zeros_like(t(M)), lambda: np.zeros_like(M)),
    ("ones_like", lambda d, t: d.ones_like(t(IDX)), lambda: np.ones_like(IDX)),
    ("arange-int", lambda d, t: d.arange(5), lambda: np.arange(5, dtype=np.int64)),
    ("arange-range", lambda d, t: d.arange(2, 11, 3), lambda: np.arange(2, 11, 3, dtype=np.int64)),
    ("arange-float", lambda d, t: d.arange(0.0, 1.0, 0.25), lambda: np.arange(0, 1, 0.25, dtype=np.float32)),
    ("linspace", lambda d, t: d.linspace(0, 1, 5), lambda: np.linspace(0, 1, 5, dtype=np.float32)),
    ("eye", lambda d, t: d.eye(3), lambda: np.eye(3, dtype=np.float32)),
    ("eye-rect", lambda d, t: d.eye(2, 4), lambda: np.eye(2, 4, dtype=np.float32)),
    ("reshape", lambda d, t: d.reshape(t(A), (4, 6)), lambda: A.reshape(4, 6)),
    ("reshape-infer", lambda d, t: d.reshape(t(A), (-1, 2)), lambda: A.reshape(-1, 2)),
    ("transpose-2d", lambda d, t: d.transpose(t(M)), lambda: M.T),
    ("transpose-3d", lambda d, t: d.transpose(t(A)), lambda: np.transpose(A)),
    ("transpose-axes", lambda d, t: d.transpose(t(A), (1, 0, 2)), lambda: np.transpose(A, (1, 0, 2))),
    ("reduce_sum", lambda d, t: d.reduce_sum(t(A)), lambda: np.sum(A)),
    ("reduce_sum-axis", lambda d, t: d.reduce_sum(t(A), axis=1), lambda: np.sum(A, axis=1)),
    ("reduce_sum-keepdims", lambda d, t: d.reduce_sum(t(A), axis=2, keepdims=True),
     lambda: np.sum(A, 2, keepdims=True)),
    ("reduce_sum-all-keepdims", lambda d, t: d.reduce_sum(t(M), keepdims=True), lambda: np.sum(M, keepdims=True)),
    ("reduce_mean", lambda d, t: d.reduce_mean(t(A), axis=0), lambda: np.mean(A, axis=0)),
    ("stack", lambda d, t: d.stack([t(M), t(M) * 2], axis=1), lambda: np.stack([M, M * 2], axis=1)),
    ("concat", lambda d, t: d.concat([t(M), t(M)], axis=1), lambda: np.concatenate([M, M], axis=1)),
    ("matmul", lambda d, t: d.matmul(t(M), t(N)), lambda: M @ N),
    ("matmul-batched", lambda d, t: d.matmul(t(A), t(N)), lambda: A @ N),
    ("abs", lambda d, t: d.abs(t(M)), lambda: np.abs(M)),
    ("exp", lambda d, t: d.exp(t(M)), lambda: np.exp(M)),
    ("log", lambda d, t: d.log(t(P)), lambda: np.log(P)),
    ("sin", lambda d, t: d.sin(t(M)), lambda: np.sin(M)),
    ("cos", lambda d, t: d.cos(t(M)), lambda: np.cos(M)),
    ("tanh", lambda d, t: d.tanh(t(M)), lambda: np.tanh(M)),
    ("sqrt", lambda d, t: d.sqrt(t(P)), lambda: np.sqrt(P)),
    ("sigmoid", lambda d, t: d.sigmoid(t(M)), lambda: 1 / (1 + np.exp(-M))),
    ("maximum", lambda d, t: d.maximum(t(M), t(M * 0)), lambda: np.maximum(M, 0)),
    ("expand_dims", lambda d, t: d.expand_dims(t(M), 1), lambda: np.expand_dims(M, 1)),
    ("swapaxes", lambda d, t: d.swapaxes(t(A), 0, 2), lambda: np.swapaxes(A, 0, 2)),
    ("repeat-flat", lambda d, t: d.repeat(t(IDX), 2), lambda: np.repeat(IDX, 2)),
    ("repeat-axis", lambda d, t: d.repeat(t(M), 3, axis=0), lambda: np.repeat(M, 3, axis=0)),
    ("flip-all", lambda d, t: d.flip(t(M)), lambda: np.flip(M)),
    ("flip-axis", lambda d, t: d.flip(t(A), 1), lambda: np.flip(A, 1)),
    ("argmax-flat", lambda d, t: d.argmax(t(IDX)), lambda: np.int64(np.argmax(IDX))),
    ("argmax-axis", lambda d, t: d.argmax(t(M), axis=1), lambda: np.argmax(M, axis=1).astype(np.int64)),
    ("astype-int", lambda d, t: d.astype(t(M * 10), d.int32), lambda: (M * 10).astype(np.int32)),
    ("astype-float", lambda d, t: d.astype(t(IDX), d.float32), lambda: IDX.astype(np.float32)),
    ("from_numpy-f64", lambda d, t: t(M.astype(np.float64)), lambda: M.astype(np.float64)),
    ("multiply_add", lambda d, t: d.multiply_add(t(M), t(P)[0, 0], t(P)), lambda: M + P[0, 0] * P),
    ("arith", lambda d, t: (t(M) * 2 - t(P)) / t(P) ** 2, lambda: (M * 2 - P) / P ** 2),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_op_matches_numpy(backend, case):
    _, call, reference = case
    out = call(d2l, backend.from_numpy)
    assert backend.is_tensor(out), f"{case[0]} returned {type(out)}, not a {backend.NAME} tensor"
    got, want = d2l.numpy(out), reference()
    assert isinstance(got, np.ndarray)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    assert got.dtype == np.asarray(want).dtype, (got.dtype, np.asarray(want).dtype)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_size_shape_and_predicates(backend):
    x = backend.from_numpy(A)
    assert d2l.size(x) == 24 and isinstance(d2l.size(x), int)
    assert d2l.shape(x) == (2, 3, 4)
    assert d2l.is_tensor(x) and not d2l.is_tensor(A.tolist())
    assert d2l.is_floating(x) and not d2l.is_floating(backend.from_numpy(IDX))
    assert d2l.dtype_name(x) == "float32"


def test_random_is_seeded_and_shared_by_backends(backend):
    d2l.seed(3)
    u = d2l.numpy(d2l.rand(2, 3))
    n = d2l.numpy(d2l.normal((4,), mean=1.0, std=0.5))
    d2l.seed(3)
    assert np.array_equal(d2l.numpy(d2l.rand((2, 3))), u)
    gen = np.random.default_rng(3)
    np.testing.assert_array_equal(u, gen.random((2, 3), dtype=np.float32))
    np.testing.assert_allclose(n, gen.normal(1.0, 0.5, (4,)).astype(np.float32))
    assert u.dtype == np.float32 and ((u >= 0) & (u < 1)).all()


def test_numpy_of_a_tensor_inside_gradients_is_detached(backend):
    """d2l.numpy works on a tensor that takes part in a gradient (torch: requires_grad)."""
    seen = {}

    def f(w):
        seen["host"] = None
        return d2l.reduce_sum(w * w)

    value, grad = d2l.value_and_grad(f)(backend.from_numpy(M))
    np.testing.assert_allclose(d2l.numpy(grad), 2 * M, rtol=1e-6)
    assert float(d2l.numpy(value)) == pytest.approx(float(np.sum(M * M)), rel=1e-5)


def test_value_and_grad_several_arguments(backend):
    def f(a, b, scale):
        return d2l.reduce_sum(d2l.matmul(a, b)) * scale

    a, b = backend.from_numpy(M), backend.from_numpy(N)
    value, (ga, gb) = d2l.value_and_grad(f, argnums=(0, 1))(a, b, 3.0)
    np.testing.assert_allclose(d2l.numpy(ga), 3 * np.ones((3, 5)) @ N.T, rtol=1e-5)
    np.testing.assert_allclose(d2l.numpy(gb), 3 * M.T @ np.ones((3, 5)), rtol=1e-5)
    np.testing.assert_allclose(float(d2l.numpy(value)), 3 * np.sum(M @ N), rtol=1e-5)


def test_value_and_grad_unused_argument_is_zero(backend):
    _, (ga, gb) = d2l.value_and_grad(lambda a, b: d2l.reduce_sum(a), argnums=(0, 1))(
        backend.from_numpy(M), backend.from_numpy(N))
    np.testing.assert_array_equal(d2l.numpy(gb), np.zeros_like(N))
    np.testing.assert_array_equal(d2l.numpy(ga), np.ones_like(M))


def test_every_backend_exports_the_same_names(loaded_backends):
    for name in d2l.OP_NAMES:
        missing = [b for b, mod in loaded_backends.items() if not hasattr(mod, name)]
        assert not missing, f"{name!r} missing from backends {missing}"


def test_gradient_through_slices(backend):
    """Slices (with steps) and integer indices differentiate the same on every backend.

    (Negative steps are not portable: torch refuses them; d2l.flip is the portable spelling.)"""
    x = backend.from_numpy(M)

    def f(t):
        return d2l.reduce_sum(t[1:3, ::2] * 2.0) + d2l.reduce_sum(d2l.flip(t[0, :]) ** 2) + t[2, 3]

    _, grad = d2l.value_and_grad(f)(x)
    want = np.zeros_like(M)
    want[1:3, ::2] += 2.0
    want[0, :] += 2 * M[0, :]
    want[2, 3] += 1.0
    np.testing.assert_allclose(d2l.numpy(grad), want, rtol=1e-6)


def test_numpy_fancy_index_gradient_keeps_repeated_indices():
    """The numpy backend's fast slice gradient must leave fancy indexing (with repeats) exact."""
    from d2lconv.backend import use_backend

    with use_backend("numpy"):
        _, grad = d2l.value_and_grad(
            lambda t: d2l.reduce_sum(t[[0, 0, 2]] * 3.0) + d2l.reduce_sum(t[1, ::-2]))(M.copy())
    want = np.zeros_like(M)
    want[0] += 6.0
    want[2] += 3.0
    want[1, ::-2] += 1.0
    np.testing.assert_allclose(grad, want)
