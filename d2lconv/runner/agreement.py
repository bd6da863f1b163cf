"""The agreement table of a chapter matrix: one row per run, one column per chapter.

The comparisons themselves (tolerance, reference run) live in :mod:`d2lconv.agreement`, below
both the runner and the site.
"""

from __future__ import annotations

from typing import Any

from ..agreement import Disagreement, compared_runs, run_label
from ..sections import book_order, chapter_sections
from .parameters import describe


def format_table(runs: list[dict[str, Any]], disagreements: list[Disagreement],
                 rows: list[str] | None = None) -> str:
    """One row per run label (backend, or backend @ environment), one column per chapter:
    status, seconds, and whether the run agrees with the reference; then every problem, and the
    parameters chapters were run with. Chapters come in the book's order (the section numbers the
    runs recorded)."""
    chapters = book_order((r["chapter"] for r in runs), chapter_sections(runs))
    by_key = {(r["chapter"], run_label(r)): r for r in runs}
    rows = rows or list(dict.fromkeys(run_label(r) for r in runs))
    bad = {(d.chapter, d.backend) for d in disagreements}
    alone = {c for c, n in compared_runs(runs).items() if n < 2}
    table = []
    for row in rows:
        cells = []
        for chapter in chapters:
            r = by_key.get((chapter, row))
            if r is None:
                cells.append("-")
                continue
            if r["status"] != "ok":
                agree = ""
            elif chapter in alone:
                agree = " (alone)"
            else:
                agree = " DISAGREES" if (chapter, row) in bad else " agrees"
            cells.append(f"{r['status']} {r['seconds']:.1f}s{agree}")
        table.append(cells)
    widths = [max([len(c)] + [len(cells[i]) for cells in table]) + 2 for i, c in enumerate(chapters)]
    first = max([len(r) for r in rows] + [10]) + 2
    lines = [f"{'backend':<{first}}" + "".join(f"{c:<{w}}" for c, w in zip(chapters, widths)).rstrip()]
    for row, cells in zip(rows, table):
        lines.append(f"{row:<{first}}" + "".join(f"{c:<{w}}" for c, w in zip(cells, widths)).rstrip())
    for r in runs:
        if r["status"] != "ok":
            lines.append(f"  {run_label(r)}/{r['chapter']}: {r.get('error')}")
    for d in disagreements:
        lines.append(f"  {d.backend}/{d.chapter} vs {d.reference}: {d.name!r}: {d.detail}")
    ran_with = {r["chapter"]: r["parameters"] for r in runs if r.get("parameters")}
    for chapter in (c for c in chapters if c in ran_with):
        lines.append(f"  {chapter} was run with parameters: {describe(ran_with[chapter])}")
    if alone and runs:
        lines.append(f"  nothing to compare for {', '.join(sorted(alone))}: fewer than two successful runs "
                     "(agreement needs at least two backends or environments)")
    return "\n".join(lines)
