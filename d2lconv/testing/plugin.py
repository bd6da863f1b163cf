"""The d2lconv pytest plugin (entry point ``pytest11: d2lconv``): tests on every backend.

Options: ``--backends=numpy,torch`` (or ``all``, ``installed``; default ``$D2LCONV_TEST_BACKENDS``,
else the installed ones) and ``--require-backends`` (a selected backend whose framework is
missing fails instead of skipping; ``$D2LCONV_REQUIRE_BACKENDS`` names them one by one).
Fixtures: ``backend`` (the op namespace, active for the test, once per backend: ``test_x[torch]``),
``backend_name`` (the name only) and ``d2lconv_backends`` (the selected names). Marker:
``needs_backends(*names, others=0)`` deselects a test whose backends this run does not cover.
The frameworks' own import-time warnings (``Framework.import_warnings``) are silenced; a test's own
warnings are not.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from ..backend import FRAMEWORKS, load, use_backend
from . import selection
from .selection import Selection

NEEDS_MARKER = ("needs_backends(*names, others=0): the test needs these backends, and this many besides "
                "numpy, among the selected ones (--backends); otherwise it is deselected")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("d2lconv", "d2lconv: run tests once per backend")
    group.addoption("--backends", default=None, metavar="NAMES",
                    help="comma-separated backends to test, or 'all' or 'installed' "
                         f"(default: ${selection.TEST_BACKENDS_VAR}, else 'installed')")
    group.addoption("--require-backends", action="store_true", default=False,
                    help="a selected backend whose framework is not installed fails instead of "
                         f"skipping (${selection.REQUIRE_BACKENDS_VAR} names them one by one)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", NEEDS_MARKER)
    _silence_framework_import_warnings(config)
    try:
        chosen = Selection.from_options(config.getoption("backends"), config.getoption("require_backends") or None)
    except ValueError as exc:
        raise pytest.UsageError(f"d2lconv: {exc}") from None
    selection.activate(chosen)


def _silence_framework_import_warnings(config: pytest.Config) -> None:
    """Add each framework's named import-time warnings to ``filterwarnings``, before the project's own
    filters (pytest applies later lines over earlier ones), so a project or ``-W`` can still show them."""
    ours = [spec for framework in FRAMEWORKS.values() for spec in framework.import_warnings]
    lines = config.getini("filterwarnings")  # the list pytest reads; addinivalue_line appends to it too
    lines[:0] = [spec for spec in ours if spec not in lines]


def pytest_unconfigure(config: pytest.Config) -> None:  # noqa: ARG001
    selection.activate(None)


def pytest_report_header(config: pytest.Config) -> str:  # noqa: ARG001
    chosen = selection.current()
    required = ", ".join(sorted(chosen.required)) or "none"
    return f"d2lconv backends: {', '.join(chosen.backends)} (required: {required})"


def _fixture_is_ours(metafunc: pytest.Metafunc, name: str) -> bool:
    """Whether ``name`` resolves to this plugin's fixture (a project may define its own ``backend``)."""
    defs = metafunc.definition._fixtureinfo.name2fixturedefs.get(name)
    return bool(defs) and getattr(defs[-1].func, "__module__", None) == __name__


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_name" in metafunc.fixturenames and _fixture_is_ours(metafunc, "backend_name"):
        names = list(selection.current().backends)
        metafunc.parametrize("backend_name", names, indirect=True, ids=names)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect - not skip - tests marked ``needs_backends`` with backends this run does not test."""
    chosen = selection.current()
    keep, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("needs_backends")
        out_of_scope = marker is not None and (not set(marker.args) <= set(chosen.backends)
                                               or len(chosen.others) < marker.kwargs.get("others", 0))
        (dropped if out_of_scope else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def d2lconv_backends() -> list[str]:
    """The selected backends, each loaded once, in an order in which they share one process."""
    names = list(selection.current().backends)
    for name in names:
        try:
            load(name)
        except ImportError:
            pass  # the tests on it skip (not installed) or fail (broken, or required) in load_or_skip
    return names


@pytest.fixture
def backend_name(request: pytest.FixtureRequest, d2lconv_backends: list[str]) -> str:  # noqa: ARG001
    """One selected backend's name; the test runs once per selected backend."""
    return request.param


@pytest.fixture
def backend(backend_name: str) -> Iterator[Any]:
    """The backend's op namespace (``d2l``), active for the duration of the test."""
    selection.current().load_or_skip(backend_name)
    with use_backend(backend_name) as ops:
        yield ops
