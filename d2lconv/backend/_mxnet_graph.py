"""MXNet's ``compile``: shared code traced into MXNet symbols and run as cached graphs, as gluon's
``hybridize`` runs a HybridBlock.

MXNet 1.9 builds graphs from symbols only, and its numpy interface has a symbolic twin of each
function (``mxnet.symbol.numpy``, ``mxnet.symbol.numpy_extension``). While a compiled function is
traced, every tensor in it is a :class:`Traced`: the concrete array, computed eagerly (so shapes,
dtypes and the branches shared code takes on them are exact), and the symbol that computes it. The
MXNet backend calls its framework through :class:`Dispatching` modules, which build both when an
argument is traced and cost one check otherwise.

A gradient inside the function (``value_and_grad``) becomes a *stage*: the differentiated
function's own graph, run under ``autograd.record`` and differentiated by MXNet, whose value and
gradients feed the rest. A training step is then two cached graphs (the forward pass and loss
with their backward pass, then the update) instead of ~60 calls into MXNet.

What cannot be traced - a value read on the host (``float``, ``d2l.numpy``, an ``if`` on a tensor),
a gradient of a gradient, an op with no symbolic twin - runs that function eagerly for that input
signature, with a warning that says why.
"""

from __future__ import annotations

import functools
import itertools
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import mxnet as mx
import numpy as _np
from mxnet import autograd

from ._common import CompileWarning, _tree

#: Flags of every cached graph: memory planned once per input shape (gluon's static_alloc).
CACHED_OP_FLAGS = (("static_alloc", True), ("static_shape", True))


class NotTraceable(Exception):
    """Raised while tracing when the function does something a graph cannot hold."""


_local = threading.local()
#: Traces in progress in any thread: at 0 the dispatching functions skip every check.
_active = [0]
_active_lock = threading.Lock()


def _stack() -> list[_Trace]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def _current() -> _Trace:
    stack = _stack()
    if not stack:
        raise NotTraceable("a traced tensor was used after its compile finished tracing")
    return stack[-1]


def _is_array(x: Any) -> bool:
    return isinstance(x, (mx.np.ndarray, mx.nd.NDArray))


class Traced:
    """A tensor while a compiled function is traced: its concrete ``value`` and its ``sym``bol.

    It supports what shared code does with a tensor (arithmetic, slicing, ``shape``, ``astype``,
    ``reshape``); reading it on the host raises :class:`NotTraceable`.
    """

    __slots__ = ("trace", "value", "sym", "var")

    def __init__(self, trace: _Trace, value: Any, sym: Any, var: str | None = None) -> None:
        self.trace, self.value, self.sym, self.var = trace, value, sym, var

    shape = property(lambda self: self.value.shape)
    dtype = property(lambda self: self.value.dtype)
    ndim = property(lambda self: self.value.ndim)
    size = property(lambda self: self.value.size)
    T = property(lambda self: _lift(lambda x: x.T, lambda x: x.T, (self,), {}))

    def __len__(self) -> int:
        return self.value.shape[0]

    def _host(self, *args: Any, **kwargs: Any) -> Any:
        raise NotTraceable("the function reads a tensor's value on the host (float, bool, d2l.numpy, an if "
                           "on a tensor); a graph cannot hold that")

    __bool__ = __float__ = __int__ = __index__ = __array__ = asnumpy = item = tolist = wait_to_read = _host
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"Traced(shape={self.shape}, dtype={self.dtype})"


def _method(name: str) -> Callable[..., Any]:
    def concrete(x: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(x, name)(*args, **kwargs)
    concrete.__name__ = name

    def method(self: Traced, *args: Any, **kwargs: Any) -> Any:
        return _lift(concrete, concrete, (self, *args), kwargs)
    method.__name__ = name
    return method


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
              "__rtruediv__", "__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__abs__",
              "__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__", "astype", "reshape",
              "transpose", "sum", "mean", "max", "min", "as_nd_ndarray", "as_np_ndarray", "flatten", "squeeze"):
    setattr(Traced, _name, _method(_name))


def _getitem(self: Traced, key: Any) -> Traced:
    """Indexing by ints and slices; an ``...`` is spelled out as slices (MXNet's symbols take no Ellipsis;
    what else they refuse, ``None`` say, makes the function run eagerly)."""
    key = key if isinstance(key, tuple) else (key,)
    if any(k is Ellipsis for k in key):
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        rest = key[at + 1:]
        fill = self.ndim - (len(key) - 1 - sum(k is None for k in key))
        key = key[:at] + (slice(None),) * fill + rest
    return _lift(_index, _index, (self, key), {})


