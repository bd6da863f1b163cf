"""Running chapter notebooks in a real Jupyter kernel, one backend at a time.

A run reads the chapter (jupytext markdown), executes it with nbclient in a fresh kernel whose
``D2LCONV_BACKEND`` names the backend, and writes ``<build>/<backend>/<chapter>.ipynb``, ``.html``
and ``.results.json``. Nothing is written into the chapter's folder; a run's files are written to
temporary names and renamed into place together at its end, with Ctrl-C and SIGTERM held off
while they are (an interrupted run leaves none of them), and a failed run writes
``<chapter>.failed.*`` and leaves the last good outputs alone. The pages load MathJax from
``<build>/mathjax`` (copied there once), so they read offline.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import UMASK
from ..backend import canonical_name, is_log_noise, load
from ..install import pip_install, source_checkout
from ..mathjax import ensure_mathjax
from ..results import RESULTS_ENV
from ..sections import section_of

CHAPTER_SUFFIXES = (".md", ".ipynb", ".py")


class ChapterError(Exception):
    """A chapter could not be found or run; the message says which and why."""


@dataclass
class RunResult:
    """What one chapter run on one backend did."""

    chapter: str
    backend: str
    status: str  # "ok", "failed" or "error" (could not start)
    seconds: float
    notebook: str | None = None
    html: str | None = None
    results: str | None = None
    error: str | None = None
    cell: int | None = None
    source: str | None = None  # the chapter file run
    source_sha256: str | None = None  # of its text: merged builds must have run the same text
    section: str | None = None  # the book's section number, from the chapter's front matter (its place)
    # the values injected after the chapter's parameters cell ({name: Python literal}; {}: its own values),
    # and the chapter's own test configuration (front matter test-parameters), whether used or not
    parameters: dict[str, str] = field(default_factory=dict)
    test_parameters: dict[str, str] = field(default_factory=dict)
    recorded: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("recorded")
        return data


def shipped_chapters_dir() -> Path:
    """The chapters that come with d2lconv: ``d2lconv/chapters`` inside an installed package (the
    wheel carries them), else the ``chapters/`` folder of the source checkout."""
    package = Path(__file__).resolve().parents[1]
    inside = package / "chapters"
    if inside.is_dir():
        return inside
    return (source_checkout() or package.parent) / "chapters"


def default_chapters_dir() -> Path:
    """``$D2LCONV_CHAPTERS``, else ``./chapters`` (a copy of one's own), else the shipped chapters."""
    env = os.environ.get("D2LCONV_CHAPTERS")
    if env:
        return Path(env)
    here = Path.cwd() / "chapters"
    return here if here.is_dir() else shipped_chapters_dir()


def list_chapters(chapters_dir: Path | None = None) -> list[Path]:
    folder = chapters_dir or default_chapters_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in CHAPTER_SUFFIXES and not p.name.startswith("."))


def resolve_chapter(name: str, chapters_dir: Path | None = None) -> Path:
    """A chapter by path, by file name, or by a unique prefix of its name (``convolutions``)."""
    path = Path(name)
    if path.is_file():
        return path.resolve()
    folder = chapters_dir or default_chapters_dir()
    known = list_chapters(folder)
    exact = [p for p in known if name in (p.name, p.stem)]
    matches = exact or [p for p in known if p.stem.startswith(name)]
    if len(matches) == 1:
        return matches[0].resolve()
    names = ", ".join(p.stem for p in known) or "(none)"
    if len(matches) > 1:
        raise ChapterError(f"chapter {name!r} is ambiguous: it matches "
                           f"{', '.join(p.stem for p in matches)}")
    raise ChapterError(f"no chapter {name!r}: not a file, and not one of the chapters in {folder}: {names}")


def select_chapters(names: list[str], chapters_dir: Path | None = None) -> list[Path]:
    """The chapters ``names`` point to (paths or short names), or every chapter when none is named."""
    chosen = [resolve_chapter(n, chapters_dir) for n in names] if names else list_chapters(chapters_dir)
    if not chosen:
        raise ChapterError("no chapters found; give a chapter path or --chapters-dir")
    return chosen


