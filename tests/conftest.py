"""The ``backend`` fixture: every test that touches tensors runs once per backend.

``D2LCONV_TEST_BACKENDS`` (comma list, default all four) says which backends this environment
tests; ``D2LCONV_REQUIRE_BACKENDS`` turns "not installed" skips into failures (CI sets it).
"""

from __future__ import annotations

import os

import pytest

from d2lconv.backend import BACKENDS, canonical_name, load, use_backend


def _names(var: str, default: str) -> list[str]:
    raw = os.environ.get(var, default)
    return [canonical_name(n) for n in raw.split(",") if n.strip()]


TEST_BACKENDS = _names("D2LCONV_TEST_BACKENDS", ",".join(BACKENDS))
REQUIRED = set(_names("D2LCONV_REQUIRE_BACKENDS", ""))


def load_or_skip(name: str):
    """The backend module, or a skip with the reason (a failure when the backend is required)."""
    try:
        return load(name)
    except ImportError as exc:
        if name in REQUIRED:
            pytest.fail(f"backend {name!r} is required here (D2LCONV_REQUIRE_BACKENDS) but: {exc}")
        pytest.skip(f"backend {name!r} unavailable: {exc}")


@pytest.fixture(params=TEST_BACKENDS)
def backend(request):
    """The backend's op namespace, active for the test's duration."""
    load_or_skip(request.param)
    with use_backend(request.param) as ops:
        yield ops


@pytest.fixture
def loaded_backends():
    """Every backend this environment tests, loaded (for cross-backend comparisons)."""
    return {name: load_or_skip(name) for name in TEST_BACKENDS}
