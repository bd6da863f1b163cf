"""Backend selection: the only place in d2lconv that knows which frameworks exist.

A backend is a module in this package (``numpy``, ``torch``, ``tensorflow``, ``mxnet``, ``jax``)
that defines every name of the contract in ``_api.py``: d2l's op names, dtypes and a few
primitives, with numpy's meaning. Adding one means writing that module and a row in
:data:`FRAMEWORKS`.

The active backend is, in order: the innermost ``use_backend`` block of the current context
(a ``contextvars`` variable, so every thread and asyncio task has its own), else the
process-wide default set by ``set_backend``, else ``D2LCONV_BACKEND``, else ``numpy``.
Frameworks are imported only when their backend is first used.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import importlib.metadata
import importlib.util
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ..install import pip_install
from ..registry import public
from ._api import BY_NAME, CONTRACT, PUBLIC_NAMES
from ._common import CompileWarning, generator_state, host_random, set_generator_state


@dataclass(frozen=True)
class Framework:
    """What d2lconv needs to know about the framework behind a backend."""

    module: str  # the top-level module the backend imports
    dist: str  # the PyPI distribution that provides it
    extra: str  # the d2lconv extra that installs it ("" for the default install)
    requires: tuple[str, ...] = ()  # other top-level modules the backend needs
    environ: dict[str, str] = field(default_factory=dict)  # defaults set before the first import
    broken_hint: str = ""  # what to do when it is installed but fails to import
    #: a requirement a later ``pip install`` must not upgrade past; install hints carry it (``install.pip_install``)
    pin: str = ""
    #: frameworks that, once imported, make importing this one crash the interpreter
    crashes_after: dict[str, str] = field(default_factory=dict)
    #: regular expressions for the framework's own start-up and compiler log lines on stderr
    #: (not errors): chapter pages leave them out unless asked to be verbose
    log_noise: tuple[str, ...] = ()
    title: str = ""  # how people write its name (tabs, tables); default: the backend's name
    #: warnings the framework (or what it imports) raises while importing, nothing d2lconv can change:
    #: pytest ``filterwarnings`` lines (action:message:category:module), matched by the module that
    #: warns, so a test's own warnings still show; the pytest plugin adds them (pyproject.toml too)
    import_warnings: tuple[str, ...] = ()
    #: environment variables that cap the threads of the framework's own pools (beyond OpenMP's)
    thread_variables: tuple[str, ...] = ()


#: Backend -> its framework, in the order backends are listed everywhere.
FRAMEWORKS: dict[str, Framework] = {
    "numpy": Framework("numpy", "numpy", "", requires=("autograd",)),
    "torch": Framework("torch", "torch", "torch", title="PyTorch"),
    "tensorflow": Framework(
        "tensorflow", "tensorflow-cpu", "tensorflow", title="TensorFlow",
        environ={"TF_CPP_MIN_LOG_LEVEL": "2"},  # keep C++ start-up chatter out
        thread_variables=("TF_NUM_INTRAOP_THREADS",),
        # XLA writes these through absl before absl::InitializeLog, which no variable silences
        log_noise=(r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
                   r"[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] .*",  # absl INFO/WARNING lines
                   r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] \S+:\d+\] .*",  # TF's own INFO/WARNING
                   r"oneDNN custom operations are on\..*", r"To enable the following instructions: .*"),
        import_warnings=("ignore:.*deprecated - use:DeprecationWarning:matplotlib",  # pyparsing 3.3 names
                         "ignore:jax.xla_computation is deprecated:DeprecationWarning:tensorflow")),
    "mxnet": Framework(
        "mxnet", "mxnet", "mxnet", title="MXNet", pin="numpy<1.24",
        broken_hint="MXNet 1.9 only works with numpy < 1.24; reinstall with `pip install \"numpy<1.24\"` "
                    "or use the constraints file constraints/all-backends.txt.",
        import_warnings=("ignore:distutils Version classes are deprecated:DeprecationWarning:mxnet",
                         "ignore:In accordance with NEP 32:DeprecationWarning:mxnet",  # mxnet.numpy's fallback table
                         "ignore:`np.bool` is a deprecated alias:DeprecationWarning:mxnet"),
        # seen on Linux with tensorflow 2.17 and mxnet 1.9.1: SIGSEGV in MXNet's OperatorTune
        # static initialiser when libtensorflow is already loaded (the other order works)
        crashes_after={"tensorflow": "libmxnet's start-up code crashes (segmentation fault) when "
                                     "TensorFlow's libraries are already loaded"}),
    "jax": Framework("jax", "jax", "jax", requires=("jaxlib",), title="JAX"),
}
#: Canonical backend names, in the order they are listed everywhere.
BACKENDS: tuple[str, ...] = tuple(FRAMEWORKS)
#: Other spellings users coming from d2l type.
ALIASES: dict[str, str] = {"pytorch": "torch", "tf": "tensorflow"}
ENV_VAR = "D2LCONV_BACKEND"
#: The backend every other one is compared with (agreement checks, tests, the book's index):
#: the default install's, whose numbers need no framework at all.
REFERENCE_BACKEND = "numpy"


class BackendNotInstalledError(ImportError):
    """The framework behind a backend is not installed (the only reason a test may skip it)."""


class BackendImportError(ImportError):
    """The framework is installed but fails to import, or cannot join this process."""


# The op namespace of the innermost use_backend block or pinned call; None means "the
# process-wide default".
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


def env_backend_name() -> str:
    """The backend ``D2LCONV_BACKEND`` names (unset or blank: numpy); imports no framework.

    Raises ``ValueError`` with the variable, its value and the valid names.
    """
    raw = os.environ.get(ENV_VAR, "")
    if raw.strip() == "":
        return "numpy"
    try:
        return canonical_name(raw)
    except ValueError:
        raise ValueError(f"{ENV_VAR}={raw!r} is not a d2lconv backend; "
                         f"valid names: {valid_names_text()}") from None


def install_hint(name: str) -> str:
    """The pip command that installs the framework behind backend ``name``, with the pin of every
    framework that needs one and is installed here or is this one (MXNet's numpy<1.24: installing
    TensorFlow next to MXNet unconstrained would upgrade numpy under it)."""
    pins = [f.pin for other, f in FRAMEWORKS.items()
            if f.pin and (other == name or all(_installed(m) for m in (f.module, *f.requires)))]
    return pip_install(FRAMEWORKS[name].extra, pin=" ".join(dict.fromkeys(pins)))


def framework_of(value: object) -> str | None:
    """The backend whose framework ``value``'s type comes from (its top-level module), else None.

    Imports nothing; error messages use it to say whose tensor a value passed in is.
    """
    top = type(value).__module__.split(".")[0]
    for name, framework in FRAMEWORKS.items():
        if top in (framework.module, *framework.requires):
            return name
    return None


def _import_framework(name: str) -> None:
    """Import the framework (and what it requires), classifying every way that can fail."""
    framework = FRAMEWORKS[name]
    for other, why in framework.crashes_after.items():
        if other in sys.modules and _installed(framework.module):
            raise BackendImportError(
                f"the d2lconv backend {name!r} cannot be loaded into this process because {other!r} is "
                f"already imported: {why}. Load {name!r} first (for example d2l.use_backend({name!r}) "
                f"or `import {framework.module}` before anything imports {other!r}), or run the two "
                f"backends in separate processes (d2lconv matrix does).")
    for key, value in framework.environ.items():
        os.environ.setdefault(key, value)
    modules = (framework.module, *framework.requires)
    for module in modules:  # absent altogether: say so before any import (jax without jaxlib)
        if not _installed(module):
            raise _not_installed(name, module)
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is not None and exc.name.split(".")[0] == module:
                raise _not_installed(name, module) from exc
            raise BackendImportError(_broken_text(name, module, exc)) from exc
        except Exception as exc:  # installed, but broken (MXNet on numpy >= 1.24, ...)
            raise BackendImportError(_broken_text(name, module, exc)) from exc


def _not_installed(name: str, module: str) -> BackendNotInstalledError:
    return BackendNotInstalledError(f"the d2lconv backend {name!r} needs the {module!r} package, which is not "
                                    f"installed; install it with: {install_hint(name)}")


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it (or already imported)."""
    if module in sys.modules:
        return sys.modules[module] is not None  # None: the import system was told to refuse it
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that fails to import
        return False


