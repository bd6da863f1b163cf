"""``d2lconv lab``: open a chapter as a notebook in JupyterLab, its kernel on a chosen backend.

The chapter (MyST markdown) is converted with jupytext into a notebook in a work folder
(default ``build/lab``), so the learner's edits never touch ``chapters/``; an existing copy is
opened as it is, never overwritten. The server runs with ``D2LCONV_BACKEND`` set, which every
kernel it starts inherits.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from ..atomic import write_new_file
from ..backend import ENV_VAR, available_backends, install_hint
from ..install import pip_install
from .chapters import ChapterError, read_notebook, select_chapters


def missing_lab_tools() -> str | None:
    """The error to show when the ``notebook`` extra (JupyterLab, jupytext) is missing."""
    for module in ("jupyterlab", "jupytext"):
        if importlib.util.find_spec(module) is None:
            return f"d2lconv lab needs {module!r}, which is not installed; install it with: {pip_install('notebook')}"
    return None


def prepare(chapters: list[Path], workdir: Path) -> tuple[list[Path], list[Path]]:
    """Notebook copies of ``chapters`` in ``workdir``: (written now, already there and kept)."""
    import nbformat

    written, kept = [], []
    for chapter in chapters:
        target = workdir / f"{chapter.stem}.ipynb"
        if target.exists():
            kept.append(target)
            continue
        nb = read_notebook(chapter)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata.pop("jupytext", None)  # a plain notebook, not paired with the chapter's source
        try:
            write_new_file(target, nbformat.writes(nb))
        except FileExistsError:  # created meanwhile: it is the learner's now
            kept.append(target)
            continue
        written.append(target)
    return written, kept


def launch(chapter: str | None, backend: str, workdir: Path, chapters_dir: Path | None,
           jupyter_args: list[str]) -> int:
    """Prepare the notebook(s) and run JupyterLab in ``workdir`` until it is stopped."""
    if backend not in available_backends():
        raise ChapterError(f"the {backend!r} backend's framework is not installed; install it with: "
                           f"{install_hint(backend)}")
    chosen = select_chapters([chapter] if chapter else [], chapters_dir)
    workdir.mkdir(parents=True, exist_ok=True)
    written, kept = prepare(chosen, workdir)
    for path in kept:
        print(f"opening your existing copy {path} (delete it for a fresh one from the chapter)")
    opened = [f"{chosen[0].stem}.ipynb"] if chapter else []
    print(f"JupyterLab in {workdir} with the {backend!r} backend ({ENV_VAR}={backend}); stop it with Ctrl-C")
    sys.stdout.flush()
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={workdir.resolve()}", *opened,
           *jupyter_args]
    server = subprocess.Popen(cmd, env={**os.environ, ENV_VAR: backend}, cwd=workdir)
    while True:  # Ctrl-C reaches JupyterLab too (same process group): let it shut its kernels down
        try:
            return server.wait()
        except KeyboardInterrupt:
            continue
