"""Choosing a backend: names, env var, set_backend/use_backend, laziness, missing frameworks."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import d2lconv as d2l
from d2lconv.backend import BACKENDS, FRAMEWORKS, canonical_name, install_hint
from d2lconv.testing import load_or_skip

FRAMEWORK_MODULES = tuple(f.module for name, f in FRAMEWORKS.items() if name != "numpy")


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "D2LCONV_BACKEND"}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=300)


@pytest.mark.parametrize("given, canonical", [
    ("numpy", "numpy"), ("torch", "torch"), ("pytorch", "torch"), ("tf", "tensorflow"),
    ("tensorflow", "tensorflow"), ("mxnet", "mxnet"), ("  Torch ", "torch"), ("TF", "tensorflow"),
    ("NumPy", "numpy"), ("PyTorch", "torch"), ("jax", "jax"), (" JAX", "jax"),
])
def test_names_and_aliases(given, canonical):
    assert canonical_name(given) == canonical


@pytest.mark.parametrize("bad", ["", "jaxx", "numpy2", "torch,tf", "  "])
def test_unknown_names_raise_with_the_valid_ones(bad):
    with pytest.raises(ValueError, match=r"unknown d2lconv backend .*valid names: 'numpy', 'torch', "
                                         r"'tensorflow', 'mxnet', 'jax' \(aliases: 'pytorch' for 'torch'"):
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


def test_env_var_selects_each_installed_backend(backend_name):
    name = backend_name
    load_or_skip(name)
    out = run_python("import d2lconv as d2l; from d2lconv.backend import load; "
                     f"print(d2l.get_backend(), isinstance(d2l.zeros(2), load({name!r}).Tensor))",
                     D2LCONV_BACKEND=name)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [name, "True"]


@pytest.mark.parametrize("value", ["jaxx", "numpy2", "torch,tf"])
def test_bad_env_var_fails_at_first_use_and_imports_no_framework(value):
    """``import d2lconv`` works (the command's --help must); the first op names the bad variable
    and the valid names, and nothing falls back or loads a framework."""
    code = ("import sys\nimport d2lconv as d2l\n"
            "for use in (lambda: d2l.zeros(2), d2l.get_backend, lambda: d2l.corr2d):\n"
            "    try:\n        use()\n    except ValueError as e:\n        print('ERROR', e)\n"
            f"print([m for m in {FRAMEWORK_MODULES!r} if m in sys.modules])")
    out = run_python(code, D2LCONV_BACKEND=value)
    assert out.returncode == 0, out.stderr
    *errors, loaded = out.stdout.strip().splitlines()
    assert len(errors) == 2, errors  # d2l.corr2d is shared code: looking it up needs no backend
    for first in errors:
        assert first.startswith(f"ERROR D2LCONV_BACKEND={value!r} is not a d2lconv backend; valid names: 'numpy'")
        assert "'jax'" in first
    assert loaded == "[]"


def test_use_backend_restores_exactly(other_backend):
    before = d2l.get_backend()
    with d2l.use_backend(other_backend.NAME):
        assert d2l.get_backend() == other_backend.NAME
        with d2l.use_backend("numpy"):
            assert d2l.get_backend() == "numpy"
        assert d2l.get_backend() == other_backend.NAME
    assert d2l.get_backend() == before
    with pytest.raises(RuntimeError):
        with d2l.use_backend(other_backend.NAME):
            raise RuntimeError("boom")
    assert d2l.get_backend() == before


def test_set_backend_changes_the_default_and_names_follow(backend_name):
    name = backend_name
    backend = load_or_skip(name)
    before = d2l.get_backend()
    try:
        d2l.set_backend(name)
        assert d2l.get_backend() == name
        assert d2l.zeros is backend.zeros and d2l.float32 is backend.float32
    finally:
        d2l.set_backend(before)
    assert d2l.get_backend() == before
    # outside the fixture's use_backend block the module attributes are the default's again
    code = (f"import d2lconv as d2l; from d2lconv.backend import load; d2l.set_backend({backend.NAME!r}); "
            f"m = load({backend.NAME!r}); print(d2l.zeros is m.zeros, d2l.float32 is m.float32, "
            f"m.is_tensor(d2l.ones((2, 2))))")
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True"]


def test_threads_use_different_backends_at_once(other_backend):
    """Two threads, each inside its own use_backend block at the same time, see only their own.

    With a process-wide variable instead of the ContextVar, one thread would see the other's."""
    default = d2l.get_backend()
    names = ["numpy", other_backend.NAME]
    barrier = threading.Barrier(2)
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
                    assert d2l.is_tensor(kernel) and d2l.get_backend() == name
                barrier.wait(timeout=60)
                results[name] = (d2l.numpy(kernel), losses)
        except Exception as exc:  # reported below with the thread's backend
            errors.append((name, repr(exc)))
            barrier.abort()

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert set(results) == set(names)
    for name, (kernel, losses) in results.items():
        np.testing.assert_allclose(losses, results["numpy"][1], rtol=1e-4, err_msg=name)
        np.testing.assert_allclose(kernel, results["numpy"][0], rtol=1e-4, atol=1e-6, err_msg=name)
    assert d2l.get_backend() == default


def test_a_new_thread_sees_the_process_default_not_a_context(other_backend):
    default = d2l.get_backend()
    assert default != other_backend.NAME
    seen = []
    with d2l.use_backend(other_backend.NAME):
        t = threading.Thread(target=lambda: seen.append(d2l.get_backend()))
        t.start()
        t.join()
        assert d2l.get_backend() == other_backend.NAME
    assert seen == [default]


def test_available_backends_imports_nothing():
    code = ("import sys, json, d2lconv as d2l; names = d2l.available_backends(); "
            f"print(json.dumps([names, [m for m in {FRAMEWORK_MODULES!r} if m in sys.modules]]))")
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    names, imported = json.loads(out.stdout)
    assert imported == []
    assert "numpy" in names and set(names) <= set(BACKENDS)


def test_numpy_backend_never_imports_a_framework():
    code = f"""
import sys, numpy as np, d2lconv as d2l
after_import = [m for m in {FRAMEWORK_MODULES!r} if m in sys.modules]
img = np.ones((6, 8), np.float32); img[:, 2:6] = 0
X = d2l.tensor(img); Y = d2l.corr2d(X, d2l.tensor([[1.0, -1.0]]))
d2l.learn_kernel(X, Y, (1, 2)); d2l.convolve2d(X, d2l.kernels.laplacian())
from d2lconv import numpy as pinned
pinned.corr2d(X, d2l.tensor([[1.0, -1.0]]))
print(after_import, [m for m in {FRAMEWORK_MODULES!r} if m in sys.modules])
"""
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] []"


