"""``d2lconv build``: the book site from a matrix's runs (the browser check is `nox -s site`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from d2lconv.backend import display_name
from d2lconv.cli import main
from d2lconv.runner.matrix import Matrix
from d2lconv.site.build import SiteError, build_site
from d2lconv.site.merge import find_runs

from .test_robustness import HEADER

pytestmark = [pytest.mark.chapter, pytest.mark.tooling]

CHAPTER = HEADER + """# Tiny Chapter

The sum $\\sum_i x_i$ and a display:

$$ y = x \\star k $$

A display too long for the column:

$$ s = a_1 + a_2 + a_3 + a_4 + a_5 + a_6 + a_7 + a_8 + a_9 + a_{10} + a_{11}
+ a_{12} + a_{13} + a_{14} + a_{15} + a_{16} + a_{17} + a_{18} + a_{19} + a_{20} + a_{21} + a_{22} + a_{23} $$

```{code-cell} ipython3
import d2lconv as d2l
print("running on", d2l.get_backend())
print("a long output line:", " ".join(["word"] * 40), "the end")  # and a long line of code, as the chapters have
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


CHECK_SITE = Path(__file__).resolve().parent.parent / "tools" / "check_site.py"


def browser_check(*args: str) -> str:
    """Run tools/check_site.py (headless Chromium, network blocked) and return what it printed;
    skipped where there is no Chromium (nox -s site installs it) or no websocket-client."""
    if not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("no Chromium: apt-get install chromium")
    pytest.importorskip("websocket")
    proc = subprocess.run([sys.executable, str(CHECK_SITE), *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def assert_run_page_is_offline(html: Path) -> None:
    """A `d2lconv run` page loads no script or stylesheet from the network; MathJax is beside it."""
    text = html.read_text()
    remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', text)
    assert not remote and "cdnjs" not in text and "import(\"http" not in text, remote
    assert re.search(r'<script[^>]+src="\.\./mathjax/tex-chtml\.js"', text)
    assert (html.parent.parent / "mathjax" / "tex-chtml.js").stat().st_size > 500_000


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


def test_the_run_pages_typeset_their_math_offline(built):
    """The page `d2lconv run` writes: MathJax from the build directory, checked in Chromium offline."""
    root, _, backends = built
    page = root / "build" / backends[-1] / "tiny.html"
    assert_run_page_is_offline(page)
    out = browser_check("--run-page", str(page))
    assert re.search(r"ok +math: [1-9]\d* formulas typeset by MathJax, 0 left as raw TeX", out), out
    assert "none leaves the pages" in out


def test_long_code_outputs_and_equations_fit_the_column(built):
    """Nothing on a page scrolls sideways in Chromium (1280 px window): code and outputs wrap, a
    long display equation is scaled to fit."""
    _, site, _ = built
    out = browser_check("--page-layout", str(site.html / "tiny.html"))
    assert "ok     nothing scrolls sideways" in out, out


def test_chapters_come_in_the_books_order(built, tmp_path):
    """Index, sidebar and previous/next follow the section numbers in the chapters' front matter;
    chapters without one come last, alphabetically."""
    root, _, backends = built
    build = tmp_path / "build"
    shutil.copytree(root / "build", build, ignore=shutil.ignore_patterns("site"))
    places = {"zeta": "7.2", "alpha": "7.10", "mid": "7.3", "beta": None, "aaa": None}
    summary = json.loads((build / "matrix.json").read_text())
    tiny_runs = [r for r in summary["runs"] if r["chapter"] == "tiny"]
    for name, section in places.items():
        for backend in backends:
            nb = json.loads((build / backend / "tiny.ipynb").read_text())
            nb["metadata"]["d2lconv"] = {"section": section} if section else {}
            (build / backend / f"{name}.ipynb").write_text(json.dumps(nb))
            shutil.copy(build / backend / "tiny.results.json", build / backend / f"{name}.results.json")
        summary["runs"] += [{**r, "chapter": name, "section": section} for r in tiny_runs]
    (build / "matrix.json").write_text(json.dumps(summary))
    site = build_site(build)
    assert site.chapters == ["zeta", "mid", "alpha", "aaa", "beta", "tiny"]
    index = (site.html / "index.html").read_text()
    table = index[index.index("<table"):index.index("</table>")]
    assert re.findall(r'href="(\w+)\.html"', table) == site.chapters
    sidebar = re.findall(r'class="reference internal" href="(\w+)\.html"', (site.html / "zeta.html").read_text())
    assert [c for c in dict.fromkeys(sidebar) if c in site.chapters] == site.chapters[1:]  # zeta: the page itself
    page = (site.html / "zeta.html").read_text()
    assert re.search(r'class="left-prev"\s+href="index\.html"', page) and \
        re.search(r'class="right-next"\s+href="mid\.html"', page)
    table = format_table_of(summary["runs"])
    assert table.splitlines()[0].split()[1:] == site.chapters


def format_table_of(runs):
    from d2lconv.runner.agreement import format_table

    return format_table(runs, [])


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


SLOW_CHAPTER = HEADER + """# Slow

```{code-cell} ipython3
import os, pathlib, time
import d2lconv as d2l
d2l.record("x", [1.0])
if os.environ.get("D2LCONV_TEST_MARK"):
    pathlib.Path(os.environ["D2LCONV_TEST_MARK"]).write_text("in the cell")
    time.sleep(120)
