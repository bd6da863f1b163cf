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
from .merge import MergeError, find_runs, merge_chapter, run_records, title_of

SITE_MODULES = ("sphinx", "myst_nb", "sphinx_design", "sphinx_book_theme", "sphinx-mathjax-offline")
MATHJAX_PARTS = ("output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y")


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
    spec = importlib.util.find_spec("sphinx-mathjax-offline")  # ships MathJax 3.2.2; used as a file source
    if spec is None or not spec.submodule_search_locations:
        raise SiteError(f"MathJax files not found; install them with: {pip_install('site')}")
    source = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax"
    (dest / "mathjax").mkdir(parents=True)
    shutil.copy(source / "tex-chtml.js", dest / "mathjax" / "tex-chtml.js")
    for part in MATHJAX_PARTS:
        shutil.copytree(source / part, dest / "mathjax" / part)


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
        raise SiteError(f"no chapter runs (BACKEND/CHAPTER.ipynb) under {str(build_dir)!r}; "
                        f"run `d2lconv matrix --build-dir {build_dir}` first")
    runs = run_records(build_dir, found)
    target = build_dir / "site"
    work = Path(tempfile.mkdtemp(dir=build_dir, prefix=".site-"))
    try:
        src = work / "src"
        (src / "_static").mkdir(parents=True)
        shutil.copy(Path(__file__).with_name("static") / "d2lconv.css", src / "_static" / "d2lconv.css")
        _vendor_mathjax(src / "_mathjax")
        (src / "conf.py").write_text("from d2lconv.site.sphinx_conf import *  # noqa: F403\n")
        titles = {}
        for chapter, by_backend in sorted(found.items()):
            try:
                merged = merge_chapter(chapter, by_backend)
            except MergeError as exc:
                raise SiteError(str(exc)) from None
            nbformat.write(merged, src / f"{chapter}.ipynb")
            titles[chapter] = title_of(merged) or chapter
        write_index(src, titles, runs)
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
    return Site(target / "html", sorted(found), round(time.perf_counter() - started, 1))
