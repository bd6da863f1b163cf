"""The chapter matrix: every chapter on every backend, each run in its own process, and a check
that the backends agree on the numbers each chapter records."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import write_json_atomic

RTOL = 1e-4  # float32 agreement: relative ...
ATOL = 1e-5  # ... and absolute, scaled by the largest magnitude of the reference values


@dataclass
class Disagreement:
    chapter: str
    backend: str
    reference: str
    name: str
    detail: str


@dataclass
class MatrixReport:
    runs: list[dict[str, Any]] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return (not self.interrupted and not self.disagreements
                and all(r["status"] == "ok" for r in self.runs))

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "interrupted": self.interrupted, "runs": self.runs,
                "agreement": {"rtol": RTOL, "atol": ATOL,
                              "disagreements": [d.__dict__ for d in self.disagreements]}}


def compare(reference: dict[str, Any], other: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, what differs) for every recorded result where ``other`` departs from ``reference``."""
    problems = []
    for name in sorted(set(reference) | set(other)):
        if name not in other or name not in reference:
            problems.append((name, "recorded on one backend only"))
            continue
        a, b = reference[name], other[name]
        if a["shape"] != b["shape"]:
            problems.append((name, f"shape {b['shape']} vs {a['shape']}"))
            continue
        x, y = np.asarray(a["values"], float), np.asarray(b["values"], float)
        scale = float(np.nanmax(np.abs(x))) if x.size and np.isfinite(x).any() else 1.0
        close = np.isclose(y, x, rtol=RTOL, atol=ATOL * max(scale, 1.0), equal_nan=True)
        if not close.all():
            worst = int(np.nanargmax(np.abs(y - x)))
            problems.append((name, f"{int((~close).sum())} of {close.size} values differ; worst at "
                                   f"{worst}: {y[worst]:.6g} vs {x[worst]:.6g}"))
    return problems


def check_agreement(runs: list[dict[str, Any]]) -> list[Disagreement]:
    """Compare each chapter's recorded results across its successful backends (numpy first)."""
    found = []
    for chapter in sorted({r["chapter"] for r in runs}):
        done = [r for r in runs if r["chapter"] == chapter and r["status"] == "ok" and r.get("results")]
        done.sort(key=lambda r: r["backend"] != "numpy")
        if len(done) < 2:
            continue
        loaded = {r["backend"]: json.loads(Path(r["results"]).read_text()) for r in done}
        ref_name = done[0]["backend"]
        for name, values in loaded.items():
            if name == ref_name:
                continue
            for key, detail in compare(loaded[ref_name], values):
                found.append(Disagreement(chapter, name, ref_name, key, detail))
    return found


class Matrix:
    """Runs ``d2lconv run`` for each (chapter, backend) in a subprocess, ``jobs`` at a time."""

    def __init__(self, chapters: list[Path], backends: list[str], build_dir: Path, jobs: int = 1,
                 timeout: int = 900, progress: bool = True) -> None:
        self.chapters, self.backends, self.build_dir = chapters, backends, build_dir
        self.jobs, self.timeout, self.progress = max(1, jobs), timeout, progress
        self.summary_path = build_dir / "matrix.json"
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stopping = False

    def _one(self, chapter: Path, backend: str) -> dict[str, Any]:
        cmd = [sys.executable, "-m", "d2lconv.cli", "run", str(chapter), "--backend", backend,
               "--build-dir", str(self.build_dir), "--timeout", str(self.timeout), "--json"]
        started = time.perf_counter()
        with self._lock:
            if self._stopping:
                return {"chapter": chapter.stem, "backend": backend, "status": "skipped",
                        "seconds": 0.0, "error": "interrupted before it started"}
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self._procs.add(proc)
        try:
            out, err = proc.communicate()
        finally:
            with self._lock:
                self._procs.discard(proc)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if lines:
            return json.loads(lines[-1])
        tail = (err.strip().splitlines() or ["(no output)"])[-1]
        return {"chapter": chapter.stem, "backend": backend, "status": "error",
                "seconds": round(time.perf_counter() - started, 2),
                "error": f"the runner exited with code {proc.returncode}: {tail}"}

    def _save(self, report: MatrixReport) -> None:
        report.disagreements = check_agreement(report.runs)
        write_json_atomic(self.summary_path, report.to_json())

    def run(self) -> MatrixReport:
        from tqdm.auto import tqdm

        report = MatrixReport()
        jobs = [(c, b) for c in self.chapters for b in self.backends]
        bar = tqdm(total=len(jobs), desc="chapter matrix", unit="run", disable=not self.progress,
                   file=sys.stderr)
        pool = ThreadPoolExecutor(max_workers=self.jobs)
        try:
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
                self._stopping = True
                for proc in list(self._procs):
                    proc.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            self._save(report)
            raise
        finally:
            bar.close()
            pool.shutdown(wait=True)
        report.runs.sort(key=lambda r: (r["chapter"], self.backends.index(r["backend"])
                                        if r["backend"] in self.backends else 99))
        self._save(report)
        return report


def format_table(report: MatrixReport, backends: list[str]) -> str:
    """backend x chapter: status, seconds, and whether it agrees with the reference backend."""
    chapters = sorted({r["chapter"] for r in report.runs})
    bad = {(d.chapter, d.backend) for d in report.disagreements}
    by_key = {(r["chapter"], r["backend"]): r for r in report.runs}
    width = max([len(c) for c in chapters] + [7]) + 2
    lines = [f"{'backend':<12}" + "".join(f"{c:<{width}}" for c in chapters)]
    for backend in backends:
        cells = []
        for chapter in chapters:
            r = by_key.get((chapter, backend))
            if r is None:
                cells.append("-")
                continue
            agree = "" if r["status"] != "ok" else (" DISAGREES" if (chapter, backend) in bad else " agrees")
            cells.append(f"{r['status']} {r['seconds']:.1f}s{agree}")
        lines.append(f"{backend:<12}" + "".join(f"{c:<{width}}" for c in cells))
    for r in report.runs:
        if r["status"] != "ok":
            lines.append(f"  {r['backend']}/{r['chapter']}: {r.get('error')}")
    for d in report.disagreements:
        lines.append(f"  {d.backend}/{d.chapter} vs {d.reference}: {d.name!r}: {d.detail}")
    return "\n".join(lines)
