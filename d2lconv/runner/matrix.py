"""The chapter matrix: every chapter on every backend, each run in its own process, and a check
that the backends agree on the numbers each chapter records."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..agreement import ATOL, RTOL, Disagreement, check_agreement
from ..atomic import write_json_atomic
from ..backend import BACKENDS, thread_limits
from ..sections import chapter_sections, section_key
from .agreement import format_table as _format_runs
from .environment import describe

#: seconds an interrupted run has to clean up before it is killed
STOP_GRACE = 20


@dataclass
class MatrixReport:
    """The runs of one matrix (and the earlier ones it kept), their disagreements, its environment."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)
    interrupted: bool = False
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (not self.interrupted and not self.disagreements
                and all(r["status"] == "ok" for r in self.runs))

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "interrupted": self.interrupted, "environment": self.environment,
                "runs": self.runs,
                "agreement": {"rtol": RTOL, "atol": ATOL,
                              "disagreements": [d.__dict__ for d in self.disagreements]}}


class Matrix:
    """Runs ``d2lconv run`` for each (chapter, backend) in a subprocess, ``jobs`` at a time.

    Subclasses send the runs elsewhere (:class:`d2lconv.runner.distributed.DaskMatrix`) by
    overriding ``_one``, ``_concurrency``, ``_open``, ``_close`` and ``_stop_running``; the
    progress bar, the build directory, ``matrix.json`` and the agreement check stay the same.
    """

    def __init__(self, chapters: list[Path], backends: list[str], build_dir: Path, jobs: int = 1,
                 timeout: int = 900, progress: bool = True, label: str | None = None,
                 verbose: bool = False, parameters: Mapping[str, Any] | None = None,
                 test_parameters: bool = False) -> None:
        """``parameters`` ({name: value}) go to every chapter whose parameters cell assigns the name,
        over each chapter's own test parameters when ``test_parameters``; names no chapter assigns,
        and test parameters that do not fit their chapter, are a ChapterError here, before any run."""
        from .chapters import read_notebook
        from .parameters import plan, recorded

        # absolute, so the paths recorded in matrix.json do not depend on the working directory
        self.chapters, self.backends, self.build_dir = chapters, backends, Path(build_dir).absolute()
        self.jobs, self.timeout, self.progress, self.label = max(1, jobs), timeout, progress, label
        self.verbose = verbose
        #: each chapter's (stem's) parameters as its runs record them: {name: Python literal}
        self.recorded_plan = {stem: recorded(values) for stem, values in
                              plan(chapters, parameters, test_parameters, read_notebook).items()}
        self.summary_path = self.build_dir / "matrix.json"
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self.saved = False  # whether this run wrote matrix.json (an interrupted start writes nothing)

    def _interrupted(self, chapter: Path, backend: str) -> dict[str, Any]:
        return {"chapter": chapter.stem, "backend": backend, "status": "skipped",
                "seconds": 0.0, "error": "interrupted before it started"}

    def _parameter_args(self, chapter: Path) -> list[str]:
        """``-p NAME=LITERAL`` for each value the chapter's runs get (the literal reads back as the value)."""
        return [arg for name, text in self.recorded_plan.get(chapter.stem, {}).items()
                for arg in ("-p", f"{name}={text}")]

    def _one(self, chapter: Path, backend: str) -> dict[str, Any]:
        cmd = [sys.executable, "-m", "d2lconv.cli", "run", str(chapter), "--backend", backend,
               "--build-dir", str(self.build_dir), "--timeout", str(self.timeout), "--json",
               *(["--verbose"] if self.verbose else []), *self._parameter_args(chapter)]
        started = time.perf_counter()
        with self._lock:
            if self._stopping:
                return self._interrupted(chapter, backend)
            # a session of its own: a terminal's Ctrl-C reaches the matrix only, which stops each
            # run once (_stop_running) instead of the run getting the signal twice
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    start_new_session=True, env=self._run_environment())
            self._procs.add(proc)
        try:
            out, err = proc.communicate()
        finally:
            with self._lock:
                self._procs.discard(proc)
        return parse_run_output(chapter.stem, backend, out, err, proc.returncode, time.perf_counter() - started)

    def _run_environment(self) -> dict[str, str]:
        """This process's environment, with each parallel run capped to its share of the cores (unless
        the user capped threads already): runs that each use every core slow each other down."""
        env = dict(os.environ)
        if self.jobs > 1 and "OMP_NUM_THREADS" not in env:
            env.update(thread_limits((os.cpu_count() or 1) // self.jobs))
        return env

    def _concurrency(self, n_runs: int) -> int:  # noqa: ARG002
        """How many runs are in flight at once on this side."""
        return self.jobs

    def _open(self) -> dict[str, Any]:
        """Prepare to run; returns the environment the runs execute in."""
        return describe(self.label)

    def _close(self) -> None:
        """Release what ``_open`` acquired."""

    def _stop_running(self) -> None:
        """Stop the runs under way (Ctrl-C): SIGINT, as a terminal sends it, so each run cleans up
        (its kernel shut down, no temporary file left, none of its files written); SIGKILL after
        ``STOP_GRACE`` seconds."""
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()

    def earlier_runs(self, environment: dict[str, Any], rerun: set[tuple[str, str]]) -> list[dict[str, Any]]:
        """The runs of an earlier matrix in this build directory that this one does not repeat.

        ``d2lconv matrix --backends torch`` then adds to the table instead of erasing the other
        backends. A run is kept only if it comes from the same environment (interpreter and
        framework versions), its chapter file still holds the text that ran, its outputs are
        still there, and - for a chapter this matrix runs too - it was made with the parameters
        this matrix gives that chapter (runs made with different parameters are never compared);
        other environments belong in their own build directory (``d2lconv compare``).
        """
        try:
            earlier = json.loads(self.summary_path.read_text())
        except (OSError, ValueError):
            return []
        before = earlier.get("environment") or {}
        same = all(before.get(k) == environment.get(k) for k in ("executable", "numpy", "frameworks"))
        if not same:
            return []
        kept = []
        for run in earlier.get("runs", []):
            files = [run.get(k) for k in ("notebook", "results") if run.get(k)]
            if ((run["chapter"], run["backend"]) not in rerun and files and all(Path(f).is_file() for f in files)
                    and run.get("source_sha256") and _sha256(run.get("source")) == run["source_sha256"]
                    and (run["chapter"] not in self.recorded_plan
                         or (run.get("parameters") or {}) == self.recorded_plan[run["chapter"]])):
                kept.append({**run, "earlier": True})
        return kept

    def _prepare_build_dir(self) -> None:
        """Copy MathJax into the build directory once, for the pages (also those a Dask worker made)."""
        from ..mathjax import ensure_mathjax
        from .chapters import MATHJAX_DIR

        try:
            ensure_mathjax(self.build_dir / MATHJAX_DIR)
        except FileNotFoundError:
            pass  # each run reports it, with the install command

    def _save(self, report: MatrixReport) -> None:
        report.disagreements = check_agreement(report.runs)
        write_json_atomic(self.summary_path, report.to_json())
        self.saved = True

    def run(self) -> MatrixReport:
        """Run every (chapter, backend), keep matrix.json current after each, check agreement."""
        from tqdm.auto import tqdm

        jobs = [(c, b) for c in self.chapters for b in self.backends]
        report, bar, pool = MatrixReport(), None, None
        try:
            report.environment = self._open()
            self._prepare_build_dir()
            report.runs = self.earlier_runs(report.environment, {(c.stem, b) for c, b in jobs})
            bar = tqdm(total=len(jobs), desc="chapter matrix", unit="run", disable=not self.progress,
                       file=sys.stderr)
            pool = ThreadPoolExecutor(max_workers=self._concurrency(len(jobs)))
            futures = {pool.submit(self._one, c, b): (c, b) for c, b in jobs}
            for future in as_completed(futures):
                result = future.result()
                report.runs.append(result)
                bar.set_postfix_str(f"{result['backend']}/{result['chapter']}: {result['status']}")
                bar.update()
                self._save(report)  # partial results survive a later failure or Ctrl-C
        except KeyboardInterrupt:
            report.interrupted = True
            with self._lock:
                self._stopping = True  # no new run starts; the ones under way are stopped outside the lock
            self._stop_running()
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            if report.environment:  # the matrix had started: keep what finished
                self._save(report)
            raise
        finally:
            if bar is not None:
                bar.close()
            if pool is not None:
                pool.shutdown(wait=True)
            self._close()
        order = list(dict.fromkeys([*self.backends, *BACKENDS]))
        sections = chapter_sections(report.runs)  # chapters in the book's order
        report.runs.sort(key=lambda r: (section_key(r["chapter"], sections.get(r["chapter"])),
                                        order.index(r["backend"]) if r["backend"] in order else 99))
        self._save(report)
        return report


def _sha256(path: str | None) -> str | None:
    """The sha256 of the file at ``path`` now, or None when there is none."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else None
    except OSError:
        return None


def parse_run_output(chapter: str, backend: str, out: str, err: str, returncode: int,
                     seconds: float) -> dict[str, Any]:
    """The run's JSON line from ``d2lconv run --json``, or an error naming the exit code and stderr."""
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if lines:
        return json.loads(lines[-1])
    tail = (err.strip().splitlines() or ["(no output)"])[-1]
    return {"chapter": chapter, "backend": backend, "status": "error", "seconds": round(seconds, 2),
            "error": f"the runner exited with code {returncode}: {tail}"}


def format_table(report: MatrixReport, backends: list[str]) -> str:
    """backend x chapter: status, seconds, and whether it agrees with the reference backend."""
    rows = backends + sorted({r["backend"] for r in report.runs} - set(backends))
    return _format_runs(report.runs, report.disagreements, rows)
