"""The backend contract (``d2lconv/backend/_api.py``): every name and signature on every backend,
and every op's values against numpy on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest

import d2lconv as d2l
from d2lconv.backend import CONTRACT, PUBLIC_NAMES
from d2lconv.backend._api import BY_NAME, conformance_problems, signature_problems

from . import reference as ref

RNG = np.random.default_rng(7)
A = RNG.normal(size=(2, 3, 4)).astype(np.float32)
M = RNG.normal(size=(3, 4)).astype(np.float32)
N = RNG.normal(size=(4, 5)).astype(np.float32)
P = (RNG.random((3, 4)).astype(np.float32) + 0.5)
IDX = np.array([[3, 1, 2], [0, 5, 4]], dtype=np.int64)
LABELS = np.array([[3, -1, 2], [0, 5, 7]], dtype=np.int64)  # -1, 5 and 7 are outside 5 classes
LOGITS = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 999.0, -1000.0], [0.5, -0.25, 2.0]], np.float32)
IMAGES = RNG.integers(-4, 5, size=(2, 3, 7, 8)).astype(np.float32)  # small ints: exact sums in float32
KERNELS = RNG.integers(-2, 3, size=(4, 3, 3, 2)).astype(np.float32)
FEATURES = RNG.integers(-4, 5, size=(2, 5, 6)).astype(np.float32)  # linear: (..., in) with in = 6
WEIGHTS = RNG.integers(-2, 3, size=(3, 6)).astype(np.float32)  # (out, in)


def _log_softmax(x, axis=-1):
    """The reference, in float64: x - max - log(sum(exp(x - max)))."""
    x = x.astype(np.float64)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _one_hot(labels, num_classes):
    return (labels[..., None] == np.arange(num_classes)).astype(np.float32)

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
    ("maximum-scalar", lambda d, t: d.maximum(t(M), 0), lambda: np.maximum(M, 0)),
    ("maximum-scalar-first", lambda d, t: d.maximum(0.5, t(M)), lambda: np.maximum(0.5, M)),
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
    ("arith-reflected", lambda d, t: 1.0 - 2.0 / t(P) + (-t(M)), lambda: 1.0 - 2.0 / P + (-M)),
    ("matmul-operator", lambda d, t: t(M) @ t(N), lambda: M @ N),
    ("slicing", lambda d, t: t(A)[1, 0:2, 1:4:2], lambda: A[1, 0:2, 1:4:2]),
    ("sinh", lambda d, t: d.sinh(t(M)), lambda: np.sinh(M)),
    ("cosh", lambda d, t: d.cosh(t(M)), lambda: np.cosh(M)),
    ("batch_matmul", lambda d, t: d.batch_matmul(t(A), t(A.transpose(0, 2, 1))), lambda: A @ A.transpose(0, 2, 1)),
    ("meshgrid-xy", lambda d, t: d.stack(d.meshgrid(d.arange(3), d.arange(2))), lambda: np.stack(np.meshgrid(
        np.arange(3), np.arange(2)))),
    ("meshgrid-ij", lambda d, t: d.stack(d.meshgrid(d.arange(3), d.arange(3), indexing="ij")),
     lambda: np.stack(np.meshgrid(np.arange(3), np.arange(3), indexing="ij"))),
    ("to-dtype", lambda d, t: d.to(t(IDX), d.float32), lambda: IDX.astype(np.float32)),
    ("to-cpu", lambda d, t: d.to(t(M), "cpu"), lambda: M),
    ("zeros-keyword", lambda d, t: d.zeros(shape=(2,), dtype=d.int64), lambda: np.zeros(2, np.int64)),
    ("reduce_mean-keepdims", lambda d, t: d.reduce_mean(t(M), axis=1, keepdims=True), lambda: M.mean(1, keepdims=True)),
    ("transpose-keyword", lambda d, t: d.transpose(t(A), axes=(2, 0, 1)), lambda: A.transpose(2, 0, 1)),
    ("flip-tuple", lambda d, t: d.flip(t(A), axis=(0, 2)), lambda: np.flip(A, (0, 2))),
    ("flip-negative", lambda d, t: d.flip(t(A), axis=-2), lambda: np.flip(A, -2)),
    ("flip-negative-tuple", lambda d, t: d.flip(t(A), axis=(-1, -3)), lambda: np.flip(A, (-1, -3))),
    ("concat-negative", lambda d, t: d.concat([t(A), t(A)], axis=-2), lambda: np.concatenate([A, A], -2)),
    ("stack-keyword", lambda d, t: d.stack((t(M), t(M)), axis=0), lambda: np.stack([M, M])),
    ("concat-tuple", lambda d, t: d.concat((t(M), t(M) + 1), 1), lambda: np.concatenate([M, M + 1], 1)),
    ("arange-dtype", lambda d, t: d.arange(16, dtype=d.float32), lambda: np.arange(16, dtype=np.float32)),
    ("linspace-dtype", lambda d, t: d.linspace(0, 4, 5, dtype=d.float64), lambda: np.linspace(0, 4, 5)),
    ("eye-dtype", lambda d, t: d.eye(2, dtype=d.int32), lambda: np.eye(2, dtype=np.int32)),
    ("ones-int-shape", lambda d, t: d.ones(3), lambda: np.ones(3, np.float32)),
    ("expand_dims-negative", lambda d, t: d.expand_dims(t(M), -1), lambda: M[..., None]),
    ("astype-float64", lambda d, t: d.astype(t(M), d.float64), lambda: M.astype(np.float64)),
    ("pad_constant-2d", lambda d, t: d.pad_constant(t(M), (1, 2)), lambda: np.pad(M, ((1, 1), (2, 2)))),
    ("pad_constant-3d-value", lambda d, t: d.pad_constant(t(A), (2, 0), value=-np.inf),
     lambda: np.pad(A, ((0, 0), (2, 2), (0, 0)), constant_values=-np.inf)),
    ("pad_constant-4d-float64", lambda d, t: d.pad_constant(t(A[None].astype(np.float64)), (0, 1), 0.5),
     lambda: np.pad(A[None].astype(np.float64), ((0, 0),) * 2 + ((0, 0), (1, 1)), constant_values=0.5)),
    ("reduce_max", lambda d, t: d.reduce_max(t(A)), lambda: np.max(A)),
    ("reduce_max-axis", lambda d, t: d.reduce_max(t(A), axis=1), lambda: np.max(A, axis=1)),
    ("reduce_max-tuple-keepdims", lambda d, t: d.reduce_max(t(A), axis=(0, -1), keepdims=True),
     lambda: np.max(A, axis=(0, -1), keepdims=True)),
    ("reduce_max-all-keepdims", lambda d, t: d.reduce_max(t(M), keepdims=True), lambda: np.max(M, keepdims=True)),
    ("reduce_max-int", lambda d, t: d.reduce_max(t(IDX), axis=-1), lambda: np.max(IDX, axis=-1)),
    ("log_softmax", lambda d, t: d.log_softmax(t(A)), lambda: _log_softmax(A).astype(np.float32)),
    ("log_softmax-axis", lambda d, t: d.log_softmax(t(A), axis=0), lambda: _log_softmax(A, 0).astype(np.float32)),
    ("log_softmax-large-logits", lambda d, t: d.log_softmax(t(LOGITS)),
     lambda: _log_softmax(LOGITS).astype(np.float32)),
    ("log_softmax-float64", lambda d, t: d.log_softmax(t(M.astype(np.float64)), axis=1), lambda: _log_softmax(M, 1)),
    ("log_softmax-int", lambda d, t: d.log_softmax(t(IDX)), lambda: _log_softmax(IDX)),
    ("relu", lambda d, t: d.relu(t(M)), lambda: np.maximum(M, 0)),
    ("relu-int", lambda d, t: d.relu(t(IDX - 2)), lambda: np.maximum(IDX - 2, 0)),
    ("one_hot", lambda d, t: d.one_hot(t(LABELS), 5), lambda: _one_hot(LABELS, 5)),
    ("one_hot-int32-1d", lambda d, t: d.one_hot(t(LABELS[1].astype(np.int32)), 8), lambda: _one_hot(LABELS[1], 8)),
    ("equal", lambda d, t: d.equal(t(IDX), t(IDX[:, :1])), lambda: np.equal(IDX, IDX[:, :1])),
    ("equal-number", lambda d, t: d.equal(t(IDX), 2), lambda: IDX == 2),
    ("equal-number-first", lambda d, t: d.equal(0.5, t(M.round(0) + 0.5)), lambda: M.round(0) + 0.5 == 0.5),
    ("equal-accuracy", lambda d, t: d.reduce_mean(d.astype(d.equal(d.argmax(t(M), axis=1), t(IDX[0, :3] % 4)),
                                                            d.float32)),
     lambda: np.mean((np.argmax(M, axis=1) == IDX[0, :3] % 4).astype(np.float32))),
    ("where", lambda d, t: d.where(t(M > 0), t(M), t(P)), lambda: np.where(M > 0, M, P)),
    ("where-broadcast", lambda d, t: d.where(t(A > 0), t(M), t(P[:, :1])), lambda: np.where(A > 0, M, P[:, :1])),
    ("where-number", lambda d, t: d.where(t(M > 0), t(M), 0.0), lambda: np.where(M > 0, M, np.float32(0))),
    ("where-number-first", lambda d, t: d.where(t(IDX > 2), -1, t(IDX)), lambda: np.where(IDX > 2, np.int64(-1), IDX)),
    ("native_conv2d", lambda d, t: d.native_conv2d(t(IMAGES), t(KERNELS)),
     lambda: ref.corr(IMAGES, KERNELS).astype(np.float32)),
    ("native_conv2d-padding-stride",
     lambda d, t: d.native_conv2d(t(IMAGES), t(KERNELS), padding=(1, 2), stride=(2, 3)),
     lambda: ref.corr(IMAGES, KERNELS, (1, 2), (2, 3)).astype(np.float32)),
    ("conv2d", lambda d, t: d.conv2d(t(IMAGES), t(KERNELS)), lambda: ref.corr(IMAGES, KERNELS).astype(np.float32)),
    ("conv2d-padding-stride-bias",
     lambda d, t: d.conv2d(t(IMAGES), t(KERNELS), padding=(1, 2), stride=(2, 3), bias=t(KERNELS[:, 0, 0, 0])),
     lambda: (ref.corr(IMAGES, KERNELS, (1, 2), (2, 3)) + KERNELS[:, 0, 0, 0, None, None]).astype(np.float32)),
    ("linear", lambda d, t: d.linear(t(FEATURES[0]), t(WEIGHTS)), lambda: FEATURES[0] @ WEIGHTS.T),
    ("linear-bias", lambda d, t: d.linear(t(FEATURES[0]), t(WEIGHTS), t(WEIGHTS[:, 0])),
     lambda: FEATURES[0] @ WEIGHTS.T + WEIGHTS[:, 0]),
    ("linear-3d-bias", lambda d, t: d.linear(t(FEATURES), t(WEIGHTS), t(WEIGHTS[:, 1])),
     lambda: FEATURES @ WEIGHTS.T + WEIGHTS[:, 1]),
    ("linear-1d-bias", lambda d, t: d.linear(t(FEATURES[0, 0]), t(WEIGHTS), t(WEIGHTS[:, 2])),
     lambda: FEATURES[0, 0] @ WEIGHTS.T + WEIGHTS[:, 2]),
    ("linear-empty-batch", lambda d, t: d.linear(t(FEATURES[0, :0]), t(WEIGHTS), t(WEIGHTS[:, 2])),
     lambda: np.zeros((0, 3), np.float32)),
    ("native_pool2d-max", lambda d, t: d.native_pool2d(t(A[None]), (2, 2)),
     lambda: ref.pool(A[None], (2, 2)).astype(np.float32)),
    ("native_pool2d-avg", lambda d, t: d.native_pool2d(t(IMAGES), (3, 2), mode="avg", padding=(1, 1), stride=(2, 1)),
     lambda: ref.pool(IMAGES, (3, 2), "avg", (1, 1), (2, 1)).astype(np.float32)),
]

#: Contract names whose values are checked by a dedicated test below rather than by CASES.
CHECKED_ELSEWHERE = {
    "size", "shape", "is_tensor", "is_floating", "dtype_name", "rand", "randn", "normal", "seed",
    "get_seed", "get_key", "value_and_grad", "compile", "numpy", "Tensor", "im2col", "is_traced",
}


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


def test_tensor_type_and_compile(backend):
    x = d2l.zeros((2, 2))
    assert isinstance(x, d2l.Tensor) and isinstance(backend.from_numpy(M), d2l.Tensor)
    double = d2l.compile(lambda a: a * 2.0 + 1.0)
    np.testing.assert_allclose(d2l.numpy(double(backend.from_numpy(M))), M * 2 + 1, rtol=1e-6)


@pytest.mark.parametrize("call", [
    lambda d: d.normal(0, 1, (3, 2, 1, 1)),               # the PyTorch and MXNet tabs
    lambda d: d.normal((3, 2, 1, 1), 0, 1),               # the TensorFlow tab
    lambda d: d.normal((3, 2, 1, 1)),
    lambda d: d.normal(mean=0.0, std=1.0, size=(3, 2, 1, 1)),
    lambda d: d.normal(shape=(3, 2, 1, 1), mean=0.0, stddev=1.0),
    lambda d: d.normal(loc=0.0, scale=1.0, size=(3, 2, 1, 1)),
    lambda d: d.normal(0, 1, size=(3, 2, 1, 1)),
], ids=["mean-std-shape", "shape-mean-std", "shape", "torch-keywords", "tf-keywords", "numpy-keywords",
        "size-keyword"])
def test_normal_takes_every_order_the_book_uses(backend, call):
    d2l.seed(11)
    got = d2l.numpy(call(d2l))
    want = np.random.default_rng(11).normal(0.0, 1.0, (3, 2, 1, 1)).astype(np.float32)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float32


@pytest.mark.parametrize("args, match", [((0, 1), "ambiguous"), ((0, 1, (2,), 3), "at most 3"),
                                         (("a", 1, (2,)), "mean must be a number"),
                                         ((0, 1, "x"), "shape must be"), ((), "needs a shape")])
def test_normal_bad_calls_say_what_is_wrong(backend, args, match):
    with pytest.raises(TypeError, match=match):
        d2l.normal(*args)


def test_rand_randn_get_seed_get_key(backend):
    d2l.seed(5)
    r, n, s = d2l.numpy(d2l.rand(2, 2, minval=-1.0, maxval=1.0)), d2l.numpy(d2l.randn((3,))), d2l.get_seed()
    gen = np.random.default_rng(5)
    np.testing.assert_allclose(r, -1.0 + 2.0 * gen.random((2, 2), dtype=np.float32), rtol=1e-6)
    np.testing.assert_array_equal(n, gen.standard_normal((3,), dtype=np.float32))
    assert s == int(gen.integers(0, 10**6)) and isinstance(s, int)
    key = d2l.get_key()  # the framework's RNG key (a jax PRNGKey) or a seeded numpy Generator
    assert key is not None and d2l.get_seed() != s


def test_numpy_of_a_tensor_inside_gradients_is_detached(backend):
    """d2l.numpy works on a tensor that takes part in a gradient (torch: requires_grad, JAX: a
    tracer, numpy: an autograd box) and gives its host values, leaving the gradient alone."""
    seen = {}

    def f(w):
        seen["host"] = d2l.numpy(w)
        seen["squares"] = d2l.numpy(w * w)
        return d2l.reduce_sum(w * w)

    value, grad = d2l.value_and_grad(f)(backend.from_numpy(M))
    for key, want in (("host", M), ("squares", M * M)):
        assert type(seen[key]) is np.ndarray, (key, type(seen[key]))
        assert seen[key].dtype == np.float32 and seen[key].shape == M.shape
        np.testing.assert_allclose(seen[key], want, rtol=1e-6)
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


def test_value_and_grad_over_a_pytree_with_aux(backend):
    """Parameters as a nested dict / list / tuple of tensors (None an empty subtree): the gradient
    has the same structure, every leaf against numpy; has_aux hands back detached extras."""
    t = backend.from_numpy
    X = RNG.normal(size=(3, 5)).astype(np.float32)
    params = {"conv": [t(M), t(P)], "out": {"w": t(N), "b": None}, "scale": (t(np.array(2.0, np.float32)),)}

    def loss(p, x):
        h = d2l.matmul(p["conv"][0] * p["conv"][1], p["out"]["w"])
        return d2l.reduce_sum(h * x) * p["scale"][0], {"h": h, "batch": [x]}

    (value, aux), (grads, gx) = d2l.value_and_grad(loss, argnums=(0, 1), has_aux=True)(params, t(X))
    H, XN = (M * P) @ N, X @ N.T
    np.testing.assert_allclose(float(d2l.numpy(value)), 2.0 * np.sum(H * X), rtol=1e-5)
    assert set(grads) == {"conv", "out", "scale"} and isinstance(grads["conv"], list)
    assert isinstance(grads["scale"], tuple) and grads["out"]["b"] is None and set(grads["out"]) == {"w", "b"}
    want = {"conv0": 2.0 * XN * P, "conv1": 2.0 * XN * M, "w": 2.0 * (M * P).T @ X, "scale": np.sum(H * X),
            "x": 2.0 * H}
    got = {"conv0": grads["conv"][0], "conv1": grads["conv"][1], "w": grads["out"]["w"], "scale": grads["scale"][0],
           "x": gx}
    for key, g in got.items():
        assert backend.is_tensor(g), key
        np.testing.assert_allclose(d2l.numpy(g), want[key], rtol=1e-4, atol=1e-5, err_msg=key)
    assert d2l.shape(got["scale"]) == ()
    assert backend.is_tensor(aux["h"]) and backend.is_tensor(aux["batch"][0])
    np.testing.assert_allclose(d2l.numpy(aux["h"]), H, rtol=1e-5)
    for extra in (aux["h"], aux["batch"][0]):  # detached: a plain tensor, not a traced value
        assert type(extra) is type(t(H)) and not getattr(extra, "requires_grad", False)
    _, g_again = d2l.value_and_grad(lambda h: d2l.reduce_sum(h * h))(aux["h"])
    np.testing.assert_allclose(d2l.numpy(g_again), 2 * H, rtol=1e-5)


def test_value_and_grad_of_one_pytree_argument(backend):
    t = backend.from_numpy
    value, grads = d2l.value_and_grad(lambda p: d2l.reduce_sum(p[0] * p[1]["v"]))([t(M), {"v": t(P)}])
    assert isinstance(grads, list) and set(grads[1]) == {"v"}
    np.testing.assert_allclose(d2l.numpy(grads[0]), P, rtol=1e-6)
    np.testing.assert_allclose(d2l.numpy(grads[1]["v"]), M, rtol=1e-6)
    value, grads = d2l.value_and_grad(lambda p, x: d2l.reduce_sum(x))({}, t(M))
    assert grads == {} and float(d2l.numpy(value)) == pytest.approx(float(M.sum()), rel=1e-5)


def test_value_and_grad_of_one_tensor_in_two_places(backend):
    """Tied weights: the same tensor twice in a tree (or under two argnums) gets each place's own
    gradient, as on numpy (TensorFlow's tape used to hand both the sum)."""
    x = backend.from_numpy(M)
    _, (g0, g1) = d2l.value_and_grad(lambda p: d2l.reduce_sum(p[0]) + 3.0 * d2l.reduce_sum(p[1]))([x, x])
    np.testing.assert_allclose(d2l.numpy(g0), np.ones_like(M))
    np.testing.assert_allclose(d2l.numpy(g1), 3 * np.ones_like(M))
    _, (ga, gb) = d2l.value_and_grad(lambda a, b: d2l.reduce_sum(a * b), argnums=(0, 1))(x, x)
    np.testing.assert_allclose(d2l.numpy(ga), M, rtol=1e-6)
    np.testing.assert_allclose(d2l.numpy(gb), M, rtol=1e-6)


@pytest.mark.parametrize("params, match", [
    ({"w": 3.0}, r"argument 0\['w'\] is a Python float; only floating \w+ tensors can be differentiated"),
    ([None, [1]], r"argument 0\[1\]\[0\] is a Python int"),
    ({"i": "int"}, r"argument 0\['i'\] is an integer tensor"),
], ids=["float-leaf", "int-leaf", "int-tensor"])
def test_value_and_grad_names_a_leaf_it_cannot_differentiate(backend, params, match):
    if params == {"i": "int"}:
        params = {"i": backend.from_numpy(IDX)}
    with pytest.raises(TypeError, match=match):
        d2l.value_and_grad(lambda p: d2l.reduce_sum(d2l.ones((2,))))(params)


def test_value_and_grad_has_aux_needs_a_pair(backend):
    with pytest.raises(ValueError, match=r"has_aux=True\): the function must return a pair \(scalar, aux\)"):
        d2l.value_and_grad(lambda x: d2l.reduce_sum(x), has_aux=True)(backend.from_numpy(M))
    with pytest.raises(ValueError, match="names one argument twice"):
        d2l.value_and_grad(lambda x: d2l.reduce_sum(x), argnums=(0, -1))(backend.from_numpy(M))


def test_backend_conforms_to_the_contract(backend):
    """Every contract name exists, with a signature that accepts every call the contract allows."""
    assert conformance_problems(backend) == {}


def cases_source() -> str:
    """The text of the value cases (``CASES = [...]`` of this file), nothing else of the file."""
    import inspect
    import sys
    source = inspect.getsource(sys.modules[__name__])
    start = source.index("\nCASES = [")
    return source[start:source.index("\n]\n", start)]


def names_checked_in(cases: str) -> set[str]:
    """The contract names the value cases' text uses on ``d``, as whole names (``d.sinh(`` is not
    ``sin``): ops called ``d.<name>(``, dtypes named ``d.<name>``; ``t`` is ``from_numpy``."""
    import re
    used = set(re.findall(r"\bd\.(\w+)\(", cases))
    used |= {name for name in re.findall(r"\bd\.(\w+)\b", cases)
             if name in BY_NAME and BY_NAME[name].kind == "dtype"}
    if re.search(r"\bt\(", cases):  # test_op_matches_numpy calls each case with t = backend.from_numpy
        used.add("from_numpy")
    return used


def test_every_public_name_is_checked_against_numpy():
    cases = cases_source()
    checked = names_checked_in(cases)
    unchecked = [e.name for e in CONTRACT if e.kind != "internal" and e.name not in CHECKED_ELSEWHERE
                 and e.name not in checked]
    assert unchecked == [], f"contract names no value test covers: {unchecked}"
    # the matcher itself: without their own cases, exp and sin are unchecked (d.expand_dims, d.sinh remain)
    without = "\n".join(line for line in cases.splitlines() if not line.lstrip().startswith(('("exp"', '("sin"')))
    assert not {"exp", "sin"} & names_checked_in(without)
    assert {"expand_dims", "sinh"} <= names_checked_in(without)
    assert d2l.OP_NAMES <= PUBLIC_NAMES and "native_corr2d" not in PUBLIC_NAMES


@pytest.mark.parametrize("name", ["native_corr2d", "NATIVE_OPS", "block_until_ready", "NAME"])
def test_internal_helpers_are_not_public(name):
    assert name not in dir(d2l)
    with pytest.raises(AttributeError):
        getattr(d2l, name)


def test_signature_checker_catches_what_it_should():
    """The checker itself: a wrong keyword name, a missing default, an extra required parameter."""
    assert signature_problems(lambda x, /, axis=None, keepdims=False: 0, BY_NAME["reduce_sum"]) == []
    assert signature_problems(lambda x, dim=None, keepdim=False: 0, BY_NAME["reduce_sum"]) == [
        "has no parameter named 'axis'", "has no parameter named 'keepdims'"]
    assert "has no default" in signature_problems(lambda x, axes: 0, BY_NAME["transpose"])[0]
    assert "requires parameters" in signature_problems(lambda x, shape, order: 0, BY_NAME["reshape"])[0]
    assert "positionally only" in signature_problems(lambda x, axis, /: 0, BY_NAME["flip"])[0]
    assert signature_problems(np.abs, BY_NAME["abs"]) == []  # a C function: positional-only contract
    assert "cannot be read" in signature_problems(min, BY_NAME["reduce_sum"])[0]  # no readable signature


def test_tensor_protocol_scalars_and_len(backend):
    x = backend.from_numpy(A)
    assert len(x) == 2 and tuple(int(d) for d in x.shape) == (2, 3, 4)
    np.testing.assert_allclose(d2l.numpy(2 ** backend.from_numpy(M)), 2 ** M, rtol=1e-5)


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


def _im2col_reference(x, kernel_size, stride):
    """numpy's sliding_window_view, laid out as the contract says."""
    (kh, kw), (sh, sw) = kernel_size, stride
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(-2, -1))[..., ::sh, ::sw, :, :]
    *lead, c, oh, ow = view.shape[:-2]
    moved = np.moveaxis(view, (-2, -1), (-4, -3))  # (..., c, kh, kw, oh, ow)
    return moved.reshape(*lead, c * kh * kw, oh * ow)


