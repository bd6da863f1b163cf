"""One notebook per chapter from its runs on every backend: the code once, the outputs per backend."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ..backend import BACKENDS, REFERENCE_BACKEND, display_name

VOLATILE_CELL_KEYS = ("execution",)  # timings nbclient adds: not part of a cell's identity
FAILED_SUFFIX = ".failed.ipynb"


class MergeError(Exception):
    """The runs of a chapter cannot be shown on one page; the message says which and why."""


def recorded_runs(build: Path) -> list[dict[str, Any]]:
    """The runs ``BUILD/matrix.json`` recorded (none when there is no readable one)."""
    try:
        runs = json.loads((build / "matrix.json").read_text()).get("runs", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [r for r in runs if isinstance(r, dict) and r.get("chapter") and r.get("backend")]


def find_runs(build: Path) -> dict[str, dict[str, tuple[Path, str]]]:
    """``{chapter: {backend: (notebook, "ok" | "failed")}}`` for the runs ``matrix.json`` recorded,
    backends in their usual order.

    Only recorded runs count: a notebook no matrix recorded (a run Ctrl-C stopped, one made by hand)
    is never shown as if it had finished. The recorded status picks the notebook: a failed run's is
    ``CHAPTER.failed.ipynb`` (the last good one stays beside it and is not shown).
    """
    status = {(r["chapter"], r["backend"]): r.get("status") for r in recorded_runs(build)}
    chapters: dict[str, dict[str, tuple[Path, str]]] = {}
    for chapter in sorted({c for c, _ in status}):
        for backend in BACKENDS:
            state = status.get((chapter, backend))
            if state not in ("ok", "failed"):
                continue
            notebook = build / backend / (f"{chapter}{FAILED_SUFFIX}" if state == "failed" else f"{chapter}.ipynb")
            if notebook.is_file():
                chapters.setdefault(chapter, {})[backend] = (notebook, state)
    return chapters


def run_records(build: Path, found: dict[str, dict[str, tuple[Path, str]]]) -> list[dict[str, Any]]:
    """Run records for the index: one per notebook found, with the status the page shows, plus the
    runs ``matrix.json`` knows that could not start; results read from this build directory."""
    runs = [{"chapter": c, "backend": b, "status": status, "seconds": 0.0}
            for c, by_backend in found.items() for b, (_, status) in by_backend.items()]
    earlier = recorded_runs(build)
    shown = {(r["chapter"], r["backend"]) for r in runs}
    runs += [{**r, "results": None} for r in earlier if (r.get("chapter"), r.get("backend")) not in shown
             and r.get("chapter") in found]
    for run in runs:
        results = build / run["backend"] / f"{run['chapter']}.results.json"
        run["results"] = str(results) if run.get("status") == "ok" and results.is_file() else None
    return runs


def merge_chapter(chapter: str, by_backend: dict[str, tuple[Path, str]]) -> Any:
    """The chapter's cells (from numpy's run, else the first), each code cell followed by one
    output-only cell per backend (tag ``remove-input``, metadata ``d2lconv.backend``)."""
    import nbformat

    notebooks = {b: nbformat.read(path, as_version=4) for b, (path, _) in by_backend.items()}
    ref_backend = REFERENCE_BACKEND if REFERENCE_BACKEND in notebooks else next(iter(notebooks))
    ref = notebooks[ref_backend]
    for backend, nb in notebooks.items():
        if [(c.cell_type, c.source) for c in nb.cells] != [(c.cell_type, c.source) for c in ref.cells]:
            raise MergeError(f"chapter {chapter!r}: the {backend} run's cells differ from the {ref_backend} "
                             f"run's; run every backend from the same chapter text (d2lconv matrix)")
    merged = nbformat.v4.new_notebook(metadata=copy.deepcopy(ref.metadata))
    merged.metadata["d2lconv"] = {**(merged.metadata.get("d2lconv") or {}),  # the chapter's own (its section)
                                  "backends": list(notebooks), "status": {b: s for b, (_, s) in by_backend.items()}}
    parameters = parameters_note(ref.metadata)
    for i, cell in enumerate(ref.cells):
        if cell.cell_type != "code":
            merged.cells.append(copy.deepcopy(cell))
            if parameters and cell.cell_type == "markdown" and _with_note(merged.cells[-1], parameters):
                parameters = None
            continue
        source = nbformat.v4.new_code_cell(cell.source, metadata={
            k: v for k, v in copy.deepcopy(cell.metadata).items() if k not in VOLATILE_CELL_KEYS})
        source.metadata.setdefault("tags", []).append("remove-output")
        merged.cells.append(source)
        if not any(nb.cells[i].get("outputs") for nb in notebooks.values()):
            continue  # nothing printed on any backend: no tabs
        for backend, nb in notebooks.items():
            ran = nb.cells[i].get("execution_count") is not None or nb.cells[i].get("outputs")
            note = "(no output)" if ran else f"(not run on {display_name(backend)}: the run stopped earlier)"
            merged.cells.append(nbformat.v4.new_code_cell(
                cell.source, outputs=copy.deepcopy(nb.cells[i].get("outputs", [])),
                execution_count=nb.cells[i].get("execution_count"),
                metadata={"tags": ["remove-input"], "d2lconv": {"backend": backend, "note": note}}))
    if parameters:  # no title heading to put it under: at the top
        merged.cells.insert(0, nbformat.v4.new_markdown_cell(parameters))
    return merged


def parameters_note(metadata: dict[str, Any]) -> str | None:
    """A short MyST note of the parameters the runs were made with (``d2lconv run -p``), or None."""
    d2lconv = metadata.get("d2lconv") or {}
    injected = d2lconv.get("injected-parameters")  # d2lconv.runner.parameters.INJECTED_METADATA_KEY
    if not injected:
        return None
    values = ", ".join(f"`{name} = {text}`" for name, text in injected.items())
    test = d2lconv.get("test-parameters") or {}
    which = (" - the chapter's short test configuration" if set(test) == set(injected)
             and all(repr(test[n]) == injected[n] for n in test) else "")
    return (f"```{{note}}\nThis page was run with parameters: {values}{which}. The chapter's own values "
            f"are in its parameters cell.\n```")


def _with_note(cell, note: str) -> bool:
    """Put ``note`` right under the page's title heading, if ``cell`` holds it."""
    lines = cell.source.splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
    if at is None:
        return False
    cell.source = "\n".join([*lines[:at + 1], "", note, "", *lines[at + 1:]])
    return True


def title_of(notebook) -> str:
    """The chapter's first ``# `` heading."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""
