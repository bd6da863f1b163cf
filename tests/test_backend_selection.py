"""Choosing a backend: names, env var, set_backend/use_backend, laziness, missing frameworks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import d2lconv as d2l
from d2lconv.backend import BACKENDS, canonical_name, install_hint

from .conftest import TEST_BACKENDS, load_or_skip

FRAMEWORK_MODULES = ("torch", "tensorflow", "mxnet")


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "D2LCONV_BACKEND"}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=300)


@pytest.mark.parametrize("given, canonical", [
    ("numpy", "numpy"), ("torch", "torch"), ("pytorch", "torch"), ("tf", "tensorflow"),
    ("tensorflow", "tensorflow"), ("mxnet", "mxnet"), ("  Torch ", "torch"), ("TF", "tensorflow"),
    ("NumPy", "numpy"), ("PyTorch", "torch"),
])
def test_names_and_aliases(given, canonical):
    assert canonical_name(given) == canonical


@pytest.mark.parametrize("bad", ["", "jax", "numpy2", "torch,tf", "  "])
def test_unknown_names_raise_with_the_valid_ones(bad):
    with pytest.raises(ValueError, match=r"unknown d2lconv backend .*valid names: 'numpy', 'torch', "
                                         r"'tensorflow', 'mxnet' \(aliases: 'pytorch' for 'torch'"):
        d2l.set_backend(bad)
    with pytest.raises(ValueError, match="unknown d2lconv backend"):
        with d2l.use_backend(bad):
            pass


def test_non_string_name():
    with pytest.raises(TypeError, match="a backend name must be a string, got int 3"):
        d2l.set_backend(3)


@pytest.mark.parametrize("value, expected", [("", "numpy"), ("numpy", "numpy"), (" NUMPY ", "numpy")])
def test_env_var_selects(value, expected):
    out = run_python("import d2lconv; print(d2lconv.get_backend())", D2LCONV_BACKEND=value)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


def test_env_var_selects_each_installed_backend():
    for name in TEST_BACKENDS:
        load_or_skip(name)
        out = run_python("import d2lconv as d2l; print(d2l.get_backend(), type(d2l.zeros(2)).__module__)",
                         D2LCONV_BACKEND=name)
        assert out.returncode == 0, out.stderr
        backend, module = out.stdout.split()
        assert backend == name and module.split(".")[0] == name


def test_bad_env_var_fails_loudly():
    out = run_python("import d2lconv as d2l; d2l.zeros(2)", D2LCONV_BACKEND="jaxx")
    assert out.returncode != 0
    assert "D2LCONV_BACKEND='jaxx' is not a d2lconv backend; valid names: 'numpy'" in out.stderr


def test_use_backend_restores_exactly(loaded_backends):
    before = d2l.get_backend()
    names = list(loaded_backends)
    with d2l.use_backend(names[-1]):
        assert d2l.get_backend() == names[-1]
        with d2l.use_backend(names[0]):
            assert d2l.get_backend() == names[0]
        assert d2l.get_backend() == names[-1]
    assert d2l.get_backend() == before
    with pytest.raises(RuntimeError):
        with d2l.use_backend(names[-1]):
            raise RuntimeError("boom")
    assert d2l.get_backend() == before


def test_set_backend_changes_the_default_and_names_follow(loaded_backends):
    before = d2l.get_backend()
    try:
        for name, module in loaded_backends.items():
            d2l.set_backend(name)
            assert d2l.get_backend() == name
            assert d2l.zeros is module.zeros and d2l.float32 is module.float32
            assert module.is_tensor(d2l.ones((2, 2)))
    finally:
        d2l.set_backend(before)


def test_threads_use_different_backends_at_once(loaded_backends):
    """Each thread runs its own use_backend block; results and the default stay right."""
    default = d2l.get_backend()
    barrier = threading.Barrier(len(loaded_backends))
    results, errors = {}, []

    def work(name):
        try:
            with d2l.use_backend(name):
                barrier.wait(timeout=60)
                for _ in range(3):
                    assert d2l.get_backend() == name
                    X = d2l.tensor(np.where((np.arange(8) >= 2) & (np.arange(8) < 6), 0.0, 1.0)[None].repeat(6, 0))
                    Y = d2l.corr2d(X, d2l.tensor([[1.0, -1.0]]))
                    kernel, losses = d2l.learn_kernel(X, Y, (1, 2))
                    assert loaded_backends[name].is_tensor(kernel)
                results[name] = (d2l.numpy(kernel), losses)
        except Exception as exc:  # reported below with the thread's backend
            errors.append((name, repr(exc)))

    threads = [threading.Thread(target=work, args=(n,)) for n in loaded_backends]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert set(results) == set(loaded_backends)
    reference = next(iter(results.values()))
    for name, (kernel, losses) in results.items():
        np.testing.assert_allclose(losses, reference[1], rtol=1e-4, err_msg=name)
        np.testing.assert_allclose(kernel, reference[0], rtol=1e-4, atol=1e-6, err_msg=name)
    assert d2l.get_backend() == default


def test_a_new_thread_sees_the_process_default_not_a_context():
    seen = []
    with d2l.use_backend("numpy"):
        t = threading.Thread(target=lambda: seen.append(d2l.get_backend()))
        t.start()
        t.join()
    assert seen == [d2l.get_backend()]


def test_available_backends_imports_nothing():
    code = ("import sys, json, d2lconv as d2l; names = d2l.available_backends(); "
            "print(json.dumps([names, [m for m in ('torch', 'tensorflow', 'mxnet') if m in sys.modules]]))")
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    names, imported = json.loads(out.stdout)
    assert imported == []
    assert "numpy" in names and set(names) <= set(BACKENDS)


def test_numpy_backend_never_imports_a_framework():
    code = """
import sys, numpy as np, d2lconv as d2l
after_import = [m for m in ('torch', 'tensorflow', 'mxnet') if m in sys.modules]
img = np.ones((6, 8), np.float32); img[:, 2:6] = 0
X = d2l.tensor(img); Y = d2l.corr2d(X, d2l.tensor([[1.0, -1.0]]))
d2l.learn_kernel(X, Y, (1, 2)); d2l.convolve2d(X, d2l.kernels.laplacian())
print(after_import, [m for m in ('torch', 'tensorflow', 'mxnet') if m in sys.modules])
"""
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] []"


@pytest.mark.parametrize("name, module", [("torch", "torch"), ("tensorflow", "tensorflow"),
                                          ("mxnet", "mxnet"), ("pytorch", "torch")])
def test_missing_framework_names_the_extra(name, module):
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            f"import d2lconv as d2l\nd2l.set_backend({name!r})")
    out = run_python(code)
    assert out.returncode != 0
    canonical = canonical_name(name)
    assert f"the d2lconv backend {canonical!r} needs the {module!r} package, which is not installed" in out.stderr
    assert install_hint(canonical) in out.stderr
    out = run_python(f"import sys; sys.modules[{module!r}] = None\nimport d2lconv as d2l\nd2l.zeros(3)",
                     D2LCONV_BACKEND=name)
    assert out.returncode != 0 and install_hint(canonical) in out.stderr


def test_op_names_follow_the_backend_and_unknown_names_fail(backend):
    assert d2l.zeros is backend.zeros
    assert d2l.float32 is backend.float32
    with pytest.raises(AttributeError, match="has no attribute 'no_such_op'"):
        d2l.no_such_op  # noqa: B018
    assert "reduce_sum" in dir(d2l)