def _broken_text(name: str, module: str, exc: BaseException) -> str:
    hint = FRAMEWORKS[name].broken_hint or f"Reinstall it with: {install_hint(name)}"
    return (f"{module!r}, needed by the d2lconv backend {name!r}, is installed but failed to import "
            f"({type(exc).__name__}: {exc}). {hint}")


def load(name: str) -> ModuleType:
    """Import (once) and return the backend module ``name``.

    A missing framework raises :class:`BackendNotInstalledError` with the pip command; a framework
    that is installed but cannot import (or cannot share this process with one already loaded)
    raises :class:`BackendImportError`. An error in d2lconv's own backend module is not caught.
    """
    name = canonical_name(name)
    module = _LOADED.get(name)
    if module is not None:
        return module
    with _LOAD_LOCK:
        if name in _LOADED:
            return _LOADED[name]
        _import_framework(name)
        module = importlib.import_module(f"{__name__}.{name}")
        _LOADED[name] = module
        return module


def load_order(names: list[str] | tuple[str, ...]) -> list[str]:
    """``names`` in an order in which they can all be loaded into one process.

    A backend whose framework crashes when imported after another one (``crashes_after``) is
    moved before it; the rest keep their order.
    """
    ordered = [canonical_name(n) for n in names]
    for name in list(ordered):
        for other in FRAMEWORKS[name].crashes_after:
            if other in ordered and ordered.index(other) < ordered.index(name):
                ordered.remove(name)
                ordered.insert(ordered.index(other), name)
    return ordered


