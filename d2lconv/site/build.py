"""``d2lconv build``: the book site from a build directory's chapter runs, into ``BUILD/site``.

The site is made in a temporary folder beside ``BUILD/site`` and renamed into place, so a reader
(or a failed build) never sees half a site; only the build directory is written to.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..install import pip_install
from ..mathjax import copy_mathjax
from ..sections import book_order, section_of
from .merge import MergeError, find_runs, merge_chapter, run_records, title_of

SITE_MODULES = ("sphinx", "myst_nb", "sphinx_design", "sphinx_book_theme", "sphinx-mathjax-offline")


#: MathJax 3 cannot break a long display equation into lines: scale each one that is wider than
#: the column down to fit it (to half size at most; past that it scrolls), again on resize
FIT_MATH_JS = """// d2lconv: display equations wider than the column are scaled down to fit it.
(function () {
  function fit() {
    document.querySelectorAll('mjx-container[display="true"] > mjx-math').forEach(function (math) {
      var box = math.parentElement;
      if (!math.dataset.d2lSize) math.dataset.d2lSize = getComputedStyle(math).fontSize;
      var size = parseFloat(math.dataset.d2lSize);
      math.style.fontSize = size + "px";
      var full = math.getBoundingClientRect().width, room = box.clientWidth;
      if (full > room && room > 0) math.style.fontSize = Math.max(size / 2, size * room / full * 0.98) + "px";
    });
  }
  window.addEventListener("load", function () {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(fit);
  });
  window.addEventListener("resize", fit);
})();
"""


class SiteError(Exception):
    """The site cannot be built; the message says why and what to do."""


@dataclass
class Site:
    """A built site: where its pages are, which chapters it holds, how long it took."""

    html: Path  # BUILD/site/html/index.html is the front page
    chapters: list[str]
    seconds: float


def missing_site_tools() -> str | None:
    """The error to show when the ``site`` extra (Sphinx, myst-nb, ...) is missing, else None."""
    for module in SITE_MODULES:
        if importlib.util.find_spec(module) is None:
            return f"building the site needs {module!r}, which is not installed; install it with: {pip_install('site')}"
    return None


def _vendor_mathjax(dest: Path) -> None:
    """Copy the parts of MathJax 3 the pages load (2.9 MB of the 24 MB) into ``dest/mathjax``."""
    try:
        copy_mathjax(dest / "mathjax")  # from sphinx-mathjax-offline (MathJax 3.2.2), used as a file source
    except FileNotFoundError:
        raise SiteError(f"MathJax files not found; install them with: {pip_install('site')}") from None


def build_site(build_dir: Path, quiet: bool = True) -> Site:
    """Merge every chapter's runs under ``build_dir`` and build ``build_dir/site`` with Sphinx."""
    problem = missing_site_tools()
    if problem:
        raise SiteError(problem)
    import nbformat
    from sphinx.cmd.build import build_main

    from .index import write_index

    started = time.perf_counter()
    found = find_runs(build_dir)
    if not found:
        raise SiteError(f"no chapter runs (BACKEND/CHAPTER.ipynb) recorded in {str(build_dir / 'matrix.json')!r} "
                        f"(the site shows only the runs a matrix recorded); run `d2lconv matrix --build-dir "
                        f"{build_dir}` first")
    runs = run_records(build_dir, found)
    target = build_dir / "site"
    work = Path(tempfile.mkdtemp(dir=build_dir, prefix=".site-"))
    try:
        src = work / "src"
        (src / "_static").mkdir(parents=True)
        shutil.copy(Path(__file__).with_name("static") / "d2lconv.css", src / "_static" / "d2lconv.css")
        (src / "_static" / "d2lconv-fit-math.js").write_text(FIT_MATH_JS, encoding="utf-8")
        _vendor_mathjax(src / "_mathjax")
        (src / "conf.py").write_text("from d2lconv.site.sphinx_conf import *  # noqa: F403\n")
        titles, sections = {}, {}
        for chapter, by_backend in sorted(found.items()):
            try:
                merged = merge_chapter(chapter, by_backend)
            except MergeError as exc:
                raise SiteError(str(exc)) from None
            nbformat.write(merged, src / f"{chapter}.ipynb")
            titles[chapter] = title_of(merged) or chapter
            sections[chapter] = section_of(merged.metadata)
        order = book_order(titles, sections)  # the index, the sidebar and previous/next follow it
        write_index(src, {c: titles[c] for c in order}, runs)
        code = build_main(["-b", "html", "-E", "-d", str(work / "doctrees"), *(["-q"] if quiet else []),
                           str(src), str(work / "html")])
        if code != 0:
            raise SiteError(f"Sphinx failed (exit {code}); rerun with --verbose to see why")
        shutil.rmtree(work / "doctrees", ignore_errors=True)  # Sphinx's cache, not part of the site
        old = build_dir / f".site-old-{work.name}"
        if target.exists():
            target.rename(old)
        try:
            work.rename(target)
        except OSError:
            if old.exists():
                old.rename(target)  # the previous site stays in place
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return Site(target / "html", order, round(time.perf_counter() - started, 1))