def _index(x: Any, key: tuple[Any, ...]) -> Any:
    return x[key]


_index.__name__ = "__getitem__"


Traced.__getitem__ = _getitem


def _map(fn: Callable[[Any], Any], args: Sequence[Any]) -> list[Any]:
    """``fn`` on each argument, and on the items of list and tuple arguments (``stack([...])``)."""
    return [type(a)(fn(b) for b in a) if isinstance(a, (list, tuple)) else fn(a) for a in args]


def _lift(concrete: Callable[..., Any], symbolic: Callable[..., Any], args: Sequence[Any],
          kwargs: dict[str, Any]) -> Any:
    """``concrete`` on the arguments' values and ``symbolic`` on their symbols, as Traced results."""
    trace = _current()
    owned = _map(lambda a: trace.own(a) if isinstance(a, Traced) or _is_array(a) else a, args)
    kw = {k: trace.own(v) if isinstance(v, Traced) or _is_array(v) else v for k, v in kwargs.items()}
    value = concrete(*_map(_value, owned), **{k: _value(v) for k, v in kw.items()})  # a user's error raises here
    name = getattr(concrete, "__name__", repr(concrete))
    try:
        sym = symbolic(*_map(_sym, owned), **{k: _sym(v) for k, v in kw.items()})
    except Exception as exc:  # the eager call worked: only the graph cannot hold it
        raise NotTraceable(f"MXNet's symbolic {name} refused it ({type(exc).__name__}: {exc})") from exc
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not all(_is_array(v) for v in values):
        raise NotTraceable(f"{name!r} gave a {type(value).__name__}, not a tensor")
    trace.check_dtypes(name, sym, values)
    if isinstance(value, (list, tuple)):
        return type(value)(Traced(trace, v, sym[i]) for i, v in enumerate(value))
    return Traced(trace, value, sym)


def _value(x: Any) -> Any:
    return x.value if isinstance(x, Traced) else x


def _sym(x: Any) -> Any:
    return x.sym if isinstance(x, Traced) else x


def _has_traced(args: Sequence[Any], kwargs: dict[str, Any]) -> bool:
    for a in itertools.chain(args, kwargs.values()):
        if type(a) is Traced or (type(a) in (list, tuple) and any(type(b) is Traced for b in a)):
            return True
    return False


def tracing() -> bool:
    """Whether this thread is tracing a compiled function (the backend's value_and_grad asks: a gradient
    there is a stage of the graph, whether or not its inputs are traced)."""
    return bool(_stack())


def _dispatching(concrete: Callable[..., Any], symbolic: Callable[..., Any] | None, where: str) -> Callable[..., Any]:
    @functools.wraps(concrete)
    def call(*args: Any, **kwargs: Any) -> Any:
        if _active[0] and _has_traced(args, kwargs):
            if symbolic is None:
                raise NotTraceable(f"{where} has no symbolic form in MXNet")
            return _lift(concrete, symbolic, args, kwargs)
        return concrete(*args, **kwargs)
    return call


class Dispatching:
    """One of MXNet's modules (``mxnet.np``, ``npx``, ``nd``) whose functions also take traced tensors,
    building the symbol beside the value with the symbolic module's function of the same name."""

    def __init__(self, concrete: Any, symbolic: Any, name: str) -> None:
        self._concrete, self._symbolic, self._name = concrete, symbolic, name

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._concrete, name)
        if callable(attr) and not isinstance(attr, type):
            attr = _dispatching(attr, getattr(self._symbolic, name, None), f"{self._name}.{name}")
        setattr(self, name, attr)  # looked up once
        return attr


# -- tracing ---------------------------------------------------------------------------------------