@pytest.mark.parametrize("name, module", [("torch", "torch"), ("tensorflow", "tensorflow"), ("mxnet", "mxnet"),
                                          ("jax", "jax"), ("jax", "jaxlib"), ("pytorch", "torch")])
def test_missing_framework_names_the_extra(name, module):
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            f"import d2lconv as d2l\nd2l.set_backend({name!r})")
    out = run_python(code)
    assert out.returncode != 0
    canonical = canonical_name(name)
    if not importlib.util.find_spec(FRAMEWORKS[canonical].module):  # then the framework itself is named
        module = FRAMEWORKS[canonical].module
    assert f"the d2lconv backend {canonical!r} needs the {module!r} package, which is not installed" in out.stderr
    assert "BackendNotInstalledError" in out.stderr
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


def test_parallel_matrix_runs_get_their_share_of_the_cores(monkeypatch, tmp_path):
    import os

    from d2lconv.backend import thread_limits
    from d2lconv.runner.matrix import Matrix

    limits = thread_limits(3)
    assert limits["OMP_NUM_THREADS"] == "3" and limits["TF_NUM_INTRAOP_THREADS"] == "3"
    assert thread_limits(0)["OMP_NUM_THREADS"] == "1"
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    share = str(max(1, (os.cpu_count() or 1) // 2))
    assert Matrix([], ["numpy"], tmp_path, jobs=2)._run_environment()["OMP_NUM_THREADS"] == share
    assert "OMP_NUM_THREADS" not in Matrix([], ["numpy"], tmp_path, jobs=1)._run_environment()
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # the user's own cap wins
    assert Matrix([], ["numpy"], tmp_path, jobs=2)._run_environment()["OMP_NUM_THREADS"] == "7"
