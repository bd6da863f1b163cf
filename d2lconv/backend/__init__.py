"""Backend selection: the only place in d2lconv that knows which frameworks exist.

A backend is a module in this package (``numpy``, ``torch``, ``tensorflow``, ``mxnet``) that
defines the same names: d2l's op names (``zeros``, ``reduce_sum``, ...), dtypes, and a few
primitives (``from_numpy``, ``is_tensor``, ``value_and_grad``, ``compile``, ...).

The active backend is, in order: the innermost ``use_backend`` block of the current context
(a ``contextvars`` variable, so every thread and asyncio task has its own), else the
process-wide default set by ``set_backend``, else ``D2LCONV_BACKEND``, else ``numpy``.
Frameworks are imported only when their backend is first used.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import importlib.metadata
import importlib.util
import os
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

#: Canonical backend names, in the order they are listed everywhere.
BACKENDS: tuple[str, ...] = ("numpy", "torch", "tensorflow", "mxnet")
#: Other spellings users coming from d2l type.
ALIASES: dict[str, str] = {"pytorch": "torch", "tf": "tensorflow"}
#: Backend -> (top-level module it imports, PyPI distribution, d2lconv extra).
FRAMEWORKS: dict[str, tuple[str, str, str]] = {
    "numpy": ("numpy", "numpy", ""),
    "torch": ("torch", "torch", "torch"),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow"),
    "mxnet": ("mxnet", "mxnet", "mxnet"),
}
ENV_VAR = "D2LCONV_BACKEND"

# The op namespace of the innermost use_backend block (or of a numpy gradient trace);
# None means "the process-wide default".
_CONTEXT: contextvars.ContextVar[Any] = contextvars.ContextVar("d2lconv_backend", default=None)
_DEFAULT: Any = None  # the process-wide default namespace, resolved lazily
_LOADED: dict[str, ModuleType] = {}
_LOAD_LOCK = threading.RLock()


def valid_names_text() -> str:
    """The valid backend names, as error messages show them."""
    aliases = ", ".join(f"{a!r} for {c!r}" for a, c in ALIASES.items())
    return ", ".join(repr(b) for b in BACKENDS) + f" (aliases: {aliases})"


def canonical_name(name: object) -> str:
    """Map a user-given backend name (any case, surrounding blanks, aliases) to its canonical name.

    Raises ``ValueError`` naming the bad value and the valid names; never falls back.
    """
    if not isinstance(name, str):
        raise TypeError(f"a backend name must be a string, got {type(name).__name__} {name!r}; "
                        f"valid names: {valid_names_text()}")
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in BACKENDS:
        raise ValueError(f"unknown d2lconv backend {name!r}; valid names: {valid_names_text()}")
    return key


def install_hint(name: str) -> str:
    """The pip command that installs the framework behind backend ``name``."""
    extra = FRAMEWORKS[name][2]
    return 'pip install d2lconv' if not extra else f'pip install "d2lconv[{extra}]"'


def load(name: str) -> ModuleType:
    """Import (once) and return the backend module ``name``; ``ImportError`` says what to install."""
    name = canonical_name(name)
    module = _LOADED.get(name)
    if module is not None:
        return module
    with _LOAD_LOCK:
        if name in _LOADED:
            return _LOADED[name]
        framework = FRAMEWORKS[name][0]
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name is not None and exc.name.split(".")[0] in (framework, "autograd"):
                raise ImportError(
                    f"the d2lconv backend {name!r} needs the {exc.name.split('.')[0]!r} package, "
                    f"which is not installed; install it with: {install_hint(name)}") from exc
            raise
        except Exception as exc:  # a framework that is installed but cannot import
            raise ImportError(
                f"{framework!r}, the framework behind the d2lconv backend {name!r}, is installed but "
                f"failed to import "
                f"({type(exc).__name__}: {exc}). {_broken_hint(name)}") from exc
        _LOADED[name] = module
        return module


def _broken_hint(name: str) -> str:
    if name == "mxnet":
        return ("MXNet 1.9 only works with numpy < 1.24; reinstall with "
                "`pip install \"numpy<1.24\"` or use the constraints file constraints/all-backends.txt.")
    return f"Reinstall it with: {install_hint(name)}"


def _default_namespace() -> Any:
    global _DEFAULT
    if _DEFAULT is None:
        raw = os.environ.get(ENV_VAR, "")
        if raw.strip() == "":
            name = "numpy"
        else:
            try:
                name = canonical_name(raw)
            except ValueError:
                raise ValueError(f"{ENV_VAR}={raw!r} is not a d2lconv backend; "
                                 f"valid names: {valid_names_text()}") from None
        _DEFAULT = load(name)
    return _DEFAULT


def ops() -> Any:
    """The op namespace in force here: what ``d2lconv.<op>`` resolves against."""
    namespace = _CONTEXT.get()
    return namespace if namespace is not None else _default_namespace()


def get_backend() -> str:
    """The canonical name of the backend in force in this context."""
    return ops().NAME


# Fast path for d2lconv.<op>: while no use_backend/tracing block is open in any thread, the
# default backend's functions are bound as plain attributes of the d2lconv module (no lookup
# per call). Opening a block anywhere removes them, so every access goes through the
# context-aware module __getattr__ until the last block closes.
_BINDERS: list[Callable[[Any], None]] = []
_OPEN_CONTEXTS = 0


def register_binder(binder: Callable[[Any], None]) -> None:
    """``binder(namespace)`` binds a namespace's ops somewhere; ``binder(None)`` removes them."""
    _BINDERS.append(binder)


