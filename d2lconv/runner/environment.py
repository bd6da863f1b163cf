"""What environment a matrix ran in: Python, numpy and each installed framework's version."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from typing import Any

from ..backend import available_backends, framework_version


def describe(label: str | None = None) -> dict[str, Any]:
    """This interpreter's environment; ``label`` names it in merged tables (default: its numpy)."""
    numpy_version = importlib.metadata.version("numpy")
    return {
        "label": label or f"numpy {numpy_version}",
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(terse=True),
        "numpy": numpy_version,
        "frameworks": {name: framework_version(name) for name in available_backends()},
    }


def summary(env: dict[str, Any]) -> str:
    """One line: ``tests-all: Python 3.11.9, numpy 1.23.5, torch 2.13.0, ...``."""
    parts = [f"Python {env.get('python', '?')}", f"numpy {env.get('numpy', '?')}"]
    parts += [f"{name} {version}" for name, version in env.get("frameworks", {}).items()
              if name != "numpy" and version]
    return f"{env.get('label', '?')}: " + ", ".join(parts)
