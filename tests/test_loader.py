"""Loading backends: what counts as "not installed", errors in our own code, every order of frameworks."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from d2lconv.backend import FRAMEWORKS, BackendImportError, BackendNotInstalledError, load_order
from d2lconv.testing import Selection, current, require_installed
from d2lconv.testing import selection as selection_module


def run_python(code: str, extra_path: str | None = None, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "D2LCONV_BACKEND"}
    full_env.update(env)
    if extra_path:
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [extra_path, full_env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, timeout=600)


def test_a_bug_in_a_backend_module_is_not_reported_as_a_missing_framework():
    """A framework module that imports fine but lacks what our backend file uses: our code fails
    with its own error, neither a "not installed" nor a "failed to import" message."""
    out = run_python("""
        import sys, types
        sys.modules['torch'] = types.ModuleType('torch')   # imports, but is empty
        import d2lconv as d2l
        d2l.set_backend('torch')
    """)
    assert out.returncode != 0
    assert "AttributeError" in out.stderr and "not installed" not in out.stderr
    assert "BackendImportError" not in out.stderr and "BackendNotInstalledError" not in out.stderr


def test_an_installed_but_broken_framework_is_an_import_error_not_a_skip(tmp_path):
    (tmp_path / "torch.py").write_text("raise RuntimeError('this build of torch is broken')\n")
    out = run_python("""
        import d2lconv as d2l
        from d2lconv.backend import BackendImportError, BackendNotInstalledError
        try:
            d2l.set_backend('torch')
        except BackendImportError as exc:
            print('import error:', isinstance(exc, BackendNotInstalledError), exc)
    """, extra_path=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("import error: False 'torch', needed by the d2lconv backend 'torch', "
                                 "is installed but failed to import (RuntimeError: this build of torch is broken)")


def test_the_fixture_skips_only_a_missing_framework(monkeypatch):
    def raising(exc):
        def load(name):
            raise exc
        return load

    optional, required = Selection(("torch",), frozenset()), Selection(("torch",), frozenset({"torch"}))
    monkeypatch.setattr(selection_module, "load", raising(BackendNotInstalledError("not installed")))
    with pytest.raises(pytest.skip.Exception):
        optional.load_or_skip("torch")
    with pytest.raises(pytest.fail.Exception, match="required here"):
        required.load_or_skip("torch")
    for error in (BackendImportError("installed but broken"), AttributeError("a bug of ours")):
        monkeypatch.setattr(selection_module, "load", raising(error))
        with pytest.raises(type(error)):
            optional.load_or_skip("torch")


def test_load_order_puts_a_framework_before_the_one_it_cannot_follow():
    for name, framework in FRAMEWORKS.items():
        for other in framework.crashes_after:
            assert load_order([other, name]) == [name, other]
            assert load_order([name, other]) == [name, other]
    everything = load_order(list(FRAMEWORKS))
    assert sorted(everything) == sorted(FRAMEWORKS)
    for name, framework in FRAMEWORKS.items():
        assert all(everything.index(name) < everything.index(other) for other in framework.crashes_after)


PAIR_CODE = """
import d2lconv as d2l
from d2lconv.backend import BackendImportError
d2l.set_backend({first!r})
a = d2l.numpy(d2l.corr2d(d2l.ones((3, 3)), d2l.ones((2, 2))))
try:
    with d2l.use_backend({second!r}):
        b = d2l.numpy(d2l.corr2d(d2l.ones((3, 3)), d2l.ones((2, 2))))
    print("both ran", a.tolist() == b.tolist() == [[4.0, 4.0], [4.0, 4.0]])
except BackendImportError as exc:
    print("refused:", exc)
"""


@pytest.mark.needs_backends(others=2)
def test_every_ordered_pair_of_installed_frameworks_loads_or_is_refused_clearly():
    """Never a crash: each ordered pair either runs both backends or raises BackendImportError
    naming the pair and the fix (TensorFlow then MXNet segfaults inside libmxnet here)."""
    names = []
    for name in current().others:
        require_installed(name)  # subprocesses do the importing
        names.append(name)
    pairs = list(itertools.permutations(names, 2))
    with ThreadPoolExecutor(max_workers=2) as pool:
        outs = list(pool.map(lambda p: run_python(PAIR_CODE.format(first=p[0], second=p[1])), pairs))
    for (first, second), out in zip(pairs, outs):
        assert out.returncode == 0, f"{first} then {second}: exit {out.returncode}\n{out.stderr[-2000:]}"
        refused = second in FRAMEWORKS and first in FRAMEWORKS[second].crashes_after
        if refused:
            assert out.stdout.startswith(f"refused: the d2lconv backend {second!r} cannot be loaded into this "
                                         f"process because {first!r} is already imported"), out.stdout
            assert f"Load {second!r} first" in out.stdout
        else:
            assert out.stdout.strip() == "both ran True", f"{first} then {second}: {out.stdout}{out.stderr[-2000:]}"


@pytest.mark.needs_backends("tensorflow", "mxnet")
def test_readme_example_tf_then_mxnet_is_refused_not_a_segfault():
    for name in ("tensorflow", "mxnet"):
        require_installed(name)
    out = run_python("""
        import d2lconv as d2l
        from d2lconv.backend import BackendImportError
        d2l.set_backend("tf")
        try:
            with d2l.use_backend("mxnet"):
                pass
        except BackendImportError as exc:
            print("refused:", exc)
        with d2l.use_backend("numpy"):
            print("still alive", d2l.get_backend())
    """)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "refused: the d2lconv backend 'mxnet' cannot be loaded" in out.stdout
    assert "still alive numpy" in out.stdout


def test_a_missing_framework_is_not_installed_even_after_one_it_conflicts_with():
    out = run_python("""
        import sys, types
        sys.modules['tensorflow'] = types.ModuleType('tensorflow')   # "loaded"
        sys.modules['mxnet'] = None                                   # not installed
        import d2lconv as d2l
        from d2lconv.backend import BackendNotInstalledError
        try:
            d2l.set_backend('mxnet')
        except BackendNotInstalledError as exc:
            print('not installed:', exc)
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("not installed: the d2lconv backend 'mxnet' needs the 'mxnet' package")