def chapter_title(path: Path) -> str:
    """The chapter's first ``# `` heading, read from its text (no notebook tools needed)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def copy_chapters(destination: Path, chapters_dir: Path | None = None) -> tuple[list[Path], list[Path]]:
    """Copy the chapters into ``destination`` to edit them there; returns (copied, kept).

    A file already at the destination is never replaced (it may be the learner's own edits): it
    is kept and listed. The chapters read from are never written to.
    """
    from ..atomic import write_new_file

    source = chapters_dir or default_chapters_dir()
    chapters = list_chapters(source)
    if not chapters:
        raise ChapterError(f"no chapters in {source} to copy")
    destination = Path(destination)
    if destination.resolve() == source.resolve():
        raise ChapterError(f"{str(destination)!r} is the folder the chapters are read from; copy them elsewhere")
    try:
        destination.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ChapterError(f"cannot create {str(destination)!r} ({exc.strerror or exc})") from exc
    copied, kept = [], []
    for chapter in chapters:
        target = destination / chapter.name
        try:
            write_new_file(target, chapter.read_text(encoding="utf-8"))
            copied.append(target)
        except FileExistsError:
            kept.append(target)
    return copied, kept


def read_notebook(path: Path):
    """The chapter as an nbformat notebook (jupytext reads markdown and percent scripts)."""
    import jupytext

    return jupytext.read(path)


def _error_text(exc: BaseException) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    return f"{ename}: {evalue}".strip()


def _error_line(exc: BaseException) -> str:
    """One line for the error: an exception's last line; a timeout's first (its cell preview follows)."""
    from nbclient.exceptions import CellTimeoutError

    lines = _error_text(exc).splitlines() or [str(exc)]
    return lines[0] if isinstance(exc, CellTimeoutError) else lines[-1]


def check_build_dir(build_dir: Path) -> None:
    """Fail early, with the path, if outputs cannot be written there."""
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=build_dir, prefix=".write-test-", delete=True)
        probe.close()
    except OSError as exc:
        raise ChapterError(f"cannot write to the build directory {str(build_dir)!r} "
                           f"({exc.strerror or exc}); choose another with --build-dir") from exc


def _refuse_source_dir(build_dir: Path, chapter: Path) -> None:
    if build_dir.resolve() == chapter.parent.resolve():
        raise ChapterError(f"the build directory {str(build_dir)!r} is the chapters folder; outputs "
                           f"never go next to the sources, choose another with --build-dir")


def run_chapter(chapter: str | Path, backend: str, build_dir: Path | str = "build",
                timeout: int = 900, chapters_dir: Path | None = None, verbose: bool = False,
                parameters: Mapping[str, Any] | None = None, test_parameters: bool = False) -> RunResult:
    """Execute one chapter on one backend in a fresh kernel and write its outputs atomically.

    ``parameters`` ({name: value}) are assigned in a cell inserted after the chapter's parameters
    cell (see :mod:`d2lconv.runner.parameters`), over the chapter's test parameters when
    ``test_parameters``; the chapter file is not changed. Unless ``verbose``, the frameworks'
    informational log lines are left out of the cells' stderr and the kernel process's own output
    (start-up warnings) is not echoed; errors always show.
    """
    import json

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from . import parameters as params

    backend = canonical_name(backend)
    path = resolve_chapter(str(chapter), chapters_dir)
    out_dir = Path(build_dir) / backend
    _refuse_source_dir(out_dir, path)
    check_build_dir(out_dir)
    stem = path.stem
    nb = read_notebook(path)
    if not any(c.cell_type == "code" for c in nb.cells):
        raise ChapterError(f"chapter {str(path)!r} has no code cells: is it a jupytext notebook "
                           f"(MyST markdown with a jupytext header, or .ipynb)?")
    values = params.resolve(nb, stem, parameters, test_parameters)  # before anything runs: usage errors
    own_test = params.recorded(params.chapter_test_parameters(nb, stem))
    injected = params.inject(nb, values, stem)  # into the notebook to run, never the chapter file
    started = time.perf_counter()
    try:
        load(backend)
    except ImportError as exc:
        return RunResult(stem, backend, "error", 0.0, error=f"{exc}", parameters=params.recorded(values),
                         test_parameters=own_test)
    try:
        ensure_mathjax(Path(build_dir) / MATHJAX_DIR)
    except FileNotFoundError:
        raise ChapterError(f"the chapter pages need MathJax 3 files, which are not installed; install "
                           f"them with: {pip_install('chapters')}") from None
    failed_cell: dict[str, int] = {}
    # numbered as in the chapter: the injected cell is not one of its cells
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and i != injected]

    def on_cell_error(cell, cell_index, execute_reply):
        failed_cell.setdefault("index", cell_index)

    fd, results_tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{stem}.results.", suffix=".tmp")
    os.close(fd)
    Path(results_tmp).unlink()
    env = {**os.environ, "D2LCONV_BACKEND": backend, RESULTS_ENV: results_tmp}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_error=on_cell_error)
    error = None
    # the kernel process's own stdout/stderr (not the cells'): Jupyter's start-up warnings and
    # framework logs written before a cell runs; shown with --verbose or when the kernel dies
    kernel_log = tempfile.TemporaryFile(mode="w+", prefix="d2lconv-kernel-")
    try:
        client.execute(env=env, stdout=kernel_log, stderr=kernel_log)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        error = exc
    finally:  # also on Ctrl-C: no stray temporary file is left in the build directory
        recorded_text = Path(results_tmp).read_text() if Path(results_tmp).exists() else "{}"
        Path(results_tmp).unlink(missing_ok=True)
        kernel_log.seek(0)
        kernel_text = kernel_log.read()
        kernel_log.close()
    if verbose and kernel_text.strip():
        sys.stderr.write(f"[kernel {stem}/{backend}]\n{kernel_text}")
    if not verbose:
        drop_log_noise(nb)
    seconds = time.perf_counter() - started
    recorded = json.loads(recorded_text)

    if error is None:
        names = {"notebook": out_dir / f"{stem}.ipynb", "html": out_dir / f"{stem}.html",
                 "results": out_dir / f"{stem}.results.json"}
    else:
        names = {"notebook": out_dir / f"{stem}.failed.ipynb", "html": out_dir / f"{stem}.failed.html",
                 "results": out_dir / f"{stem}.failed.results.json"}
    write_together({names["notebook"]: nbformat.writes(nb), names["html"]: to_html(nb),
                    names["results"]: json.dumps(recorded, indent=1)})
    result = RunResult(stem, backend, "ok" if error is None else "failed", round(seconds, 2),
                       notebook=str(names["notebook"]), html=str(names["html"]),
                       results=str(names["results"]), recorded=recorded,
                       source=str(path), source_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                       section=section_of(nb.metadata), parameters=params.recorded(values),
                       test_parameters=own_test)
    if error is not None:
        index = failed_cell.get("index")
        if index is None:  # a timeout or a dead kernel (no error reply): the last cell that started
            started_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count")]
            index = started_cells[-1] if started_cells else None
        result.cell = code_cells.index(index) + 1 if index in code_cells else None
        where = (f"code cell {result.cell}" if result.cell else
                 "the injected-parameters cell" if index is not None and index == injected else "a cell")
        result.error = (f"chapter {stem!r} failed on backend {backend!r} at {where}: "
                        f"{_error_line(error)}")
        if isinstance(error, DeadKernelError) and kernel_text.strip():
            result.error += f" (the kernel's last words: {kernel_text.strip().splitlines()[-1][:300]})"
    else:
        for stale in (out_dir / f"{stem}.failed.ipynb", out_dir / f"{stem}.failed.html",
                      out_dir / f"{stem}.failed.results.json"):
            stale.unlink(missing_ok=True)
    return result


def drop_log_noise(nb) -> None:
    """Remove the frameworks' informational log lines from every cell's stderr; drop emptied outputs."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = [line for line in output["text"].splitlines(keepends=True) if not is_log_noise(line)]
                if not "".join(lines).strip():
                    continue
                output["text"] = "".join(lines)
            kept.append(output)
        cell["outputs"] = kept


@contextmanager
def _signals_held():
    """Hold Ctrl-C (SIGINT) and SIGTERM off until the block ends, then deliver the first one that
    came (main thread only: Python runs signal handlers there). Python-level handlers, not a
    signal mask: a mask holds only one thread, and any other thread would take the signal."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    old = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        if caught:
            signal.raise_signal(caught[0])  # SIGINT: KeyboardInterrupt here; SIGTERM: as it would have


def write_together(files: dict[Path, str | bytes]) -> None:
    """Write every file to a temporary name, then rename them all into place with Ctrl-C held off:
    an interrupt leaves either all of a run's files or none (never a notebook without its page).
    In the main thread the signals wait for the renames; in another thread (the Dask matrix) a
    Ctrl-C is raised in the main thread, not here, so the renames finish there too."""
    temps: dict[Path, Path] = {}
    try:
        for path, content in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            temps[path] = Path(tmp)
            with os.fdopen(fd, "wb") as handle:
                handle.write(content.encode("utf-8") if isinstance(content, str) else content)
            os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600
        with _signals_held():
            for path, tmp in temps.items():
                os.replace(tmp, path)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)




#: where in a build directory the pages find MathJax: ``BUILD/BACKEND/CHAPTER.html`` -> ``../mathjax``
MATHJAX_DIR = "mathjax"
#: nbconvert's lab template with MathJax 3 from beside the pages and nothing from the network (no
#: require.js, no mermaid, no MathJax 2 from a CDN); the delimiters and options are nbconvert's
RUN_PAGE_TEMPLATE = r"""{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {inlineMath: [["$", "$"], ["\\(", "\\)"]], displayMath: [["$$", "$$"], ["\\[", "\\]"]],
        processEscapes: true, processEnvironments: true, tags: "ams"},
  loader: {load: ["ui/safe"]},
  options: {menuOptions: {settings: {assistiveMml: true, explorer: false}}},
};
</script>
<script defer src="{{ resources.d2lconv_mathjax }}"></script>
{%- endblock html_head_js_mathjax -%}
"""


def to_html(nb, mathjax_url: str = f"../{MATHJAX_DIR}/tex-chtml.js") -> str:
    """The executed notebook as one HTML page (figures embedded) whose math MathJax typesets from
    ``mathjax_url`` (relative: ``BUILD/mathjax``, beside the backend folders); nothing from the network."""
    import jinja2
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(extra_loaders=[jinja2.DictLoader({"d2lconv-run.html.j2": RUN_PAGE_TEMPLATE})],
                            template_file="d2lconv-run.html.j2")
    body, _ = exporter.from_notebook_node(nb, resources={"d2lconv_mathjax": mathjax_url})
    return body