class _Trace:
    """One traced function (or one differentiated function inside it): its inputs by variable name."""

    def __init__(self, parent: _Trace | None) -> None:
        self.parent = parent
        self._count = itertools.count()
        #: variable name -> what feeds it: ("arg", i), ("stage", k) (a stage's result), a tensor of the
        #: enclosing trace, or an array (a constant)
        self.sources: dict[str, Any] = {}
        self.dtypes: dict[str, Any] = {}  # variable name -> its dtype
        self._owned: dict[int, tuple[Any, Traced]] = {}  # id(outer value) -> (the value, its variable here)
        self.stages: list[_Stage] = []

    def variable(self, value: Any, source: Any, prefix: str) -> Traced:
        name = f"{prefix}{next(self._count)}"
        sym = mx.sym.var(name)
        if isinstance(value, mx.np.ndarray):
            sym = sym.as_np_ndarray()
        self.sources[name] = source
        self.dtypes[name] = value.dtype
        return Traced(self, value, sym, var=name)

    def check_dtypes(self, name: str, sym: Any, values: list[Any]) -> None:
        """The graph must compute the dtypes the eager call did: MXNet's symbols promote where its arrays do
        not (an int64 tensor plus 1.5 is float64 as a symbol, int64 eagerly), and the values differ then."""
        try:
            _, types, _ = sym.infer_type(**{n: self.dtypes[n] for n in sym.list_inputs()})
        except Exception as exc:
            raise NotTraceable(f"MXNet cannot infer the dtypes of its symbolic {name} ({exc})") from exc
        eager = [v.dtype for v in values]
        if types is None or [_np.dtype(t) for t in types] != [_np.dtype(d) for d in eager]:
            raise NotTraceable(f"MXNet's symbolic {name} computes {types} where its eager one gives {eager}")

    def own(self, x: Any) -> Traced:
        """``x`` as a tensor of this trace: a tensor of an enclosing trace or a concrete array (a constant,
        as a closure's array is to ``jax.jit``) becomes an input variable."""
        if isinstance(x, Traced):
            if x.trace is self:
                return x
            if not self._encloses(x.trace):
                raise NotTraceable("a traced tensor was used after its compile finished tracing")
        found = self._owned.get(id(x))
        if found is None:
            outer = self.parent.own(x) if isinstance(x, Traced) and x.trace is not self.parent else x
            found = self._owned[id(x)] = (x, self.variable(_value(x), outer, "c"))
        return found[1]

    def _encloses(self, other: _Trace) -> bool:
        trace = self.parent
        while trace is not None:
            if trace is other:
                return True
            trace = trace.parent
        return False

    def __enter__(self) -> _Trace:
        _stack().append(self)
        with _active_lock:
            _active[0] += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        with _active_lock:
            _active[0] -= 1
        _stack().pop()


class _Graph:
    """Tensors of one trace computed from its variables: those that are variables are looked up, the
    rest come from one cached graph (``inputs`` are its variables' names, in its order)."""

    def __init__(self, outputs: Sequence[Traced]) -> None:
        self.plan: list[tuple[str, Any]] = []  # per output: ("var", name) or ("op", its index in the graph)
        computed: list[Any] = []
        index: dict[int, int] = {}  # id(Traced) -> its index: a tensor returned twice is computed once
        for t in outputs:
            if t.var is not None:
                self.plan.append(("var", t.var))
            else:
                if id(t) not in index:
                    index[id(t)] = len(computed)
                    computed.append(t.sym)
                self.plan.append(("op", index[id(t)]))
        self.op, self.inputs = None, []
        if computed:
            group = mx.sym.Group(computed)
            if all(isinstance(s, mx.sym.np._Symbol) for s in computed):
                group = group.as_np_ndarray()
            self.op = mx.nd.CachedOp(group, CACHED_OP_FLAGS)
            self.inputs = group.list_inputs()

    def outputs(self, env: dict[str, Any]) -> list[Any]:
        computed: Any = ()
        if self.op is not None:
            computed = self.op(*[env[name] for name in self.inputs])
            if not isinstance(computed, (list, tuple)):
                computed = [computed]
        return [env[x] if kind == "var" else computed[x] for kind, x in self.plan]


