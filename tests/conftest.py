"""The ``backend`` fixture: every test that touches tensors runs once per backend.

``D2LCONV_TEST_BACKENDS`` (comma list, default all five) says which backends this environment
tests; ``D2LCONV_REQUIRE_BACKENDS`` turns "not installed" skips into failures (CI sets it).
Only a framework that is not installed (``BackendNotInstalledError``) skips; a framework that
fails to import, and any error in d2lconv's own code, fails the test.
"""

from __future__ import annotations

import os

import pytest

from d2lconv.backend import (
    BACKENDS,
    BackendNotInstalledError,
    available_backends,
    canonical_name,
    install_hint,
    load,
    load_order,
    use_backend,
)


def _names(var: str, default: str) -> list[str]:
    raw = os.environ.get(var, default)
    return list(dict.fromkeys(canonical_name(n) for n in raw.split(",") if n.strip()))


TEST_BACKENDS = _names("D2LCONV_TEST_BACKENDS", ",".join(BACKENDS))
REQUIRED = set(_names("D2LCONV_REQUIRE_BACKENDS", ""))
#: Backends other than numpy, for tests that compare a backend with the numpy one.
OTHER_BACKENDS = [n for n in TEST_BACKENDS if n != "numpy"]


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_backends(*names, others=0): the test needs these backends "
                                       "(and this many besides numpy) among D2LCONV_TEST_BACKENDS")


def pytest_collection_modifyitems(config, items):
    """Deselect - not skip - tests about backends this environment does not test: a cross-backend
    test with no backend to compare (``other_backend`` in a numpy-only environment), or one
    marked ``needs_backends`` with names outside D2LCONV_TEST_BACKENDS."""
    keep, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("needs_backends")
        out_of_scope = ("other_backend" in getattr(item, "fixturenames", ()) and not OTHER_BACKENDS) or (
            marker is not None and (not set(marker.args) <= set(TEST_BACKENDS)
                                    or len(OTHER_BACKENDS) < marker.kwargs.get("others", 0)))
        (dropped if out_of_scope else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session", autouse=True)
def _load_backends_in_a_safe_order():
    """Load every tested backend once, in an order in which they can share this process (a
    fixture, not a hook, so pyproject's warning filters apply to the frameworks' imports)."""
    for name in load_order(TEST_BACKENDS):
        try:
            load(name)
        except ImportError:
            pass  # each test on it skips (not installed) or fails (broken, or required) in load_or_skip


def load_or_skip(name: str):
    """The backend module, or a skip naming what is not installed (a failure when required)."""
    try:
        return load(name)
    except BackendNotInstalledError as exc:
        if name in REQUIRED:
            pytest.fail(f"backend {name!r} is required here (D2LCONV_REQUIRE_BACKENDS) but: {exc}")
        pytest.skip(f"backend {name!r} not installed: {exc}")


def require_installed(name: str) -> None:
    """Skip (or fail, when required) unless backend ``name``'s framework is installed; imports nothing."""
    if name not in available_backends():
        message = f"backend {name!r} not installed: {install_hint(name)}"
        if name in REQUIRED:
            pytest.fail(f"backend {name!r} is required here (D2LCONV_REQUIRE_BACKENDS) but not installed")
        pytest.skip(message)


@pytest.fixture(params=TEST_BACKENDS)
def backend(request):
    """The backend's op namespace, active for the test's duration."""
    load_or_skip(request.param)
    with use_backend(request.param) as ops:
        yield ops


@pytest.fixture(params=OTHER_BACKENDS)
def other_backend(request):
    """A backend other than numpy (loaded, not active), for comparisons with the numpy backend."""
    return load_or_skip(request.param)