@pytest.mark.parametrize("shape, kernel_size, stride", [
    ((3, 7, 8), (3, 2), (1, 1)),
    ((2, 3, 9, 7), (2, 3), (2, 3)),
    ((1, 1, 5, 5), (5, 5), (1, 1)),
    ((2, 1, 6, 4), (1, 1), (2, 1)),
])
def test_im2col_matches_numpy_and_differentiates(backend, shape, kernel_size, stride):
    x = RNG.normal(size=shape).astype(np.float32)
    want = _im2col_reference(x, kernel_size, stride)
    got = d2l.numpy(d2l.im2col(backend.from_numpy(x), kernel_size, stride=stride))
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    weights = RNG.normal(size=want.shape).astype(np.float32)
    _, grad = d2l.value_and_grad(
        lambda t: d2l.reduce_sum(d2l.im2col(t, kernel_size, stride=stride) * backend.from_numpy(weights)))(
        backend.from_numpy(x))
    want_grad = np.zeros_like(x)  # every window cell gets its weight back, summed where windows overlap
    index = np.arange(x.size).reshape(x.shape)
    np.add.at(want_grad.reshape(-1), _im2col_reference(index, kernel_size, stride).reshape(-1),
              weights.reshape(-1))
    np.testing.assert_allclose(d2l.numpy(grad), want_grad, rtol=1e-5, atol=1e-5)


