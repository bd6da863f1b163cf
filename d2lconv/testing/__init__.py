"""Testing one's own code on every backend: the pytest plugin's helpers and one-line comparisons.

``pip install d2lconv`` registers the plugin (``pytest --backends=all --require-backends``, the
``backend`` fixture); ``assert_backends_agree(fn, *args)`` runs ``fn`` on every selected backend
and compares the results with the numpy backend's.
"""

from .agree import ATOL, RTOL, BackendsDisagree, BackendsSkipped, assert_backends_agree
from .selection import Selection, current, parse_backends


def load_or_skip(name: str):
    """Backend ``name``'s module, or a pytest skip naming what is missing (a failure when required)."""
    return current().load_or_skip(name)


def require_installed(name: str) -> None:
    """Skip (fail, when required) unless backend ``name``'s framework is installed; imports nothing."""
    current().require_installed(name)


__all__ = ["ATOL", "RTOL", "BackendsDisagree", "BackendsSkipped", "Selection", "assert_backends_agree",
           "current", "load_or_skip", "parse_backends", "require_installed"]
