"""Markdown tables (case x backend) of the ratios in a benchmark JSON, for README and docs.

    python tools/benchmark_tables.py docs/benchmark.json

Each table shows one ratio column of one section; a ratio over the section's bar is bold, so
a miss cannot be hidden by copying numbers by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from d2lconv.backend import FRAMEWORKS

#: (section, ratio column, title, bar): the tables README's performance section carries.
TABLES = (
    ("conv", "ratio", "corr2d / the framework's own convolution, forward", 1.5),
    ("roofline", "ratio", "corr2d / the fastest full pass over the image (3x3 goal: 3)", 3.0),
    ("grad", "ratio", "corr2d / native convolution, forward + backward", 1.5),
    ("channels", "ratio", "corr2d_multi_in_out / native conv2d, forward", 1.5),
    ("channels", "grad_ratio", "corr2d_multi_in_out / native conv2d, forward + backward", 1.5),
    ("pool", "ratio", "pool2d / native pooling, forward", 1.5),
    ("pool", "grad_ratio", "pool2d / native pooling, forward + backward", 1.5),
    ("lenet", "ratio", "LeNet training step / the framework's own step (numpy: torch's)", 1.5),
    ("lenet", "compiled_ratio", "LeNet training step compiled / eager (over 1: compiling does not pay)", 1.0),
)


def cell(value: object, bar: float) -> str:
    """A ratio to two decimals, bold over the bar; anything else ('n/a (...)') as n/a."""
    if not isinstance(value, (int, float)):
        return "n/a"
    text = f"{value:.2f}"
    return f"**{text}**" if value > bar else text


def table(rows: list[dict], section: str, column: str, bar: float) -> str:
    """One markdown table: a row per case (in the JSON's order), a column per backend."""
    chosen = [r for r in rows if r["section"] == section and column in r]
    present = {r["backend"] for r in chosen}
    backends = [b for b in FRAMEWORKS if b in present]
    cases = list(dict.fromkeys(r["case"] for r in chosen))
    values = {(r["case"], r["backend"]): r[column] for r in chosen}
    lines = ["| case | " + " | ".join(backends) + " |", "|---" * (len(backends) + 1) + "|"]
    for case in cases:
        lines.append(f"| {case} | " + " | ".join(cell(values.get((case, b)), bar) for b in backends) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", type=Path, help="a file written by tools/benchmark.py --json")
    args = parser.parse_args(argv)
    data = json.loads(args.json.read_text())
    print(f"<!-- {data['machine']}; {data['versions']} -->")
    for section, column, title, bar in TABLES:
        if any(r["section"] == section and column in r for r in data["rows"]):
            print(f"\n{title} (bold: over {bar:g}):\n")
            print(table(data["rows"], section, column, bar))
    return 0


if __name__ == "__main__":
    sys.exit(main())
