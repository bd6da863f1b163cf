"""Faults keep the user's work; property tests of the numerics across backends."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import d2lconv as d2l

from .test_conv import EXAMPLES

# --- Ctrl-C during a matrix run -------------------------------------------------------------

HEADER = ("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
          "kernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n")


def _chapter(folder: Path, name: str, code: str) -> Path:
    path = folder / f"{name}.md"
    path.write_text(HEADER + f"# {name}\n\n```{{code-cell}} ipython3\n{code}\n```\n")
    return path


@pytest.mark.tooling  # the runner on numpy: the same in every environment
@pytest.mark.chapter
def test_ctrl_c_during_matrix_keeps_finished_results(tmp_path):
    quick = _chapter(tmp_path, "a-quick", "import d2lconv as d2l\nd2l.record('v', [1.0, 2.0])")
    slow = _chapter(tmp_path, "b-slow", "import time\ntime.sleep(120)")
    build = tmp_path / "build"
    # a shell that starts a job in the background (`bash .ci/run &`) hands it SIGINT ignored, and
    # Python then installs no Ctrl-C handler: give the matrix the terminal's default, as a user has it
    proc = subprocess.Popen([sys.executable, "-m", "d2lconv.cli", "matrix", str(quick), str(slow),
                             "--backends", "numpy", "-j", "2", "--build-dir", str(build), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    summary = build / "matrix.json"
    deadline = time.time() + 120
    while time.time() < deadline:
        if summary.exists() and json.loads(summary.read_text())["runs"]:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the quick chapter never finished")
    time.sleep(1.0)  # the slow chapter is now inside its sleeping cell
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    data = json.loads(summary.read_text())
    assert data["interrupted"] is True and data["ok"] is False
    done = {r["chapter"]: r for r in data["runs"]}
    assert done["a-quick"]["status"] == "ok"
    assert json.loads(Path(done["a-quick"]["results"]).read_text())["v"]["values"] == [1.0, 2.0]
    leftovers = [p for p in build.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, leftovers
    assert not (build / "numpy" / "b-slow.ipynb").exists()
    assert quick.read_text().startswith(HEADER) and slow.read_text().startswith(HEADER)


# --- property tests across backends -----------------------------------------------------------

# No subnormal floats: TensorFlow and JAX flush them to zero on the CPU (argmax([-1e-45, 0.0]) is
# 0 there, 1 in numpy), a framework setting the contract leaves alone (see backend/_api.py).
finite = st.floats(-10, 10, width=32, allow_nan=False, allow_infinity=False, allow_subnormal=False)
arrays = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5),
                    elements=finite)

UNARY = {
    "abs": np.abs, "exp": np.exp, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
    "sigmoid": lambda a: 1 / (1 + np.exp(-a.astype(np.float64))),
    "transpose": np.transpose, "flip": np.flip,
    "reduce_sum": lambda a: np.sum(a, dtype=np.float64), "reduce_mean": lambda a: np.mean(a, dtype=np.float64),
    "reduce_sum_0": lambda a: np.sum(a, axis=0, dtype=np.float64),
    "reduce_mean_last_keep": lambda a: np.mean(a, axis=-1, keepdims=True, dtype=np.float64),
    "argmax": lambda a: np.argmax(a),
    "repeat_2": lambda a: np.repeat(a, 2),
    "expand_dims_0": lambda a: np.expand_dims(a, 0),
    "swapaxes_0_last": lambda a: np.swapaxes(a, 0, -1),
    "stack_pair": lambda a: np.stack([a, a], axis=0),
    "concat_pair": lambda a: np.concatenate([a, 2 * a], axis=-1),
    "reshape_flat": lambda a: np.reshape(a, (-1,)),
}


def _ours(name, x):
    if name == "reduce_sum_0":
        return d2l.reduce_sum(x, axis=0)
    if name == "reduce_mean_last_keep":
        return d2l.reduce_mean(x, axis=-1, keepdims=True)
    if name == "repeat_2":
        return d2l.repeat(x, 2)
    if name == "expand_dims_0":
        return d2l.expand_dims(x, 0)
    if name == "swapaxes_0_last":
        return d2l.swapaxes(x, 0, len(d2l.shape(x)) - 1)
    if name == "stack_pair":
        return d2l.stack([x, x], axis=0)
    if name == "concat_pair":
        return d2l.concat([x, 2 * x], axis=-1)
    if name == "reshape_flat":
        return d2l.reshape(x, (-1,))
    return getattr(d2l, name)(x)


@EXAMPLES
@given(array=arrays, op=st.sampled_from(sorted(UNARY)))
def test_dispatch_ops_match_numpy(backend, array, op):
    got = d2l.numpy(_ours(op, backend.from_numpy(array)))
    want = np.asarray(UNARY[op](array))
    assert got.shape == want.shape
    if op == "argmax":  # ties: any index holding the maximum is right
        assert array.ravel()[int(got)] == array.max()
    else:
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


@EXAMPLES
@given(data=st.data())
def test_matmul_matches_numpy(backend, data):
    n, m, p = (data.draw(st.integers(1, 6)) for _ in range(3))
    a = data.draw(hnp.arrays(np.float32, (n, m), elements=finite))
    b = data.draw(hnp.arrays(np.float32, (m, p), elements=finite))
    got = d2l.numpy(d2l.matmul(backend.from_numpy(a), backend.from_numpy(b)))
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


@EXAMPLES
@given(data=st.data())
def test_conv2d_gradients_match_finite_differences(backend, data):
    """d/dweight and d/dbias of sum(layer(X) * G), against central differences in float64."""
    n_h, n_w = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    k_h, k_w = data.draw(st.integers(1, n_h)), data.draw(st.integers(1, n_w))
    seed = data.draw(st.integers(0, 2**16))
    mode = data.draw(st.sampled_from(["correlate", "convolve"]))
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(n_h, n_w))
    G = rng.normal(size=(n_h - k_h + 1, n_w - k_w + 1))
    layer = d2l.Conv2D((k_h, k_w), seed=seed, mode=mode)
    weight = d2l.numpy(layer.weight).astype(np.float64)
    X64 = backend.from_numpy(image)

    def objective(w, b):
        return d2l.reduce_sum(layer.forward(X64, w, b) * backend.from_numpy(G))

    _, (gw, gb) = d2l.value_and_grad(objective, argnums=(0, 1))(
        backend.from_numpy(weight), backend.from_numpy(np.zeros(1)))

    def host(w, b):
        import scipy.signal
        fn = scipy.signal.convolve2d if mode == "convolve" else scipy.signal.correlate2d
        return float(np.sum((fn(image, w, mode="valid") + b) * G))

    numeric = np.zeros_like(weight)
    for idx in np.ndindex(weight.shape):
        step = np.zeros_like(weight)
        step[idx] = 1e-6
        numeric[idx] = (host(weight + step, 0.0) - host(weight - step, 0.0)) / 2e-6
    np.testing.assert_allclose(d2l.numpy(gw), numeric, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d2l.numpy(gb), [G.sum()], rtol=1e-6, atol=1e-9)


# --- bad input not covered elsewhere ----------------------------------------------------------

def test_ragged_list_is_a_clear_type_error(backend):
    with pytest.raises(TypeError, match=r"it is ragged \(rows of different lengths\)"):
        d2l.tensor([[1.0, 2.0], [3.0]])


def test_conv2d_layer_checks_its_input(backend):
    layer = d2l.Conv2D((2, 2))
    with pytest.raises(ValueError, match=r"kernel K of shape \(2, 2\) is larger than the image X of shape \(1, 5\)"):
        layer(d2l.ones((1, 5)))
    with pytest.raises(ValueError, match="must be 2-D"):
        layer(d2l.ones((3, 3, 3)))
    with pytest.raises(TypeError, match="got a Python list"):
        layer([[1.0, 2.0], [3.0, 4.0]])


def test_learn_kernel_rejects_lists(backend):
    with pytest.raises(TypeError, match="learn_kernel: the input X must be a"):
        d2l.learn_kernel([[1.0, 2.0]], d2l.ones((1, 1)), (1, 2))


def test_corr2d_matrix_refuses_huge_images(backend):
    with pytest.raises(ValueError, match=r"corr2d_matrix: for an image of shape \(1000, 1000\) the matrix would be "
                                         r"996004 x 1000000 = 996,004,000,000 entries \(limit 100,000,000\)"):
        d2l.corr2d_matrix(d2l.ones((3, 3)), (1000, 1000))
    with pytest.raises(ValueError, match=r"image_shape must be a pair \(height, width\), got 5"):
        d2l.corr2d_matrix(d2l.ones((3, 3)), 5)


def test_batch_matmul_and_to_name_the_problem(backend):
    with pytest.raises(ValueError, match=r"batch_matmul needs two 3-D tensors .* got shapes \(3, 4\) and \(4, 5\)"):
        d2l.batch_matmul(d2l.ones((3, 4)), d2l.ones((4, 5)))
    with pytest.raises(ValueError, match="to: d2lconv tensors live on the CPU; valid targets are a dtype"):
        d2l.to(d2l.ones((2,)), "cuda")


def test_numpy_without_a_gradient_rule_is_named():
    """Inside value_and_grad on numpy, a numpy function autograd cannot differentiate says which."""
    with d2l.use_backend("numpy"):
        with pytest.raises(TypeError, match=r"numpy\.\w+ was called on a value being differentiated"):
            windows = np.lib.stride_tricks.sliding_window_view
            d2l.value_and_grad(lambda x: d2l.reduce_sum(windows(x, 2)))(np.ones(3, np.float32))


# --- partial matrices, one backend, closed pipes ----------------------------------------------

@pytest.mark.tooling  # the runner on numpy: the same in every environment
@pytest.mark.chapter
def test_a_partial_matrix_adds_to_matrix_json_instead_of_erasing_it(tmp_path, capsys):
    from d2lconv.cli import main

    first = _chapter(tmp_path, "first", "import d2lconv as d2l\nd2l.record('v', [1.0])")
    second = _chapter(tmp_path, "second", "import d2lconv as d2l\nd2l.record('w', [2.0])")
    build = tmp_path / "build"
    common = ["--backends", "numpy", "--build-dir", str(build), "--no-progress"]
    assert main(["matrix", str(first), *common]) == 0
    out = capsys.readouterr().out
    assert "nothing to compare for first: fewer than two successful runs" in out and "(alone)" in out
    assert main(["matrix", str(second), *common]) == 0
    assert "kept from the earlier matrix" in capsys.readouterr().out
    runs = {r["chapter"]: r for r in json.loads((build / "matrix.json").read_text())["runs"]}
    assert set(runs) == {"first", "second"} and runs["first"].get("earlier") and not runs["second"].get("earlier")
    first.write_text(first.read_text().replace("[1.0]", "[3.0]"))  # the chapter changed: its old run goes
    assert main(["matrix", str(second), *common]) == 0
    assert {r["chapter"] for r in json.loads((build / "matrix.json").read_text())["runs"]} == {"second"}
    assert main(["matrix", str(first), *common]) == 0
    (build / "numpy" / "first.ipynb").unlink()  # files gone: the run is not kept either
    assert main(["matrix", str(second), *common]) == 0
    assert {r["chapter"] for r in json.loads((build / "matrix.json").read_text())["runs"]} == {"second"}


def test_closing_the_pipe_early_is_not_a_traceback():
    out = subprocess.run(f"{sys.executable} -m d2lconv.cli info | head -1", shell=True, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.startswith("d2lconv ") and out.stderr == "", out.stderr
