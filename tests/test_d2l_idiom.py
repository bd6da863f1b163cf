"""d2l's own import idiom: ``from d2lconv import torch as d2l`` pins a namespace to one backend.

The calls below are the forms the book's cells in sections 7.2-7.5 make through ``d2l.*`` (its
import line changed to d2lconv), written here in our own code; ``tools/book_cells.py`` runs the
book's cells themselves against a checkout of d2l-en.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

import d2lconv
from d2lconv.backend import PUBLIC_NAMES, load
from d2lconv.install import pip_install
from d2lconv.testing import current, load_or_skip


@pytest.fixture
def pinned(backend_name):
    """``from d2lconv import <backend> as d2l``, while the process default stays numpy."""
    backend = load_or_skip(backend_name)
    module = importlib.import_module("d2lconv")
    namespace = getattr(module, backend_name)
    assert d2lconv.get_backend() == "numpy"
    return backend, namespace


def test_from_d2lconv_import_backend_as_d2l(pinned):
    backend, d2l = pinned
    assert d2l.get_backend() == backend.NAME
    for name in PUBLIC_NAMES:
        assert getattr(d2l, name) is getattr(backend, name), name
    X = d2l.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = d2l.tensor([[0.0, 1.0], [2.0, 3.0]])
    Y = d2l.corr2d(X, K)  # shared code runs on the pinned backend, not the default numpy
    assert backend.is_tensor(Y) and d2l.numpy(Y).tolist() == [[19.0, 25.0], [37.0, 43.0]]
    layer = d2l.Conv2D((1, 2))
    assert backend.is_tensor(layer.weight) and backend.is_tensor(layer(d2l.ones((6, 8))))
    assert isinstance(layer, d2lconv.Conv2D) and isinstance(layer, d2l.nn_Module)
    assert backend.is_tensor(d2l.kernels.vertical_edge())
    kernel, losses = d2l.learn_kernel(d2l.ones((4, 4)), d2l.zeros((4, 3)), (1, 2), epochs=2)
    assert backend.is_tensor(kernel) and len(losses) == 2
    assert d2lconv.get_backend() == "numpy"  # the default is untouched


class _FailingBackend:
    """A selected backend whose every op fails: shared code that reaches it ignored its pin."""

    NAME = "failing-stand-in"

    def __getattr__(self, name: str):
        raise AssertionError(f"d2l.{name} reached the selected backend instead of the pinned one")


def test_pinned_namespace_ignores_the_selection(pinned):
    """Pinned shared code runs on its backend whatever is selected: another installed backend
    (numpy for the others, another one for numpy), and always a stand-in whose every op fails."""
    from d2lconv.backend import available_backends
    from d2lconv.backend import pinned as select_namespace

    backend, d2l = pinned
    others = [n for n in current().backends if n != backend.NAME and n in available_backends()]
    selections = [(name, lambda name=name: d2lconv.use_backend(name)) for name in others[:1]]
    selections.append((_FailingBackend.NAME, lambda: select_namespace(_FailingBackend())))
    for selected, select in selections:
        with select():
            assert d2lconv.get_backend() == selected
            Y = d2l.corr2d(d2l.ones((3, 3)), d2l.ones((2, 2)), padding=1)
            assert backend.is_tensor(Y) and d2l.numpy(Y).tolist() == [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2],
                                                                       [1, 2, 2, 1]]
            assert backend.is_tensor(d2l.Conv2D(2, seed=0)(d2l.ones((3, 3))))
            assert d2l.get_backend() == backend.NAME and d2lconv.get_backend() == selected


def test_the_books_d2l_calls(pinned):
    """The ``d2l.*`` call forms of the book's 7.2-7.5 cells, on the pinned backend."""
    backend, d2l = pinned
    X = d2l.reshape(d2l.arange(16, dtype=d2l.float32), (1, 1, 4, 4))
    assert d2l.shape(X) == (1, 1, 4, 4) and d2l.dtype_name(X) == "float32"
    both = d2l.concat((X, X + 1), 1)
    assert d2l.shape(both) == (1, 2, 4, 4)
    K = d2l.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
    stacked = d2l.stack((K, K + 1, K + 2), 0)
    assert d2l.shape(stacked) == (3, 2, 2, 2)
    d2l.seed(0)
    a = d2l.numpy(d2l.normal(0, 1, (3, 3, 3)))
    d2l.seed(0)
    b = d2l.numpy(d2l.normal((3, 3, 3), 0, 1))
    np.testing.assert_array_equal(a, b)
    seed = d2l.get_seed()
    assert isinstance(seed, int) and 0 <= seed < 10**6
    assert d2l.get_key() is not None
    images = d2l.ones((6, 8))
    assert d2l.numpy(d2l.reduce_sum(d2l.abs(d2l.corr2d(d2l.transpose(images), d2l.tensor([[1.0, -1.0]]))))) == 0
    assert float(d2l.reduce_sum(d2l.abs(d2l.matmul(d2l.reshape(stacked, (3, 8)), d2l.ones((8, 1)))))) > 0


def test_the_books_item_assignment_where_the_framework_allows_it(pinned):
    """The book's first corr2d writes into ``d2l.zeros(...)``; that works where the framework's
    tensors are mutable, and raises the framework's own error where they are not."""
    backend, d2l = pinned
    Y = d2l.zeros((2, 2))
    try:
        Y[0, 1] = d2l.reduce_sum(d2l.ones((2, 2)))
    except TypeError:  # TensorFlow and JAX tensors are immutable
        return
    assert d2l.numpy(Y).tolist() == [[0.0, 4.0], [0.0, 0.0]]