def contexts_open() -> int:
    """How many use_backend/tracing blocks are open, in all threads."""
    return _OPEN_CONTEXTS


def bind_default() -> Any:
    """Bind the default namespace through every binder if no block is open; return it."""
    namespace = _default_namespace()
    with _LOAD_LOCK:
        if _OPEN_CONTEXTS == 0:
            for binder in _BINDERS:
                binder(namespace)
    return namespace


def set_backend(name: str) -> None:
    """Set the process-wide default backend (``use_backend`` blocks still take precedence)."""
    global _DEFAULT
    namespace = load(name)
    with _LOAD_LOCK:
        _DEFAULT = namespace
        if _OPEN_CONTEXTS == 0:
            for binder in _BINDERS:
                binder(namespace)


@contextlib.contextmanager
def _scoped(namespace: Any) -> Iterator[Any]:
    global _OPEN_CONTEXTS
    with _LOAD_LOCK:
        _OPEN_CONTEXTS += 1
        for binder in _BINDERS:
            binder(None)
    token = _CONTEXT.set(namespace)
    try:
        yield namespace
    finally:
        _CONTEXT.reset(token)
        with _LOAD_LOCK:
            _OPEN_CONTEXTS -= 1
            if _OPEN_CONTEXTS == 0 and _DEFAULT is not None:
                for binder in _BINDERS:
                    binder(_DEFAULT)


def use_backend(name: str) -> contextlib.AbstractContextManager[ModuleType]:
    """Run a block on backend ``name`` in this context only; on exit restore exactly what was there."""
    return _scoped(load(name))


def tracing(namespace: Any) -> contextlib.AbstractContextManager[Any]:
    """For backends whose autodiff needs other op implementations while a gradient is traced."""
    return _scoped(namespace)


def available_backends() -> list[str]:
    """The backends whose framework is installed, found without importing any framework."""
    found = []
    for name in BACKENDS:
        framework = FRAMEWORKS[name][0]
        if importlib.util.find_spec(framework) is None:
            continue
        if name == "numpy" and importlib.util.find_spec("autograd") is None:
            continue
        found.append(name)
    return found


def framework_version(name: str) -> str | None:
    """The installed version of backend ``name``'s framework, read from package metadata."""
    name = canonical_name(name)
    framework, dist, _ = FRAMEWORKS[name]
    for candidate in (dist, framework, "tensorflow"):
        try:
            return importlib.metadata.version(candidate)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


__all__ = [
    "ALIASES", "BACKENDS", "ENV_VAR", "available_backends", "canonical_name", "framework_version",
    "get_backend", "install_hint", "load", "ops", "set_backend", "use_backend",
]