def test_gradient_through_pad_constant(backend):
    """The padding's gradient is the incoming gradient cut back to the input's cells."""
    x = backend.from_numpy(A)
    weights = RNG.normal(size=(2, 3 + 2, 4 + 6)).astype(np.float32)

    def f(t):
        return d2l.reduce_sum(d2l.pad_constant(t, (1, 3), value=-1.0) * backend.from_numpy(weights))

    _, grad = d2l.value_and_grad(f)(x)
    np.testing.assert_allclose(d2l.numpy(grad), weights[:, 1:-1, 3:-3], rtol=1e-6)


def test_gradient_through_maximum(backend):
    """The larger input gets the gradient (summed over broadcast axes); at a tie, infinite ties
    too, the two shares are finite, non-negative and add up to it (numpy, torch and JAX halve
    it, TensorFlow and MXNet give it to the first input)."""
    a = np.array([[1.0, 2.0, 3.0, -np.inf], [0.5, -1.0, np.inf, 4.0]], np.float32)
    b = np.array([2.0, 2.0, np.inf, -np.inf], np.float32)
    weights = RNG.normal(size=a.shape).astype(np.float32)

    def f(x, y):
        return d2l.reduce_sum(d2l.maximum(x, y) * backend.from_numpy(weights))

    _, (ga, gb) = d2l.value_and_grad(f, argnums=(0, 1))(backend.from_numpy(a), backend.from_numpy(b))
    ga, gb = d2l.numpy(ga), d2l.numpy(gb)
    assert ga.shape == a.shape and gb.shape == b.shape
    tie = a == b
    np.testing.assert_allclose(ga[~tie], np.where(a > b, weights, 0)[~tie], rtol=1e-6)
    gb_untied = np.where((a < b) & ~tie, weights, 0).sum(axis=0)
    tied_share = np.where(tie, weights - ga, 0)  # what b must have got at the ties
    assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gb))
    assert np.all((ga * weights >= 0) & (np.abs(ga) <= np.abs(weights) + 1e-6))
    np.testing.assert_allclose(gb, gb_untied + tied_share.sum(axis=0), rtol=1e-5, atol=1e-6)