def _default_namespace() -> Any:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load(env_backend_name())
    return _DEFAULT


def ops() -> Any:
    """The op namespace in force here: what ``d2lconv.<op>`` resolves against."""
    namespace = _CONTEXT.get()
    return namespace if namespace is not None else _default_namespace()


@public
def get_backend() -> str:
    """The canonical name of the backend in force in this context."""
    return ops().NAME


# Fast path for d2lconv.<op>: while no use_backend block is open in any thread, the
# default backend's functions are bound as plain attributes of the d2lconv module (no lookup
# per call). Opening a block anywhere removes them, so every access goes through the
# context-aware module __getattr__ until the last block closes.
_BINDERS: list[Callable[[Any], None]] = []
_OPEN_CONTEXTS = 0


def register_binder(binder: Callable[[Any], None]) -> None:
    """``binder(namespace)`` binds a namespace's ops somewhere; ``binder(None)`` removes them."""
    _BINDERS.append(binder)


def contexts_open() -> int:
    """How many use_backend blocks are open, in all threads."""
    return _OPEN_CONTEXTS


def bind_default() -> Any:
    """Bind the default namespace through every binder if no block is open; return it."""
    namespace = _default_namespace()
    with _LOAD_LOCK:
        if _OPEN_CONTEXTS == 0:
            for binder in _BINDERS:
                binder(namespace)
    return namespace


@public
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


@public
def use_backend(name: str) -> contextlib.AbstractContextManager[ModuleType]:
    """Run a block on backend ``name`` in this context only; on exit restore exactly what was there."""
    return _scoped(load(name))


def pinned(namespace: Any) -> contextlib.AbstractContextManager[Any]:
    """Make ``namespace`` the one ``ops()`` returns in this context, for one call into shared code.

    Unlike ``use_backend`` it leaves the ``d2lconv.<op>`` attributes alone (cheap: one ContextVar
    set and reset), so it is for code that reaches the backend through ``ops()`` only.
    """
    return _Pin(namespace)


class _Pin:
    __slots__ = ("namespace", "token")

    def __init__(self, namespace: Any) -> None:
        self.namespace = namespace

    def __enter__(self) -> Any:
        self.token = _CONTEXT.set(self.namespace)
        return self.namespace

    def __exit__(self, *exc: Any) -> None:
        _CONTEXT.reset(self.token)


def display_name(name: str) -> str:
    """The backend's framework as people write it: 'PyTorch', 'TensorFlow', 'numpy', ..."""
    name = canonical_name(name)
    return FRAMEWORKS[name].title or name


def is_log_noise(line: str) -> bool:
    """Whether ``line`` is a framework's informational log line (XLA start-up, ...), not an error."""
    return any(pattern.fullmatch(line.rstrip("\r\n")) for pattern in _noise_patterns())


@functools.lru_cache(maxsize=1)
def _noise_patterns() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for framework in FRAMEWORKS.values() for p in framework.log_noise)


@public
def available_backends() -> list[str]:
    """The backends whose framework is installed, found without importing any framework."""
    found = []
    for name, framework in FRAMEWORKS.items():
        modules = (framework.module, *framework.requires)
        if all(_installed(m) for m in modules):
            found.append(name)
    return found


#: What caps the threads of numpy's BLAS and of OpenMP (torch, MXNet) in a process about to start.
_OPENMP_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_limits(threads: int) -> dict[str, str]:
    """Environment variables that keep a new process's frameworks to ``threads`` compute threads.

    Two processes that each spread over every core slow each other down badly: torch's OpenMP
    threads spin while they wait (one LeNet epoch took 7x longer here with two threads beside a
    busy core than with one). The runner gives each of its parallel runs its share of the cores.
    """
    names = [*_OPENMP_VARIABLES, *(v for f in FRAMEWORKS.values() for v in f.thread_variables)]
    return {name: str(max(1, int(threads))) for name in names}


def framework_version(name: str) -> str | None:
    """The installed version of backend ``name``'s framework, read from package metadata."""
    framework = FRAMEWORKS[canonical_name(name)]
    for candidate in (framework.dist, framework.module, "tensorflow"):
        try:
            return importlib.metadata.version(candidate)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


__all__ = [
    "ALIASES", "BACKENDS", "BY_NAME", "CONTRACT", "ENV_VAR", "FRAMEWORKS", "PUBLIC_NAMES", "REFERENCE_BACKEND",
    "BackendImportError", "BackendNotInstalledError", "CompileWarning", "available_backends", "canonical_name",
    "display_name", "env_backend_name", "framework_of", "framework_version", "generator_state",
    "get_backend", "host_random",
    "install_hint",
    "is_log_noise",
    "load", "load_order", "ops",
    "pinned",
    "set_backend", "set_generator_state", "thread_limits", "use_backend",
]
