"""Run the book's own code cells against d2lconv: the acceptance test of d2l's import idiom.

Reads sections of a d2l-en checkout (nothing of the book is copied into this repository), takes
each framework tab's cells in order, changes only the import line - ``from d2l import torch as
d2l`` becomes ``from d2lconv import torch as d2l`` - and executes them in a fresh process per
(section, tab). Prints, per section and tab, how many cells ran, and every cell that failed with
its error; cells that call ``d2l.*`` are counted separately, since those are what d2lconv owes.

    python tools/book_cells.py --book ~/src/d2l-en
    python tools/book_cells.py --book ~/src/d2l-en --sections pooling --tabs jax --verbose

Run it in an environment with every framework (``nox -s tests-all --install-only``); a tab whose
framework is missing is reported as such.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SECTIONS = ("conv-layer", "padding-and-strides", "channels", "pooling")
FOLDER = "chapter_convolutional-neural-networks"
TABS = {"mxnet": "mxnet", "pytorch": "torch", "tensorflow": "tensorflow", "jax": "jax"}
CELL = re.compile(r"^```\{\.python \.input\}\n(.*?)^```", re.S | re.M)
IMPORT = re.compile(r"^from d2l import (\w+) as d2l\s*$", re.M)
IMPORT_OURS = re.compile(r"^from d2lconv import \w+ as d2l", re.M)

RUNNER = r"""
import json, sys, traceback, warnings
warnings.simplefilter("ignore")
cells = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
report = []
for index, source in enumerate(cells):
    try:
        exec(compile(source, f"<cell {index}>", "exec"), namespace)
        report.append({"cell": index, "ok": True})
    except BaseException as exc:
        report.append({"cell": index, "ok": False, "error": f"{type(exc).__name__}: {exc}"[:400]})
print("@@REPORT@@" + json.dumps(report))
"""


def tab_cells(text: str, tab: str) -> list[str]:
    """The cells of one tab, in order, with d2l's import line pointed at d2lconv."""
    cells = []
    for body in CELL.findall(text):
        lines = body.splitlines()
        if not lines or not lines[0].startswith("%%tab"):
            continue  # d2lbook's own set-up cell
        tabs = [t.strip() for t in lines[0][len("%%tab"):].split(",")]
        if tab not in tabs and "all" not in tabs:
            continue
        code = "\n".join(line for line in lines[1:] if not line.lstrip().startswith("%"))
        cells.append(IMPORT.sub(lambda m: f"from d2lconv import {TABS.get(m.group(1), m.group(1))} as d2l", code))
    if cells and not any(IMPORT_OURS.search(c) for c in cells) and any("d2l." in c for c in cells):
        # the book's tab calls d2l.* but never imports d2l (its own gap): add d2lconv's line
        cells.insert(0, f"from d2lconv import {TABS[tab]} as d2l  # added: this tab has no d2l import")
    return cells


def run_tab(cells: list[str]) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cells.json"
        path.write_text(json.dumps(cells))
        out = subprocess.run([sys.executable, "-c", RUNNER, str(path)], capture_output=True, text=True,
                             timeout=900, env={"D2LCONV_BACKEND": "numpy", "MPLBACKEND": "Agg",
                                               **{k: v for k, v in __import__("os").environ.items()
                                                  if k != "D2LCONV_BACKEND"}})
    marker = [line for line in out.stdout.splitlines() if line.startswith("@@REPORT@@")]
    if not marker:
        return [{"cell": -1, "ok": False, "error": f"the process died (exit {out.returncode}): "
                                                  f"{out.stderr.strip()[-400:]}"}]
    return json.loads(marker[0][len("@@REPORT@@"):])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--book", type=Path, required=True, help="a checkout of d2l-ai/d2l-en")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {SECTIONS}")
    parser.add_argument("--tabs", default=",".join(TABS), help=f"comma list of {tuple(TABS)}")
    parser.add_argument("--verbose", action="store_true", help="print every failing cell's source too")
    args = parser.parse_args(argv)
    failures_owed = 0
    print(f"{'section':<22}{'tab':<12}{'cells':>6}{'ran':>6}{'d2l cells':>11}{'d2l ran':>9}")
    for section in args.sections.split(","):
        text = (args.book / FOLDER / f"{section}.md").read_text()
        for tab in args.tabs.split(","):
            cells = tab_cells(text, tab)
            report = run_tab(cells)
            if cells and "# added: this tab has no d2l import" in cells[0]:
                print(f"    ({section}/{tab}: the book's tab calls d2l.* without importing d2l; the import was added)")
            uses = [("d2l." in cells[r["cell"]]) if r["cell"] >= 0 else True for r in report]
            ok = sum(r["ok"] for r in report)
            d2l_total, d2l_ok = sum(uses), sum(r["ok"] for r, u in zip(report, uses) if u)
            print(f"{section:<22}{tab:<12}{len(cells):>6}{ok:>6}{d2l_total:>11}{d2l_ok:>9}")
            for r, used in zip(report, uses):
                if not r["ok"]:
                    failures_owed += used
                    print(f"    cell {r['cell']}{' (calls d2l.*)' if used else ''}: {r['error']}")
                    if args.verbose and r["cell"] >= 0:
                        print("      " + cells[r["cell"]].replace("\n", "\n      "))
    print(f"\n{failures_owed} failing cell(s) call d2l.*")
    return 1 if failures_owed else 0


if __name__ == "__main__":
    sys.exit(main())
