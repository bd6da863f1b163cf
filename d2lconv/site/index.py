"""The book's front page: chapters x backends, each run's status and agreement with numpy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..agreement import check_agreement, compared_runs
from ..backend import BACKENDS, REFERENCE_BACKEND, display_name


def _badge(run: dict[str, Any] | None, chapter: str, bad: set[tuple[str, str]], alone: set[str],
           reference: str | None) -> str:
    if run is None:
        return "{bdg-light}`not run`"
    if run.get("status") != "ok":
        return f"{{bdg-danger}}`{run.get('status', 'failed')}`"
    if chapter in alone:
        return "{bdg-secondary}`ok (alone)`"
    if (chapter, run["backend"]) in bad:
        return "{bdg-warning}`DISAGREES`"
    return "{bdg-primary}`reference`" if run["backend"] == reference else "{bdg-success}`agrees`"


def write_index(src: Path, titles: dict[str, str], runs: list[dict[str, Any]]) -> None:
    """``src/index.md``: the table (MyST, sphinx-design badges), the disagreements, the toctree."""
    disagreements = check_agreement(runs)
    bad = {(d.chapter, d.backend) for d in disagreements}
    alone = {c for c, n in compared_runs(runs).items() if n < 2}
    by_key = {(r["chapter"], r["backend"]): r for r in runs}
    shown = [b for b in BACKENDS if any(r["backend"] == b for r in runs)]
    lines = ["# d2lconv: the CNN chapter, written once, run on every backend", "",
             "Each chapter's code is written once and run on every backend; under each code cell "
             "are its outputs, one tab per backend (the tab you pick is kept across cells and pages). "
             "*agrees* means every value the chapter records with `d2l.record` matches the reference run "
             f"({display_name(REFERENCE_BACKEND)} when it ran) within float32 tolerance.", "",
             "| chapter | " + " | ".join(display_name(b) for b in shown) + " |",
             "|---|" + "---|" * len(shown)]
    for chapter, title in titles.items():
        ok = [b for b in shown if (by_key.get((chapter, b)) or {}).get("status") == "ok"]
        reference = REFERENCE_BACKEND if REFERENCE_BACKEND in ok else (ok[0] if ok else None)  # as check_agreement
        cells = [_badge(by_key.get((chapter, b)), chapter, bad, alone, reference) for b in shown]
        lines.append(f"| {{doc}}`{title} <{chapter}>` | " + " | ".join(cells) + " |")
    if disagreements:
        lines += ["", "## Disagreements", ""]
        lines += [f"- **{d.chapter}**, {d.backend} vs {d.reference}: `{d.name}`: {d.detail}" for d in disagreements]
    lines += ["", "```{toctree}", ":hidden:", ":maxdepth: 1", "", *titles, "```", ""]
    (src / "index.md").write_text("\n".join(lines), encoding="utf-8")
