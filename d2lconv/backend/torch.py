"""The PyTorch backend: ``torch.Tensor`` on the CPU; gradients by ``torch.autograd``."""

from __future__ import annotations

from typing import Any, Callable

import numpy as _np
import torch

from . import _common

NAME = "torch"
COMPILE_FUSES = False
# the contract's names this backend takes from _common, unchanged
_common.bind_aliases(globals(), _common, (
    "block_until_ready", "get_key", "get_seed", "is_traced", "seed"
))
Tensor = torch.Tensor
_common.bind_aliases(globals(), torch, (*_common.UNARY_MATH, *_common.DTYPE_NAMES, "sigmoid", "matmul",
                                        "swapaxes", "relu", "where"), {"expand_dims": "unsqueeze"})
_common.bind_float_math(globals(), torch.Tensor.is_floating_point, torch.Tensor.double)


def reshape(x, shape, /):
    """``torch.reshape`` (the faster call) for a tuple; numpy also takes an int or a list, as the method does."""
    return torch.reshape(x, shape) if type(shape) is tuple else x.reshape(shape)


class _Maximum(torch.autograd.Function):
    """``torch.maximum`` with a backward pass of one ``sign`` instead of torch's five comparisons
    and fills per input (max pooling's gradient: 11.1 -> 5.1 ms, see docs/benchmark.md). Same
    gradient: the larger input gets it, ties split it in halves, infinite ties too."""

    generate_vmap_rule = True

    @staticmethod
    def forward(a, b):
        return torch.maximum(a, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        with torch.no_grad():  # the share is piecewise constant: no gradient of its own
            # 1 where a wins, 0 where b does, 1/2 at ties (torch's sign of NaN, from inf - inf, is 0)
            share = torch.sign(a - b).add_(1.0).mul_(0.5)
        grad_a = grad * share
        return (grad_a.sum_to_size(a.shape) if ctx.needs_input_grad[0] else None,
                (grad - grad_a).sum_to_size(b.shape) if ctx.needs_input_grad[1] else None)


def maximum(a, b, /):
    """``torch.maximum`` takes tensors only; a Python number on either side broadcasts, as in numpy."""
    if not isinstance(b, torch.Tensor):
        b = _weak_number(b, a)
    elif not isinstance(a, torch.Tensor):
        a = _weak_number(a, b)
    if (a.requires_grad or b.requires_grad) and torch.is_grad_enabled():
        return _Maximum.apply(a, b)
    return torch.maximum(a, b)

_TO_TORCH = {_np.dtype(_np.float32): torch.float32, _np.dtype(_np.float64): torch.float64,
             _np.dtype(_np.int32): torch.int32, _np.dtype(_np.int64): torch.int64,
             _np.dtype(_np.float16): torch.float16, _np.dtype(_np.bool_): torch.bool,
             _np.dtype(_np.uint8): torch.uint8, _np.dtype(_np.int8): torch.int8,
             _np.dtype(_np.int16): torch.int16}


_FROM_TORCH = {v: k for k, v in _TO_TORCH.items()}


def _weak_number(number: Any, like: torch.Tensor) -> torch.Tensor:
    """A Python number as a 0-d tensor of ``like``'s dtype (numpy 2's rule; torch would make an int
    int64 and promote a 0-d int32 ``like`` with it), a float beside an integer tensor float32."""
    if isinstance(number, float) and not like.is_floating_point():
        return torch.as_tensor(number)
    return torch.as_tensor(number, dtype=like.dtype)


def _torch_dtype(dtype: Any) -> Any:
    if dtype is None or type(dtype) is torch.dtype:
        return dtype
    return _TO_TORCH[_np.dtype(dtype)]


globals().update(_common.make_creation(torch, _torch_dtype, torch.float32, makes_float32=True))


def tensor(data: Any, dtype: Any = None) -> torch.Tensor:
    """A new tensor from nested lists/scalars/arrays; floats default to float32, ints to int64."""
    if isinstance(data, torch.Tensor):
        return data.detach().clone().to(_torch_dtype(dtype) or data.dtype)
    # a torch dtype as numpy's: the values go straight to it, not through float32 (0.1 as float64)
    array = _common.host_array(data, _FROM_TORCH[dtype] if isinstance(dtype, torch.dtype) else dtype)
    return torch.from_numpy(_np.array(array, copy=True))


def from_numpy(array: _np.ndarray, /) -> torch.Tensor:
    """Shares memory with a C-contiguous ``array``; a 0-d array stays 0-d (``ascontiguousarray``
    alone would make it 1-D). numpy 2 calls an axis of length <= 1 contiguous whatever its stride, but
    torch refuses a negative one (a flipped 1-element array): that one is copied."""
    array = _np.asarray(array)
    try:
        return torch.from_numpy(array if array.flags.c_contiguous else _np.ascontiguousarray(array))
    except ValueError:
        if any(s < 0 for s in array.strides):
            return torch.from_numpy(array.copy())
        raise


def transpose(x, /, axes=None):
    """numpy's meaning: reverse all axes (any rank), or permute by ``axes``."""
    if axes is None:
        return x.t() if x.dim() == 2 else x.permute(tuple(range(x.dim() - 1, -1, -1)))
    return x.permute(_common.normalize_axes(axes, x.dim()))


def reduce_sum(x, /, axis=None, keepdims=False):
    if axis is None:
        total = torch.sum(x)
        return total.reshape((1,) * x.dim()) if keepdims else total
    if type(axis) is not int and len(axis) == 0:  # numpy sums over no axis; torch's empty dim means all
        return x.clone() if x.is_floating_point() else x.to(torch.int64)
    return torch.sum(x, dim=axis, keepdim=keepdims)


def reduce_mean(x, /, axis=None, keepdims=False):
    """numpy's: the mean of an integer tensor is float64 (torch's raises)."""
    if not x.is_floating_point():
        x = x.double()
    if axis is None:
        total = torch.mean(x)
        return total.reshape((1,) * x.dim()) if keepdims else total
    if type(axis) is not int and len(axis) == 0:
        return x.clone()
    return torch.mean(x, dim=axis, keepdim=keepdims)


def reduce_max(x, /, axis=None, keepdims=False):
    """``torch.amax`` (a tie splits the gradient evenly); an empty axis raises numpy's ValueError, where
    torch's is an IndexError or a RuntimeError."""
    try:
        if axis is None:
            peak = torch.amax(x)
            return peak.reshape((1,) * x.dim()) if keepdims else peak
        if type(axis) is not int and len(axis) == 0:  # numpy: no axis to reduce; torch's empty dim means all
            return x.clone()
        return torch.amax(x, dim=axis, keepdim=keepdims)
    except (IndexError, RuntimeError):
        error = _common.max_error(tuple(x.shape), axis)
        if error is None:
            raise
    raise error


def log_softmax(x, /, axis=-1):
    """``torch.log_softmax``; an integer tensor in float64, as numpy computes its exp (torch's raises)."""
    return torch.log_softmax(x if x.is_floating_point() else x.double(), dim=axis)


def equal(a, b, /):
    """``torch.eq``, which takes a Python number second only: equality is symmetric, so a number first
    swaps sides."""
    return torch.eq(a, b) if isinstance(a, torch.Tensor) else torch.eq(b, a)


def one_hot(labels, num_classes, /):
    """By comparison with arange: ``torch.nn.functional.one_hot`` raises on a label outside
    [0, num_classes), where the contract gives a row of zeros."""
    n = _common.one_hot_classes(dtype_name(labels), num_classes)
    return (labels.unsqueeze(-1) == torch.arange(n)).to(torch.float32)


def stack(xs, /, axis=0):
    return torch.stack(list(xs), dim=axis)


def concat(xs, /, axis=0):
    return torch.cat(list(xs), dim=axis)


im2col = _common.make_im2col(stack, torch.reshape)  # measured faster here than torch's unfold


def pad_constant(x, padding, /, value=0.0):
    """``torch.nn.functional.pad``: one pass, where concatenating zero blocks takes two."""
    ph, pw = padding
    return torch.nn.functional.pad(x, (pw, pw, ph, ph), value=value)


def repeat(x, repeats, /, axis=None):
    """numpy's meaning: repeat each element (``torch.repeat_interleave``), not tile."""
    return torch.repeat_interleave(x, repeats, dim=axis)


def flip(x, /, axis=None):
    return torch.flip(x, _common.flip_axes(axis, x.dim()))


def meshgrid(*xs, indexing="xy"):
    return torch.meshgrid(*xs, indexing=indexing)


def argmax(x, /, axis=None):
    try:
        return torch.argmax(x, dim=axis)
    except (IndexError, RuntimeError):
        error = _common.argmax_error(tuple(x.shape), axis)
        if error is None:
            raise
    raise error


def astype(x, dtype, /):
    return x.to(_torch_dtype(dtype))


def size(x, /) -> int:
    return x.numel()


def shape(x, /) -> tuple[int, ...]:
    return tuple(x.shape)


def numpy(x, /) -> _np.ndarray:
    """The values as a host numpy array, detached from any autograd graph."""
    return x.detach().cpu().numpy()


def is_tensor(x: Any, /) -> bool:
    return isinstance(x, torch.Tensor)


def is_floating(x, /) -> bool:
    return x.is_floating_point()


def dtype_name(x, /) -> str:
    return str(x.dtype).replace("torch.", "")


def compile(fn: Callable[..., Any], /) -> Callable[..., Any]:
    """Eager torch is already fast for shift-and-add; ``torch.compile`` costs seconds per shape."""
    return fn


def multiply_add(y, a, x, /):
    """``y + a * x`` in one fused pass (``torch.addcmul``): less memory traffic than two ops."""
    return torch.addcmul(y, a, x)


globals().update(_common.make_random(from_numpy))
to = _common.make_to(astype, lambda t: isinstance(t, torch.dtype) or isinstance(t, (type, _np.dtype)))
batch_matmul = _common.make_batch_matmul(torch.matmul, shape)


def _differentiate(fn: Callable[..., Any], args: list[Any], nums: tuple[int, ...]):
    inputs = []
    for i in nums:
        args[i] = args[i].detach().requires_grad_(True)
        inputs.append(args[i])
    with torch.enable_grad():
        value, aux = fn(*args)
        aux = _common.tree_map(lambda x: x.detach() if isinstance(x, torch.Tensor) else x, aux)
        if not value.requires_grad:  # the value does not depend on any differentiated input
            return value, aux, [torch.zeros_like(x) for x in inputs]
        grads = torch.autograd.grad(value, inputs, allow_unused=True)
    return value.detach(), aux, [torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs)]


