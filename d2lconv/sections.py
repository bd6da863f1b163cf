"""The book's order of chapters: each chapter places itself by the section number in its front
matter (``d2lconv: {section: "7.2"}``); chapters without one come last, alphabetically.

The runner records the number with each run (``matrix.json``), so the tables and the site need
only the runs; no list of chapter names lives in code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def section_of(metadata: dict[str, Any] | None) -> str | None:
    """The section number in a chapter's (notebook) metadata, as text (``"7.2"``), or None."""
    section = ((metadata or {}).get("d2lconv") or {}).get("section")
    return str(section).strip() or None if section is not None else None


def section_key(chapter: str, section: str | None) -> tuple:
    """Sort key: numbered chapters by their numbers (7.2 < 7.10), then the rest by name."""
    try:
        numbers = tuple(int(part) for part in str(section).split(".")) if section else ()
    except ValueError:
        numbers = ()
    return (0, numbers, chapter) if numbers else (1, (), chapter)


def chapter_sections(runs: Iterable[dict[str, Any]]) -> dict[str, str | None]:
    """Each chapter's section number, as its runs recorded it (the first run that has one)."""
    sections: dict[str, str | None] = {}
    for run in runs:
        sections[run["chapter"]] = sections.get(run["chapter"]) or run.get("section")
    return sections


def book_order(chapters: Iterable[str], sections: dict[str, str | None]) -> list[str]:
    """``chapters`` (names, each once) in the book's order, by ``sections`` (name -> number)."""
    return sorted(set(chapters), key=lambda c: section_key(c, sections.get(c)))
