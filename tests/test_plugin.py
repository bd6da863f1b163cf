"""The pytest plugin, as an author uses it: a temporary project holding only README's test file
(plus, where a test says so, one more file), run by pytest in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import d2lconv
from d2lconv.backend import BACKENDS, available_backends
from d2lconv.install import pip_install
from d2lconv.testing import BackendsDisagree, BackendsSkipped, Selection, assert_backends_agree, current
from d2lconv.testing import selection as selection_module

README = Path(__file__).resolve().parent.parent / "README.md"

DISAGREEING = '''
import numpy as np
import d2lconv as d2l
from d2lconv.testing import assert_backends_agree


def off_on_one_backend(X):
    """Adds 0.5 on backend {victim!r} only: a deliberate disagreement."""
    return X + (0.5 if d2l.get_backend() == {victim!r} else 0.0)


def test_disagrees():
    assert_backends_agree(off_on_one_backend, np.ones((2, 3), np.float32))
'''


OWN_WARNING = '''
import warnings


def test_own_warning():
    # the text of one of MXNet's import-time warnings, which the plugin silences by the module that warns
    warnings.warn("distutils Version classes are deprecated - the author's own", DeprecationWarning)
'''


def warning_locations(project: Path, stdout: str) -> list[Path]:
    """The files the warnings summary of a pytest run attributes warnings to."""
    if "warnings summary" not in stdout:
        return []
    summary = stdout.split("warnings summary", 1)[1].split("-- Docs:", 1)[0]
    return [(project / m).resolve() for m in re.findall(r"^  (\S+?\.py):\d+: \w+", summary, re.M)]


def readme_test_file() -> str:
    text = README.read_text()
    block = re.search(r"```python\n(# test_blur\.py\n.*?)```", text, re.S)
    assert block, "README's 'test your own code' section should hold test_blur.py"
    return block.group(1)


def run_pytest(project: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict[str, str], dict[str, str]]:
    """pytest in ``project`` (a fresh process, the plugin found through its entry point only):
    the process, {test id: outcome} and {test id: failure message}."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("D2LCONV_", "PYTEST_"))}
    report = project / "report.xml"
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--junitxml", str(report),
                          *args], cwd=project, env=env, capture_output=True, text=True, timeout=900)
    outcomes, messages = {}, {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            test_id = case.get("name")
            problem = case.find("failure") if case.find("failure") is not None else case.find("error")
            if problem is not None:
                outcomes[test_id], messages[test_id] = "failed", problem.get("message", "")
            elif case.find("skipped") is not None:
                outcomes[test_id], messages[test_id] = "skipped", case.find("skipped").get("message", "")
            else:
                outcomes[test_id] = "passed"
    return out, outcomes, messages


def test_readme_test_file_runs_once_per_backend_in_a_bare_project(tmp_path):
    names = list(current().backends)
    (tmp_path / "test_blur.py").write_text(readme_test_file())
    victim = current().others[0] if current().others else None
    if victim:
        (tmp_path / "test_wrong.py").write_text(DISAGREEING.format(victim=victim))
    (tmp_path / "test_own_warning.py").write_text(OWN_WARNING)
    out, outcomes, messages = run_pytest(tmp_path, f"--backends={','.join(names)}")
    assert "d2lconv backends: " in out.stdout, out.stdout + out.stderr  # the plugin loaded, by entry point
    assert not (tmp_path / "conftest.py").exists()
    expected = {f"test_blur_keeps_a_constant_image[{n}]": "passed" for n in names}
    expected["test_blur_agrees_with_numpy"] = "passed"
    expected["test_own_warning"] = "passed"
    if victim:
        expected["test_disagrees"] = "failed"
    assert outcomes == expected, out.stdout[-3000:]
    assert Counter(outcomes.values())["passed"] == len(names) + 2
    # the frameworks' own import-time warnings are silenced; the author's warnings still show
    package = Path(d2lconv.__file__).resolve().parent  # BackendsSkipped, should a backend be missing
    locations = warning_locations(tmp_path, out.stdout)
    assert (tmp_path / "test_own_warning.py").resolve() in locations, out.stdout[-3000:]
    assert "the author's own" in out.stdout
    foreign = [str(p) for p in locations if not (p.is_relative_to(tmp_path.resolve()) or p.is_relative_to(package))]
    assert foreign == [], out.stdout[-5000:]
    if victim:
        message = messages["test_disagrees"]
        assert f"backend {victim!r}: result: shape (2, 3), 6 of 6 values differ; largest difference 0.5" in message
        assert "off_on_one_backend(array(2, 3) float32) disagrees with the numpy backend" in message
        assert not [n for n in current().others if n != victim and f"backend {n!r}" in message]
        assert out.returncode == 1
    else:
        assert out.returncode == 0, out.stdout[-3000:]


def test_a_missing_framework_skips_that_backend_or_fails_when_required(tmp_path):
    """Frameworks hidden from the import system (``sys.modules[name] = None``) count as not installed."""
    missing = [n for n in BACKENDS if n != "numpy"][:2]
    (tmp_path / "test_blur.py").write_text(readme_test_file())
    (tmp_path / "conftest.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in ("torch", "tensorflow")))
    out, outcomes, messages = run_pytest(tmp_path, "--backends=numpy,torch,tensorflow")
    assert outcomes["test_blur_keeps_a_constant_image[numpy]"] == "passed"
    for name in missing:
        assert outcomes[f"test_blur_keeps_a_constant_image[{name}]"] == "skipped"
        hint = pip_install(name, cwd=tmp_path)  # from a source checkout: pip install -e "/path/to/it[torch]"
        assert hint in messages[f"test_blur_keeps_a_constant_image[{name}]"]
    assert outcomes["test_blur_agrees_with_numpy"] == "passed"  # with a warning naming what was left out
    assert "BackendsSkipped" in out.stdout and "not compared, not installed: torch" in out.stdout
    assert out.returncode == 0

    out, outcomes, messages = run_pytest(tmp_path, "--backends=numpy,torch,tensorflow", "--require-backends")
    for name in missing:
        assert outcomes[f"test_blur_keeps_a_constant_image[{name}]"] == "failed"
        assert "required here" in messages[f"test_blur_keeps_a_constant_image[{name}]"]
    assert outcomes["test_blur_agrees_with_numpy"] == "failed"
    assert "backend 'torch' is required" in messages["test_blur_agrees_with_numpy"]
    assert out.returncode == 1


def test_a_bad_backend_name_is_a_usage_error_naming_the_choices(tmp_path):
    (tmp_path / "test_blur.py").write_text(readme_test_file())
    out, outcomes, _ = run_pytest(tmp_path, "--backends=numpy,pytorhc")
    assert out.returncode == 4 and not outcomes
    assert "unknown d2lconv backend 'pytorhc'" in out.stderr and "'all' or 'installed'" in out.stderr


def test_a_project_fixture_named_backend_wins_over_the_plugin(tmp_path):
    (tmp_path / "test_own.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef backend():\n    return 'mine'\n\n"
        "def test_own(backend):\n    assert backend == 'mine'\n")
    out, outcomes, _ = run_pytest(tmp_path, "--backends=all")
    assert outcomes == {"test_own": "passed"}, out.stdout


@pytest.mark.parametrize("text, expected", [
    ("numpy", ["numpy"]), (" Torch , tf,numpy ", None), ("all", list(BACKENDS)), ("installed", None)])
def test_parse_backends(text, expected):
    got = selection_module.parse_backends(text)
    if text == "installed":
        assert set(got) == set(available_backends())
    elif expected is None:
        assert sorted(got) == ["numpy", "tensorflow", "torch"]
    else:
        assert sorted(got) == sorted(expected)
    with pytest.raises(ValueError, match="unknown d2lconv backend 'nump'.*'all' or 'installed'"):
        selection_module.parse_backends("nump")
    with pytest.raises(ValueError, match="no backend named"):
        selection_module.parse_backends(" , ")


def test_assert_backends_agree_compares_nested_results_and_names_the_backend(monkeypatch, other_backend):
    name = other_backend.NAME
    monkeypatch.setattr(selection_module, "_current", Selection(("numpy", name), frozenset()))

    def pair(X, scale=1.0):
        import d2lconv as d2l
        return {"sum": d2l.reduce_sum(X * scale), "rows": [X[0], X[1:]]}

    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    results = assert_backends_agree(pair, X, scale=2.0)
    assert set(results) == {"numpy", name}
    np.testing.assert_allclose(results[name]["result['rows'][1]"], [[3, 4, 5]])

    def skewed(X):
        import d2lconv as d2l
        return [X, X * (1.001 if d2l.get_backend() == name else 1.0)]

    with pytest.raises(BackendsDisagree) as info:
        assert_backends_agree(skewed, X)
    text = str(info.value)
    assert f"backend {name!r}: result[1]: shape (2, 3), 5 of 6 values differ; largest difference 0.005 " \
           "at index (1, 2): 5.005 vs numpy's 5" in text
    assert "result[0]" not in text

    def wrong_shape(X):
        import d2lconv as d2l
        return X if d2l.get_backend() == "numpy" else d2l.transpose(X)

    with pytest.raises(BackendsDisagree, match=r"result: shape \(3, 2\) where numpy gives \(2, 3\)"):
        assert_backends_agree(wrong_shape, X)


def test_assert_backends_agree_reports_a_raising_backend_and_warns_about_missing_ones(monkeypatch):
    monkeypatch.setattr(selection_module, "_current", Selection(("numpy",), frozenset()))
    with pytest.warns(BackendsSkipped, match="only the numpy backend ran: nothing was compared"):
        assert_backends_agree(lambda X: X, np.zeros(2))

    def boom(X):
        raise RuntimeError("bad input")

    with pytest.raises(BackendsDisagree, match=r"boom\(array\(2,\) float64\) raised on backend 'numpy': "
                                               r"RuntimeError: bad input"):
        assert_backends_agree(boom, np.zeros(2))
    missing = [n for n in BACKENDS if n not in available_backends()]
    if missing:
        with pytest.warns(BackendsSkipped, match=f"not compared, not installed: .*{missing[0]}"):  # any order
            assert_backends_agree(lambda X: X, np.zeros(2), backends=missing)
