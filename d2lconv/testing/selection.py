"""Which backends a test run covers, and which of them must not be skipped.

Set by the pytest plugin from ``--backends`` / ``--require-backends`` (or the environment
variables ``D2LCONV_TEST_BACKENDS`` / ``D2LCONV_REQUIRE_BACKENDS``); read by the fixtures and by
:func:`d2lconv.testing.assert_backends_agree`. Only a framework that is not installed may skip;
one that fails to import, or an error in d2lconv's own code, fails the test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType

from ..backend import (
    BACKENDS,
    REFERENCE_BACKEND,
    BackendNotInstalledError,
    available_backends,
    canonical_name,
    install_hint,
    load,
    load_order,
)

TEST_BACKENDS_VAR = "D2LCONV_TEST_BACKENDS"
REQUIRE_BACKENDS_VAR = "D2LCONV_REQUIRE_BACKENDS"
KEYWORDS = ("all", "installed")


def parse_backends(text: str) -> list[str]:
    """``"torch,jax"``, ``"all"`` or ``"installed"`` as canonical backend names, in load-safe order.

    Raises ``ValueError`` naming the bad value and the valid choices.
    """
    names: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.lower() == "all":
            names.extend(BACKENDS)
        elif part.lower() == "installed":
            names.extend(available_backends())
        else:
            try:
                names.append(canonical_name(part))
            except ValueError as exc:
                raise ValueError(f"{exc}, or {' or '.join(repr(k) for k in KEYWORDS)}") from None
    if not names:
        raise ValueError(f"no backend named in {text!r}; give names like 'numpy,torch', 'all' or 'installed'")
    return load_order(list(dict.fromkeys(names)))


@dataclass(frozen=True)
class Selection:
    """The backends a run tests, in an order they can be loaded into one process, and those it requires."""

    backends: tuple[str, ...]
    required: frozenset[str]

    @classmethod
    def from_options(cls, backends: str | None, require: bool | str | None) -> Selection:
        """From the command line, falling back to the environment variables, then to "installed"."""
        names = parse_backends(backends or os.environ.get(TEST_BACKENDS_VAR, "") or "installed")
        if require is True:
            required = set(names)
        else:
            raw = require if isinstance(require, str) else os.environ.get(REQUIRE_BACKENDS_VAR, "")
            required = set(parse_backends(raw)) if raw.strip() else set()
        return cls(tuple(names), frozenset(required))

    @property
    def others(self) -> tuple[str, ...]:
        """The selected backends other than numpy (what a comparison with numpy covers)."""
        return tuple(n for n in self.backends if n != REFERENCE_BACKEND)

    def load_or_skip(self, name: str) -> ModuleType:
        """Backend ``name``'s module, or a skip naming what is missing (a failure when required)."""
        import pytest

        try:
            return load(name)
        except BackendNotInstalledError as exc:
            if name in self.required:
                pytest.fail(f"backend {name!r} is required here (--require-backends) but: {exc}")
            pytest.skip(f"backend {name!r} not installed: {exc}")

    def require_installed(self, name: str) -> None:
        """Skip (fail, when required) unless ``name``'s framework is installed; imports nothing."""
        import pytest

        if name not in available_backends():
            if name in self.required:
                pytest.fail(f"backend {name!r} is required here (--require-backends) but not installed: "
                            f"{install_hint(name)}")
            pytest.skip(f"backend {name!r} not installed: {install_hint(name)}")


_current: Selection | None = None


def current() -> Selection:
    """The selection of the running pytest session; outside pytest, every installed backend."""
    return _current if _current is not None else Selection.from_options(None, None)


def activate(selection: Selection | None) -> None:
    """Make ``selection`` the running session's (``None``: back to every installed backend)."""
    global _current
    _current = selection
