"""``d2lconv compare``: the matrices of several environments (each its own build directory,
made by ``d2lconv matrix`` there) merged into one agreement table.

MXNet needs numpy < 1.24 and current TensorFlow/JAX need numpy >= 1.26, so no single environment
holds every backend on current releases; comparing their builds shows they compute the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..agreement import Disagreement, check_agreement, compared_runs, run_label
from ..backend import BACKENDS
from .agreement import format_table
from .environment import summary
from .parameters import conflicts

SUMMARY_FILE = "matrix.json"


class BuildError(Exception):
    """A build directory cannot be compared; the message says which and why."""


@dataclass
class MergedReport:
    """The runs of several environments' matrices, and what disagrees or does not fit together."""

    environments: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)
    source_mismatches: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (not self.disagreements and not self.source_mismatches and not self.incomplete
                and all(r["status"] == "ok" for r in self.runs)
                and all(n >= 2 for n in compared_runs(self.runs).values()))

    @property
    def rows(self) -> list[str]:
        """Row labels, backend-major: every environment's numpy, then torch, ..."""
        labels = [e["label"] for e in self.environments]
        present = {(r["backend"], r["environment"]) for r in self.runs}
        order = list(BACKENDS) + sorted({r["backend"] for r in self.runs} - set(BACKENDS))
        return [f"{b} @ {env}" for b in order for env in labels if (b, env) in present]

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "environments": self.environments, "runs": self.runs,
                "source_mismatches": self.source_mismatches, "incomplete": self.incomplete,
                "disagreements": [d.__dict__ for d in self.disagreements]}

    def format(self) -> str:
        head = [f"environments ({len(self.environments)}):"] + [f"  {summary(e)}" for e in self.environments]
        tail = [f"  {m}" for m in self.source_mismatches + self.incomplete]
        return "\n".join(head + [format_table(self.runs, self.disagreements, self.rows)] + tail)


def _read_build(build_dir: Path) -> dict[str, Any]:
    path = build_dir / SUMMARY_FILE
    if not path.is_file():
        raise BuildError(f"{str(build_dir)!r} has no {SUMMARY_FILE}: run `d2lconv matrix --build-dir "
                         f"{build_dir}` in that environment first")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BuildError(f"cannot read {str(path)!r}: {exc}") from exc


def merge_builds(build_dirs: list[Path], labels: list[str] | None = None) -> MergedReport:
    """Merge the matrices in ``build_dirs`` (label each by ``labels``, else by what it recorded).

    Results are read from each build directory itself (``BACKEND/CHAPTER.results.json``), so a
    build copied from another machine compares as well. Runs of a chapter made with different
    parameters are refused (BuildError naming them): their numbers need not agree.
    """
    if labels and len(labels) != len(build_dirs):
        raise BuildError(f"{len(labels)} labels for {len(build_dirs)} build directories; give one per directory")
    resolved = [d.resolve() for d in build_dirs]
    twice = sorted({str(d) for d in build_dirs if resolved.count(d.resolve()) > 1})
    if twice:
        raise BuildError(f"{', '.join(repr(d) for d in twice)} is given more than once; give each build once")
    report = MergedReport()
    seen: set[str] = set()
    for i, build_dir in enumerate(build_dirs):
        data = _read_build(build_dir)
        env = dict(data.get("environment") or {})
        label = (labels[i] if labels else None) or env.get("label") or build_dir.name
        if label in seen:  # two environments that recorded the same label: tell them apart
            label = f"{label} ({build_dir})"
        seen.add(label)
        env["label"], env["build_dir"] = label, str(build_dir)
        report.environments.append(env)
        if data.get("interrupted"):
            report.incomplete.append(f"the matrix in {str(build_dir)!r} was interrupted: its table is partial")
        for run in data.get("runs", []):
            run = {**run, "environment": label}
            if run["status"] == "ok":
                results = build_dir / run["backend"] / f"{run['chapter']}.results.json"
                if not results.is_file():
                    raise BuildError(f"{str(build_dir)!r} lists {run['backend']}/{run['chapter']} as ok but "
                                     f"{str(results)!r} is missing")
                run["results"] = str(results)
            report.runs.append(run)
    different = conflicts(report.runs, run_label)
    if different:  # their numbers differ for a reason: never compared
        raise BuildError("; ".join(different) + "; compare runs made with the same parameters (the same -p, "
                         "or --test-parameters, in every `d2lconv matrix`)")
    sources: dict[str, dict[str, str]] = {}
    for run in report.runs:
        if run.get("source_sha256"):
            sources.setdefault(run["chapter"], {}).setdefault(run["source_sha256"], run["environment"])
    for chapter, versions in sorted(sources.items()):
        if len(versions) > 1:
            where = ", ".join(f"{env} ({sha[:12]})" for sha, env in versions.items())
            report.source_mismatches.append(f"chapter {chapter!r} was run from different sources: {where}; "
                                            "rerun the matrix on the same checkout")
    report.disagreements = check_agreement(report.runs)
    return report
