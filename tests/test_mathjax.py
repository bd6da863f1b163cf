"""The MathJax copy beside the pages: complete, licensed, and never a half-finished folder."""

from __future__ import annotations

import pytest

from d2lconv import mathjax

pytestmark = pytest.mark.skipif(mathjax.mathjax_source() is None, reason="no MathJax 3 package installed "
                                "(the [chapters] extra brings one)")


def test_a_copy_is_complete_and_carries_the_license(tmp_path):
    dest = mathjax.ensure_mathjax(tmp_path / "mathjax")
    assert mathjax.is_complete(dest)
    assert "Apache License" in (dest / "LICENSE").read_text()
    assert mathjax.ensure_mathjax(dest) == dest  # a second run reuses it


def test_an_incomplete_copy_is_replaced_whole(tmp_path):
    dest = tmp_path / "mathjax"
    dest.mkdir()
    (dest / mathjax.ENTRY).write_text("// an older, partial copy")
    mathjax.ensure_mathjax(dest)
    assert mathjax.is_complete(dest) and (dest / mathjax.ENTRY).stat().st_size > 100_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mathjax"]  # no work folder left


def test_no_mathjax_installed_is_a_file_not_found_error(tmp_path, monkeypatch):
    monkeypatch.setattr(mathjax, "mathjax_source", lambda: None)
    with pytest.raises(FileNotFoundError, match="no MathJax 3 files installed"):
        mathjax.ensure_mathjax(tmp_path / "mathjax")
