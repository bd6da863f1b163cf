"""The pip command that installs an extra of d2lconv, as this installation needs it spelled.

From the package index that is ``pip install "d2lconv[torch]"``; from a source checkout (an
editable install, or running inside the repository) it is ``pip install -e ".[torch]"``, since
the index may not have this version at all.
"""

from __future__ import annotations

import functools
from pathlib import Path


@functools.lru_cache(maxsize=1)
def source_checkout() -> Path | None:
    """The repository d2lconv is imported from, or None for an installed (wheel) copy."""
    root = Path(__file__).resolve().parents[1]
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if 'name = "d2lconv"' in text else None


def pip_install(extra: str = "", checkout: Path | None | bool = True, cwd: Path | None = None) -> str:
    """``pip install`` for ``extra`` ("" for the default install); ``checkout=True`` detects one."""
    root = source_checkout() if checkout is True else (checkout or None)
    if root is None:
        return f'pip install "d2lconv[{extra}]"' if extra else "pip install d2lconv"
    here = Path.cwd() if cwd is None else cwd
    target = "." if here.resolve() == Path(root).resolve() else str(root)
    return f'pip install -e "{target}[{extra}]"' if extra else f'pip install -e "{target}"'
