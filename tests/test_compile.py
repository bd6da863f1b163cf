"""``compile`` on every backend, against the same function run eagerly: pytrees in and out, one trace
per input signature, gradients inside it, results that do not share memory between calls, errors
that are the eager ones, and what it does with code a compiler cannot hold (a host read).

On MXNet, ``compile`` traces shared code into cached graphs (``backend/_mxnet_graph.py``), so these
tests are most of what holds that tracer to the eager backend.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import d2lconv as d2l
from d2lconv.backend import CompileWarning

RNG = np.random.default_rng(11)
W = RNG.normal(size=(3, 4)).astype(np.float32)
X = RNG.normal(size=(5, 4)).astype(np.float32)
X2 = RNG.normal(size=(5, 4)).astype(np.float32)
#: Backends whose compile traces the function (its Python runs once per input signature).
TRACING = ("tensorflow", "jax", "mxnet")


def close(a, b, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(d2l.numpy(a)), np.asarray(d2l.numpy(b) if d2l.is_tensor(b) else b),
                               rtol=rtol, atol=atol)


def test_pytrees_in_and_out_agree_with_eager(backend):
    t = backend.from_numpy

    def f(params, batch, scale):
        h = d2l.linear(batch["x"], params["w"], params["b"])
        return {"out": d2l.sigmoid(h) * scale, "pair": (params["w"], h - 1.0), "n": 3, "none": None}

    params, batch = {"w": t(W), "b": t(np.arange(3, dtype=np.float32))}, {"x": t(X)}
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        compiled = d2l.compile(f)
        for x in (X, X2, X):  # new values, the same signature: the graph is not baked with the first ones
            batch = {"x": t(x)}
            got, want = compiled(params, batch, 2.0), f(params, batch, 2.0)
            close(got["out"], want["out"])
            close(got["pair"][0], W)
            close(got["pair"][1], want["pair"][1])
            assert got["n"] == 3 and got["none"] is None
            assert d2l.dtype_name(got["out"]) == "float32"


def test_traced_once_per_input_signature(backend):
    t, calls = backend.from_numpy, []

    def f(x):
        calls.append(d2l.shape(x))
        return x * 2.0

    compiled = d2l.compile(f)
    for x in (X, X2, X):
        close(compiled(t(x)), x * 2)
    close(compiled(t(W)), W * 2)  # another shape: traced again
    tracing = backend.NAME in TRACING
    assert calls == ([(5, 4), (3, 4)] if tracing else [(5, 4)] * 3 + [(3, 4)]), calls


def test_a_gradient_inside_compile_agrees_with_eager(backend):
    """value_and_grad inside compile: several arguments, a tensor aux, an unused input (zero gradient), a
    tensor the function closes over (a constant), and new values on every call."""
    t = backend.from_numpy
    scale = t(np.float32([0.5, -1.0, 2.0]))

    def loss(w, b, unused, x):
        h = d2l.linear(x, w, b) * scale
        return d2l.reduce_mean(h * h), {"h": h, "k": 7}

    def step(w, b, unused, x):
        (value, aux), grads = d2l.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True)(w, b, unused, x)
        gw, gb, gu = grads
        return w - 0.1 * gw, b - 0.1 * gb, gu, value, aux

    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        compiled = d2l.compile(step)
        w, b, u = t(W), t(np.zeros(3, np.float32)), t(np.ones(2, np.float32))
        for x in (X, X2):
            got, want = compiled(w, b, u, t(x)), step(w, b, u, t(x))
            for g, e in zip(got[:4], want[:4]):
                close(g, e)
            close(got[4]["h"], want[4]["h"])
            assert got[4]["k"] == 7
            np.testing.assert_array_equal(d2l.numpy(got[2]), np.zeros(2, np.float32))
            w, b = got[0], got[1]


def test_results_of_two_calls_do_not_share_memory(backend):
    """Also a gradient returned as it is (on MXNet, gradients that only feed the update are written again
    by the next call; a returned one must not be)."""
    t = backend.from_numpy

    def f(x, w):
        value, grad = d2l.value_and_grad(lambda w_: d2l.reduce_sum(d2l.linear(x, w_) ** 2))(w)
        return x + 1.0, value, grad, w - 0.1 * grad

    compiled = d2l.compile(f)
    first = compiled(t(X), t(W))
    kept = [np.array(d2l.numpy(r)) for r in first]
    second = compiled(t(X2), t(W))
    for r, k in zip(first, kept):
        np.testing.assert_array_equal(d2l.numpy(r), k)
    for r, e in zip(second, f(t(X2), t(W))):
        close(r, e, rtol=1e-5)


def test_slices_and_ellipsis_inside_compile(backend):
    t = backend.from_numpy
    A = RNG.normal(size=(2, 3, 6, 7)).astype(np.float32)

    def f(a):
        return a[..., 1:5:2, ::3] * a[0, ..., 1:3, 0:1] + a[:, 1:2][..., 2:4, 0:1]

    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        close(d2l.compile(f)(t(A)), A[..., 1:5:2, ::3] * A[0, ..., 1:3, 0:1] + A[:, 1:2][..., 2:4, 0:1])


def test_compile_inside_compile(backend):
    t = backend.from_numpy
    inner = d2l.compile(lambda x: d2l.exp(x) - 1.0)
    outer = d2l.compile(lambda x: inner(x) * 2.0)
    close(outer(t(X)), (np.exp(X) - 1) * 2, rtol=1e-5)


def test_an_error_inside_compile_is_the_eager_error(backend):
    """A wrong input raises what it raises eagerly, not a compiler's message (nor an eager rerun)."""
    layer = d2l.Linear(3, in_features=4)

    def f(x):
        return layer(x)

    with pytest.raises(ValueError, match="has 5 features"):
        d2l.compile(f)(backend.from_numpy(np.ones((2, 5), np.float32)))