class _Stage:
    """A differentiated function inside a traced one: its graph (value, then aux tensors), which of the
    graph's inputs get gradients, and the enclosing trace's variables its results become."""

    def __init__(self, graph: _Graph, feeds: _Graph, differentiated: list[int | None],
                 shapes: list[tuple[Any, Any]]) -> None:
        self.graph, self.feeds = graph, feeds  # feeds: the graph's inputs, from the enclosing trace
        self.differentiated = differentiated  # per gradient: its input's position in the graph, or None (unused)
        self.shapes = shapes  # (shape, dtype) per gradient
        self.names: list[str] = []  # the enclosing trace's variables: value, aux tensors
        self.grad_names: list[str] = []  # and one per gradient
        #: gradients that only feed later graphs (none is a result of the program): their arrays are kept
        #: and written again by the next call, as gluon keeps a parameter's gradient (MXNet's engine
        #: orders that write after the reads of the call before); per thread
        self.reused: frozenset[int] = frozenset()
        self._buffers = threading.local()

    def _grad_buffer(self, index: int) -> Any:
        if index not in self.reused:
            return mx.np.zeros(*self.shapes[index])
        buffers = vars(self._buffers).setdefault("arrays", {})
        if index not in buffers:
            buffers[index] = mx.np.zeros(*self.shapes[index])
        return buffers[index]

    def run(self, inputs: list[Any]) -> tuple[list[Any], list[Any]]:
        """``(value and aux arrays, one gradient per differentiated input)`` of the graph on ``inputs``;
        an input the graph does not use gets zeros."""
        inputs, marked, used, grads = list(inputs), [], [], []
        for index, position in enumerate(self.differentiated):
            if position is None:
                grads.append(mx.np.zeros(*self.shapes[index]))
                continue
            inputs[position] = inputs[position].detach()  # marked for autograd: not the caller's array
            marked.append(inputs[position])
            grads.append(self._grad_buffer(index))
            used.append(grads[-1])
        if marked:
            autograd.mark_variables(marked, used)
        with autograd.record():
            out = self.graph.op(*inputs)
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        if marked:
            out[0].backward()
        return [o.detach() for o in out], grads


def differentiate(fn: Callable[..., Any], leaves: list[Any], nums: tuple[int, ...]) -> tuple[Any, Any, list[Any]]:
    """The backend's ``differentiate`` inside a trace: ``fn`` traced on its own, as a stage of the
    enclosing trace whose value, aux and gradients are variables there."""
    outer = _current()
    if outer.parent is not None:
        raise NotTraceable("a gradient of a gradient")
    inner = _Trace(outer)
    args = [inner.variable(_value(leaf), leaf, "d") if isinstance(leaf, Traced) or _is_array(leaf) else leaf
            for leaf in leaves]
    with inner:
        value, aux = fn(*args)
    if not (isinstance(value, Traced) and value.trace is inner) or value.var is not None:
        raise NotTraceable("the differentiated value is not computed from the function's inputs")
    aux_leaves, aux_spec = _tree().tree_flatten(aux)
    computed = [a for a in aux_leaves if isinstance(a, Traced) and a.trace is inner]
    graph = _Graph([value, *computed])
    wanted = [args[i] for i in nums]
    stage = _Stage(graph, _Graph([outer.own(inner.sources[name]) for name in graph.inputs]),
                   [graph.inputs.index(a.var) if a.var in graph.inputs else None for a in wanted],
                   [(a.shape, a.dtype) for a in wanted])
    # run it now: the rest of the trace needs its values (and their shapes)
    results, grads = stage.run([_value(inner.sources[name]) for name in graph.inputs])
    index = len(outer.stages)
    made = [outer.variable(r, ("stage", index), "s") for r in results]
    made_grads = [outer.variable(g, ("stage", index), "g") for g in grads]
    stage.names, stage.grad_names = [t.var for t in made], [t.var for t in made_grads]
    outer.stages.append(stage)
    # an aux tensor of this function: the stage's result it became (a repeated one, or one that is an input
    # of the function, is no output of the graph of its own: the plan says which result or input it is)
    outcome = {}
    for t, (kind, x) in zip([value, *computed], graph.plan):
        outcome[id(t)] = made[x] if kind == "op" else outer.own(inner.sources[x])
    aux = _tree().tree_unflatten(aux_spec, [outcome.get(id(a), a) if isinstance(a, Traced) and a.trace is inner
                                            else a for a in aux_leaves])
    return outcome[id(value)], aux, made_grads


#: Where a program's result is a tensor its graphs compute (the trace's own tensor is not kept).
_COMPUTED = object()