def test_d2lconv_numpy_is_the_namespace_and_the_conversion():
    """``from d2lconv import numpy as d2l`` is the numpy-pinned namespace; ``d2l.numpy(x)`` still
    converts (it used to hand back the conversion function for the first spelling)."""
    from d2lconv import numpy as pinned_numpy

    assert pinned_numpy.get_backend() == "numpy"
    assert pinned_numpy.zeros is load("numpy").zeros
    assert pinned_numpy.numpy is load("numpy").numpy
    x = pinned_numpy.ones((2, 2))
    assert isinstance(d2lconv.numpy(x), np.ndarray) and d2lconv.numpy(x).tolist() == [[1.0, 1.0]] * 2
    assert isinstance(pinned_numpy(x), np.ndarray)  # the namespace itself converts, too


def test_d2lconv_numpy_converts_with_the_backend_in_force(other_backend):
    with d2lconv.use_backend(other_backend.NAME):
        x = d2lconv.ones((2,))
        assert other_backend.is_tensor(x)
        assert isinstance(d2lconv.numpy(x), np.ndarray) and d2lconv.numpy(x).tolist() == [1.0, 1.0]


def test_missing_framework_fails_at_the_import_line():
    out = subprocess.run([sys.executable, "-c", "import sys; sys.modules['torch'] = None\n"
                          "from d2lconv import torch as d2l"], capture_output=True, text=True,
                         env={**os.environ, "D2LCONV_BACKEND": ""}, timeout=120)
    assert out.returncode != 0
    assert f"needs the 'torch' package, which is not installed; install it with: {pip_install('torch')}" \
        in out.stderr


def test_unknown_attribute_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'pandas'"):
        d2lconv.pandas  # noqa: B018
    with pytest.raises(ImportError):
        exec("from d2lconv import pandas")  # noqa: S102


# --- a pinned class pins every kind of member ----------------------------------------------


def _backend_here() -> str:
    from d2lconv.backend import ops
    return ops().NAME


class _Loader:
    """A shared-style class: each kind of member reports the backend its body runs on."""

    def __init__(self, n: int = 2) -> None:
        self.n, self.made_on = n, _backend_here()

    def batches(self):  # a generator method: its body runs at each next(), after the call returned
        for _ in range(self.n):
            yield _backend_here()

    def __iter__(self):
        yield from self.batches()

    def lazily(self):  # a plain method returning a generator expression
        return (_backend_here() for _ in range(self.n))

    @property
    def backend(self) -> str:
        return _backend_here()

    @staticmethod
    def static() -> str:
        return _backend_here()

    @classmethod
    def build(cls) -> str:
        return _backend_here()

    def __len__(self) -> int:
        return len(_backend_here())

    def guarded(self):
        """Records where an exception thrown in, and the clean-up on close, run."""
        try:
            yield _backend_here()
        except KeyError:
            self.caught_on = _backend_here()
            yield "caught"
        finally:
            self.closed_on = _backend_here()


@pytest.fixture
def stand_in():
    """A second backend stand-in (no framework needed): the pinned namespace is a plain object."""
    from types import SimpleNamespace

    from d2lconv.namespaces import _pin
    namespace = SimpleNamespace(NAME="stand-in")
    return _pin(_Loader, namespace)


def test_pinned_generator_method_runs_on_the_pinned_backend(stand_in):
    loader = stand_in()
    assert loader.made_on == "stand-in"
    assert list(loader.batches()) == ["stand-in", "stand-in"]
    assert list(loader.lazily()) == ["stand-in", "stand-in"]
    assert _backend_here() == "numpy"  # the default between steps is untouched


def test_pinned_iter_runs_on_the_pinned_backend(stand_in):
    assert list(stand_in(3)) == ["stand-in"] * 3
    assert [b for b in stand_in(1)] == ["stand-in"]


def test_pinned_property_and_other_members_run_on_the_pinned_backend(stand_in):
    loader = stand_in()
    assert loader.backend == "stand-in"
    assert stand_in.static() == "stand-in" and stand_in.build() == "stand-in" and loader.static() == "stand-in"
    assert len(loader) == len("stand-in")


def test_pinned_generator_sees_throw_and_close_on_the_pinned_backend(stand_in):
    loader = stand_in()
    steps = loader.guarded()
    assert next(steps) == "stand-in"
    assert steps.throw(KeyError("x")) == "caught"
    steps.close()
    assert loader.caught_on == "stand-in" and loader.closed_on == "stand-in"
    assert _backend_here() == "numpy"


def test_a_class_derived_from_a_pinned_one_is_pinned(stand_in):
    class Derived(stand_in):
        def __iter__(self):
            yield _backend_here()

        @property
        def twice(self):
            return [_backend_here(), self.backend]

    derived = Derived()
    assert list(derived) == ["stand-in"] and derived.twice == ["stand-in", "stand-in"]
    assert list(derived.batches()) == ["stand-in"] * 2 and isinstance(derived, _Loader)


def test_a_loader_iterated_through_a_pinned_namespace_yields_its_tensors(pinned):
    """``from d2lconv import jax as d2l``: batches made in a generator body are that backend's."""
    from d2lconv.backend import ops
    from d2lconv.namespaces import _pin

    backend, _ = pinned

    class Batches:
        def __iter__(self):
            for i in range(2):
                yield ops().ones((2, 3)) * i

        @property
        def first(self):
            return ops().zeros((1,))

    loader = _pin(Batches, backend)()
    batches = list(loader)
    assert len(batches) == 2 and all(backend.is_tensor(b) for b in batches)
    assert backend.is_tensor(loader.first)
