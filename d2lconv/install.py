"""The pip command that installs an extra of d2lconv, as this installation needs it spelled.

From the package index that is ``pip install "d2lconv[torch]"``; from a source checkout (an
editable install, or running inside the repository) it is ``pip install -e ".[torch]"``, since
the index may not have this version at all. A framework that needs a pin kept (MXNet 1.9:
``numpy<1.24``) gets it too: the checkout's constraints file, or for a wheel the pin spelled out.
"""

from __future__ import annotations

import functools
import shlex
from pathlib import Path

#: The constraints file of a source checkout that keeps every backend installable side by side.
CONSTRAINTS = Path("constraints") / "all-backends.txt"


@functools.lru_cache(maxsize=1)
def source_checkout() -> Path | None:
    """The repository d2lconv is imported from, or None for an installed (wheel) copy."""
    root = Path(__file__).resolve().parents[1]
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if 'name = "d2lconv"' in text else None


def pip_install(extra: str = "", checkout: Path | None | bool = True, cwd: Path | None = None,
                pin: str = "") -> str:
    """``pip install`` for ``extra`` ("" for the default install); ``checkout=True`` detects one.

    ``pin`` (``"numpy<1.24"``) is a requirement a later install must not break: from a checkout
    the command carries ``-c`` with its constraints file (README asks for it next to other
    frameworks); an installed copy has no such file, so the pin itself is added.
    """
    root = source_checkout() if checkout is True else (checkout or None)
    if root is None:
        command = f'pip install "d2lconv[{extra}]"' if extra else "pip install d2lconv"
        return f'{command} "{pin}"' if pin else command
    here = Path.cwd() if cwd is None else cwd
    inside = here.resolve() == Path(root).resolve()
    target = "." if inside else str(root)
    command = f'pip install -e "{target}[{extra}]"' if extra else f'pip install -e "{target}"'
    if not pin:
        return command
    constraints = Path(root) / CONSTRAINTS
    if not constraints.is_file():  # a checkout without the file: the pin itself still holds
        return f'{command} "{pin}"'
    return f"{command} -c {shlex.quote(str(CONSTRAINTS if inside else constraints))}"