def test_gradient_through_multiply_add(backend):
    """``y + a x`` with a 0-d ``a`` (a kernel entry): the gradients in y, a and x."""
    y, x, weights = M, M[::-1] * 2.0, RNG.normal(size=M.shape).astype(np.float32)

    def f(y_, a_, x_):
        return d2l.reduce_sum(d2l.multiply_add(y_, a_[1, 2], x_) * backend.from_numpy(weights))

    _, (gy, ga, gx) = d2l.value_and_grad(f, argnums=(0, 1, 2))(
        backend.from_numpy(y), backend.from_numpy(P), backend.from_numpy(x))
    np.testing.assert_allclose(d2l.numpy(gy), weights, rtol=1e-6)
    want_ga = np.zeros_like(P)
    want_ga[1, 2] = np.sum(weights * x)
    np.testing.assert_allclose(d2l.numpy(ga), want_ga, rtol=1e-5)
    np.testing.assert_allclose(d2l.numpy(gx), weights * P[1, 2], rtol=1e-6)


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


# --- one gradient contract ------------------------------------------------------------------


def test_ops_captured_before_the_trace_work_inside_it(backend):
    """``from d2lconv import reduce_sum`` / ``B = ops()`` bound before value_and_grad: on numpy this
    used to raise a TypeError about ``__array_ufunc__``."""
    from d2lconv import flip, reduce_sum, sigmoid, transpose
    from d2lconv.backend import ops

    B = ops()

    def f(w):
        return reduce_sum(B.reshape(transpose(w) * sigmoid(transpose(w)), (-1,)) ** 2) + B.reduce_mean(flip(w))

    value, grad = d2l.value_and_grad(f)(backend.from_numpy(M))
    s = 1 / (1 + np.exp(-M))
    want = 2 * (M * s) ** 2 * (1 / M + (1 - s)) + 1.0 / M.size
    np.testing.assert_allclose(d2l.numpy(grad), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(float(d2l.numpy(value)), np.sum((M * s) ** 2) + M.mean(), rtol=1e-5)


@pytest.mark.parametrize("make", [lambda d, x: x * 2.0, lambda d, x: d.reduce_sum(x, axis=0),
                                  lambda d, x: d.stack([d.reduce_sum(x), d.reduce_sum(x)])],
                         ids=["elementwise", "a-row", "two-numbers"])
def test_a_non_scalar_output_is_the_same_value_error_everywhere(backend, make):
    with pytest.raises(ValueError, match=r"value_and_grad: the function must return a scalar \(one number\), "
                                         r"got a tensor of shape \(\d+,?( \d+)?\); reduce it first"):
        d2l.value_and_grad(lambda x: make(d2l, x))(backend.from_numpy(M))


def test_a_non_tensor_output_is_a_value_error(backend):
    with pytest.raises(ValueError, match="must return a scalar tensor computed from its inputs"):
        d2l.value_and_grad(lambda x: 3.0)(backend.from_numpy(M))


def test_a_one_element_output_counts_as_scalar(backend):
    value, grad = d2l.value_and_grad(lambda x: d2l.reduce_sum(x, keepdims=True))(backend.from_numpy(M))
    assert d2l.shape(value) == ()
    np.testing.assert_array_equal(d2l.numpy(grad), np.ones_like(M))


def test_an_output_independent_of_every_input_has_zero_gradients(backend):
    const = backend.from_numpy(np.float32(2.5) * np.ones((), np.float32))
    value, (ga, gb) = d2l.value_and_grad(lambda a, b: const * 1.0, argnums=(0, 1))(
        backend.from_numpy(M), backend.from_numpy(N))
    assert float(d2l.numpy(value)) == 2.5
    np.testing.assert_array_equal(d2l.numpy(ga), np.zeros_like(M))
    np.testing.assert_array_equal(d2l.numpy(gb), np.zeros_like(N))


def test_argnums_out_of_range(backend):
    with pytest.raises(ValueError, match="argnums 2 names argument 2, but the function was called with 1"):
        d2l.value_and_grad(lambda x: d2l.reduce_sum(x), argnums=2)(backend.from_numpy(M))


def test_corr2d_matrix_is_differentiable_in_the_kernel(backend):
    """Its gradient in K used to be silently zero where W went through host numpy."""
    K = backend.from_numpy(np.array([[0.0, 1.0], [2.0, 3.0]], np.float32))
    weights = np.arange(4 * 9, dtype=np.float32).reshape(4, 9)
    W = backend.from_numpy(weights)
    _, grad = d2l.value_and_grad(lambda k: d2l.reduce_sum(d2l.corr2d_matrix(k, (3, 3)) * W))(K)
    want = np.zeros((2, 2), np.float32)  # dW/dK[a, b] puts a one where K[a, b] is placed in each row
    for row in range(4):
        i, j = divmod(row, 2)
        for a in range(2):
            for b in range(2):
                want[a, b] += weights[row, (i + a) * 3 + (j + b)]
    np.testing.assert_allclose(d2l.numpy(grad), want, rtol=1e-6)
    assert np.abs(want).sum() > 0


def test_numpy_gradients_of_basic_slices_take_the_fast_rule():
    """Shift-and-add slices as x[..., a:b:s, c:d:t]; autograd's generic rule (np.add.at) would
    make numpy's corr2d gradient ~10x slower, so every basic index must count as basic."""
    from d2lconv.backend._autograd_dispatch import _is_basic_index

    assert _is_basic_index((Ellipsis, slice(0, 5, 2), slice(1, 6, 1)))
    assert _is_basic_index((slice(0, 3), 2, None))
    assert not _is_basic_index((np.array([0, 0]), slice(None)))


# --- the ops a training stack needs (LeNet on Fashion-MNIST) ---------------------------------


def test_gradient_through_reduce_max(backend):
    """Without ties the largest element of each row gets the row's gradient."""
    weights = RNG.normal(size=(2, 4)).astype(np.float32)
    _, grad = d2l.value_and_grad(lambda x: d2l.reduce_sum(d2l.reduce_max(x, axis=1) * backend.from_numpy(weights)))(
        backend.from_numpy(A))
    want = (A == A.max(axis=1, keepdims=True)) * weights[:, None, :]
    np.testing.assert_allclose(d2l.numpy(grad), want, rtol=1e-6)
    _, grad = d2l.value_and_grad(lambda x: d2l.reduce_max(x) * 3.0)(backend.from_numpy(M))
    np.testing.assert_allclose(d2l.numpy(grad), 3.0 * (M == M.max()))


def test_how_reduce_max_shares_a_tie(backend):
    """Not promised by the contract; pinned here so that a change shows: numpy (autograd), torch,
    TensorFlow and JAX split a tie's gradient evenly, MXNet gives every tied element all of it."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], np.float32)
    _, grad = d2l.value_and_grad(lambda t: d2l.reduce_sum(d2l.reduce_max(t, axis=1)))(backend.from_numpy(x))
    split = np.array([[0, 1 / 2, 1 / 2], [1 / 3, 1 / 3, 1 / 3]], np.float32)
    np.testing.assert_allclose(d2l.numpy(grad), (x == x.max(1, keepdims=True)) if backend.NAME == "mxnet" else split,
                               rtol=1e-6)


@pytest.mark.parametrize("dims, axis", [((0, 3), 0), ((0,), None), ((2, 0), -1), ((2, 0, 3), (0, 1)), ((0, 0), 0)])
def test_a_max_of_nothing_is_a_value_error(backend, dims, axis):
    with pytest.raises(ValueError, match="zero-size array to reduction operation max"):
        d2l.numpy(d2l.reduce_max(d2l.zeros(dims), axis=axis))


@pytest.mark.parametrize("dims, axis", [((3, 0), 0), ((0, 3), ()), ((2, 0, 3), (0, 2))])
def test_a_max_with_an_empty_result_is_empty(backend, dims, axis):
    """numpy raises only when a reduced axis is empty."""
    out = d2l.numpy(d2l.reduce_max(d2l.zeros(dims), axis=axis))
    assert out.shape == np.max(np.zeros(dims), axis=axis).shape and out.dtype == np.float32


def test_log_softmax_is_stable_and_differentiable(backend):
    """Logits of +-1000 neither overflow nor turn to nan, in the value or in the gradient, which is
    w - softmax(x) * sum(w) per row."""
    weights = RNG.normal(size=LOGITS.shape).astype(np.float32)
    value, grad = d2l.value_and_grad(
        lambda x: d2l.reduce_sum(d2l.log_softmax(x) * backend.from_numpy(weights)))(backend.from_numpy(LOGITS))
    softmax = np.exp(_log_softmax(LOGITS))
    want = weights - softmax * weights.sum(axis=1, keepdims=True)
    assert np.all(np.isfinite(d2l.numpy(grad)))
    np.testing.assert_allclose(d2l.numpy(grad), want, rtol=1e-5, atol=1e-6)
    terms = _log_softmax(LOGITS) * weights
    np.testing.assert_allclose(float(d2l.numpy(value)), terms.sum(), rtol=1e-5, atol=1e-6 * np.abs(terms).sum())
    _, grad0 = d2l.value_and_grad(lambda x: d2l.reduce_sum(d2l.log_softmax(x, axis=0)[0]))(backend.from_numpy(M))
    want0 = np.zeros_like(M)
    want0[0] = 1.0
    np.testing.assert_allclose(d2l.numpy(grad0), want0 - np.exp(_log_softmax(M, 0)), rtol=1e-5, atol=1e-6)


def test_relu_gradient_is_zero_at_zero(backend):
    """1 where x > 0, 0 elsewhere, at x == 0 (and -0.0) too: maximum(x, 0) would give 1/2 there."""
    x = np.array([[-1.5, 0.0, -0.0], [2.0, 0.0, 1e-3]], np.float32)
    weights = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
    value, grad = d2l.value_and_grad(lambda t: d2l.reduce_sum(d2l.relu(t) * backend.from_numpy(weights)))(
        backend.from_numpy(x))
    np.testing.assert_array_equal(d2l.numpy(grad), [[0, 0, 0], [4, 0, 6]])
    assert float(d2l.numpy(value)) == pytest.approx(8.006, rel=1e-5)


def test_gradient_through_where(backend):
    """Each side gets the gradient where it was chosen, summed over its broadcast axes; a Python
    number on one side leaves the other's gradient alone."""
    cond = A > 0
    weights = RNG.normal(size=A.shape).astype(np.float32)
    W = backend.from_numpy(weights)

    def f(a, b):
        return d2l.reduce_sum(d2l.where(backend.from_numpy(cond), a, b) * W)

    _, (ga, gb) = d2l.value_and_grad(f, argnums=(0, 1))(backend.from_numpy(M), backend.from_numpy(P[:, :1]))
    np.testing.assert_allclose(d2l.numpy(ga), np.where(cond, weights, 0).sum(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d2l.numpy(gb), np.where(cond, 0, weights).sum(axis=(0, 2))[:, None], rtol=1e-5,
                               atol=1e-6)
    _, g = d2l.value_and_grad(lambda a: d2l.reduce_sum(d2l.where(backend.from_numpy(cond), 0.0, a) * W))(
        backend.from_numpy(A))
    np.testing.assert_allclose(d2l.numpy(g), np.where(cond, 0, weights), rtol=1e-6)


@pytest.mark.parametrize("labels, num_classes, error, match", [
    (np.array([0.0, 1.0], np.float32), 2,
     TypeError, "labels must be an integer tensor of class indices, got a float32"),
    (np.array([True, False]), 2, TypeError, "labels must be an integer tensor .* got a bool"),
    (np.array([0, 1]), -1, ValueError, "num_classes must be >= 0, got -1"),
    (np.array([0, 1]), 2.0, TypeError, "num_classes must be an int, got float 2.0"),
], ids=["float-labels", "bool-labels", "negative", "float-classes"])
def test_one_hot_bad_calls_say_what_is_wrong(backend, labels, num_classes, error, match):
    with pytest.raises(error, match=f"one_hot: {match}"):
        d2l.one_hot(backend.from_numpy(labels), num_classes)


def test_equal_of_bool_to_float32_everywhere(backend):
    """The accuracy idiom: astype(equal(...), float32), and bool tensors on the host."""
    hits = d2l.equal(backend.from_numpy(IDX), backend.from_numpy(np.array([3, 1, 0], np.int64)))
    assert d2l.dtype_name(hits) == "bool" and not d2l.is_floating(hits)
    np.testing.assert_array_equal(d2l.numpy(hits), IDX == [3, 1, 0])
    as_float = d2l.astype(hits, d2l.float32)
    assert d2l.dtype_name(as_float) == "float32"
    assert float(d2l.numpy(d2l.reduce_sum(as_float))) == 2.0
    np.testing.assert_array_equal(d2l.numpy(d2l.astype(hits, np.float64)), (IDX == [3, 1, 0]).astype(np.float64))


def test_is_traced_only_under_a_compiler(backend):
    """True inside compile on TensorFlow, JAX and MXNet (their compile traces); False for concrete values,
    inside value_and_grad too (autograd boxes, requires-grad torch tensors, MXNet under autograd.record,
    JAX's gradient tracers), and always where compile is fn itself."""
    t = backend.from_numpy
    compiles = backend.NAME in ("tensorflow", "jax", "mxnet")
    assert d2l.is_traced(t(M)) is False and d2l.is_traced(3.0) is False and d2l.is_traced(None) is False
    seen = []

    def f(x):
        seen.append(d2l.is_traced(x))
        return x * 2.0

    np.testing.assert_allclose(d2l.numpy(d2l.compile(f)(t(M))), M * 2, rtol=1e-6)
    assert seen and all(s is compiles for s in seen), seen

    def loss(w, x):
        seen.append((d2l.is_traced(w), d2l.is_traced(x)))
        return d2l.reduce_sum(w * x)

    seen.clear()
    d2l.value_and_grad(loss)(t(M), t(P))
    assert seen == [(False, False)]
    seen.clear()
    value = d2l.compile(lambda w, x: d2l.value_and_grad(loss)(w, x)[0])(t(M), t(P))
    assert float(d2l.numpy(value)) == pytest.approx(float(np.sum(M * P)), rel=1e-5)
    assert seen and all(s == (compiles, compiles) for s in seen), seen
    if backend.NAME == "torch":
        assert d2l.is_traced(t(M).requires_grad_()) is False


def test_native_conv2d_and_pool2d_are_public(backend):
    assert d2l.native_conv2d is backend.native_conv2d and d2l.native_pool2d is backend.native_pool2d
    assert BY_NAME["native_conv2d"].kind == BY_NAME["native_pool2d"].kind == "primitive"


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("size, padding, stride", [((2, 2), (0, 0), (2, 2)), ((3, 3), (1, 1), (2, 2)),
                                                   ((2, 3), (0, 1), (2, 3)), ((3, 2), (1, 0), (1, 1))])
def test_gradient_through_native_pool2d(backend, mode, size, padding, stride):
    """Against scattering each window's gradient by hand (max: to its argmax; no ties in the input)."""
    image = np.random.default_rng(3).permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8).astype(np.float32) / 8
    want = ref.pool(image, size, mode, padding, stride)
    weights = RNG.normal(size=want.shape).astype(np.float32)
    W = backend.from_numpy(weights)
    value, grad = d2l.value_and_grad(
        lambda x: d2l.reduce_sum(d2l.native_pool2d(x, size, mode, padding, stride) * W))(backend.from_numpy(image))
    np.testing.assert_allclose(float(d2l.numpy(value)), float(np.sum(want * weights)), rtol=1e-5,
                               atol=1e-6 * float(np.sum(np.abs(want * weights))))  # a sum that cancels
    np.testing.assert_allclose(d2l.numpy(grad), ref.pool_grad(image, weights, size, mode, padding, stride),
                               rtol=1e-5, atol=1e-6)


def _lenet_first_layer_reference(x, k, weights):
    """sum(maxpool2x2(relu(corr(x, k, padding 2))) * weights) and its gradients in x and k, in float64."""
    conv = ref.corr(x, k, (2, 2))
    g_relu = ref.pool_grad(np.maximum(conv, 0), weights, (2, 2), "max", (0, 0), (2, 2))
    g_conv = g_relu * (conv > 0)
    padded = ref.pad4(x, (2, 2))
    g_k = np.einsum("ncijab,noij->ocab", ref.windows(padded, k.shape[-2:], (1, 1)), g_conv)
    g_padded = np.zeros_like(padded)
    oh, ow = conv.shape[-2:]
    for a in range(k.shape[2]):
        for b in range(k.shape[3]):
            g_padded[:, :, a:a + oh, b:b + ow] += np.einsum("noij,oc->ncij", g_conv, k[:, :, a, b])
    value = np.sum(ref.pool(np.maximum(conv, 0), (2, 2), "max", (0, 0), (2, 2)) * weights)
    return value, g_padded[:, :, 2:-2, 2:-2], g_k


def test_lenet_first_layer_natively_eager_compiled_and_differentiated(backend):
    """LeNet's first layer (6 5x5 kernels, padding 2, relu, 2x2 max pooling) by the framework's own conv
    and pooling: inside value_and_grad, and inside compile (XLA on TensorFlow, jax.jit on JAX) too. The
    suite uses 4 12x12 images; the real batch is 128 28x28 ones."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 1, 12, 12)).astype(np.float32)
    k = rng.normal(size=(6, 1, 5, 5)).astype(np.float32) / 5
    weights = rng.normal(size=(4, 6, 6, 6)).astype(np.float32)
    W = backend.from_numpy(weights)

    def loss(x_, k_):
        y = d2l.native_pool2d(d2l.relu(d2l.native_conv2d(x_, k_, (2, 2))), (2, 2), "max", (0, 0), (2, 2))
        return d2l.reduce_sum(y * W)

    want_value, want_gx, want_gk = _lenet_first_layer_reference(x, k, weights)
    step = d2l.value_and_grad(loss, argnums=(0, 1))
    for run in (step, d2l.compile(step)):
        value, (gx, gk) = run(backend.from_numpy(x), backend.from_numpy(k))
        np.testing.assert_allclose(float(d2l.numpy(value)), want_value, rtol=1e-4)
        np.testing.assert_allclose(d2l.numpy(gx), want_gx, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(d2l.numpy(gk), want_gk, rtol=1e-4, atol=1e-4)
    forward = d2l.compile(lambda x_, k_: d2l.native_pool2d(d2l.native_conv2d(x_, k_, (2, 2)), (2, 2), "avg",
                                                           (0, 0), (2, 2)))
    np.testing.assert_allclose(d2l.numpy(forward(backend.from_numpy(x), backend.from_numpy(k))),
                               ref.pool(ref.corr(x, k, (2, 2)), (2, 2), "avg", (0, 0), (2, 2)), rtol=1e-4, atol=1e-5)
