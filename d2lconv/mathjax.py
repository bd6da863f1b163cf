"""MathJax 3 served from beside the pages, so the pages d2lconv writes typeset their math offline.

The files come from an installed package that ships MathJax 3.2 (``django-static-mathjax`` for
``d2lconv run``, ``sphinx-mathjax-offline`` for ``d2lconv build``; neither is imported, both are
used only as a source of files). Only the parts the pages load are copied (3 MB of the 24-35 MB).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

#: (module name, folder inside it holding ``tex-chtml.js``): the packages that ship MathJax 3; the
#: first also ships MathJax's LICENSE, which goes with every copy
SOURCES = (("mathjax", "static/mathjax/es5"), ("sphinx-mathjax-offline", "static/mathjax"))
#: what ``tex-chtml.js`` loads at run time: fonts, TeX extensions (autoload), the menu, a11y
PARTS = ("output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y")
ENTRY = "tex-chtml.js"


def mathjax_source() -> Path | None:
    """The folder of an installed MathJax 3 (the one with ``tex-chtml.js``), or None."""
    for module, inside in SOURCES:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            folder = Path(location) / inside
            if (folder / ENTRY).is_file() and all((folder / part).is_dir() for part in PARTS):
                return folder
    return None


def _license(source: Path) -> Path | None:
    """MathJax's own LICENSE (Apache-2.0), which goes with every copy: beside the files or above them."""
    for folder in (source, *source.parents[:2]):
        if (folder / "LICENSE").is_file():
            return folder / "LICENSE"
    return None


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds every part of MathJax the pages load (not a partial or older copy)."""
    return (folder / ENTRY).is_file() and all((folder / part).is_dir() for part in PARTS)


def copy_mathjax(dest: Path, source: Path | None = None) -> None:
    """Copy the parts of MathJax the pages load, and its LICENSE, into ``dest`` (which must not exist yet)."""
    source = source or mathjax_source()
    if source is None:
        raise FileNotFoundError("no MathJax 3 files installed")
    dest.mkdir(parents=True)
    shutil.copy(source / ENTRY, dest / ENTRY)
    for part in PARTS:
        shutil.copytree(source / part, dest / part)
    license_file = _license(source)
    if license_file is not None:
        shutil.copy(license_file, dest / "LICENSE")


def ensure_mathjax(dest: Path) -> Path:
    """``dest`` holding MathJax (copied once, atomically: concurrent runs may race); returns it.

    ``dest`` is d2lconv's own folder in a build directory: an incomplete one (an older layout, a
    half-deleted copy) is replaced whole, never patched.
    """
    if is_complete(dest):
        return dest
    source = mathjax_source()
    if source is None:
        raise FileNotFoundError("no MathJax 3 files installed")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        copy_mathjax(work / "mathjax", source)
        if dest.exists() and not is_complete(dest):
            dest.rename(work / "stale")  # out of the way; removed with the work folder
        try:
            (work / "mathjax").rename(dest)
        except OSError:  # another run put a copy there meanwhile
            if not is_complete(dest):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest
