"""The backend contract: every name a backend module provides, its signature and its meaning.

A backend is a module in this package that defines each name below. Meanings are numpy's: a
backend whose framework means something else (torch's ``repeat`` tiles, its ``transpose`` is
2-D only) wraps it so that the numpy meaning holds. ``tests/test_backend_contract.py`` checks
every installed backend against this table - names, signatures and, op by op, values against
numpy - so a new backend is done when that suite passes for it.

Signatures are written as Python parameter lists. Parameters before ``/`` are positional-only:
a backend may name them as it likes (an alias such as ``reshape = np.reshape`` is fine).
Parameters after ``/`` can be passed by keyword, so a backend must accept them under exactly
these names; a parameter with a default must have a default there too.

Besides the names, shared code relies on the tensor type itself (:data:`TENSOR_PROTOCOL`).
Values agree with numpy's within float32 rounding, with one exception the frameworks own:
TensorFlow and JAX flush subnormal floats (below ~1.2e-38) to zero on the CPU.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

#: Kinds of names. ``internal`` names serve the benchmark and the tests, not ``d2l.*`` users.
KINDS = ("op", "dtype", "primitive", "internal")


@dataclass(frozen=True)
class Entry:
    """One name of the contract."""

    name: str
    kind: str
    signature: str | None  # a parameter list such as "(x, shape, /)"; None for constants
    meaning: str

    def parameters(self) -> inspect.Signature | None:
        """The signature as an ``inspect.Signature`` (built by compiling an empty lambda)."""
        if self.signature is None:
            return None
        return inspect.signature(eval(f"lambda {self.signature[1:-1]}: None"))  # noqa: S307


def _entries(kind: str, rows: str) -> list[Entry]:
    """Parse ``name(signature)  meaning`` rows (one per line) into entries of one kind."""
    out = []
    for line in rows.strip().splitlines():
        head, meaning = line.split("  ", 1)
        name, _, params = head.partition("(")
        out.append(Entry(name.strip(), kind, f"({params}" if params else None, meaning.strip()))
    return out


CONTRACT: tuple[Entry, ...] = (
    *_entries("op", """
tensor(data, dtype=None)  a new tensor holding a copy of nested lists / numbers / arrays; floats become float32 and ints int64 unless dtype is given
zeros(shape, dtype=None)  zeros of an int or tuple shape; dtype None means float32
ones(shape, dtype=None)  ones of an int or tuple shape; dtype None means float32
zeros_like(x, /, dtype=None)  zeros of x's shape, of x's dtype unless dtype is given
ones_like(x, /, dtype=None)  ones of x's shape, of x's dtype unless dtype is given
arange(start, stop=None, step=1, dtype=None)  numpy.arange; all-int arguments give int64, otherwise float32
linspace(start, stop, num=50, dtype=None)  num evenly spaced numbers from start to stop inclusive, of a floating dtype: float32 by default
eye(n, m=None, dtype=None)  the n x m identity (m defaults to n); float32 by default
meshgrid(*xs, indexing='xy')  numpy.meshgrid of 1-D tensors of one dtype: coordinate grids, 'xy' (cartesian) or 'ij' (matrix) indexing
reshape(x, shape, /)  numpy.reshape: shape a tuple or an int, one dimension may be -1 (not beside a 0: that is ambiguous and raises)
transpose(x, /, axes=None)  numpy.transpose: no axes reverses all axes (any rank), else permutes by axes
swapaxes(x, axis1, axis2, /)  numpy.swapaxes
expand_dims(x, axis, /)  numpy.expand_dims: a new axis of length 1 at axis
stack(xs, /, axis=0)  numpy.stack: join a sequence of same-shape tensors along a new axis
concat(xs, /, axis=0)  numpy.concatenate: join a sequence of tensors along an existing axis
flip(x, /, axis=None)  numpy.flip: reverse the order along axis (an int, a tuple, or all axes)
repeat(x, repeats, /, axis=None)  numpy.repeat: repeat each element (not tiling); no axis flattens first
reduce_sum(x, /, axis=None, keepdims=False)  numpy.sum (axis None, an int or a tuple, () for none); an int32 sum is int64; a sum over an empty axis is 0
reduce_mean(x, /, axis=None, keepdims=False)  numpy.mean (axis as for reduce_sum); the mean of an integer tensor is float64; a mean over an empty axis is nan (numpy's RuntimeWarning is not promised)
reduce_max(x, /, axis=None, keepdims=False)  numpy.max (axis as for reduce_sum), in x's dtype; a max over an empty axis (no axis: over an empty tensor) raises ValueError, as in numpy; differentiable: the largest element gets the gradient, but how tied ones share it is not promised (numpy, torch, TensorFlow and JAX split it evenly, MXNet gives each of them all of it)
log_softmax(x, /, axis=-1)  x - log(sum(exp(x))) along axis of x (rank >= 1), computed as x - max - log(sum(exp(x - max))) so that large logits (1000) do not overflow; float64 for an integer tensor; differentiable
argmax(x, /, axis=None)  numpy.argmax, as int64; no axis means the index into the flattened tensor; an empty axis (no axis: an empty tensor) raises ValueError, as in numpy
matmul(a, b, /)  numpy.matmul of two tensors of one dtype: batched over leading axes (broadcasting), a 1-D operand a vector
batch_matmul(a, b, /)  matmul of two 3-D tensors, batch by batch: (n, i, j) @ (n, j, k) -> (n, i, k)
abs(x, /)  numpy.abs
exp(x, /)  numpy.exp; float64 for an integer tensor
log(x, /)  numpy.log (natural); float64 for an integer tensor
sin(x, /)  numpy.sin; float64 for an integer tensor
cos(x, /)  numpy.cos; float64 for an integer tensor
tanh(x, /)  numpy.tanh; float64 for an integer tensor
sinh(x, /)  numpy.sinh; float64 for an integer tensor
cosh(x, /)  numpy.cosh; float64 for an integer tensor
sigmoid(x, /)  1 / (1 + exp(-x)); float64 for an integer tensor
sqrt(x, /)  numpy.sqrt; float64 for an integer tensor
maximum(a, b, /)  numpy.maximum, elementwise, with broadcasting, of two tensors of one dtype or a tensor and a Python number in its dtype (numpy 2's rule: an int, or a float beside a floating tensor); the larger input gets the gradient, a tie (infinite too) splits it into finite shares
relu(x, /)  max(x, 0) in x's dtype; its gradient is 1 where x > 0 and 0 elsewhere, x == 0 included (maximum would split that tie)
equal(a, b, /)  numpy.equal: a boolean tensor, elementwise, with broadcasting, of two tensors of one dtype or a tensor and a Python number (as for maximum); astype(equal(a, b), float32) counts matches
where(condition, a, b, /)  numpy.where with three arguments: a where the boolean tensor condition holds, else b, with broadcasting; a and b tensors of one dtype, or one of them a Python number (as for maximum); differentiable in a and b
one_hot(labels, num_classes, /)  float32 one-hot rows of an integer tensor of any shape: shape + (num_classes,); a label outside [0, num_classes) (negative ones too) gives a row of zeros; labels of another dtype, or a num_classes that is not an int, raise TypeError, a negative num_classes ValueError; not differentiable
astype(x, dtype, /)  x converted to dtype (a d2l dtype or a numpy dtype)
size(x, /)  the number of elements, as a Python int
shape(x, /)  the shape, as a tuple of Python ints
numpy(x, /)  the values as a host numpy array, detached from any gradient (outside a gradient trace); a tensor traced by compile has no values yet: TypeError on TensorFlow and JAX, and on MXNet the function runs eagerly instead (a CompileWarning)
to(x, target, /)  x with dtype target (astype), or x itself for the device 'cpu' (or None)
multiply_add(y, a, x, /)  y + a * x for tensors of one dtype, with broadcasting (a fused pass where the framework has one)
rand(*shape, minval=0.0, maxval=1.0)  uniform float32 in [minval, maxval) of shape rand(2, 3) or rand((2, 3)); d2lconv's seeded generator
randn(*shape)  standard normal float32 of shape randn(2, 3) or randn((2, 3)); d2lconv's seeded generator
normal(*args, **kwargs)  normal float32 numbers; accepts the book's orders (mean, std, shape) and (shape, mean, std), and the keywords mean/loc, std/stddev/scale, shape/size
seed(value, /)  reseed the generator behind rand, randn, normal, get_seed: the same numbers on every backend
get_seed()  a fresh int in [0, 10**6) from d2lconv's seeded generator (d2l's JAX helper)
get_key()  a fresh key for the framework's functional RNG: a jax PRNGKey on JAX, a seeded numpy Generator elsewhere
"""),
    *_entries("dtype", """
float32  the 32-bit float dtype (the default everywhere)
float64  the 64-bit float dtype
int32  the 32-bit integer dtype
int64  the 64-bit integer dtype (the default for integers everywhere)
Tensor  the framework's tensor class
"""),
    *_entries("primitive", """
from_numpy(array, /)  a tensor holding a numpy array's values, keeping its dtype
is_tensor(x, /)  whether x is a tensor of this backend (a traced value inside a gradient counts)
is_floating(x, /)  whether x has a floating dtype
dtype_name(x, /)  x's dtype as numpy names it: 'float32', 'int64', ...
value_and_grad(fn, argnums=0, has_aux=False)  a function returning (fn(*args), gradient of fn in args[argnums]); each differentiated argument is a floating tensor or a pytree of them (nested lists, tuples, dicts; None is an empty subtree) and its gradient has the same structure; argnums a tuple gives a tuple of gradients; fn must return one number, or with has_aux a pair (number, aux) whose aux comes back detached: ((value, aux), grad); unused inputs get zero gradients
pad_constant(x, padding, /, value=0.0)  a floating x (rank >= 2) with padding=(p_h, p_w) rows and columns of value on both sides of its last two axes; differentiable (numpy.pad, mode 'constant')
im2col(x, kernel_size, /, stride=(1, 1))  the windows of x (c, h, w) or (n, c, h, w) as columns: shape (c * k_h * k_w, h' * w'), batched (n, ...); row c * k_h * k_w + a * k_w + b holds x[..., c, s_h i + a, s_w j + b] at column i * w' + j; differentiable
compile(fn, /)  fn compiled by the framework's compiler where one pays off (XLA on TensorFlow, jax.jit on JAX, cached graphs on MXNet), else fn itself; a compiler traces fn once per input signature (shapes, dtypes, other arguments), so its Python side effects happen then, and a host read inside it (float, d2l.numpy) raises or, on MXNet, runs fn eagerly with a warning
is_traced(x, /)  whether x is a placeholder a compiler is tracing (a jax Tracer under jax.jit, a symbolic tensor inside a tf.function graph, a traced tensor inside MXNet's compile), whose values cannot be read on the host; False for concrete tensors, values inside value_and_grad outside a compiler included (autograd boxes, requires-grad torch tensors, MXNet arrays under autograd.record, JAX's gradient tracers), always on numpy and torch (whose compile is fn itself), and for non-tensors
native_conv2d(X, K, /, padding=(0, 0), stride=(1, 1))  the framework's own multi-channel cross-correlation: X (n, c_i, h, w), K (c_o, c_i, k_h, k_w), zero padding and stride pairs; differentiable in X and K, also inside compile
conv2d(X, K, /, padding=(0, 0), stride=(1, 1), bias=None)  native_conv2d's cross-correlation plus bias (c_o,) when given, by the fastest differentiable way this backend has: the framework's own convolution, or (numpy, which has none as fast) im2col and one matrix product; the layers use it, the chapters' corr2d_multi_in_out stays what they teach
linear(X, W, /, bias=None)  X @ W^T plus bias (out,) when given, over X's last axis: X (..., in) floating, W (out, in) of X's dtype; differentiable, by the fastest way this backend has (one fused kernel where the framework has one: the bias's gradient as a separate broadcast add was slow on MXNet); the Linear layer uses it
native_pool2d(X, pool_size, /, mode='max', padding=(0, 0), stride=(1, 1))  the framework's own max / average pooling of X (n, c, h, w); max pads with -inf, avg counts padding as zeros; differentiable, also inside compile (how a tie in a max window shares the gradient is the framework's)
"""),
    *_entries("internal", """
NAME  the backend's canonical name
COMPILE_FUSES  whether compile fuses elementwise arithmetic into one pass (XLA: TensorFlow, JAX); shared code that compiles only for that (run_compiled's shift-and-add) asks it: MXNet's cached graphs run each op as before, and the backward pass of a graph of many slices was 1.7-2x slower than eager there
native_corr2d(X, K, /)  the framework's own 2-D 'valid' cross-correlation (the benchmark's baseline, a test oracle)
block_until_ready(x, /)  wait until x is computed (asynchronous frameworks), for timing; returns x
NATIVE_OPS  {op name: the direct framework call equivalent to it}, for measuring dispatch overhead
"""),
)

BY_NAME: dict[str, Entry] = {e.name: e for e in CONTRACT}
#: The names ``d2lconv.<name>`` resolves against the backend in force.
PUBLIC_NAMES: frozenset[str] = frozenset(e.name for e in CONTRACT if e.kind != "internal")

#: What shared code may do with a tensor besides calling the contract's names: the tensor type
#: itself must support these, with numpy's meaning.
TENSOR_PROTOCOL: tuple[str, ...] = (
    "x + y, x - y, x * y, x / y, x ** y, -x, with tensors or Python numbers on either side (broadcasting)",
    "x @ y for 2-D tensors",
    "x[i, j], basic slices x[a:b, c:d] and x[..., a:b:s, c:d:t] (steps >= 1; negative steps are "
    "not portable, use flip), differentiable inside value_and_grad",
    "x.shape: a sequence of ints; len(x) for the first dimension",
)


def signature_problems(impl: Callable[..., Any], entry: Entry) -> list[str]:
    """How ``impl`` fails to accept every call ``entry``'s signature allows (empty: it conforms).

    Positional-only parameters need only a positional slot; keyword-able ones must exist under
    the same name; a parameter with a default must have one. An implementation whose signature
    cannot be read (a C builtin) conforms only if the contract passes it positional arguments alone.
    """
    wanted = entry.parameters()
    if wanted is None:
        return []
    keywordable = [p for p in wanted.parameters.values()
                   if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    try:
        have = inspect.signature(impl)
    except (TypeError, ValueError):
        if keywordable:
            return [f"its signature cannot be read, but the contract lets callers pass "
                    f"{[p.name for p in keywordable]} by keyword; wrap it in a Python function"]
        return []
    params = have.parameters
    takes_var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
    takes_var_pos = any(p.kind == p.VAR_POSITIONAL for p in params.values())
    positional = [p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    problems, matched = [], set()
    for index, p in enumerate(wanted.parameters.values()):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            if not (takes_var_pos if p.kind == p.VAR_POSITIONAL else takes_var_kw):
                problems.append(f"takes no {'*' if p.kind == p.VAR_POSITIONAL else '**'}{p.name}")
            matched.update(q.name for q in params.values() if q.kind == p.kind)
            continue
        if p.kind == p.POSITIONAL_ONLY:
            slot = positional[index] if index < len(positional) else None
            if slot is None and not takes_var_pos:
                problems.append(f"has no positional slot for {p.name!r} (position {index})")
        else:
            slot = params.get(p.name)
            if slot is None and not takes_var_kw:
                problems.append(f"has no parameter named {p.name!r}")
            if slot is not None and slot.kind == slot.POSITIONAL_ONLY:
                problems.append(f"takes {p.name!r} positionally only; callers may pass it by keyword")
        if slot is None:
            continue
        matched.add(slot.name)
        if p.default is not p.empty and slot.default is slot.empty:
            problems.append(f"parameter {slot.name!r} has no default, the contract's {p.name!r} does")
    required = [q.name for q in params.values() if q.name not in matched and q.default is q.empty
                and q.kind not in (q.VAR_POSITIONAL, q.VAR_KEYWORD)]
    if required:
        problems.append(f"requires parameters the contract does not pass: {required}")
    return problems


def conformance_problems(module: Any) -> dict[str, list[str]]:
    """Every contract name ``module`` lacks or implements with an incompatible signature."""
    found: dict[str, list[str]] = {}
    for entry in CONTRACT:
        if not hasattr(module, entry.name):
            found[entry.name] = ["missing"]
            continue
        impl = getattr(module, entry.name)
        if entry.signature is not None:
            if not callable(impl):
                found[entry.name] = [f"is a {type(impl).__name__}, not callable"]
                continue
            problems = signature_problems(impl, entry)
            if problems:
                found[entry.name] = problems
    return found