def test_a_host_read_inside_compile(backend):
    """Reading a value on the host inside compile: fine where compile is the function itself, a TypeError
    from TensorFlow's and JAX's tracers, and on MXNet the eager result with a CompileWarning saying why."""
    t = backend.from_numpy

    def f(x):
        return x * float(d2l.numpy(d2l.reduce_max(x)))

    compiled = d2l.compile(f)
    if backend.NAME in ("tensorflow", "jax"):
        with pytest.raises(TypeError, match="traced"):
            compiled(t(X))
    elif backend.NAME in TRACING:
        with pytest.warns(CompileWarning, match="reads a tensor's value on the host"):
            close(compiled(t(X)), X * X.max())
        with warnings.catch_warnings():  # said once per signature; later calls run eagerly, quietly
            warnings.simplefilter("error", CompileWarning)
            close(compiled(t(X2)), X2 * X2.max())
    else:
        close(compiled(t(X)), X * X.max())


def test_the_lenet_step_compiles_and_matches_the_eager_step(backend):
    """The training step the Trainer compiles (make_train_step), against the same step run eagerly, over
    three steps from the same weights; on MXNet without falling back to eager."""
    d2l.seed(0)
    X_ = RNG.random((16, 1, 28, 28), dtype=np.float32)
    y_ = RNG.integers(0, 10, 16)
    losses = {}
    for compiled in (False, True):
        d2l.seed(0)
        model = d2l.LeNet(lr=0.5)
        model.apply_init([d2l.zeros((1, 1, 28, 28))], d2l.init_cnn)
        optim = model.configure_optimizers()
        params = model.named_parameters()
        state = optim.init(params)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CompileWarning)
            step = d2l.make_train_step(model, optim, compile=compiled)
            out = []
            for _ in range(3):
                params, state, loss = step(params, state, backend.from_numpy(X_), backend.from_numpy(y_))
                out.append(float(d2l.numpy(loss)))
        losses[compiled] = (out, {k: d2l.numpy(v) for k, v in params.items()})
    np.testing.assert_allclose(losses[True][0], losses[False][0], rtol=1e-5)
    for name, value in losses[False][1].items():
        np.testing.assert_allclose(losses[True][1][name], value, rtol=1e-4, atol=1e-6)


def test_an_argument_compile_cannot_key_on(backend):
    """A host numpy array passed to a compiled function: JAX and TensorFlow take it as a tensor; MXNet,
    which makes one graph per non-tensor value, runs the function eagerly and says why."""
    t = backend.from_numpy
    compiled = d2l.compile(lambda x, host: x * float(host[1]))
    if backend.NAME == "mxnet":
        with pytest.warns(CompileWarning, match="a ndarray, neither an MXNet tensor nor a hashable value"):
            close(compiled(t(X), np.array([1.0, 3.0])), X * 3)
    elif backend.NAME in ("tensorflow", "jax"):
        compiled = d2l.compile(lambda x, host: x * host[1])
        close(compiled(t(X), np.array([1.0, 3.0], np.float32)), X * 3)
    else:
        close(compiled(t(X), np.array([1.0, 3.0])), X * 3)


def _eager_and_compiled(f, *args):
    """``(eager result or exception, compiled result or exception)``, warnings (MXNet's fallbacks) quiet."""
    def outcome(fn):
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - compared by type below
            return exc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompileWarning)
        return outcome(f), outcome(d2l.compile(f))


