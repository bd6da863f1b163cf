"""Do the runs of a chapter agree? The tolerance rule, and recorded results compared across runs.

A run is identified by its backend and, when results from several environments are merged
(``d2lconv compare``), the environment's label: ``torch @ tests-current``. Every run of a
chapter is compared with one reference - the numpy run of the first environment - within
float32 tolerance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .backend import REFERENCE_BACKEND

RTOL = 1e-4  # float32 agreement: relative ...
ATOL = 1e-5  # ... and absolute, scaled by the largest magnitude of the reference values


@dataclass
class Disagreement:
    """One recorded result of one run that departs from the reference run's."""

    chapter: str
    backend: str  # the run that departs: "torch", or "torch @ tests-current" across environments
    reference: str
    name: str
    detail: str


def run_label(run: dict[str, Any]) -> str:
    """``backend``, or ``backend @ environment`` for a run merged from another environment."""
    env = run.get("environment")
    return f"{run['backend']} @ {env}" if env else run["backend"]


def mismatch(reference: np.ndarray, other: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> np.ndarray:
    """Where ``other`` departs from ``reference`` (same shape): beyond ``rtol`` and ``atol`` times the
    largest finite magnitude of ``reference``; NaN matches only NaN, an infinity only itself."""
    x, y = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    finite = np.abs(x[np.isfinite(x)])
    scale = max(float(finite.max()) if finite.size else 1.0, 1.0)
    with np.errstate(invalid="ignore"):
        close = np.isclose(y, x, rtol=rtol, atol=atol * scale, equal_nan=True)
    return ~close


def worst(reference: np.ndarray, other: np.ndarray, bad: np.ndarray) -> tuple[int, ...]:
    """The index of the largest difference among the mismatched values (NaN/inf count as largest)."""
    with np.errstate(invalid="ignore"):
        diff = np.abs(np.asarray(other, np.float64) - np.asarray(reference, np.float64))
    diff = np.where(np.isnan(diff), np.inf, diff)
    diff = np.where(bad, diff, -1.0)
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), np.shape(bad))) if np.ndim(bad) else ()


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
        # a result recorded with a wider tolerance (a training curve) is compared within it
        rtol = max(RTOL, a.get("rtol", 0.0), b.get("rtol", 0.0))
        atol = max(ATOL, a.get("atol", 0.0), b.get("atol", 0.0))
        bad = mismatch(x, y, rtol, atol)
        if bad.any():
            (at,) = worst(x, y, bad)
            problems.append((name, f"{int(bad.sum())} of {bad.size} values differ; worst at "
                                   f"{at}: {y[at]:.6g} vs {x[at]:.6g}"))
    return problems


def check_agreement(runs: Iterable[dict[str, Any]]) -> list[Disagreement]:
    """Compare each chapter's recorded results across its successful runs.

    The reference is the first numpy run in ``runs`` order (else the first successful run), so
    with merged environments it is numpy in the first one.
    """
    runs = list(runs)
    found = []
    for chapter in sorted({r["chapter"] for r in runs}):
        done = [(i, r) for i, r in enumerate(runs)
                if r["chapter"] == chapter and r["status"] == "ok" and r.get("results")]
        done.sort(key=lambda pair: (pair[1]["backend"] != REFERENCE_BACKEND, pair[0]))
        if len(done) < 2:
            continue
        loaded = [(run_label(r), json.loads(Path(r["results"]).read_text())) for _, r in done]
        ref_label, ref_values = loaded[0]
        for label, values in loaded[1:]:
            for key, detail in compare(ref_values, values):
                found.append(Disagreement(chapter, label, ref_label, key, detail))
    return found


def compared_runs(runs: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many successful runs with results each chapter has: fewer than two means nothing was compared."""
    counts: dict[str, int] = {}
    for r in runs:
        counts.setdefault(r["chapter"], 0)
        if r["status"] == "ok" and r.get("results"):
            counts[r["chapter"]] += 1
    return counts