value_and_grad = _common.make_value_and_grad(_differentiate, shape, torch.reshape, is_tensor, is_floating, NAME)


def native_corr2d(X, K, /):
    """The framework's own 2-D cross-correlation: for benchmarks and as an oracle."""
    return torch.nn.functional.conv2d(X[None, None], K[None, None])[0, 0]


def native_conv2d(X, K, /, padding=(0, 0), stride=(1, 1)):
    """``torch.nn.functional.conv2d``."""
    return torch.nn.functional.conv2d(X, K, padding=tuple(padding), stride=tuple(stride))


def native_pool2d(X, pool_size, /, mode="max", padding=(0, 0), stride=(1, 1)):
    """``max_pool2d`` / ``avg_pool2d`` (``count_include_pad=True``, the default)."""
    pool = torch.nn.functional.max_pool2d if mode == "max" else torch.nn.functional.avg_pool2d
    return pool(X, tuple(pool_size), stride=tuple(stride), padding=tuple(padding))


#: Direct framework calls equivalent to d2lconv ops, for measuring dispatch overhead.
NATIVE_OPS = {
    "zeros": lambda shape: torch.zeros(shape),
    "reduce_sum": torch.sum,
    "reshape": torch.reshape,
    "transpose": lambda x: x.permute(1, 0),
}

def linear(X, W, /, bias=None):
    """``torch.nn.functional.linear`` (one addmm): 12% off torch's LeNet step against matmul, transpose and add."""
    return torch.nn.functional.linear(X, W, bias)


def conv2d(X, K, /, padding=(0, 0), stride=(1, 1), bias=None):
    """``torch.nn.functional.conv2d``, the bias inside it."""
    return torch.nn.functional.conv2d(X, K, bias, padding=tuple(padding), stride=tuple(stride))
