"""Install hints say what works for this installation: the index, or the source checkout."""

from __future__ import annotations

from pathlib import Path

from d2lconv.backend import install_hint
from d2lconv.install import pip_install, source_checkout

ROOT = Path(__file__).resolve().parent.parent


def test_a_source_checkout_gets_an_editable_install_command(tmp_path):
    assert source_checkout() == ROOT  # the tests run from this repository
    assert pip_install("torch", cwd=ROOT) == 'pip install -e ".[torch]"'
    assert pip_install("torch", cwd=tmp_path) == f'pip install -e "{ROOT}[torch]"'
    assert pip_install("", cwd=ROOT) == 'pip install -e "."'
    assert install_hint("jax") == pip_install("jax")


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
