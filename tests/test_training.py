"""The training stack written once: layers with named parameters, the loss, SGD, the Trainer, and
LeNet - the same numbers on every backend, and the same as PyTorch's own layers and optimizer."""

from __future__ import annotations

import math

import numpy as np
import pytest

import d2lconv as d2l
from d2lconv.backend import ops

RNG = np.random.default_rng(3)


class Blobs(d2l.DataModule):
    """A small, learnable 4-class problem on 1x28x28 images (no files needed)."""

    def __init__(self, n: int = 320, batch_size: int = 64, seed: int = 0) -> None:
        super().__init__()
        g = np.random.default_rng(seed)
        self.y = g.integers(0, 4, n).astype(np.int64)
        X = g.normal(0.0, 0.3, (n, 1, 28, 28)).astype(np.float32)
        for k in range(4):  # each class lights up one quadrant
            X[self.y == k, :, (k // 2) * 14:(k // 2) * 14 + 14, (k % 2) * 14:(k % 2) * 14 + 14] += 1.0
        self.X, self.batch_size = X, batch_size

    def get_dataloader(self, train: bool):
        cut = int(0.75 * len(self.y))
        index = slice(0, cut) if train else slice(cut, None)
        return self.get_tensorloader((self.X, self.y), train, index)


def lenet(lr: float = 0.9, num_classes: int = 4) -> d2l.LeNet:
    d2l.seed(0)
    model = d2l.LeNet(lr=lr, num_classes=num_classes)
    model.apply_init([d2l.zeros((1, 1, 28, 28))], d2l.init_cnn)
    return model


# -- layers ------------------------------------------------------------------------------------

def test_parameters_are_found_by_dotted_name(backend):
    model = lenet()
    names = list(model.named_parameters())
    assert names == ["net.0.weight", "net.0.bias", "net.3.weight", "net.3.bias", "net.7.weight", "net.7.bias",
                     "net.9.weight", "net.9.bias", "net.11.weight", "net.11.bias"]
    shapes = {k: d2l.shape(v) for k, v in model.named_parameters().items()}
    assert shapes["net.0.weight"] == (6, 1, 5, 5) and shapes["net.7.weight"] == (120, 400)
    assert len(model.parameters()) == 10


def test_layer_summary_gives_each_output_shape(backend, capsys):
    d2l.seed(0)
    rows = d2l.LeNet().layer_summary((1, 1, 28, 28))
    assert [shape for _, shape in rows] == [(1, 6, 28, 28), (1, 6, 28, 28), (1, 6, 14, 14), (1, 16, 10, 10),
                                           (1, 16, 10, 10), (1, 16, 5, 5), (1, 400), (1, 120), (1, 120),
                                           (1, 84), (1, 84), (1, 10)]
    assert "Conv2D" in capsys.readouterr().out


def test_every_backend_starts_from_the_same_parameters(backend):
    params = {k: d2l.numpy(v) for k, v in lenet().named_parameters().items()}
    with d2l.use_backend("numpy"):
        reference = {k: d2l.numpy(v) for k, v in lenet().named_parameters().items()}
    for name in reference:
        np.testing.assert_array_equal(params[name], reference[name], err_msg=name)
    bound = math.sqrt(6 / (400 + 120))  # Xavier-uniform of the first dense layer
    assert 0.9 * bound < np.abs(params["net.7.weight"]).max() <= bound


def test_set_parameters_and_using_restore_what_was_there(backend):
    model = lenet()
    before = model.named_parameters()
    doubled = {k: v * 2.0 for k, v in before.items()}
    with model.using(doubled):
        assert np.allclose(d2l.numpy(model.net[0].weight), 2 * d2l.numpy(before["net.0.weight"]))
    assert model.net[0].weight is before["net.0.weight"]
    with pytest.raises(KeyError, match=r"missing \['net.0.bias'\]"):
        model.set_parameters({k: v for k, v in before.items() if k != "net.0.bias"})
    wrong = dict(before, **{"net.9.bias": d2l.zeros((3,))})
    with pytest.raises(ValueError, match=r"net.9.bias: \(3,\) instead of \(84,\)"):
        model.set_parameters(wrong)


def test_linear_matches_numpy_and_names_a_feature_mismatch(backend):
    d2l.seed(0)
    layer = d2l.Linear(3, in_features=5)
    X = RNG.normal(size=(4, 5)).astype(np.float32)
    W, b = d2l.numpy(layer.weight), d2l.numpy(layer.bias)
    np.testing.assert_allclose(d2l.numpy(layer(backend.from_numpy(X))), X @ W.T + b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"Linear\(5->3.*has 7 features.*expects 5"):
        layer(d2l.zeros((2, 7)))


@pytest.mark.parametrize("batch", [(7,), (2, 7), ()], ids=["2-d", "3-d", "1-d"])
def test_the_linear_primitive_and_its_gradients_match_numpy(backend, batch):
    """``linear`` (the fused kernel Linear uses: torch's F.linear, MXNet's fully_connected) against
    ``X @ W.T + b`` and its gradients, written out in numpy."""
    g = np.random.default_rng(11)
    X, W, b = g.normal(size=(*batch, 5)), g.normal(size=(3, 5)), g.normal(size=(3,))
    G = g.normal(size=(*batch, 3))
    x, w, bias, weights = (backend.from_numpy(a.astype(np.float32)) for a in (X, W, b, G))

    def objective(x, w, bias):
        return d2l.reduce_sum(d2l.linear(x, w, bias) * weights)

    value, (gx, gw, gb) = d2l.value_and_grad(objective, argnums=(0, 1, 2))(x, w, bias)
    np.testing.assert_allclose(float(d2l.numpy(value)), np.sum((X @ W.T + b) * G), rtol=1e-4)
    np.testing.assert_allclose(d2l.numpy(gx), G @ W, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(d2l.numpy(gw), np.reshape(G, (-1, 3)).T @ np.reshape(X, (-1, 5)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(d2l.numpy(gb), np.reshape(G, (-1, 3)).sum(axis=0), rtol=1e-4, atol=1e-5)
    compiled = d2l.compile(lambda x, w, bias: d2l.linear(x, w, bias))(x, w, bias)  # inside XLA too
    np.testing.assert_allclose(d2l.numpy(compiled), X @ W.T + b, rtol=1e-4, atol=1e-5)


def test_sequential_refuses_what_is_not_a_layer():
    with pytest.raises(TypeError, match="item 1 is int"):
        d2l.Sequential(d2l.ReLU(), 3)


# -- loss and accuracy -------------------------------------------------------------------------

def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def test_cross_entropy_is_stable_and_matches_numpy(backend):
    logits = RNG.normal(size=(6, 5)).astype(np.float32) * 3
    logits[0] = [1000.0, 0.0, -1000.0, 999.0, 0.0]  # exp would overflow without the log-sum-exp shift
    labels = np.array([3, 1, 0, 4, 2, 2])
    got = d2l.numpy(d2l.cross_entropy(backend.from_numpy(logits), backend.from_numpy(labels), averaged=False))
    want = -_log_softmax(logits)[np.arange(6), labels]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert np.isfinite(got).all()
    acc = float(d2l.numpy(d2l.accuracy(backend.from_numpy(logits), backend.from_numpy(labels))))
    assert acc == pytest.approx(np.mean(logits.argmax(axis=1) == labels))


def test_cross_entropy_gradient_is_softmax_minus_one_hot(backend):
    logits = RNG.normal(size=(4, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, 2])
    _, grad = d2l.value_and_grad(lambda z: d2l.cross_entropy(z, backend.from_numpy(labels)))(
        backend.from_numpy(logits))
    want = (np.exp(_log_softmax(logits)) - np.eye(3)[labels]) / 4
    np.testing.assert_allclose(d2l.numpy(grad), want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("labels, match", [([0, 10], r"\[0, 10\).*got \[10\]"), ([-1, 2], r"got \[-1\]")])
def test_labels_out_of_range_are_refused(backend, labels, match):
    logits = d2l.zeros((2, 10))
    with pytest.raises(ValueError, match=match):
        d2l.cross_entropy(logits, backend.from_numpy(np.array(labels)))


def test_a_classifier_checks_labels_before_the_step(backend):
    """Compiled steps (JAX, TensorFlow) cannot read labels: the trainer checks each batch on the host."""
    with pytest.raises(ValueError, match=r"LeNet: labels must lie in \[0, 3\) for 3 outputs, got \[3\]"):
        d2l.Trainer(max_epochs=1, progress=False).fit(lenet(num_classes=3), Blobs())


def test_float_labels_are_refused(backend):
    with pytest.raises(TypeError, match="integer class indices"):
        d2l.cross_entropy(d2l.zeros((2, 3)), d2l.zeros((2,)))


# -- the optimizer and the trainer ---------------------------------------------------------------

def test_sgd_with_momentum_and_weight_decay_matches_the_formula(backend):
    p = {"w": backend.from_numpy(np.array([1.0, -2.0], np.float32))}
    g = {"w": backend.from_numpy(np.array([0.5, 0.5], np.float32))}
    opt = d2l.SGD(0.1, momentum=0.9, weight_decay=0.01)
    state = opt.init(p)
    p1, state = opt.update(p, g, state)
    p2, _ = opt.update(p1, g, state)
    w, v = np.array([1.0, -2.0]), np.zeros(2)
    for _ in range(2):
        v = 0.9 * v + (0.5 + 0.01 * w)
        w = w - 0.1 * v
    np.testing.assert_allclose(d2l.numpy(p2["w"]), w, rtol=1e-6)


@pytest.mark.parametrize("make, match", [
    (lambda: d2l.SGD(0), "lr must be a positive finite number, got 0"),
    (lambda: d2l.SGD(-0.1), "got -0.1"),
    (lambda: d2l.SGD(float("nan")), "got nan"),
    (lambda: d2l.Trainer(max_epochs=0), "max_epochs must be a positive int, got 0"),
    (lambda: d2l.Trainer(max_epochs=2.5), "got 2.5"),
    (lambda: d2l.Linear(0), "out_features must be a positive int"),
])
def test_bad_hyperparameters_are_refused_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_loss_that_stops_being_finite_stops_training(backend):
    model = lenet(lr=1e38)  # the weights overflow float32 after one step
    with pytest.raises(FloatingPointError, match=r"at epoch 1, step \d+ of 4 \(lr=1e\+38\); the last finite loss"):
        d2l.Trainer(max_epochs=1, progress=False, compile=False).fit(model, Blobs())
    params = [d2l.numpy(p) for p in model.parameters()]
    assert all(np.isfinite(p).all() for p in params), "the model kept non-finite parameters"


def relu_net(lr: float = 0.1) -> d2l.Classifier:
    """A small ReLU network that learns Blobs in a few steps (sigmoid LeNet learns late)."""
    d2l.seed(0)
    model = d2l.Classifier()
    model.lr = lr
    model.net = d2l.Sequential(d2l.Conv2D(kernel_size=5, padding=2, out_channels=6), d2l.ReLU(),
                               d2l.MaxPool2D(kernel_size=2, stride=2), d2l.Flatten(), d2l.Linear(32), d2l.ReLU(),
                               d2l.Linear(4))
    model.apply_init([d2l.zeros((1, 1, 28, 28))], d2l.init_cnn)
    return model


def test_the_trainer_learns_and_keeps_a_history(backend):
    model = relu_net()
    trainer = d2l.Trainer(max_epochs=3, progress=False).fit(model, Blobs())
    history = trainer.history
    assert len(history["train_loss"]) == 3 * 4 and len(history["val_acc"]) == 3
    assert history["val_acc"][-1] > 0.9 and history["train_loss"][-1] < 0.5 * history["train_loss"][0], history
    assert model.board.data["train_loss"] and len(model.board.data["val_acc"]) == 3


def test_validation_weighs_batches_by_their_size(backend):
    d2l.seed(0)
    data = Blobs(n=100, batch_size=32)  # validation: 25 examples, batches of 25: use 32 and 7 below
    data.get_dataloader = lambda train, d=data: d.get_tensorloader((d.X, d.y), train, slice(0, 39))
    model = lenet()
    trainer = d2l.Trainer(max_epochs=1, progress=False, compile=False)  # the averaging, not the compiler
    trainer.fit(model, data)
    B = ops()
    X, y = B.from_numpy(data.X[:39]), B.from_numpy(data.y[:39])
    want = float(d2l.numpy(model.accuracy(model(X), y)))
    assert trainer.history["val_acc"][0] == pytest.approx(want, abs=1e-6)


def test_per_step_losses_agree_with_numpy(other_backend):
    """Same initial parameters, same batches: the first 16 losses agree within 1e-4 (relative)."""
    def run():
        d2l.seed(0)
        data, model = Blobs(), lenet()
        return d2l.Trainer(max_epochs=4, progress=False).fit(model, data).history["train_loss"]

    with d2l.use_backend("numpy"):
        reference = run()
    with d2l.use_backend(other_backend.NAME):
        other = run()
    np.testing.assert_allclose(other, reference, rtol=1e-4)


@pytest.mark.needs_backends("torch")
def test_lenet_matches_torch_nn_step_by_step():
    """PyTorch's own layers and SGD, from d2lconv's initial weights on the same batches."""
    import torch
    from torch import nn

    with d2l.use_backend("numpy"):
        data, model = Blobs(), lenet()  # seeds, then draws the weights; the loader draws next
        start = {k: d2l.numpy(v) for k, v in model.named_parameters().items()}
        loader = data.train_dataloader()
        batches = [tuple(np.array(t) for t in batch) for _ in range(2) for batch in loader]
        ours = d2l.Trainer(max_epochs=2, progress=False).fit(lenet(), data).history["train_loss"]

    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Conv2d(6, 16, 5),
                        nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(), nn.Linear(400, 120), nn.Sigmoid(),
                        nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 4))
    with torch.no_grad():
        for name, value in net.named_parameters():
            value.copy_(torch.from_numpy(start["net." + name]))
    opt = torch.optim.SGD(net.parameters(), lr=0.9)
    theirs = []
    for X, y in batches:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
        loss.backward()
        opt.step()
        theirs.append(loss.item())
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)


def test_the_book_idiom_trains_on_the_pinned_backend(other_backend):
    """``from d2lconv import torch as d2l``: a model class of the user's, save_hyperparameters through
    the pinned wrappers, and batches, parameters and steps on that backend while numpy is the default."""
    import importlib

    pinned = getattr(importlib.import_module("d2lconv"), other_backend.NAME)

    class Net(pinned.Classifier):
        def __init__(self, lr=0.1, num_classes=4):
            super().__init__()
            self.save_hyperparameters()
            self.net = pinned.Sequential(pinned.Flatten(), pinned.Linear(16), pinned.ReLU(),
                                         pinned.Linear(num_classes))

    with d2l.use_backend("numpy"):
        pinned.seed(0)
        model = Net()
        assert model.hparams == {"plot_train_per_epoch": 2, "plot_valid_per_epoch": 1, "lr": 0.1, "num_classes": 4}
        trainer = pinned.Trainer(max_epochs=2, progress=False).fit(model, Blobs())
        assert other_backend.is_tensor(model.net[1].weight)
        assert trainer.history["val_acc"][-1] > 0.9


def test_hyperparameters_are_never_parameters_and_numpy_numbers_are_settings(backend):
    """A numpy lr (np.logspace) is a 0-d array on numpy: a setting, not a weight to train."""
    for lr in np.logspace(-1, 0, 2):
        model = d2l.LeNet(lr=lr)
        model.apply_init([d2l.zeros((1, 1, 28, 28))])
        assert "lr" not in model.named_parameters() and sum(d2l.size(p) for p in model.parameters()) == 61706
        assert model.configure_optimizers().lr == pytest.approx(float(lr))
    assert d2l.SGD(np.float32(0.5), momentum=np.float64(0.9)).lr == 0.5


def test_accuracy_refuses_labels_it_would_broadcast_or_truncate(backend):
    logits = backend.from_numpy(np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match=r"accuracy: logits must be \(batch, classes\) and labels \(batch,\)"):
        d2l.accuracy(logits, backend.from_numpy(np.array([[0], [1], [2]])))
    with pytest.raises(TypeError, match="integer class indices"):
        d2l.accuracy(logits, backend.from_numpy(np.array([0.0, 1.7, 2.0], np.float32)))


def test_using_unknown_names_changes_nothing(backend):
    model = lenet()
    before = model.named_parameters()
    with pytest.raises(KeyError, match=r"\['net.99.weight'\] are not parameters"):
        with model.using({"net.0.weight": before["net.0.weight"] * 0.0, "net.99.weight": before["net.0.weight"]}):
            pass
    assert model.net[0].weight is before["net.0.weight"]


def test_a_terminal_gets_progress_each_epoch(backend, capsys):
    """progress=True: a tqdm bar (or, without tqdm, a line) per epoch on stderr, with the metrics."""
    d2l.Trainer(max_epochs=2, progress=True, compile=False).fit(relu_net(), Blobs(n=128, batch_size=32))
    err = capsys.readouterr().err
    assert "epoch 1/2: loss" in err and "epoch 2/2: loss" in err and "acc" in err, err


def test_a_log_gets_a_line_per_epoch_and_no_bar(capsys):
    """progress=None with stderr a file or a pipe (pytest's capture is one): a line per epoch, no bar."""
    d2l.Trainer(max_epochs=2, compile=False).fit(relu_net(), Blobs(n=128, batch_size=32))
    err = capsys.readouterr().err
    assert err.count("epoch 1/2: loss") == 1 and "epoch 2/2: loss" in err and "step/s" not in err, err
