"""README's and docs/' tables render as tables: no row stands outside one (it would show as literal pipes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")


def stray_rows(text: str) -> list[tuple[int, str]]:
    """Lines that look like table rows (``| ... |``) but belong to no table: a table is a header
    row, a ``|---|`` separator, then rows, with no other line in between. Code blocks are left alone."""
    stray, in_code, in_table = [], False, False
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            in_code, in_table = not in_code, False
            continue
        if in_code:
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if not in_table:
            following = lines[number] if number < len(lines) else ""
            if SEPARATOR.match(following):  # a header row starts a table
                in_table = True
            else:
                stray.append((number, line))
    return stray


def test_the_checker_finds_a_row_after_a_paragraph():
    table = "| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert stray_rows(table) == []
    assert stray_rows(table + "\nSome text.\n| 3 | 4 |\n") == [(6, "| 3 | 4 |")]  # README's lint row was so
    assert stray_rows("```\n| not | a table |\n```\n") == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(ROOT)) for p in DOCUMENTS])
def test_every_table_row_is_inside_a_table(path):
    assert stray_rows(path.read_text(encoding="utf-8")) == [], f"rows outside any table in {path.name}"