class _Program:
    """A traced function ready to run: its stages in order, then its outputs."""

    def __init__(self, trace: _Trace, n_args: int, outputs: list[Any], out_spec: Any) -> None:
        self.arg_names: list[str | None] = [None] * n_args  # an argument the function never reads has none
        self.constants: dict[str, Any] = {}
        for name, source in trace.sources.items():
            if isinstance(source, tuple) and source[0] == "arg":
                self.arg_names[source[1]] = name
            elif _is_array(source):
                self.constants[name] = source
        self.stages = trace.stages
        self.final = _Graph([o for o in outputs if isinstance(o, Traced)])
        returned = {name for kind, name in self.final.plan if kind == "var"}
        for stage in self.stages:
            stage.reused = frozenset(i for i, name in enumerate(stage.grad_names) if name not in returned)
        #: results that are constants of the function: a copy each call, as the eager function makes them anew
        self.copied = [kind == "var" and x in self.constants for kind, x in self.final.plan]
        self.outputs = [_COMPUTED if isinstance(o, Traced) else o for o in outputs]
        self.out_spec = out_spec

    def __call__(self, arrays: list[Any]) -> Any:
        env = dict(self.constants)
        env.update((name, a) for name, a in zip(self.arg_names, arrays) if name is not None)
        for stage in self.stages:
            results, grads = stage.run(stage.feeds.outputs(env))
            env.update(zip(stage.names, results))
            env.update(zip(stage.grad_names, grads))
        computed = iter([a.copy() if copy else a for a, copy in zip(self.final.outputs(env), self.copied)])
        leaves = [next(computed) if o is _COMPUTED else o for o in self.outputs]
        return _tree().tree_unflatten(self.out_spec, leaves)


class Compiled:
    """``compile(fn)`` on MXNet: traced once per input signature (tree, shapes, dtypes, other values by
    type and value) into a :class:`_Program`. A signature whose trace fails runs ``fn`` eagerly: if that
    raises, it is the function's own error, raised as without compile; if not, the graph could not hold
    something, and one ``CompileWarning`` says what (that first call runs the function's Python twice: the
    trace, then the eager call). Like gluon's autograd, a compiled gradient step is not for several threads
    at once. Programs are kept for the life of the compiled function, one per signature, as ``jax.jit`` does."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.programs: dict[Any, _Program | str] = {}
        self._warned: set[str] = set()
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if tracing():
            return self.fn(*args, **kwargs)  # inside another compiled function: part of its graph
        leaves, spec = _tree().tree_flatten((args, kwargs))
        key = (spec, tuple((a.shape, a.dtype, type(a)) if _is_array(a) else ("static", type(a), a) for a in leaves))
        try:
            program = self.programs.get(key)
        except TypeError:  # an argument that is neither a tensor nor hashable (a numpy array, say)
            bad = next(type(a).__name__ for a in leaves if not _is_array(a) and not _hashable(a))
            self._warn(f"an argument is a {bad}, neither an MXNet tensor nor a hashable value (one graph is "
                       f"made per value)")
            return self.fn(*args, **kwargs)
        if program is None:
            try:
                program = self._trace(leaves, spec)
            except Exception as exc:  # noqa: BLE001 - the eager call below tells the function's errors apart
                program = str(exc) if isinstance(exc, NotTraceable) else f"tracing raised {type(exc).__name__}: {exc}"
            if isinstance(program, str):
                out = self.fn(*args, **kwargs)  # the function's own error, if it has one, raises here
                self.programs[key] = program
                self._warn(program)
                return out
            self.programs[key] = program
        if isinstance(program, str):
            return self.fn(*args, **kwargs)
        return program([a for a in leaves if _is_array(a)])

    def _trace(self, leaves: list[Any], spec: Any) -> _Program:
        trace = _Trace(None)
        traced, n = [], 0
        for leaf in leaves:
            if _is_array(leaf):
                traced.append(trace.variable(leaf, ("arg", n), "x"))
                n += 1
            else:
                traced.append(leaf)
        with trace:
            args, kwargs = _tree().tree_unflatten(spec, traced)
            out = self.fn(*args, **kwargs)
        outputs, out_spec = _tree().tree_flatten(out)
        outputs = [trace.own(o) if _is_array(o) or isinstance(o, Traced) else o for o in outputs]
        return _Program(trace, n, outputs, out_spec)

    def _warn(self, why: str) -> None:
        """Say once per reason that (and why) the function runs eagerly."""
        if why in self._warned:
            return
        self._warned.add(why)
        name = getattr(self.fn, "__name__", repr(self.fn))
        warnings.warn(f"d2l.compile({name}) runs eagerly on MXNet for these inputs: {why}", CompileWarning,
                      stacklevel=3)


def _hashable(x: Any) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True
