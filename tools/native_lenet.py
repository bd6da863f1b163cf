"""Each framework's own idiomatic LeNet training step, built from given weights, as the baseline
of the benchmark's ``lenet`` section: the same network, loss and update as d2lconv's ``d2l.LeNet``
trained by ``d2l.make_train_step``, so that the two compute the same losses step after step.

    python tools/native_lenet.py                       # check every installed backend
    python tools/native_lenet.py --backends torch,jax --batch 64

The network is the book's sigmoid LeNet: conv 1->6 5x5 pad 2, sigmoid, avgpool 2/2, conv 6->16
5x5, sigmoid, avgpool 2/2, flatten, linear 400->120, sigmoid, 120->84, sigmoid, 84->10; the mean
softmax cross-entropy; plain SGD. The weights are d2lconv's ``model.named_parameters()`` as numpy
arrays (PyTorch's layouts: convolutions OIHW, linear weights (out, in)).

- torch: ``torch.nn`` layers, ``torch.optim.SGD``, eager (zero_grad, backward, step);
- tensorflow: Keras layers in NHWC (the kernels converted to HWIO and (in, out), the first dense
  layer's rows permuted for the NHWC flatten order), a ``tf.function(jit_compile=True)``
  GradientTape step with ``tf.keras.optimizers.SGD``; the batch is transposed once, outside;
- mxnet: a hybridized gluon ``nn.HybridSequential``, ``autograd.record``, a ``gluon.Trainer``
  with sgd (the mean loss and ``step(1)``: ``step(batch_size)`` would divide by it again);
- jax: a pure ``jax.jit`` step, ``jax.value_and_grad`` over the parameter dict,
  ``lax.conv_general_dilated`` in NCHW and ``lax.reduce_window`` average pooling;
- numpy has no framework of its own: its baseline is torch's native step.

``make_native_step(backend, params, lr)`` returns ``(prepare, step)``: ``prepare(X, y)`` turns
numpy arrays into the framework's batch (not timed), ``step(*batch)`` trains one step and returns
the loss as a float (read on the host, as d2lconv's Trainer does). A step returns once its
update is done too (the new weights are ready): MXNet's engine and JAX's eager dispatch run
asynchronously, and the updates they still have in flight when the loss is read would otherwise
be billed to whatever is timed next. (torch and TensorFlow compute synchronously on the CPU, and
a jitted JAX step finishes all its outputs at once.)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

#: d2lconv's parameter names (``d2l.LeNet().named_parameters()``) and their shapes.
PARAM_SHAPES: dict[str, tuple[int, ...]] = {
    "net.0.weight": (6, 1, 5, 5), "net.0.bias": (6,),
    "net.3.weight": (16, 6, 5, 5), "net.3.bias": (16,),
    "net.7.weight": (120, 400), "net.7.bias": (120,),
    "net.9.weight": (84, 120), "net.9.bias": (84,),
    "net.11.weight": (10, 84), "net.11.bias": (10,),
}

#: The backend whose native step stands in for a backend without a framework of its own.
NATIVE_OF = {"numpy": "torch"}

Prepare = Callable[[np.ndarray, np.ndarray], tuple[Any, ...]]
Step = Callable[..., float]


def batch(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A batch of ``size`` random 1x28x28 float32 images (NCHW) and int64 labels in [0, 10)."""
    rng = np.random.default_rng(seed)
    return rng.random((size, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, size, dtype=np.int64)


def _check_params(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    got = {k: tuple(np.shape(v)) for k, v in params.items()}
    if got != PARAM_SHAPES:
        raise ValueError(f"native LeNet: the parameters must be {PARAM_SHAPES}, got {got}")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in params.items()}


# -- torch -----------------------------------------------------------------------------------------

def torch_step(params: dict[str, np.ndarray], lr: float) -> tuple[Prepare, Step]:
    import torch
    from torch import nn

    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))
    # the layer indices are d2lconv's: its names are the state dict's keys
    net.load_state_dict({k[len("net."):]: torch.from_numpy(v.copy()) for k, v in params.items()})
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()

    def prepare(X: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
        return torch.from_numpy(X.copy()), torch.from_numpy(y.astype(np.int64))

    def step(X: Any, y: Any) -> float:
        optimizer.zero_grad()
        loss = loss_fn(net(X), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return prepare, step


# -- tensorflow ------------------------------------------------------------------------------------

def keras_weights(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """d2lconv's (PyTorch-layout) weights in Keras' NHWC layouts.

    Convolutions OIHW -> HWIO; dense (out, in) -> (in, out). The first dense layer also has its
    rows permuted: flattening NCHW puts feature (c, h, w) at ``c*25 + h*5 + w``, flattening NHWC
    at ``h*80 + w*16 + c``.
    """
    w7 = params["net.7.weight"].reshape(120, 16, 5, 5)  # (out, c, h, w)
    return {
        "net.0.weight": params["net.0.weight"].transpose(2, 3, 1, 0),
        "net.3.weight": params["net.3.weight"].transpose(2, 3, 1, 0),
        "net.7.weight": w7.transpose(2, 3, 1, 0).reshape(400, 120),  # (h, w, c, out)
        "net.9.weight": params["net.9.weight"].T,
        "net.11.weight": params["net.11.weight"].T,
        **{k: v for k, v in params.items() if k.endswith("bias")},
    }


def tensorflow_step(params: dict[str, np.ndarray], lr: float) -> tuple[Prepare, Step]:
    import tensorflow as tf

    layers = tf.keras.layers
    convs_and_denses = {
        "net.0": layers.Conv2D(6, kernel_size=5, padding="same", activation="sigmoid"),
        "net.3": layers.Conv2D(16, kernel_size=5, activation="sigmoid"),
        "net.7": layers.Dense(120, activation="sigmoid"),
        "net.9": layers.Dense(84, activation="sigmoid"),
        "net.11": layers.Dense(10),
    }
    c = convs_and_denses
    model = tf.keras.Sequential([
        tf.keras.Input((28, 28, 1)),
        c["net.0"], layers.AveragePooling2D(pool_size=2, strides=2),
        c["net.3"], layers.AveragePooling2D(pool_size=2, strides=2),
        layers.Flatten(), c["net.7"], c["net.9"], c["net.11"]])
    weights = keras_weights(params)
    for name, layer in convs_and_denses.items():
        layer.set_weights([weights[f"{name}.weight"], weights[f"{name}.bias"]])
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.SGD(learning_rate=lr)

    @tf.function(jit_compile=True)
    def train_step(X: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(X, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def prepare(X: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
        return tf.constant(X.transpose(0, 2, 3, 1)), tf.constant(y.astype(np.int64))

    def step(X: Any, y: Any) -> float:
        return float(train_step(X, y))

    return prepare, step


# -- mxnet -----------------------------------------------------------------------------------------

def mxnet_step(params: dict[str, np.ndarray], lr: float) -> tuple[Prepare, Step]:
    import mxnet as mx
    from mxnet import autograd, gluon
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    layers = {
        "net.0": nn.Conv2D(6, kernel_size=5, padding=2, in_channels=1),
        "net.3": nn.Conv2D(16, kernel_size=5, in_channels=6),
        "net.7": nn.Dense(120, in_units=400),
        "net.9": nn.Dense(84, in_units=120),
        "net.11": nn.Dense(10, in_units=84),
    }
    net.add(layers["net.0"], nn.Activation("sigmoid"), nn.AvgPool2D(pool_size=2, strides=2),
            layers["net.3"], nn.Activation("sigmoid"), nn.AvgPool2D(pool_size=2, strides=2),
            nn.Flatten(), layers["net.7"], nn.Activation("sigmoid"),
            layers["net.9"], nn.Activation("sigmoid"), layers["net.11"])
    # the numpy interface when it is on (d2l's MXNet code and d2lconv's backend turn it on: npx.set_np())
    array = mx.np.array if mx.util.is_np_array() else mx.nd.array
    net.initialize()
    for name, layer in layers.items():  # gluon's layouts are PyTorch's: OIHW, dense (out, in)
        layer.weight.set_data(array(params[f"{name}.weight"]))
        layer.bias.set_data(array(params[f"{name}.bias"]))
    net.hybridize()
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})

    def prepare(X: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
        return array(X), array(y, dtype=np.float32)

    def step(X: Any, y: Any) -> float:
        with autograd.record():
            loss = loss_fn(net(X), y).mean()
        loss.backward()
        trainer.step(1)  # the loss is already the mean: no further division by the batch size
        value = float(loss.item())
        mx.nd.waitall()  # the engine runs asynchronously: the update too (see the module docstring)
        return value

    return prepare, step


# -- jax -------------------------------------------------------------------------------------------

def jax_step(params: dict[str, np.ndarray], lr: float) -> tuple[Prepare, Step]:
    import jax
    import jax.numpy as jnp
    from jax import lax

    def conv(x, w, b, padding):
        y = lax.conv_general_dilated(x, w, window_strides=(1, 1), padding=padding,
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return y + b[None, :, None, None]

    def avg_pool(x):
        return lax.reduce_window(x, 0.0, lax.add, (1, 1, 2, 2), (1, 1, 2, 2), "VALID") / 4.0

    def dense(x, p, name):
        return x @ p[f"{name}.weight"].T + p[f"{name}.bias"]

    def forward(p, X):
        x = avg_pool(jax.nn.sigmoid(conv(X, p["net.0.weight"], p["net.0.bias"], ((2, 2), (2, 2)))))
        x = avg_pool(jax.nn.sigmoid(conv(x, p["net.3.weight"], p["net.3.bias"], ((0, 0), (0, 0)))))
        x = x.reshape(x.shape[0], -1)
        x = jax.nn.sigmoid(dense(x, p, "net.7"))
        x = jax.nn.sigmoid(dense(x, p, "net.9"))
        return dense(x, p, "net.11")

    def loss_fn(p, X, y):
        logp = jax.nn.log_softmax(forward(p, X))
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def train_step(p, X, y):
        loss, grads = jax.value_and_grad(loss_fn)(p, X, y)
        return jax.tree_util.tree_map(lambda w, g: w - lr * g, p, grads), loss

    state = {"params": {k: jnp.asarray(v) for k, v in params.items()}}

    def prepare(X: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
        return jnp.asarray(X), jnp.asarray(y.astype(np.int32))

    def step(X: Any, y: Any) -> float:
        state["params"], loss = train_step(state["params"], X, y)
        return float(loss)

    return prepare, step


BUILDERS: dict[str, Callable[[dict[str, np.ndarray], float], tuple[Prepare, Step]]] = {
    "torch": torch_step, "tensorflow": tensorflow_step, "mxnet": mxnet_step, "jax": jax_step,
}


def native_framework(backend: str) -> str:
    """The backend whose native step is ``backend``'s baseline (itself, or torch for numpy)."""
    return NATIVE_OF.get(backend, backend)


def make_native_step(backend: str, params: dict[str, np.ndarray], lr: float) -> tuple[Prepare, Step]:
    """``(prepare, step)`` of the framework's own LeNet step starting from ``params`` (numpy arrays
    named and laid out as d2lconv's); numpy's is torch's. See the module docstring."""
    framework = native_framework(backend)
    if framework not in BUILDERS:
        raise ValueError(f"no native LeNet step for {backend!r}; there are {sorted(BUILDERS)}")
    return BUILDERS[framework](_check_params(params), lr)


# -- d2lconv's side --------------------------------------------------------------------------------

def d2lconv_lenet(backend: str, lr: float = 0.1, seed: int = 0) -> tuple[Any, Any, dict[str, np.ndarray]]:
    """d2lconv's LeNet on ``backend`` as the book initializes it (``init_cnn``, seeded):
    ``(model, optimizer, its parameters as numpy arrays)``. Call inside ``use_backend(backend)``."""
    import d2lconv as d2l

    d2l.seed(seed)
    model = d2l.LeNet(lr=lr)
    model.apply_init([d2l.zeros((1, 1, 28, 28))], d2l.init_cnn)
    params = {k: np.asarray(d2l.numpy(v)) for k, v in model.named_parameters().items()}
    return model, model.configure_optimizers(), params


def d2lconv_step(model: Any, optim: Any, compile: bool = True) -> tuple[Prepare, Step]:
    """``(prepare, step)`` of d2lconv's ``make_train_step`` for ``model``, like the native ones: the
    parameters and optimizer state live in the closure, the loss is read on the host each step.
    Call (and run) inside ``use_backend``."""
    import d2lconv as d2l
    from d2lconv.backend import ops

    B = ops()
    train_step = d2l.make_train_step(model, optim, compile=compile)
    params = model.named_parameters()
    carry = {"params": params, "state": optim.init(params)}

    def prepare(X: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
        return B.from_numpy(X), B.from_numpy(y)

    def step(X: Any, y: Any) -> float:
        carry["params"], carry["state"], loss = train_step(carry["params"], carry["state"], X, y)
        value = float(B.numpy(loss))
        for leaf in carry["params"].values():  # the update too, as the native steps (see the docstring)
            B.block_until_ready(leaf)
        return value

    return prepare, step


def check(backend: str, batch_size: int = 128, steps: int = 3, lr: float = 0.1,
          rtol: float = 1e-4) -> dict[str, Any]:
    """The first ``steps`` losses of d2lconv's compiled step and of the native one, from the same
    weights on the same batch: ``{"backend", "native", "ours", "theirs", "match"}``."""
    from d2lconv.backend import use_backend

    X, y = batch(batch_size)
    with use_backend(backend):
        model, optim, params = d2lconv_lenet(backend, lr)
        prepare, step = d2lconv_step(model, optim)
        data = prepare(X, y)
        ours = [step(*data) for _ in range(steps)]
    prepare, step = make_native_step(backend, params, lr)
    data = prepare(X, y)
    theirs = [step(*data) for _ in range(steps)]
    return {"backend": backend, "native": native_framework(backend), "ours": ours, "theirs": theirs,
            "match": bool(np.allclose(ours, theirs, rtol=rtol, atol=0.0))}


def main(argv: list[str] | None = None) -> int:
    from d2lconv.backend import available_backends, canonical_name, load_order

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=None, help="comma-separated (default: every installed one)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    backends = load_order([canonical_name(b) for b in args.backends.split(",")] if args.backends
                          else available_backends())
    failed = []
    for backend in backends:
        if native_framework(backend) not in available_backends():
            print(f"{backend}: skipped (its baseline {native_framework(backend)} is not installed)")
            continue
        result = check(backend, args.batch, args.steps)
        mark = "match" if result["match"] else "MISMATCH"
        print(f"{backend} (native: {result['native']}): {mark}\n  d2lconv {result['ours']}\n"
              f"  native  {result['theirs']}", flush=True)
        if not result["match"]:
            failed.append(backend)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