```
"""


def test_an_interrupted_matrix_shows_nothing_it_did_not_record(built, tmp_path):
    """Ctrl-C (SIGINT to the process group) while a run is in flight: the matrix records what
    finished, the run leaves no file behind, and the site shows neither it nor a notebook an
    earlier interrupted run left (the site takes only the runs matrix.json recorded)."""
    root, _, _ = built
    fast, slow, build = tmp_path / "fast.md", tmp_path / "slow.md", tmp_path / "build"
    fast.write_text(CHAPTER.replace("# Tiny Chapter", "# Fast"))
    slow.write_text(SLOW_CHAPTER)
    # what the old runner left when Ctrl-C came between its writes: an executed notebook, no page
    (build / "numpy").mkdir(parents=True)
    shutil.copy(root / "build" / "numpy" / "tiny.ipynb", build / "numpy" / "slow.ipynb")
    mark = tmp_path / "in-the-cell"
    proc = subprocess.Popen([sys.executable, "-m", "d2lconv.cli", "matrix", str(fast), str(slow), "--backends",
                             "numpy", "-j", "1", "--no-progress", "--build-dir", str(build)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            env={**os.environ, "D2LCONV_TEST_MARK": str(mark), "D2LCONV_BACKEND": ""})
    try:
        deadline = time.time() + 240
        while not mark.exists():
            assert proc.poll() is None and time.time() < deadline, proc.communicate()[0][-3000:]
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        out = proc.communicate(timeout=90)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, out
    recorded = {(r["chapter"], r["status"]) for r in json.loads((build / "matrix.json").read_text())["runs"]}
    assert recorded == {("fast", "ok")}, recorded
    assert sorted(p.name for p in (build / "numpy").iterdir()) == [
        "fast.html", "fast.ipynb", "fast.results.json", "slow.ipynb"], "the interrupted run wrote files"
    assert set(find_runs(build)) == {"fast"}
    assert main(["build", "--build-dir", str(build)]) == 0
    index = (build / "site" / "html" / "index.html").read_text()
    assert "fast.html" in index and "slow.html" not in index and "ok (alone)" in index
    assert not (build / "site" / "html" / "slow.html").exists()


def test_a_runs_files_land_together_even_when_interrupted(tmp_path, monkeypatch):
    """Ctrl-C while a run's files are renamed into place arrives after the last one: all or nothing."""
    from d2lconv.runner import chapters

    real = os.replace
    calls = []

    def replace_then_interrupt(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C between the first file and the others
        real(src, dst)

    monkeypatch.setattr(chapters.os, "replace", replace_then_interrupt)
    files = {tmp_path / "c.ipynb": "notebook", tmp_path / "c.html": "page", tmp_path / "c.results.json": "{}"}
    with pytest.raises(KeyboardInterrupt):
        chapters.write_together(files)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {p.name: t for p, t in files.items()}
