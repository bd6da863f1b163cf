"""Install hints say what works for this installation: the index, or the source checkout."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from d2lconv.backend import FRAMEWORKS, install_hint
from d2lconv.install import CONSTRAINTS, pip_install, source_checkout

ROOT = Path(__file__).resolve().parent.parent


def test_a_source_checkout_gets_an_editable_install_command(tmp_path):
    assert source_checkout() == ROOT  # the tests run from this repository
    assert pip_install("torch", cwd=ROOT) == 'pip install -e ".[torch]"'
    assert pip_install("torch", cwd=tmp_path) == f'pip install -e "{ROOT}[torch]"'
    assert pip_install("", cwd=ROOT) == 'pip install -e "."'
    assert install_hint("jax") in (pip_install("jax"), pip_install("jax", pin="numpy<1.24"))  # see below


def test_an_installed_copy_gets_the_package_index_command():
    assert pip_install("torch", checkout=None) == 'pip install "d2lconv[torch]"'
    assert pip_install("", checkout=None) == "pip install d2lconv"


def test_a_copy_outside_a_d2lconv_repository_is_not_a_checkout(tmp_path, monkeypatch):
    import d2lconv.install as install

    fake = tmp_path / "site-packages" / "d2lconv"
    fake.mkdir(parents=True)
    (tmp_path / "site-packages" / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    monkeypatch.setattr(install, "__file__", str(fake / "install.py"))
    install.source_checkout.cache_clear()
    try:
        assert install.source_checkout() is None
    finally:
        monkeypatch.undo()
        install.source_checkout.cache_clear()


def test_a_pinned_framework_gets_the_constraints_file_from_a_checkout(tmp_path):
    """README: an environment holding MXNet next to other frameworks installs with -c constraints/...;
    the hint says so, relative to where the command is typed, and the file holds the pin."""
    pins = {name: f.pin for name, f in FRAMEWORKS.items() if f.pin}
    assert pins == {"mxnet": "numpy<1.24"}
    assert pip_install("mxnet", cwd=ROOT, pin="numpy<1.24") == (
        'pip install -e ".[mxnet]" -c constraints/all-backends.txt')
    assert pip_install("mxnet", cwd=tmp_path, pin="numpy<1.24") == (
        f'pip install -e "{ROOT}[mxnet]" -c {ROOT / "constraints" / "all-backends.txt"}')
    assert install_hint("mxnet") == pip_install("mxnet", pin="numpy<1.24")
    assert " -c " in install_hint("mxnet") and install_hint("mxnet").endswith("all-backends.txt")
    pinned = re.search(r"^numpy==1\.(\d+)\.", (ROOT / CONSTRAINTS).read_text(), re.M)
    assert pinned and int(pinned.group(1)) < 24  # the file keeps numpy below 1.24


@pytest.fixture
def mxnet_installed(monkeypatch):
    """Whether MXNet is installed here, as the hints see it (found without importing it)."""
    import d2lconv.backend as backend

    real = backend._installed

    def set_to(present: bool) -> None:
        monkeypatch.setattr(backend, "_installed", lambda m: present if m == "mxnet" else real(m))
    return set_to


def test_next_to_mxnet_every_framework_gets_its_pin(mxnet_installed):
    """Installing TensorFlow (or any other framework) unconstrained next to MXNet would upgrade numpy
    under it: where MXNet is installed every hint carries the constraints file; elsewhere only its own."""
    mxnet_installed(True)
    for name in ("numpy", "torch", "tensorflow", "jax", "mxnet"):
        assert install_hint(name).endswith(" -c constraints/all-backends.txt") or \
            install_hint(name).endswith("all-backends.txt"), install_hint(name)
    mxnet_installed(False)
    for name in ("numpy", "torch", "jax"):
        assert " -c " not in install_hint(name) and "numpy<" not in install_hint(name)
    assert install_hint("mxnet").endswith("all-backends.txt")


def test_a_pinned_framework_gets_the_pin_itself_from_an_installed_copy(monkeypatch, tmp_path):
    """A wheel has no constraints file: the hint names the pin instead."""
    import d2lconv.install as install

    assert pip_install("mxnet", checkout=None, pin="numpy<1.24") == 'pip install "d2lconv[mxnet]" "numpy<1.24"'
    monkeypatch.setattr(install, "source_checkout", lambda: None)
    assert install_hint("mxnet") == 'pip install "d2lconv[mxnet]" "numpy<1.24"'
    import d2lconv.backend as backend
    monkeypatch.setattr(backend, "_installed", lambda m: False)
    assert install_hint("torch") == 'pip install "d2lconv[torch]"'
    monkeypatch.setattr(backend, "_installed", lambda m: m == "mxnet")
    assert install_hint("torch") == 'pip install "d2lconv[torch]" "numpy<1.24"'
    assert pip_install("mxnet", checkout=tmp_path, cwd=tmp_path, pin="numpy<1.24") == (
        'pip install -e ".[mxnet]" "numpy<1.24"')  # a checkout without the file: still the pin


def test_the_info_table_shows_the_constraints_file(capsys):
    from d2lconv.cli import main

    assert main(["info", "--json"]) == 0
    rows = {r["backend"]: r["install"] for r in json.loads(capsys.readouterr().out)["backends"]}
    assert rows["mxnet"] == install_hint("mxnet") and "all-backends.txt" in rows["mxnet"]
