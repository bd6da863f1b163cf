"""``d2lconv build``: the book site from a matrix's runs (the browser check is `nox -s site`)."""

from __future__ import annotations

import json
import re

import pytest

from d2lconv.backend import display_name
from d2lconv.cli import main
from d2lconv.runner.matrix import Matrix
from d2lconv.site.build import SiteError, build_site

from .test_robustness import HEADER

pytestmark = [pytest.mark.chapter, pytest.mark.tooling]

CHAPTER = HEADER + """# Tiny Chapter

The sum $\\sum_i x_i$ and a display:

$$ y = x \\star k $$

```{code-cell} ipython3
import d2lconv as d2l
print("running on", d2l.get_backend())
d2l.record("sum", d2l.reduce_sum(d2l.ones((2, 2))))
```

```{code-cell} ipython3
quiet = 1
```

```{code-cell} ipython3
import matplotlib.pyplot as plt
plt.plot([0, 1], [1, 0]);
```
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory, d2lconv_backends):
    root = tmp_path_factory.mktemp("site")
    chapter = root / "tiny.md"
    chapter.write_text(CHAPTER)
    backends = list(dict.fromkeys(["numpy", *d2lconv_backends[:2]]))
    report = Matrix([chapter], backends, root / "build", jobs=2, progress=False).run()
    assert report.ok, report.runs
    return root, build_site(root / "build"), backends


def test_one_page_per_chapter_with_every_backends_outputs_in_tabs(built):
    root, site, backends = built
    page = (site.html / "tiny.html").read_text()
    # the code once; its outputs under it in one tab per backend, in one sync group
    assert page.count("\"running on\"") == 1  # the code, once
    tab_sets = page.count('class="sd-tab-set')
    assert tab_sets == 2  # the print cell and the figure cell; the silent cell gets none
    for backend in backends:
        assert re.search(f'data-sync-id="{backend}"[^>]*>\\s*{display_name(backend)}</label>', page), backend
        assert f"running on {backend}" in page
    assert page.count('data-sync-group="backend"') == 2 * len(backends)
    assert page.count("<img") >= len(backends)  # every backend's figure
    assert not (root / "build" / "site" / "src" / "tiny.md").exists()


def test_math_and_everything_else_is_served_by_the_site_itself(built):
    _, site, _ = built
    for html in site.html.glob("*.html"):
        text = html.read_text()
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', text)
        assert not remote, (html.name, remote)
    page = (site.html / "tiny.html").read_text()
    assert 'src="_static/mathjax/tex-chtml.js' in page
    assert (site.html / "_static" / "mathjax" / "tex-chtml.js").stat().st_size > 500_000
    assert list((site.html / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert '<span class="math notranslate nohighlight">' in page and "\\star" in page  # typeset by MathJax


def test_the_index_shows_status_and_agreement(built):
    _, site, backends = built
    index = (site.html / "index.html").read_text()
    assert 'href="tiny.html"' in index and "Tiny Chapter" in index
    badges = re.findall(r'<span class="[^"]*sd-badge[^"]*">([^<]+)</span>', index)
    expected = ["reference"] + ["agrees"] * (len(backends) - 1) if len(backends) > 1 else ["ok (alone)"]
    assert badges == expected, badges


def test_rebuilding_replaces_the_site_atomically_and_writes_only_there(built, capsys):
    root, site, _ = built
    before = sorted(p.name for p in (root / "build").iterdir())
    assert main(["build", "--build-dir", str(root / "build")]) == 0
    assert "the book (1 chapters)" in capsys.readouterr().out
    assert sorted(p.name for p in (root / "build").iterdir()) == before  # no .site-* leftovers
    assert (site.html / "index.html").exists()
    assert sorted(p.name for p in root.iterdir()) == ["build", "tiny.md"]


@pytest.mark.needs_backends(others=1)
def test_runs_from_different_chapter_texts_are_refused(built, tmp_path):
    import shutil

    root, _, backends = built

    build = tmp_path / "build"
    shutil.copytree(root / "build", build, ignore=shutil.ignore_patterns("site"))
    notebook = build / backends[1] / "tiny.ipynb"
    nb = json.loads(notebook.read_text())
    nb["cells"][-1]["source"] = "changed = True"
    notebook.write_text(json.dumps(nb))
    with pytest.raises(SiteError, match=f"the {backends[1]} run's cells differ from the numpy run's"):
        build_site(build)
    assert not (build / "site").exists()
    assert not list(build.glob(".site-*"))


def test_an_empty_build_directory_is_named(tmp_path, capsys):
    assert main(["build", "--build-dir", str(tmp_path)]) == 2
    assert "no chapter runs (BACKEND/CHAPTER.ipynb)" in capsys.readouterr().err


def test_missing_site_tools_name_the_extra(tmp_path, capsys, monkeypatch):
    import importlib.util

    from d2lconv.install import pip_install

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "myst_nb" else real(name, *a))
    (tmp_path / "numpy").mkdir()
    (tmp_path / "numpy" / "x.ipynb").write_text("{}")
    assert main(["build", "--build-dir", str(tmp_path)]) == 2
    assert f"building the site needs 'myst_nb', which is not installed; install it with: {pip_install('site')}" \
        in capsys.readouterr().err