@pytest.mark.parametrize("op", [
    lambda x: x + 1.5, lambda x: -x, lambda x: 1 - x, lambda x: x * 2.0, lambda x: (x > 0) * 1.0,
    lambda x: d2l.maximum(x, 0), lambda x: x * x - x, lambda x: d2l.reduce_sum(x),
], ids=["plus-float", "neg", "rsub", "times-float", "bool-times-float", "maximum", "poly", "sum"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float64])
def test_integer_and_double_tensors_keep_their_eager_dtypes(backend, op, dtype):
    """Whatever the eager op gives (its values and dtype, or its error), compile gives too: MXNet's symbols
    promote where its arrays do not (an int64 tensor plus 1.5), so such a graph must not be used."""
    x = backend.from_numpy(np.array([1, -2, 3], dtype=dtype))
    eager, compiled = _eager_and_compiled(op, x)
    if isinstance(eager, Exception):  # (TensorFlow's graph raises a TypeError where its eager op raises its own)
        assert isinstance(compiled, Exception), (eager, compiled)
        return
    assert d2l.dtype_name(compiled) == d2l.dtype_name(eager)
    np.testing.assert_array_equal(d2l.numpy(compiled), d2l.numpy(eager))


def test_aux_holding_the_value_or_an_input_comes_back_as_it_is(backend):
    """has_aux whose aux holds the differentiated value itself, an input and a computed tensor twice."""
    t = backend.from_numpy
    w0, x0 = np.float32([1, 2, 3]), np.float32([10, 10, 10])

    def loss(w, x):
        value = d2l.reduce_sum(w * x)
        h = w * x
        return value, {"value": value, "w": w, "h": h, "h again": h}

    def step(w, x):
        (value, aux), grad = d2l.value_and_grad(loss, has_aux=True)(w, x)
        return value, aux, grad

    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        compiled = d2l.compile(step)
        for w in (w0, w0 * 2):
            got, want = compiled(t(w), t(x0)), step(t(w), t(x0))
            close(got[0], want[0])
            for key in want[1]:
                close(got[1][key], want[1][key])
            close(got[2], x0)


def test_a_gradient_of_a_closed_over_tensor_inside_compile(backend):
    """value_and_grad of a tensor the compiled function closes over (not one of its arguments)."""
    t = backend.from_numpy
    w = t(np.float32([1, 2, 3]))

    def step(x):
        return d2l.value_and_grad(lambda w_: d2l.reduce_sum(w_ * x))(w)

    compiled = d2l.compile(step)
    for x in (np.float32([1, 1, 1]), np.float32([2, 0, 5])):
        value, grad = compiled(t(x))
        close(value, (np.float32([1, 2, 3]) * x).sum())
        close(grad, x)


def test_a_constant_result_is_a_new_tensor_each_call(backend):
    """A tensor the function makes without its inputs (zeros) is a new one each call, as eagerly, not one
    array the program hands out every time (which a caller changing it in place would change for all)."""
    t = backend.from_numpy
    compiled = d2l.compile(lambda x: (x * 2.0, d2l.zeros((3,))))
    first, second = compiled(t(X))[1], compiled(t(X))[1]
    assert first is not second
    np.testing.assert_array_equal(d2l.numpy(second), np.zeros(3, np.float32))


@pytest.mark.needs_backends("mxnet")
def test_mxnet_keys_python_values_by_their_type_too():
    """2, 2.0 and True are equal in Python (one dict key), but make tensors of three dtypes: MXNet's
    compile, which makes a graph per non-tensor value, keeps them apart."""
    from d2lconv.backend import use_backend

    with use_backend("mxnet"):
        def f(x, n):
            return x * 1.0, d2l.tensor([n])

        compiled = d2l.compile(f)
        for n in (2, 2.0, True, 2):
            assert d2l.dtype_name(compiled(d2l.ones((2,)), n)[1]) == d2l.dtype_name(f(d2l.ones((2,)), n)[1])


@pytest.mark.needs_backends("mxnet")
def test_mxnet_what_its_tracer_cannot_take_runs_eagerly_once_warned():
    """An MXNet array left of a traced tensor (MXNet raises rather than letting the traced one answer), item
    assignment: the eager result, one CompileWarning naming the cause, and none on the next call."""
    from d2lconv.backend import use_backend

    with use_backend("mxnet"):
        C = d2l.tensor([1.0, 2.0, 3.0])

        def assign(x):
            y = x * 1.0
            y[0] = 5.0
            return y

        for f, want, cause in ((lambda x: C * x, np.float32([2, 4, 6]), "tracing raised TypeError"),
                               (assign, np.float32([5, 2, 2]), "tracing raised")):
            compiled = d2l.compile(f)
            with pytest.warns(CompileWarning, match=cause):
                close(compiled(d2l.tensor([2.0, 2.0, 2.0])), want)
            with warnings.catch_warnings():
                warnings.simplefilter("error", CompileWarning)
                close(compiled(d2l.tensor([2.0, 2.0, 2.0])), want)
