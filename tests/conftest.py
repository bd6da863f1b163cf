"""Our suite runs on the d2lconv pytest plugin (``d2lconv.testing.plugin``): ``--backends``,
``--require-backends``, the ``backend`` fixture and the ``needs_backends`` marker come from it.
This file adds what only our own tests need: ``other_backend``, each non-numpy backend for
comparisons with the numpy one, and loading every selected backend before any test runs.
"""

from __future__ import annotations

import pytest

from d2lconv.testing import current


@pytest.fixture(scope="session", autouse=True)
def _load_backends_in_a_safe_order(d2lconv_backends):
    """Load every tested backend before any test imports one by itself (a fixture, not a hook, so
    pyproject's warning filters apply to the frameworks' imports)."""
    return d2lconv_backends


def pytest_generate_tests(metafunc):
    if "other_backend" in metafunc.fixturenames:
        names = list(current().others)
        metafunc.parametrize("other_backend", names, indirect=True, ids=names)


def pytest_collection_modifyitems(config, items):
    """A comparison with numpy has nothing to compare in a numpy-only run: deselect it, not skip it."""
    if current().others:
        return
    dropped = [item for item in items if "other_backend" in getattr(item, "fixturenames", ())]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture
def other_backend(request):
    """A backend other than numpy (loaded, not active), for comparisons with the numpy backend."""
    return current().load_or_skip(request.param)
